//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import Benchmark
import NIOCore
import SNMPWire
import WireSamples

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .throughput],
        timeUnits: .nanoseconds,
        scalingFactor: .kilo,
        maxDuration: .seconds(3),
        maxIterations: 1_000_000
    )

    let allocator = ByteBufferAllocator()
    for count in [1, 10, 40] {
        let message = WireSamples.response(varbinds: count)
        var encoded = ByteBuffer()
        encoded.writeSNMPMessage(message)

        Benchmark("Decode Response \(count) varbinds (\(encoded.readableBytes) B)") { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(try SNMPMessage(decoding: encoded))
            }
        }

        Benchmark("Encode Response \(count) varbinds, fresh buffer") { benchmark in
            for _ in benchmark.scaledIterations {
                var out = allocator.buffer(capacity: 1500)
                blackHole(out.writeSNMPMessage(message))
            }
        }

        Benchmark("Encode Response \(count) varbinds, reused buffer") { benchmark in
            var out = ByteBuffer()
            out.reserveCapacity(4096)
            for _ in benchmark.scaledIterations {
                out.clear()
                blackHole(out.writeSNMPMessage(message))
            }
        }
    }

    let oids: [OID] = (0..<1000).map { OID(arcs: [1, 3, 6, 1, 2, 1, 2, 2, 1, UInt32($0 % 22 + 1), UInt32($0)])! }
    Benchmark("OID compare x999 (ifTable OIDs)") { benchmark in
        for _ in benchmark.scaledIterations {
            var smaller = 0
            for i in 1..<oids.count where oids[i - 1] < oids[i] { smaller += 1 }
            blackHole(smaller)
        }
    }
}
