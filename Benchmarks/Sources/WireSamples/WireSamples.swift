//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOCore
import SNMPWire

/// Messages the benchmarks and the profiling loop share.
public enum WireSamples {
    /// A Response as a v2c agent sends it for an ifTable poll: `count` varbinds cycling through
    /// ifDescr (OCTET STRING), ifType (INTEGER), ifSpeed (Gauge32), ifInOctets (Counter32),
    /// ifHCInOctets (Counter64) and sysUpTime-like TimeTicks.
    public static func response(varbinds count: Int) -> SNMPMessage {
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
}
