//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import Foundation
import NIOCore
import PeerSupport
import SNMPWire
import Testing
import WardenForwarder

/// The whole-pipeline fuzz check (`FuzzRequestMachine`), replayed: the corpus the fuzzer kept, and
/// inputs built here from real requests and answers with random damage.
@Suite("FuzzRequestMachine: the corpus and generated pipelines replayed")
struct FuzzRequestMachineTests {
    static func record(_ operation: UInt8, _ bytes: ByteBuffer) -> [UInt8] {
        [operation, UInt8(bytes.readableBytes >> 8), UInt8(bytes.readableBytes & 0xFF)] + Array(buffer: bytes)
    }

    @Test("the kept corpus (Regression/request-machine-corpus.hex)")
    func corpus() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "Regression/request-machine-corpus.hex"
        ).path
        var replayed = 0
        for bytes in try Peers.hexCorpus(path) {
            #expect(throws: Never.self, "\(bytes.prefix(40))") { try FuzzRequestMachineCheck.run(ByteBuffer(bytes: bytes)) }
            replayed += 1
        }
        #expect(replayed > 0)
    }

    @Test("2,000 generated pipelines: requests of every kind, answers of both agents, damaged and timed out")
    func generated() throws {
        var random = SeededGenerator(state: 2026)
        let oids: [OID] = ["1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.4.0", "1.3.6.1.2.1.1", "1.3.6.1.2.1.2.2.1.6", "1.3.6.1.4.1.99999.9", "1.3.6.1.4.1.9.1", "1.3", "1.3.6.1.2.1.1.99.0"]
        for round in 0..<2000 {
            var input: [UInt8] = []
            for _ in 0..<Int.random(in: 1...8, using: &random) {
                let varbinds = (0..<Int.random(in: 1...3, using: &random)).map { _ in
                    VarBind(oid: oids.randomElement(using: &random)!, value: Bool.random(using: &random) ? .null : .string("x"))
                }
                let type = [PDUType.get, .getNext, .getBulk, .set].randomElement(using: &random)!
                var pdu = PDU(type: type, requestID: Int32.random(in: 1...1000, using: &random), varbinds: varbinds)
                if type == .getBulk {
                    pdu = PDU.getBulk(requestID: pdu.requestID, nonRepeaters: Int32.random(in: 0...2, using: &random), maxRepetitions: Int32.random(in: 0...30, using: &random), varbinds: varbinds)
                }
                var request = ByteBuffer()
                let v1 = Bool.random(using: &random) && type != .getBulk
                request.writeCommunityMessage(CommunityMessage(version: v1 ? .v1 : .v2c, community: ByteBuffer(string: v1 ? "v1" : "public"), pdu: .pdu(pdu)))
                input += Self.record(0, request)
                // An answer of random objects from one of the agents, sometimes damaged.
                let answer = PDU(
                    type: .response,
                    requestID: 0,
                    errorStatus: Int.random(in: 0..<6, using: &random) == 0 ? .noSuchName : .noError,
                    errorIndex: Int32.random(in: 0...2, using: &random),
                    varbinds: (0..<Int.random(in: 0...6, using: &random)).map { _ in
                        VarBind(oid: oids.randomElement(using: &random)!, value: [SNMPValue.integer(1), .string("v"), .counter64(5), .endOfMibView, .noSuchObject].randomElement(using: &random)!)
                    }
                )
                var response = ByteBuffer()
                let agentVersion: SNMPVersion = Bool.random(using: &random) ? .v2c : .v1
                response.writeCommunityMessage(CommunityMessage(version: agentVersion, community: ByteBuffer(string: "agent"), pdu: .pdu(answer)))
                var bytes = Array(buffer: response)
                if Int.random(in: 0..<5, using: &random) == 0, !bytes.isEmpty {
                    bytes[Int.random(in: 0..<bytes.count, using: &random)] ^= UInt8.random(in: 1...255, using: &random)
                }
                input += Self.record(UInt8(1 + 3 * Int.random(in: 0..<4, using: &random)), ByteBuffer(bytes: bytes))
                if Bool.random(using: &random) { input += Self.record(UInt8(2 + 3 * Int.random(in: 0..<80, using: &random)), ByteBuffer()) }
            }
            #expect(throws: Never.self, "round \(round)") { try FuzzRequestMachineCheck.run(ByteBuffer(bytes: input)) }
        }
    }
}
