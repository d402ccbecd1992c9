//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import SNMPWire

/// What one route lets a manager see and change: its read and write views, in the manager's OID
/// space, and its rewrites between back-end and manager subtrees (DESIGN.md §4).
///
/// A rewrite `{ backend: B, manager: M }` shows the back end's subtree B at M, and only there: a
/// manager OID under M means B plus the same tail; a manager OID under B (and under no M) is a hole
/// with nothing in it; a back-end OID under M (and under no B) is hidden, because M belongs to the
/// rewrite. Everything else maps to itself.
///
/// Immutable, with no I/O; a class, so that every request's state shares one instead of copying
/// its views and rewrites. The walk over the manager's space is a sequence of ``Segment``s in
/// manager order: the identity segment, interrupted by one segment per rewrite.
public final class RoutePolicy: Sendable {
    public struct Rewrite: Hashable, Sendable {
        public var backend: [UInt32]
        public var manager: [UInt32]

        public init(backend: [UInt32], manager: [UInt32]) {
            self.backend = backend
            self.manager = manager
        }
    }

    /// nil: nothing may be read.
    public let readView: ViewPolicy?
    /// nil: nothing may be written.
    public let writeView: ViewPolicy?
    /// Sorted by manager prefix.
    public let rewrites: [Rewrite]
    /// Value transforms and synthesized objects, in back-end names; nil: none (and no cost).
    public let transforms: ValueTransforms?

    public init(readView: ViewPolicy?, writeView: ViewPolicy?, rewrites: [Rewrite], transforms: ValueTransforms? = nil) {
        self.readView = readView
        self.writeView = writeView
        self.rewrites = rewrites.sorted { Arcs.compare($0.manager, $1.manager) < 0 }
        self.transforms = transforms
    }

    /// Why a set of rewrites cannot work, or nil: manager prefixes must not overlap each other, nor
    /// back-end prefixes each other (a tail would have two homes).
    public static func problem(with rewrites: [Rewrite]) -> String? {
        for (i, a) in rewrites.enumerated() {
            if a.backend.count < 2 || a.manager.count < 2 { return "a rewrite prefix needs at least two arcs" }
            for b in rewrites[(i + 1)...] {
                if Arcs.hasPrefix(a.manager, b.manager) || Arcs.hasPrefix(b.manager, a.manager) {
                    return "the manager prefixes of two rewrites overlap"
                }
                if Arcs.hasPrefix(a.backend, b.backend) || Arcs.hasPrefix(b.backend, a.backend) {
                    return "the backend prefixes of two rewrites overlap"
                }
            }
        }
        return nil
    }

    // MARK: - Mapping

    /// The back-end OID for a manager OID; nil in a hole.
    public func toBackend(_ manager: [UInt32]) -> [UInt32]? {
        if let rewrite = self.rewrites.first(where: { Arcs.hasPrefix(manager, $0.manager) }) {
            return rewrite.backend + manager[rewrite.manager.count...]
        }
        if self.rewrites.contains(where: { Arcs.hasPrefix(manager, $0.backend) }) { return nil }
        return manager
    }

    public func toBackend(_ manager: OID) -> OID? {
        if self.rewrites.isEmpty { return manager }
        return self.toBackend(Array(manager.arcs)).flatMap { OID(arcs: $0) }
    }

    /// Whether a Get of this manager OID may be answered (in the read view and not in a hole).
    public func isReadable(_ manager: OID) -> Bool {
        guard let view = self.readView, view.contains(manager) else { return false }
        return self.rewrites.isEmpty || self.toBackend(Array(manager.arcs)) != nil
    }

    /// Whether a Set of this manager OID may go to the back end.
    public func isWritable(_ manager: OID) -> Bool {
        guard let view = self.writeView, view.contains(manager) else { return false }
        return self.rewrites.isEmpty || self.toBackend(Array(manager.arcs)) != nil
    }

    // MARK: - Walks

    /// Which part of the manager's space a back-end query serves.
    public enum Segment: Hashable, Sendable {
        case identity
        case rewrite(Int)
    }

    /// Where a walk stands: a manager point, and whether the point itself may be the answer.
    public struct Cursor: Hashable, Sendable {
        public var point: [UInt32]
        public var inclusive: Bool

        public init(point: [UInt32], inclusive: Bool) {
            self.point = point
            self.inclusive = inclusive
        }
    }

    /// A back-end GetNext to make, and what it serves.
    public struct Step: Hashable, Sendable {
        /// The back-end OID to ask GetNext of.
        public var query: [UInt32]
        public var segment: Segment
        /// The manager cursor the query stands for.
        public var cursor: Cursor
        /// The cursor's point in back-end space: for an inclusive cursor, answers before it are in
        /// the gap `queryBefore` leaves.
        public var backendPoint: [UInt32]
    }

    /// What a back-end answer means for the walk.
    public enum Judgement: Hashable, Sendable {
        /// The manager's next OID.
        case accept(manager: [UInt32])
        /// Not for the manager: go on from this cursor.
        case move(Cursor)
        /// An object between the query and the cursor's point (see ``Arcs/queryBefore(_:)``): ask
        /// again from it, same cursor. The query grows strictly, so this ends.
        case retry(query: [UInt32])
        /// Nothing more for the manager.
        case end
    }

    /// The back-end query that finds the manager's next readable OID after `cursor`; nil at the end
    /// of the view.
    public func step(from cursor: Cursor) -> Step? {
        guard let view = self.readView else { return nil }
        var cursor = cursor
        for _ in 0..<ViewPolicy.maximumSteps {
            // The view first: jump over what it excludes.
            let point: [UInt32]
            if view.contains(arcs: cursor.point) {
                point = cursor.point
            } else {
                guard let next = view.nextRegion(from: cursor.point) else { return nil }
                if Arcs.compare(next, cursor.point) != 0 { cursor = Cursor(point: next, inclusive: true) }
                point = cursor.point
            }
            // Then the segments.
            if let index = self.rewrites.firstIndex(where: { Arcs.hasPrefix(point, $0.manager) }) {
                let rewrite = self.rewrites[index]
                let backendPoint = rewrite.backend + point[rewrite.manager.count...]
                guard
                    let query = Arcs.normalizedQuery(cursor.inclusive ? Arcs.queryBefore(backendPoint) : backendPoint)
                else { return nil }
                return Step(query: query, segment: .rewrite(index), cursor: cursor, backendPoint: backendPoint)
            }
            if let hole = self.rewrites.first(where: { Arcs.hasPrefix(point, $0.backend) }) {
                // Nothing of the back end shows in a hole, but a rewritten region may lie inside it.
                let end = Arcs.end(of: hole.backend)
                let region = self.rewrites.first { rewrite in
                    let order = Arcs.compare(rewrite.manager, point)
                    return (order > 0 || (order == 0 && cursor.inclusive))
                        && end.map { Arcs.compare(rewrite.manager, $0) < 0 } ?? true
                }
                guard let next = region?.manager ?? end else { return nil }
                cursor = Cursor(point: next, inclusive: true)
                continue
            }
            guard let query = Arcs.normalizedQuery(cursor.inclusive ? Arcs.queryBefore(point) : point) else {
                return nil
            }
            return Step(query: query, segment: .identity, cursor: cursor, backendPoint: point)
        }
        // The step bound (a long run of holes): ask from where the cursor is; answers are judged again.
        guard let query = Arcs.normalizedQuery(cursor.point) else { return nil }
        return Step(query: query, segment: .identity, cursor: cursor, backendPoint: cursor.point)
    }

    /// Judges the back end's answer to `step` (nil: endOfMibView, or noSuchName from a v1 agent).
    public func judge(_ answer: [UInt32]?, for step: Step) -> Judgement {
        let cursor = step.cursor
        if cursor.inclusive, let answer, Arcs.compare(answer, step.backendPoint) < 0 {
            // Between the query and the point: nothing the cursor wants; ask again from there.
            return .retry(query: answer)
        }
        switch step.segment {
        case .rewrite(let index):
            let rewrite = self.rewrites[index]
            guard let answer, Arcs.hasPrefix(answer, rewrite.backend) else {
                // The rewritten subtree is exhausted: on with what follows it in manager order.
                return Arcs.end(of: rewrite.manager).map { .move(Cursor(point: $0, inclusive: true)) } ?? .end
            }
            return self.judgeManager(rewrite.manager + answer[rewrite.backend.count...], after: cursor)
        case .identity:
            // A rewritten region between the cursor and the answer comes first in manager order.
            let nextRegion = self.rewrites.first { rewrite in
                let order = Arcs.compare(rewrite.manager, cursor.point)
                return order > 0 || (order == 0 && cursor.inclusive)
            }
            guard let answer else {
                return nextRegion.map { .move(Cursor(point: $0.manager, inclusive: true)) } ?? .end
            }
            if let region = nextRegion, Arcs.compare(region.manager, answer) <= 0 {
                return .move(Cursor(point: region.manager, inclusive: true))
            }
            if self.rewrites.contains(where: { Arcs.hasPrefix(answer, $0.backend) }) {
                // In a hole: `step` jumps over it (or to a rewritten region inside it).
                return .move(Cursor(point: answer, inclusive: false))
            }
            if let owned = self.rewrites.first(where: { Arcs.hasPrefix(answer, $0.manager) }) {
                return Arcs.end(of: owned.manager).map { .move(Cursor(point: $0, inclusive: true)) } ?? .end
            }
            return self.judgeManager(answer, after: cursor)
        }
    }

    private func judgeManager(_ manager: [UInt32], after cursor: Cursor) -> Judgement {
        // A manager name too long for an OID (a long back-end index under a longer prefix) cannot
        // be shown: pass over it.
        guard manager.count <= SNMPWireLimits.maximumOIDArcs else {
            return .move(Cursor(point: manager, inclusive: false))
        }
        let order = Arcs.compare(manager, cursor.point)
        // An agent that does not move forward would make the walk loop: stop here.
        guard order > 0 || (order == 0 && cursor.inclusive) else { return .end }
        if let view = self.readView, view.contains(arcs: manager) {
            return .accept(manager: manager)
        }
        return .move(Cursor(point: manager, inclusive: false))
    }
}
