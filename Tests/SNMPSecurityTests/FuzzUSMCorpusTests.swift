//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import Foundation
import NIOCore
import SNMPSecurity
import PeerSupport
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
        var outcomes: [FuzzUSMInboundCheck.Outcome: Int] = [:]
        for bytes in try Peers.hexCorpus(path) {
            outcomes[FuzzUSMInboundCheck.run(ByteBuffer(bytes: bytes)), default: 0] += 1
        }
        #expect(outcomes.values.reduce(0, +) > 0)
        // The fuzzer got past the parser, and past authentication.
        #expect(outcomes[.accepted, default: 0] > 0, "\(outcomes)")
        #expect(outcomes[.undecodable, default: 0] > 0, "\(outcomes)")
    }
}
