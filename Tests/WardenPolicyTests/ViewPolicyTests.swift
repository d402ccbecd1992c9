//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import PeerSupport
import SNMPWire
import Testing

@testable import WardenPolicy

/// Random OIDs and patterns in a small space (arcs 0...3 under 1.3.6.1), so that patterns, OIDs
/// and boundaries collide often.
enum Space {
    static let root: [UInt32] = [1, 3, 6, 1]

    static func oid(_ random: inout SeededGenerator, maximumDepth: Int = 5) -> [UInt32] {
        Self.root
            + (0..<Int.random(in: 1...maximumDepth, using: &random)).map { _ in UInt32.random(in: 0...3, using: &random)
            }
    }

    static func pattern(_ random: inout SeededGenerator, wildcards: Bool) -> SubtreePatternArcs {
        var arcs: SubtreePatternArcs = Self.root.map { $0 }
        for _ in 0..<Int.random(in: 0...4, using: &random) {
            arcs.append(
                wildcards && Int.random(in: 0..<4, using: &random) == 0 ? nil : UInt32.random(in: 0...3, using: &random)
            )
        }
        return arcs
    }

    static func view(_ random: inout SeededGenerator, wildcards: Bool) -> ViewPolicy {
        let include = (0..<Int.random(in: 0...4, using: &random)).map { _ in Self.pattern(&random, wildcards: wildcards)
        }
        let exclude = (0..<Int.random(in: 0...4, using: &random)).map { _ in Self.pattern(&random, wildcards: wildcards)
        }
        return ViewPolicy(include: include, exclude: exclude)
    }

    /// Every OID of the space up to `depth` arcs below the root, in order.
    static func all(depth: Int) -> [[UInt32]] {
        var result: [[UInt32]] = []
        func walk(_ prefix: [UInt32], _ remaining: Int) {
            if prefix.count > Self.root.count { result.append(prefix) }
            guard remaining > 0 else { return }
            for arc: UInt32 in 0...3 { walk(prefix + [arc], remaining - 1) }
        }
        walk(Self.root, depth)
        return result
    }
}

@Suite("Views")
struct ViewPolicyTests {
    @Test("longest match decides; a tie goes to exclude; '*' matches one arc")
    func decisions() {
        let view = ViewPolicy(
            include: [[1, 3, 6, 1, 2, 1], [1, 3, 6, 1, 2, 1, 2, 2, 1, nil, 1]],
            exclude: [
                [1, 3, 6, 1, 2, 1, 2], [1, 3, 6, 1, 2, 1, 1, 4], [1, 3, 6, 1, 2, 1, 1, 5], [1, 3, 6, 1, 2, 1, 1, 5],
            ]
        )
        let cases: [(OID, Bool)] = [
            ("1.3.6.1.2.1.1.1.0", true),  // sysDescr
            ("1.3.6.1.2.1.1.4.0", false),  // sysContact excluded
            ("1.3.6.1.2.1.2.1.0", false),  // interfaces excluded
            ("1.3.6.1.2.1.2.2.1.2.1", true),  // row 1 re-included by the wildcard (longer)
            ("1.3.6.1.2.1.2.2.1.6.1", true),
            ("1.3.6.1.2.1.2.2.1.2.2", false),  // row 2 is not
            ("1.3.6.1.2.1.2.2.1.2.10", false),
            ("1.3.6.1.2.1.2.2.1.2.1.7", true),  // below an included instance
            ("1.3.6.1.2.1", true),
            ("1.3.6.1.2", false),
            ("1.3.6.1.4.1.8072", false),
        ]
        for (oid, expected) in cases {
            #expect(view.contains(oid) == expected, "\(oid)")
        }
    }

    @Test("the compiled decision equals the rule-by-rule reference on random views and OIDs")
    func compiledEqualsReference() {
        var random = SeededGenerator(state: 3415)
        for _ in 0..<400 {
            let view = Space.view(&random, wildcards: Bool.random(using: &random))
            for _ in 0..<50 {
                let arcs = Space.oid(&random)
                #expect(
                    view.contains(OID(arcs: arcs)!) == view.referenceDecision(arcs).included,
                    "\(view.rules) \(arcs)"
                )
            }
        }
    }

    /// nextRegion(x) returns a point p ≥ x with nothing of the view in [x, p); nil only when nothing
    /// of the view follows x; p is in the view but for rare runs of adjacent excluded instances.
    @Test("nextRegion never skips an OID of the view")
    func nextRegionSkipsNothing() {
        var random = SeededGenerator(state: 842)
        let everything = Space.all(depth: 5)
        var notInView = 0
        defer { #expect(notInView < 30, "nextRegion stopped short of the view \(notInView) times in 6,000") }
        for _ in 0..<300 {
            let view = Space.view(&random, wildcards: true)
            for _ in 0..<20 {
                let x = Space.oid(&random)
                let next = view.nextRegion(from: x)
                let firstInView = everything.first { Arcs.compare($0, x) >= 0 && view.referenceDecision($0).included }
                if let next {
                    // In the view, unless the step bound was reached (runs of adjacent excluded instances).
                    if !view.referenceDecision(next).included {
                        notInView += 1
                    }
                    if let firstInView {
                        #expect(
                            Arcs.compare(next, firstInView) <= 0,
                            "\(view.rules) from \(x): \(next) skips \(firstInView)"
                        )
                    }
                } else {
                    #expect(firstInView == nil, "\(view.rules) from \(x): nothing, but \(firstInView!) is in the view")
                }
            }
        }
    }

    @Test("subtree ends and GetNext queries")
    func arcsArithmetic() {
        #expect(Arcs.end(of: [1, 3, 6, 1, 2, 1, 1, 4]) == [1, 3, 6, 1, 2, 1, 1, 5])
        #expect(Arcs.end(of: [1, 3, UInt32.max]) == [1, 4])
        #expect(Arcs.queryBefore([1, 3, 6, 1, 2, 1, 2, 2, 1, 7]) == [1, 3, 6, 1, 2, 1, 2, 2, 1, 6, UInt32.max])
        #expect(Arcs.queryBefore([1, 3, 6, 1, 2, 1, 1, 5, 0]) == [1, 3, 6, 1, 2, 1, 1, 5])
        let pattern: SubtreePatternArcs = [1, 3, 6, 1, 2, 1, 2, 2, 1, nil, 1]
        #expect(
            pattern.firstInstanceRoot(after: [1, 3, 6, 1, 2, 1, 2, 2, 1, 2, 5]) == [1, 3, 6, 1, 2, 1, 2, 2, 1, 3, 1]
        )
        #expect(pattern.firstInstanceRoot(after: [1, 3, 6, 1, 2, 1, 2]) == [1, 3, 6, 1, 2, 1, 2, 2, 1, 0, 1])
        #expect(
            pattern.firstInstanceRoot(after: [1, 3, 6, 1, 2, 1, 2, 2, 1, 2, 0, 9]) == [1, 3, 6, 1, 2, 1, 2, 2, 1, 2, 1]
        )
        #expect(pattern.firstInstanceRoot(after: [1, 3, 6, 1, 2, 1, 3]) == nil)
    }
}
