//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

/// The deadlines of pending back-end requests on one event loop: a binary min-heap.
///
/// Entries are never removed when a request is answered (that would need a search); the request
/// machine skips an entry whose request is gone or has a later deadline when it pops it, and
/// rebuilds the heap from the live entries when stale ones outnumber them. One timer per loop
/// then serves every back end and every socket.
struct DeadlineHeap {
    struct Entry {
        var deadline: Int64
        var socket: Int32
        var requestID: Int32
    }

    private(set) var entries: [Entry] = []

    var count: Int { self.entries.count }
    var isEmpty: Bool { self.entries.isEmpty }
    var earliest: Entry? { self.entries.first }

    mutating func push(_ entry: Entry) {
        self.entries.append(entry)
        var child = self.entries.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard self.entries[child].deadline < self.entries[parent].deadline else { break }
            self.entries.swapAt(child, parent)
            child = parent
        }
    }

    /// Removes and returns the earliest entry if it is due at `now`.
    mutating func popDue(now: Int64) -> Entry? {
        guard let first = self.entries.first, first.deadline <= now else { return nil }
        let last = self.entries.removeLast()
        if !self.entries.isEmpty {
            self.entries[0] = last
            self.siftDown(0)
        }
        return first
    }

    /// Replaces the contents with `entries` (a rebuild from the live requests).
    mutating func rebuild(_ entries: [Entry]) {
        self.entries = entries
        var index = self.entries.count / 2
        while index > 0 {
            index -= 1
            self.siftDown(index)
        }
    }

    mutating func removeAll() {
        self.entries.removeAll(keepingCapacity: self.entries.count <= 4096)
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        let count = self.entries.count
        while true {
            let left = 2 * parent + 1
            guard left < count else { return }
            var smallest = left
            if left + 1 < count && self.entries[left + 1].deadline < self.entries[left].deadline { smallest = left + 1 }
            guard self.entries[smallest].deadline < self.entries[parent].deadline else { return }
            self.entries.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
