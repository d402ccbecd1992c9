//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import SNMPWire

/// An OID view: included and excluded subtrees, `*` matching any one arc, the longest matching
/// subtree deciding (RFC 3415 §5's family rule; on a tie, exclusion wins). An OID no subtree
/// matches is outside the view.
///
/// Compiled once: the fixed subtrees into a trie of arcs, descended once per decision (a binary
/// search among the siblings at each arc); the `*` patterns into one hash table per shape, tried
/// only when the descent passed the fixed arcs before a `*`.
///
/// Immutable; a class, so that routes and requests share one compiled view.
public final class ViewPolicy: Sendable {
    public struct Rule: Hashable, Sendable {
        public var pattern: SubtreePatternArcs
        public var included: Bool

        public init(pattern: SubtreePatternArcs, included: Bool) {
            self.pattern = pattern
            self.included = included
        }
    }

    public let rules: [Rule]
    private let wildcardShapes: [WildcardShape]
    private let includeRules: [Rule]
    /// The fixed subtrees as a trie of arcs.
    private let trie: ArcTrie

    public convenience init(include: [SubtreePatternArcs], exclude: [SubtreePatternArcs]) {
        self.init(
            rules: include.map { Rule(pattern: $0, included: true) }
                + exclude.map { Rule(pattern: $0, included: false) }
        )
    }

    public init(rules: [Rule]) {
        self.rules = rules
        self.wildcardShapes = Self.shapes(of: rules)
        // An include that is also excluded never wins (a tie goes to exclude): it cannot start a region.
        let excluded = Set(rules.filter { !$0.included }.map(\.pattern))
        self.includeRules = rules.filter { $0.included && !excluded.contains($0.pattern) }

        // The trie, first with dictionaries, then flattened breadth first.
        var children: [[UInt32: Int]] = [[:]]
        var decisions: [UInt8] = [0]
        var wildcards: [Bool] = [false]
        func node(for arcs: [UInt32]) -> Int {
            var current = 0
            for arc in arcs {
                if let next = children[current][arc] {
                    current = next
                } else {
                    children.append([:])
                    decisions.append(0)
                    wildcards.append(false)
                    children[current][arc] = children.count - 1
                    current = children.count - 1
                }
            }
            return current
        }
        for rule in rules {
            if rule.pattern.hasWildcard {
                wildcards[node(for: rule.pattern.fixedPrefix)] = true
            } else {
                let end = node(for: rule.pattern.map { $0! })
                // A tie between an include and an exclude of the same subtree goes to the exclude.
                decisions[end] = decisions[end] == 2 || !rule.included ? 2 : 1
            }
        }
        var order: [Int] = [0]
        var position: [Int: Int] = [0: 0]
        var cursor = 0
        while cursor < order.count {
            for (_, child) in children[order[cursor]].sorted(by: { $0.key < $1.key }) {
                position[child] = order.count
                order.append(child)
            }
            cursor += 1
        }
        var childStart: [Int32] = []
        var childArcs: [UInt32] = []
        var childNodes: [Int32] = []
        for old in order {
            childStart.append(Int32(childArcs.count))
            for (arc, child) in children[old].sorted(by: { $0.key < $1.key }) {
                childArcs.append(arc)
                childNodes.append(Int32(position[child]!))
            }
        }
        childStart.append(Int32(childArcs.count))
        self.trie = ArcTrie(
            childStart: childStart,
            childArcs: childArcs,
            childNodes: childNodes,
            decisions: order.map { decisions[$0] },
            wildcards: order.map { wildcards[$0] }
        )
    }

    /// Whether `oid` is in the view: one descent of the trie, arc by arc as the octets decode, the
    /// deepest subtree on the way deciding; `*` patterns only where their fixed arcs were passed.
    public func contains(_ oid: OID) -> Bool {
        let trie = self.trie
        return oid.encoded.withUnsafeReadableBytes { probe in
            var walk = ArcTrie.Walk()
            var value: UInt64 = 0
            var first = true
            for byte in probe {
                value = value &<< 7 | UInt64(byte & 0x7F)
                guard byte & 0x80 == 0 else { continue }
                if first {
                    first = false
                    let x: UInt64 = value < 40 ? 0 : (value < 80 ? 1 : 2)
                    guard trie.step(&walk, UInt32(x)), trie.step(&walk, UInt32(truncatingIfNeeded: value &- x &* 40))
                    else { break }
                } else {
                    guard value <= UInt64(UInt32.max), trie.step(&walk, UInt32(value)) else { break }
                }
                value = 0
            }
            guard walk.wildcards || trie.rootWildcards else { return walk.included }
            // The slow path: arcs decoded onto the stack, then one table probe per wildcard shape.
            return withUnsafeTemporaryAllocation(of: UInt32.self, capacity: SNMPWireLimits.maximumOIDArcs + 1) {
                arcs in
                let count = Self.decodeArcs(probe, into: arcs)
                return self.decideWildcards(
                    UnsafeBufferPointer(rebasing: arcs[0..<count]),
                    fixed: (walk.included, walk.length)
                )
            }
        }
    }

    /// The arcs of an OID's content octets (the first sub-identifier split into two arcs), from the
    /// raw octets already in hand. `OID.arcs` gives the same, but through `ByteBuffer` per octet:
    /// measured, it made the 1,000-subtree decision 40 ns slower.
    private static func decodeArcs(
        _ bytes: UnsafeRawBufferPointer,
        into arcs: UnsafeMutableBufferPointer<UInt32>
    ) -> Int {
        var count = 0
        var value: UInt64 = 0
        for byte in bytes {
            value = value &<< 7 | UInt64(byte & 0x7F)
            guard byte & 0x80 == 0 else { continue }
            if count == 0 {
                let first: UInt64 = value < 40 ? 0 : (value < 80 ? 1 : 2)
                arcs[0] = UInt32(first)
                arcs[1] = UInt32(truncatingIfNeeded: value - first * 40)
                count = 2
            } else if count < arcs.count {
                arcs[count] = UInt32(truncatingIfNeeded: value)
                count += 1
            }
            value = 0
        }
        return count
    }

    /// Whether the OID with these arcs is in the view (the compiled decision; an OID of more arcs
    /// than an OID may have is judged by the reference).
    public func contains(arcs: [UInt32]) -> Bool {
        guard let oid = OID(arcs: arcs) else { return self.referenceDecision(arcs).included }
        return self.contains(oid)
    }

    /// The `*` patterns of one shape (length and positions of fixed arcs), in a table keyed by
    /// their fixed arcs: one probe per shape, not one match per pattern.
    struct WildcardShape: Sendable {
        var length: Int
        var fixedPositions: [Int]
        /// By ``hash(_:positions:)`` of the fixed arcs: the arcs and whether the pattern includes.
        var table: [UInt64: [(arcs: [UInt32], included: Bool)]]
    }

    static func hash(_ arcs: UnsafeBufferPointer<UInt32>, positions: [Int]) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for position in positions {
            hash = (hash ^ UInt64(arcs[position])) &* 0x0000_0100_0000_01B3
        }
        return hash
    }

    static func shapes(of rules: [Rule]) -> [WildcardShape] {
        var shapes: [[Int]: WildcardShape] = [:]
        for rule in rules where rule.pattern.hasWildcard {
            let positions = rule.pattern.indices.filter { rule.pattern[$0] != nil }
            let fixed = positions.map { rule.pattern[$0]! }
            let signature = [rule.pattern.count] + positions
            var shape =
                shapes[signature] ?? WildcardShape(length: rule.pattern.count, fixedPositions: positions, table: [:])
            let full = rule.pattern.map { $0 ?? 0 }
            let hash = full.withUnsafeBufferPointer { Self.hash($0, positions: positions) }
            var bucket = shape.table[hash] ?? []
            if let index = bucket.firstIndex(where: { $0.arcs == fixed }) {
                // The same pattern included and excluded: exclusion wins the tie.
                bucket[index].included = bucket[index].included && rule.included
            } else {
                bucket.append((fixed, rule.included))
            }
            shape.table[hash] = bucket
            shapes[signature] = shape
        }
        return shapes.values.sorted { $0.length > $1.length }
    }

    /// The longest-match decision over the `*` patterns, starting from the fixed subtrees' one.
    private func decideWildcards(_ probe: UnsafeBufferPointer<UInt32>, fixed: (included: Bool, length: Int)) -> Bool {
        var decision = fixed
        for shape in self.wildcardShapes where shape.length <= probe.count && shape.length >= decision.length {
            guard let bucket = shape.table[Self.hash(probe, positions: shape.fixedPositions)] else { continue }
            for entry in bucket {
                var matches = true
                for (index, position) in shape.fixedPositions.enumerated() where entry.arcs[index] != probe[position] {
                    matches = false
                    break
                }
                guard matches else { continue }
                if shape.length > decision.length || (shape.length == decision.length && !entry.included) {
                    decision = (entry.included, shape.length)
                }
            }
        }
        return decision.included
    }

    /// The decision by trying every rule (the reference the compiled form must agree with).
    public func referenceDecision(_ arcs: [UInt32]) -> (included: Bool, length: Int) {
        guard let rule = self.decidingRule(arcs) else { return (false, 0) }
        return (rule.included, rule.pattern.count)
    }

    /// The longest rule that matches (an exclusion on a tie), or nil.
    func decidingRule(_ arcs: [UInt32]) -> Rule? {
        var decision: Rule? = nil
        for rule in self.rules where rule.pattern.matches(arcs) {
            let length = rule.pattern.count
            let best = decision?.pattern.count ?? 0
            if length > best || (length == best && decision?.included == true && !rule.included) {
                decision = rule
            }
        }
        return decision
    }

    /// The first point at or after `x` from which the view may contain OIDs: `x` itself when it is
    /// in the view, else a later point, never skipping an OID of the view; nil when nothing of the
    /// view follows.
    ///
    /// An OID is in the view only inside an instance of an included pattern. So the next candidate
    /// is the earliest of: the first root of an included pattern's instance after the point, and,
    /// when an included instance holds the point but a longer excluded one decided, the end of that
    /// excluded instance. Each step moves strictly forward; after `maximumSteps` (a run of adjacent
    /// excluded instances, such as `exclude: [ X.* ]` under an include of X) the point reached is
    /// returned even though it is not in the view: a query from there is still correct, the back
    /// end's answer is judged again.
    public func nextRegion(from x: [UInt32]) -> [UInt32]? {
        var point = x
        for _ in 0..<Self.maximumSteps {
            let rule = self.decidingRule(point)
            if rule?.included == true { return point }
            var next: [UInt32]? = nil
            var shortest = 0
            if let rule {
                // Past the excluded instance that holds the point: everything in it is matched by
                // the rule, so only a longer include can show through (the roots below). When its
                // last arc is `*`, its siblings are matched too: past all of them at once (only one
                // arc up: shorter OIDs are not matched by the rule).
                var length = rule.pattern.count
                if length > 1 && rule.pattern[length - 1] == nil { length -= 1 }
                next = Arcs.end(of: Array(point[0..<length]))
                shortest = rule.pattern.count + 1
            }
            for include in self.includeRules where include.pattern.count >= shortest {
                if let root = include.pattern.firstInstanceRoot(after: point),
                    next.map({ Arcs.compare(root, $0) < 0 }) ?? true
                {
                    next = root
                }
            }
            guard let next else { return nil }
            point = next
        }
        return point
    }

    static let maximumSteps = 64
}

/// A trie of arcs in flat memory allocated once: node `n`'s children are
/// `childArcs[childStart[n]..<childStart[n + 1]]` (sorted) with their nodes at the same places.
/// Immutable after init, so shared freely.
final class ArcTrie: @unchecked Sendable {
    private let childStart: UnsafeMutableBufferPointer<Int32>
    private let childArcs: UnsafeMutableBufferPointer<UInt32>
    private let childNodes: UnsafeMutableBufferPointer<Int32>
    /// Per node: 0 no subtree ends here, 1 an included one, 2 an excluded one.
    private let decisions: UnsafeMutableBufferPointer<UInt8>
    /// Per node: a `*` pattern's fixed arcs end here.
    private let wildcards: UnsafeMutableBufferPointer<Bool>
    let rootWildcards: Bool

    /// Where a descent stands.
    struct Walk {
        var node = 0
        var depth = 0
        var included = false
        var length = 0
        var wildcards = false
    }

    init(childStart: [Int32], childArcs: [UInt32], childNodes: [Int32], decisions: [UInt8], wildcards: [Bool]) {
        func copy<T>(_ array: [T]) -> UnsafeMutableBufferPointer<T> {
            let buffer = UnsafeMutableBufferPointer<T>.allocate(capacity: max(array.count, 1))
            _ = buffer.initialize(from: array)
            return buffer
        }
        self.childStart = copy(childStart)
        self.childArcs = copy(childArcs)
        self.childNodes = copy(childNodes)
        self.decisions = copy(decisions)
        self.wildcards = copy(wildcards)
        self.rootWildcards = wildcards.first ?? false
    }

    deinit {
        self.childStart.deallocate()
        self.childArcs.deallocate()
        self.childNodes.deallocate()
        self.decisions.deallocate()
        self.wildcards.deallocate()
    }

    /// Moves to the child for `arc`; false if there is none (the descent ends).
    @inline(__always)
    func step(_ walk: inout Walk, _ arc: UInt32) -> Bool {
        let end = Int(self.childStart[walk.node &+ 1])
        var low = Int(self.childStart[walk.node])
        var high = end
        while low < high {
            let middle = (low &+ high) &>> 1
            if self.childArcs[middle] < arc { low = middle &+ 1 } else { high = middle }
        }
        guard low < end, self.childArcs[low] == arc else { return false }
        walk.node = Int(self.childNodes[low])
        walk.depth &+= 1
        let mark = self.decisions[walk.node]
        if mark != 0 {
            walk.included = mark == 1
            walk.length = walk.depth
        }
        if self.wildcards[walk.node] { walk.wildcards = true }
        return true
    }
}
