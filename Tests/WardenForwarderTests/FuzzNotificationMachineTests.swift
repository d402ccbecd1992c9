//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import Foundation
import NIOCore
import PeerSupport
import SNMPSecurity
import SNMPWire
import Testing
import WardenForwarder

/// The notification relay's fuzz check (`FuzzNotificationMachine`), replayed on inputs built here:
/// real traps and informs of every version, damaged, with receivers' answers and timer ticks.
@Suite("FuzzNotificationMachine: generated notifications replayed")
struct FuzzNotificationMachineTests {
    static func record(_ operation: UInt8, _ bytes: ByteBuffer) -> [UInt8] {
        [operation, UInt8(bytes.readableBytes >> 8), UInt8(bytes.readableBytes & 0xFF)] + Array(buffer: bytes)
    }

    static func varbinds(_ random: inout SeededGenerator) -> [VarBind] {
        let trapOIDs = ["1.3.6.1.6.3.1.1.5.1", "1.3.6.1.6.3.1.1.5.3", "1.3.6.1.4.1.9.0.7", "1.3.6.1.4.1.99999.0.1"]
        var list = [
            VarBind(oid: "1.3.6.1.2.1.1.3.0", value: .timeTicks(UInt32.random(in: 0...1_000_000, using: &random))),
            VarBind(
                oid: "1.3.6.1.6.3.1.1.4.1.0",
                value: .objectIdentifier(OID(dotted: trapOIDs.randomElement(using: &random)!)!)
            ),
        ]
        let others: [VarBind] = [
            VarBind(oid: "1.3.6.1.2.1.2.2.1.1.3", value: .integer(3)),
            VarBind(oid: "1.3.6.1.2.1.2.2.1.2.3", value: .string("port-3")),
            VarBind(oid: "1.3.6.1.4.1.9.2.1", value: .counter64(7)),
            VarBind(oid: "1.3.6.1.6.3.18.1.3.0", value: .ipAddress(IPv4Address(192, 0, 2, 99))),
            VarBind(oid: "1.3.6.1.6.3.10.2.1.1.1", value: .octetString(ByteBuffer(bytes: [0x80, 0, 0x1F, 0x88, 0x04, 0x66, 0x75, 0x7A, 0x7A]))),
        ]
        for _ in 0..<Int.random(in: 0...3, using: &random) {
            list.append(others.randomElement(using: &random)!)
        }
        return list
    }

    @Test("2,000 generated sequences of traps, informs, answers and timer ticks, damaged")
    func generated() throws {
        var random = SeededGenerator(state: 316)
        var sent = 0
        var replies = 0
        for _ in 0..<2_000 {
            var input: [UInt8] = []
            for _ in 0..<Int.random(in: 1...6, using: &random) {
                var datagram = ByteBuffer()
                switch Int.random(in: 0..<5, using: &random) {
                case 0:
                    datagram.writeCommunityMessage(
                        CommunityMessage(version: .v2c, community: "public", pdu: PDU(type: .trapV2, requestID: 7, varbinds: Self.varbinds(&random)))
                    )
                case 1:
                    datagram.writeCommunityMessage(
                        CommunityMessage(version: .v2c, community: "public", pdu: PDU(type: .inform, requestID: 9, varbinds: Self.varbinds(&random)))
                    )
                case 2:
                    let trap = TrapV1PDU(
                        enterprise: "1.3.6.1.4.1.9",
                        agentAddress: IPv4Address(192, 0, 2, 10),
                        genericTrap: Int32.random(in: 0...6, using: &random),
                        specificTrap: 5,
                        timeStamp: 100,
                        varbinds: Array(Self.varbinds(&random).dropFirst(2))
                    )
                    datagram.writeCommunityMessage(CommunityMessage(version: .v1, community: ByteBuffer(string: "public"), pdu: .trapV1(trap)))
                case 3:
                    // A receiver's acknowledgement (the check gives it the pending request-id).
                    datagram.writeCommunityMessage(
                        CommunityMessage(version: .v2c, community: "nms", pdu: PDU(type: .response, requestID: 1, varbinds: []))
                    )
                    input += Self.record(1, datagram)
                    continue
                default:
                    input += Self.record(2 + 3 * UInt8.random(in: 0...80, using: &random), ByteBuffer())
                    continue
                }
                var bytes = Array(buffer: datagram)
                if Bool.random(using: &random) {
                    for _ in 0..<Int.random(in: 1...3, using: &random) {
                        bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
                    }
                }
                input += Self.record(Bool.random(using: &random) ? 0 : 3, ByteBuffer(bytes: bytes))
            }
            #expect(throws: Never.self) {
                let activity = try FuzzNotificationMachineCheck.run(ByteBuffer(bytes: input))
                sent += activity.sent
                replies += activity.replies
            }
        }
        // The check saw forwarding and acknowledgements, not only drops.
        #expect(sent > 2_000)
        #expect(replies > 100)
    }
}

@Suite("FuzzNotificationMachine: the kept corpus replayed")
struct FuzzNotificationCorpusTests {
    @Test("Regression/notification-machine-corpus.hex")
    func corpus() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "Regression/notification-machine-corpus.hex"
        ).path
        var replayed = 0
        var sent = 0
        for bytes in try Peers.hexCorpus(path) {
            #expect(throws: Never.self, "\(bytes.prefix(40))") {
                sent += try FuzzNotificationMachineCheck.run(ByteBuffer(bytes: bytes)).sent
            }
            replayed += 1
        }
        #expect(replayed > 0)
        #expect(sent > 0)
    }
}
