//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import Benchmark
import NIOCore
import SNMPWire

/// A Response as a v2c agent sends it for an ifTable poll: `count` varbinds cycling through
/// ifDescr (OCTET STRING), ifType (INTEGER), ifSpeed (Gauge32), ifInOctets (Counter32),
/// ifHCInOctets (Counter64) and sysUpTime-like TimeTicks.
func response(varbinds count: Int) -> SNMPMessage {
    var varbinds: [VarBind] = []
    for i in 0..<count {
        let row = UInt32(i / 6 + 1)
        let value: SNMPValue
        let column: [UInt32]
        switch i % 6 {
        case 0: (column, value) = ([1, 3, 6, 1, 2, 1, 2, 2, 1, 2], .string("GigabitEthernet0/\(row)"))
        case 1: (column, value) = ([1, 3, 6, 1, 2, 1, 2, 2, 1, 3], .integer(6))
        case 2: (column, value) = ([1, 3, 6, 1, 2, 1, 2, 2, 1, 5], .gauge32(1_000_000_000))
        case 3: (column, value) = ([1, 3, 6, 1, 2, 1, 2, 2, 1, 10], .counter32(3_123_456_789))
        case 4: (column, value) = ([1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 6], .counter64(98_765_432_101_234))
        default: (column, value) = ([1, 3, 6, 1, 2, 1, 1, 3], .timeTicks(123_456_789))
        }
        varbinds.append(VarBind(oid: OID(arcs: column + [row])!, value: value))
    }
    let pdu = PDU(type: .response, requestID: 1_234_567_890, varbinds: varbinds)
    return .community(CommunityMessage(version: .v2c, community: "public", pdu: pdu))
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .throughput],
        timeUnits: .nanoseconds,
        scalingFactor: .kilo,
        maxDuration: .seconds(3),
        maxIterations: 1_000_000
    )

    for count in [1, 10, 40] {
        let message = response(varbinds: count)
        var encoded = ByteBuffer()
        encoded.writeSNMPMessage(message)

        Benchmark("Decode Response \(count) varbinds (\(encoded.readableBytes) B)") { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(try SNMPMessage(decoding: encoded))
            }
        }

        Benchmark("Encode Response \(count) varbinds, fresh buffer") { benchmark in
            for _ in benchmark.scaledIterations {
                var out = ByteBuffer()
                out.reserveCapacity(1500)
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
