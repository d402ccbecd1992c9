//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOCore

/// Requests sent on one back-end socket and not yet answered, whatever agent each went to:
/// request-id allocation, retransmission and timeout decisions. One per back-end socket and event
/// loop.
///
/// A value with no clock: times are the caller's monotonic nanoseconds. Request-ids start at a
/// random value the caller gives, increase, skip those still pending and stay in 1…2^31-1, so a
/// response can be matched by request-id alone and a late answer to a finished request finds
/// nothing. The table is bounded: ``insert(_:retransmit:now:timeout:retries:)`` refuses when full.
public struct PendingTable<Context> {
    public struct Entry {
        public var context: Context
        /// The encoded request, sent again on each retry.
        public var datagram: ByteBuffer
        public var deadline: Int64
        public var retriesLeft: Int
        public let timeout: Int64
    }

    /// What a timer tick decided for one request.
    public enum Expiry {
        /// Send the request again; the entry stays with a new deadline.
        case retransmit(requestID: Int32, datagram: ByteBuffer)
        /// No answer after the last retry: the entry is gone.
        case timedOut(requestID: Int32, context: Context)
    }

    public let capacity: Int
    private var entries: [Int32: Entry] = [:]
    private var nextRequestID: Int32

    public init(capacity: Int, firstRequestID: Int32) {
        precondition(capacity > 0)
        self.capacity = capacity
        self.nextRequestID = max(1, firstRequestID & Int32.max)
    }

    public var count: Int { self.entries.count }
    public var isFull: Bool { self.entries.count >= self.capacity }

    /// Allocates a request-id and records the request; nil when the table is full.
    public mutating func insert(
        _ context: Context,
        retransmit datagram: ByteBuffer,
        now: Int64,
        timeout: Int64,
        retries: Int
    ) -> Int32? {
        self.insert(context, now: now, timeout: timeout, retries: retries) { _ in datagram }
    }

    /// Allocates a request-id, has `encode` write the request under it, and records the request;
    /// nil (and `encode` not called) when the table is full.
    public mutating func insert(
        _ context: Context,
        now: Int64,
        timeout: Int64,
        retries: Int,
        encode: (Int32) -> ByteBuffer
    ) -> Int32? {
        guard !self.isFull else { return nil }
        var id = self.nextRequestID
        while self.entries[id] != nil { id = id == Int32.max ? 1 : id + 1 }
        self.nextRequestID = id == Int32.max ? 1 : id + 1
        self.entries[id] = Entry(
            context: context,
            datagram: encode(id),
            deadline: now + timeout,
            retriesLeft: retries,
            timeout: timeout
        )
        return id
    }

    /// Re-arms an entry with a new request (a v1 back end's second round trip) under the same id.
    public mutating func update(_ requestID: Int32, datagram: ByteBuffer, context: Context, now: Int64) {
        guard var entry = self.entries[requestID] else { return }
        entry.datagram = datagram
        entry.context = context
        entry.deadline = now + entry.timeout
        self.entries[requestID] = entry
    }

    /// Takes the entry a response matched; nil for an unknown or finished request-id.
    public mutating func remove(_ requestID: Int32) -> Entry? {
        self.entries.removeValue(forKey: requestID)
    }

    /// Drops the table's storage when nothing is pending (a dictionary keeps its largest size).
    public mutating func releaseStorageIfEmpty() {
        if self.entries.isEmpty { self.entries = [:] }
    }

    public func entry(_ requestID: Int32) -> Entry? {
        self.entries[requestID]
    }

    /// The earliest deadline, for the next timer. A scan of the table, like ``expire(now:)``: fine for
    /// the timer's once-per-tick use; a heap is the step up if profiles say so.
    public var earliestDeadline: Int64? {
        self.entries.values.lazy.map(\.deadline).min()
    }

    /// The decision for one request whose deadline `deadline` came due at `now`; nil when the
    /// request is gone (answered) or has been given a later deadline since (a stale timer entry).
    public mutating func expire(_ requestID: Int32, deadline: Int64, now: Int64) -> Expiry? {
        guard let entry = self.entries[requestID], entry.deadline == deadline, deadline <= now else { return nil }
        if entry.retriesLeft > 0 {
            self.entries[requestID]!.retriesLeft -= 1
            self.entries[requestID]!.deadline = now + entry.timeout
            return .retransmit(requestID: requestID, datagram: entry.datagram)
        }
        self.entries[requestID] = nil
        return .timedOut(requestID: requestID, context: entry.context)
    }

    /// Every request-id pending, with its deadline (to rebuild a timer heap).
    public var deadlines: [(requestID: Int32, deadline: Int64)] {
        self.entries.map { ($0.key, $0.value.deadline) }
    }

    /// Everything due at `now`: retransmissions and timeouts.
    public mutating func expire(now: Int64) -> [Expiry] {
        var decisions: [Expiry] = []
        for (id, entry) in self.entries where entry.deadline <= now {
            if entry.retriesLeft > 0 {
                var next = entry
                next.retriesLeft -= 1
                next.deadline = now + entry.timeout
                self.entries[id] = next
                decisions.append(.retransmit(requestID: id, datagram: entry.datagram))
            } else {
                self.entries[id] = nil
                decisions.append(.timedOut(requestID: id, context: entry.context))
            }
        }
        return decisions
    }
}
