//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import Foundation
import NIOCore
import SNMPSecurity
import Testing

/// The USM engine's fuzz check (`FuzzUSMInbound`) on the inputs its fuzzer kept: nothing traps, and
/// the outcomes are the engine's four.
@Suite("FuzzUSMInbound: the kept corpus replayed", .serialized)
struct FuzzUSMCorpusTests {
    @Test("Regression/usm-corpus.hex")
    func corpus() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "Regression/usm-corpus.hex"
        ).path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var outcomes: [FuzzUSMInboundCheck.Outcome: Int] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            var bytes: [UInt8] = []
            var index = line.startIndex
            while index < line.endIndex, let next = line.index(index, offsetBy: 2, limitedBy: line.endIndex) {
                if let byte = UInt8(line[index..<next], radix: 16) { bytes.append(byte) }
                index = next
            }
            outcomes[FuzzUSMInboundCheck.run(ByteBuffer(bytes: bytes)), default: 0] += 1
        }
        #expect(outcomes.values.reduce(0, +) > 0)
        // The fuzzer got past the parser, and past authentication.
        #expect(outcomes[.accepted, default: 0] > 0, "\(outcomes)")
        #expect(outcomes[.undecodable, default: 0] > 0, "\(outcomes)")
    }
}
