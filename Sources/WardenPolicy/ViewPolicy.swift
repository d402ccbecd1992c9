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
/// Compiled once into elementary intervals of OID space: the starts and ends of every subtree (for
/// a pattern with `*`, of the fixed arcs before its first `*`) cut the space into intervals inside
/// which every OID gets the same answer from the fixed subtrees. One decision is a binary search
/// over those intervals; only an interval that a `*` pattern reaches also tries those patterns.
public struct ViewPolicy: Sendable {
    public struct Rule: Hashable, Sendable {
        public var pattern: SubtreePatternArcs
        public var included: Bool

        public init(pattern: SubtreePatternArcs, included: Bool) {
            self.pattern = pattern
            self.included = included
        }
    }

    struct Interval: Sendable {
        var start: OID
        /// The decision of the fixed subtrees here, and the length of the one that decided (0: none).
        var included: Bool
        var length: Int
        /// A `*` pattern may match in this interval.
        var wildcards: Bool
    }

    public let rules: [Rule]
    private let intervals: [Interval]
    private let wildcardRules: [Rule]
    private let includeRules: [Rule]

    public init(include: [SubtreePatternArcs], exclude: [SubtreePatternArcs]) {
        self.init(
            rules: include.map { Rule(pattern: $0, included: true) }
                + exclude.map { Rule(pattern: $0, included: false) }
        )
    }

    public init(rules: [Rule]) {
        self.rules = rules
        self.wildcardRules = rules.filter { $0.pattern.hasWildcard }
        // An include that is also excluded never wins (a tie goes to exclude): it cannot start a region.
        let excluded = Set(rules.filter { !$0.included }.map(\.pattern))
        self.includeRules = rules.filter { $0.included && !excluded.contains($0.pattern) }
        // Boundaries: every fixed subtree's start and end; for `*` patterns, their fixed prefix's.
        var boundaries: [[UInt32]] = []
        for rule in rules {
            let fixed = rule.pattern.fixedPrefix
            boundaries.append(fixed)
            if let end = Arcs.end(of: fixed) { boundaries.append(end) }
        }
        boundaries.sort { Arcs.compare($0, $1) < 0 }
        var unique: [[UInt32]] = []
        for boundary in boundaries where unique.last.map({ Arcs.compare($0, boundary) != 0 }) ?? true {
            unique.append(boundary)
        }
        let fixedRules = rules.filter { !$0.pattern.hasWildcard }
        var intervals: [Interval] = []
        for start in unique {
            guard let oid = OID(arcs: start) else { continue }
            var decision = (included: false, length: 0)
            for rule in fixedRules where rule.pattern.matches(start) {
                let length = rule.pattern.count
                if length > decision.length || (length == decision.length && !rule.included) {
                    decision = (rule.included, length)
                }
            }
            let wildcards = self.wildcardRules.contains { Arcs.hasPrefix(start, $0.pattern.fixedPrefix) }
            intervals.append(
                Interval(start: oid, included: decision.included, length: decision.length, wildcards: wildcards)
            )
        }
        self.intervals = intervals
    }

    /// Whether `oid` is in the view.
    public func contains(_ oid: OID) -> Bool {
        // The last interval starting at or before oid.
        var low = 0
        var high = self.intervals.count
        while low < high {
            let middle = (low + high) / 2
            if self.intervals[middle].start.compare(oid) <= 0 { low = middle + 1 } else { high = middle }
        }
        guard low > 0 else { return false }
        let interval = self.intervals[low - 1]
        guard interval.wildcards else { return interval.included }
        return self.decide(Array(oid.arcs), fixed: (interval.included, interval.length)).included
    }

    /// The longest-match decision by trying the `*` patterns against `arcs`, starting from the fixed one.
    private func decide(_ arcs: [UInt32], fixed: (included: Bool, length: Int)) -> (included: Bool, length: Int) {
        var decision = fixed
        for rule in self.wildcardRules where rule.pattern.matches(arcs) {
            let length = rule.pattern.count
            if length > decision.length || (length == decision.length && !rule.included) {
                decision = (rule.included, length)
            }
        }
        return decision
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
