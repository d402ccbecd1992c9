//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import Benchmark
import SNMPWire
import WardenPolicy

/// The view decision for one varbind (issue 5's target: ≤ 100 ns in a view of 1,000 subtrees).
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .throughput],
        timeUnits: .nanoseconds,
        scalingFactor: .kilo,
        maxDuration: .seconds(3),
        maxIterations: 1_000_000
    )

    // 1,000 subtrees: 500 included enterprise subtrees, 400 excluded columns inside them, 100
    // included ifTable rows by wildcard (the slow path), spread the way a large policy would be.
    var include: [SubtreePatternArcs] = []
    var exclude: [SubtreePatternArcs] = []
    for i in 0..<500 {
        let enterprise = UInt32(1000 + i * 7)
        include.append([1, 3, 6, 1, 4, 1, enterprise])
    }
    for i in 0..<400 {
        let enterprise = UInt32(1000 + (i % 500) * 7)
        let column = UInt32(i % 9)
        exclude.append([1, 3, 6, 1, 4, 1, enterprise, 1, column])
    }
    for row in 1...100 {
        let pattern: SubtreePatternArcs = [1, 3, 6, 1, 2, 1, 2, 2, 1, nil, UInt32(row)]
        include.append(pattern)
    }
    let view = ViewPolicy(include: include, exclude: exclude)

    // Varbinds as a poll would carry them: enterprise objects in and out of the view, ifTable cells.
    var oids: [OID] = []
    for i in 0..<1024 {
        let arcs: [UInt32]
        switch i % 4 {
        case 0: arcs = [1, 3, 6, 1, 4, 1, UInt32(1000 + (i % 500) * 7), 1, UInt32(i % 12), 0]
        case 1: arcs = [1, 3, 6, 1, 4, 1, UInt32(1001 + (i % 500) * 7), 2, 0]
        case 2: arcs = [1, 3, 6, 1, 2, 1, 2, 2, 1, UInt32(i % 22 + 1), UInt32(i % 150)]
        default: arcs = [1, 3, 6, 1, 2, 1, 1, UInt32(i % 9), 0]
        }
        oids.append(OID(arcs: arcs)!)
    }
    Benchmark("View decision, 1,000 subtrees (per varbind)") { benchmark in
        oids.withUnsafeBufferPointer { oids in
            var index = 0
            for _ in benchmark.scaledIterations {
                blackHole(view.contains(oids[index & 1023]))
                index &+= 1
            }
        }
    }
    let plain = ViewPolicy(include: include.filter { !$0.contains(nil) }, exclude: exclude)
    Benchmark("View decision, 900 subtrees without wildcards (per varbind)") { benchmark in
        oids.withUnsafeBufferPointer { oids in
            var index = 0
            for _ in benchmark.scaledIterations {
                blackHole(plain.contains(oids[index & 1023]))
                index &+= 1
            }
        }
    }
    let tiny = ViewPolicy(include: [[1, 3, 6, 1]], exclude: [])
    Benchmark("View decision, 1 subtree (the fixed cost)") { benchmark in
        oids.withUnsafeBufferPointer { oids in
            var index = 0
            for _ in benchmark.scaledIterations {
                blackHole(tiny.contains(oids[index & 1023]))
                index &+= 1
            }
        }
    }
}
