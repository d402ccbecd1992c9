//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import Benchmark
import NIOCore
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

    // Value rewriting (issue 14): what a route with transforms pays per varbind of an answer. A
    // route without transforms pays nothing: the request machine checks for none once per answer.
    let rules: [ValueTransforms.Rule] = [
        .init(pattern: [1, 3, 6, 1, 2, 1, 2, 2, 1, 6], action: .zero),
        .init(pattern: [1, 3, 6, 1, 2, 1, 4, 20, 1, nil], action: .hash),
        .init(pattern: [1, 3, 6, 1, 2, 1, 1, 4, 0], action: .replace(text: "noc@example.net", value: nil)),
        .init(pattern: [1, 3, 6, 1, 2, 1, 1, 1, 0], action: .match(try! .init("Version [0-9.]+"), with: "Version x")),
    ]
    let hmacLike: @Sendable ([UInt8]) -> [UInt8] = { data in
        // The benchmark measures the transform machinery, not SHA-256: a cheap 32-octet stand-in.
        var state: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in data { state = (state ^ UInt64(byte)) &* 0x100_0000_01B3 }
        return (0..<32).map { UInt8(truncatingIfNeeded: state >> UInt64($0 % 8 * 8)) }
    }
    let transforms = ValueTransforms(rules: rules, synthesized: [], keyedHash: hmacLike)
    let counter = SNMPValue.counter32(123_456)
    let inOctets: OID = "1.3.6.1.2.1.2.2.1.10.7"
    Benchmark("Transforms, 4 rules: a varbind no rule matches (ifInOctets)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(transforms.apply(inOctets, counter))
        }
    }
    let mac = SNMPValue.octetString(ByteBuffer(bytes: [2, 0x42, 0xAC, 0x11, 0, 2]))
    let physAddress: OID = "1.3.6.1.2.1.2.2.1.6.7"
    Benchmark("Transforms, 4 rules: redact zero (ifPhysAddress)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(transforms.apply(physAddress, mac))
        }
    }
    let description = SNMPValue.string("Acme switch, Version 4.2.1 (build 17)")
    let sysDescr: OID = "1.3.6.1.2.1.1.1.0"
    Benchmark("Transforms, 4 rules: match/with on sysDescr") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(transforms.apply(sysDescr, description))
        }
    }
}
