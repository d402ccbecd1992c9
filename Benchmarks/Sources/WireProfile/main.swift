//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

// A plain loop over the codec for profilers (callgrind, perf), which cannot drive the benchmark
// plugin:  valgrind --tool=callgrind .build/release/WireProfile decode 10 20000

import NIOCore
import SNMPWire

let arguments = CommandLine.arguments
let mode = arguments.count > 1 ? arguments[1] : "decode"
let count = arguments.count > 2 ? Int(arguments[2])! : 10
let iterations = arguments.count > 3 ? Int(arguments[3])! : 100_000

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
let message = SNMPMessage.community(
    CommunityMessage(version: .v2c, community: "public", pdu: PDU(type: .response, requestID: 1_234_567_890, varbinds: varbinds)))
var encoded = ByteBuffer()
encoded.writeSNMPMessage(message)

var checksum = 0
var out = ByteBuffer()
out.reserveCapacity(4096)
for _ in 0..<iterations {
    if mode == "decode" {
        let decoded = try SNMPMessage(decoding: encoded)
        if case .community(let m) = decoded { checksum &+= m.pdu.varbinds.count }
    } else {
        out.clear()
        checksum &+= out.writeSNMPMessage(message)
    }
}
print(mode, count, iterations, checksum)
