//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import Foundation
import NIOCore
import SNMPWire
import Testing

/// Replays what the fuzzer found interesting (`scripts/fuzz.sh` keeps every input that reached new
/// code) and inputs written to hit the decoder's limits, through the same check the fuzz target runs.
@Suite("Fuzz regressions")
struct FuzzRegressionTests {
    static func inputs(_ file: String) -> [[UInt8]] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Regression").appendingPathComponent(file)
        let text = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.isEmpty }.map { decodeHex(String($0)) }
    }

    @Test("the fuzzer's corpus: every input is refused cleanly or decodes canonically")
    func corpus() {
        let inputs = Self.inputs("fuzz-corpus.hex")
        #expect(inputs.count >= 100, "the corpus file is missing or short")
        var decoded = 0
        for input in inputs where FuzzWireDecodeCheck.run(ByteBuffer(bytes: input)) { decoded += 1 }
        // The corpus holds both: inputs that reach deep into valid messages and inputs that fail at every step.
        #expect(decoded > 0 && decoded < inputs.count)
    }

    /// Inputs aimed at the limits, each with the error it must give.
    static let adversarial: [(String, String, SNMPWireError.Reason, Int)] = [
        ("4 GiB length", "3084ffffffff020101", .lengthPastEnd(length: 0xFFFF_FFFF, available: 3), 0),
        ("2^31 length on 64-bit", "308480000000", .lengthPastEnd(length: 0x8000_0000, available: 0), 0),
        ("length octets run out", "3084ffff", .truncated, 0),
        ("nested SEQUENCEs as the version", "300a30083006300430023000", .unexpectedTag(expected: 0x02, found: 0x30), 2),
        ("indefinite inside", "3006020101048000", .indefiniteLength, 5),
        ("community length one past", "30070201010403 0102", .lengthPastEnd(length: 3, available: 2), 5),
        ("zero-length message", "3000", .truncated, 2),
        ("version as 5-octet INTEGER", "30080205000000000100", .integerOverflow(tag: 0x02), 2),
    ]

    @Test("hostile inputs get the right error", arguments: adversarial)
    func hostile(label: String, input: String, reason: SNMPWireError.Reason, offset: Int) {
        let error = decodeError(buffer(hex: input))
        #expect(error == SNMPWireError(reason, at: offset), "\(label)")
        #expect(FuzzWireDecodeCheck.run(buffer(hex: input)) == false)
    }

    @Test("a 10,000-varbind message decodes, and so does the largest UDP payload")
    func largeInputs() throws {
        let varbinds = [VarBind](repeating: VarBind(oid: "0.0", value: .null), count: 10_000)
        let message = SNMPMessage.community(
            CommunityMessage(version: .v2c, community: "c", pdu: PDU(type: .response, requestID: 0, varbinds: varbinds))
        )
        let encoded = encode(message)
        #expect(FuzzWireDecodeCheck.run(encoded))
        // 65,507 bytes: one OCTET STRING filling a UDP datagram.
        let big = SNMPMessage.community(
            CommunityMessage(
                version: .v2c,
                community: "c",
                pdu: PDU(
                    type: .response,
                    requestID: 0,
                    varbinds: [VarBind(oid: "1.3", value: .octetString(ByteBuffer(repeating: 0x41, count: 65_469)))]
                )
            )
        )
        let bigBytes = encode(big)
        #expect(bigBytes.readableBytes <= 65_507)
        #expect(try SNMPMessage(decoding: bigBytes) == big)
    }
}
