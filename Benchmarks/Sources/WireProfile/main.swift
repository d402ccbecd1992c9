//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

// A plain loop over the codec for profilers (callgrind, perf), which cannot drive the benchmark
// plugin:  valgrind --tool=callgrind .build/release/WireProfile decode 10 20000

import NIOCore
import SNMPSecurity
import SNMPWire
import WireSamples

let arguments = CommandLine.arguments
let mode = arguments.count > 1 ? arguments[1] : "decode"
let count = arguments.count > 2 ? Int(arguments[2])! : 10
let iterations = arguments.count > 3 ? Int(arguments[3])! : 100_000

let message = WireSamples.response(varbinds: count)
var encoded = ByteBuffer()
encoded.writeSNMPMessage(message)

var checksum = 0
var usm = USMSample(auth: .sha256, priv: .aes128)
var usmOut = ByteBuffer()
usmOut.reserveCapacity(2048)
var out = ByteBuffer()
out.reserveCapacity(4096)
for _ in 0..<iterations {
    if mode == "usm-in" {
        guard case .v3(let message) = try SNMPMessage(decoding: usm.request) else { fatalError() }
        if case .accept = usm.engine.receive(message, datagram: usm.request, engineTime: 10) { checksum &+= 1 }
    } else if mode == "usm-out" {
        usmOut.clear()
        if usm.engine.encodeResponse(usm.response, to: usm.state, engineTime: 10, into: &usmOut) { checksum &+= 1 }
    } else if mode == "decode" {
        let decoded = try SNMPMessage(decoding: encoded)
        if case .community(let m) = decoded { checksum &+= m.pdu.varbinds.count }
    } else {
        out.clear()
        checksum &+= out.writeSNMPMessage(message)
    }
}
print(mode, count, iterations, checksum)
