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
import WardenSimulator

let sample = """
    # a tiny device
    1.3.6.1.2.1.1.1.0|4|Demo switch
    1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.8072.3.2.10
    1.3.6.1.2.1.1.3.0|67|123456
    1.3.6.1.2.1.2.2.1.1.1|2|1
    1.3.6.1.2.1.2.2.1.1.2|2|2
    1.3.6.1.2.1.2.2.1.6.1|4x|001b2c3d4e01
    1.3.6.1.2.1.2.2.1.6.2|4x|001B2C3D4E02
    1.3.6.1.2.1.4.20.1.1.192.0.2.1|64|192.0.2.1
    1.3.6.1.2.1.2.2.1.10.1|65|4294967295
    1.3.6.1.2.1.2.2.1.5.1|66|1000000000
    1.3.6.1.2.1.31.1.1.1.6.1|70|18446744073709551615
    """

@Suite("Simulated back ends")
struct SimulatorTests {
    @Test func parsesEveryTag() throws {
        let records = try SNMPRec.parse(sample)
        #expect(records.count == 11)
        #expect(records.map(\.oid) == records.map(\.oid).sorted())
        let byOID = Dictionary(uniqueKeysWithValues: records.map { ($0.oid, $0.value) })
        #expect(byOID["1.3.6.1.2.1.1.1.0"] == .string("Demo switch"))
        #expect(
            byOID["1.3.6.1.2.1.2.2.1.6.1"] == .octetString(ByteBuffer(bytes: [0x00, 0x1B, 0x2C, 0x3D, 0x4E, 0x01]))
        )
        #expect(
            byOID["1.3.6.1.2.1.2.2.1.6.2"] == .octetString(ByteBuffer(bytes: [0x00, 0x1B, 0x2C, 0x3D, 0x4E, 0x02]))
        )
        #expect(byOID["1.3.6.1.2.1.4.20.1.1.192.0.2.1"] == .ipAddress(IPv4Address(192, 0, 2, 1)))
        #expect(byOID["1.3.6.1.2.1.2.2.1.10.1"] == .counter32(.max))
        #expect(byOID["1.3.6.1.2.1.31.1.1.1.6.1"] == .counter64(.max))
        #expect(byOID["1.3.6.1.2.1.1.3.0"] == .timeTicks(123_456))
    }

    static let badLines: [(String, String)] = [
        ("1.3.6.1.2.1.1.1.0|4", "line 1: expected OID|TAG|VALUE"),
        ("1.3.6.x|4|a", "line 1: '1.3.6.x' is not an OID"),
        ("1.3.6.1.2.1.1.1.0|4:numeric|a", "line 1: tag '4:numeric' is not supported (variation modules are not)"),
        ("1.3.6.1.2.1.1.1.0|2|twelve", "line 1: 'twelve' is not a valid Int32 for tag 2"),
        ("1.3.6.1.2.1.1.1.0|4x|0g", "line 1: '0g' is not hex"),
        ("1.3.6.1.2.1.1.1.0|99|a", "line 1: tag 99 is not an SNMP value type"),
        ("\n1.3.6.1.2.1.1.1.0|65|-1", "line 2: '-1' is not a valid UInt32 for tag 65"),
        ("1.3.6.1.2.1.1.1.0|4|a\n1.3.6.1.2.1.1.1.0|4|b", "line 0: 1.3.6.1.2.1.1.1.0 appears twice"),
    ]

    @Test("bad lines are refused with their line number", arguments: badLines)
    func badLine(text: String, message: String) {
        #expect(throws: SNMPRec.ParseError.self) { try SNMPRec.parse(text) }
        do { _ = try SNMPRec.parse(text) } catch { #expect(error.description == message) }
    }

    @Test func getAndExceptions() throws {
        var agent = SimulatedAgent(objects: try SNMPRec.parse(sample))
        let response = agent.respond(
            to: PDU(
                type: .get,
                requestID: 7,
                varbinds: [
                    VarBind(oid: "1.3.6.1.2.1.1.1.0"), VarBind(oid: "1.3.6.1.2.1.1.1.1"),
                    VarBind(oid: "1.3.6.1.2.1.99.0"),
                ]
            )
        )
        #expect(response?.requestID == 7 && response?.type == .response)
        #expect(response?.varbinds.map(\.value) == [.string("Demo switch"), .noSuchInstance, .noSuchObject])
    }

    @Test("a walk with GetNext visits every object in order and ends with endOfMibView")
    func walk() throws {
        let records = try SNMPRec.parse(sample)
        var agent = SimulatedAgent(objects: records)
        var cursor: OID = "1.3"
        var seen: [VarBind] = []
        while true {
            let reply1 = agent.respond(to: PDU(type: .getNext, requestID: 1, varbinds: [VarBind(oid: cursor)]))
            let next = try #require(reply1?.varbinds.first)
            if next.value == .endOfMibView {
                #expect(next.oid == cursor)
                break
            }
            seen.append(next)
            cursor = next.oid
        }
        #expect(seen == records)
    }

    @Test("GetBulk: non-repeaters, repetitions per column, stop when every column has ended")
    func getBulk() throws {
        var agent = SimulatedAgent(objects: try SNMPRec.parse(sample))
        let bulk = PDU.getBulk(
            requestID: 3,
            nonRepeaters: 1,
            maxRepetitions: 3,
            varbinds: [
                VarBind(oid: "1.3.6.1.2.1.1.3"), VarBind(oid: "1.3.6.1.2.1.2.2.1.1"),
                VarBind(oid: "1.3.6.1.2.1.2.2.1.6"),
            ]
        )
        let reply2 = agent.respond(to: bulk)
        let varbinds = try #require(reply2?.varbinds)
        #expect(
            varbinds.map(\.oid) == [
                "1.3.6.1.2.1.1.3.0",
                "1.3.6.1.2.1.2.2.1.1.1", "1.3.6.1.2.1.2.2.1.6.1",
                "1.3.6.1.2.1.2.2.1.1.2", "1.3.6.1.2.1.2.2.1.6.2",
                "1.3.6.1.2.1.2.2.1.5.1", "1.3.6.1.2.1.2.2.1.10.1",
            ]
        )
        let reply3 = agent.respond(
            to: PDU.getBulk(
                requestID: 4,
                nonRepeaters: 0,
                maxRepetitions: 10,
                varbinds: [VarBind(oid: "1.3.6.1.2.1.31.1.1.1.6.1")]
            )
        )
        let end = try #require(reply3)
        #expect(
            end.varbinds == [VarBind(oid: "1.3.6.1.2.1.31.1.1.1.6.1", value: .endOfMibView)],
            "stops after a repetition that is all endOfMibView"
        )
        let reply4 = agent.respond(
            to: PDU.getBulk(requestID: 5, nonRepeaters: -1, maxRepetitions: -5, varbinds: [VarBind(oid: "1.3")])
        )
        let negative = try #require(reply4)
        #expect(negative.varbinds.isEmpty, "negative fields count as 0 (RFC 3416 §4.2.3)")
    }

    @Test("Set changes objects in memory, all or nothing")
    func set() throws {
        var agent = SimulatedAgent(objects: try SNMPRec.parse(sample))
        let reply5 = agent.respond(
            to: PDU(type: .set, requestID: 1, varbinds: [VarBind(oid: "1.3.6.1.2.1.1.1.0", value: .string("renamed"))])
        )
        let ok = try #require(reply5)
        #expect(ok.errorStatus == .noError && ok.varbinds.first?.value == .string("renamed"))
        let reply6 = agent.respond(to: PDU(type: .get, requestID: 2, varbinds: [VarBind(oid: "1.3.6.1.2.1.1.1.0")]))
        #expect(reply6?.varbinds.first?.value == .string("renamed"))
        let reply7 = agent.respond(
            to: PDU(
                type: .set,
                requestID: 3,
                varbinds: [
                    VarBind(oid: "1.3.6.1.2.1.1.1.0", value: .string("again")),
                    VarBind(oid: "1.3.6.1.2.1.1.3.0", value: .integer(1)),
                ]
            )
        )
        let mixed = try #require(reply7)
        #expect(mixed.errorStatus == .wrongType && mixed.errorIndex == 2)
        let reply8 = agent.respond(to: PDU(type: .get, requestID: 4, varbinds: [VarBind(oid: "1.3.6.1.2.1.1.1.0")]))
        #expect(reply8?.varbinds.first?.value == .string("renamed"), "nothing changed")
        let reply9 = agent.respond(
            to: PDU(type: .set, requestID: 5, varbinds: [VarBind(oid: "1.3.6.1.2.1.1.9.0", value: .integer(1))])
        )
        let missing = try #require(reply9)
        #expect(missing.errorStatus == .notWritable && missing.errorIndex == 1)
        let reply10 = agent.respond(to: PDU(type: .response, requestID: 6, varbinds: []))
        #expect(reply10 == nil)
    }

    @Test("the shipped demo device parses: system, ifTable and ifXTable with Counter64s")
    func demoDevice() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
            .appendingPathComponent("conf/demo.snmprec").path
        let records = try SNMPRec.parse(try String(contentsOfFile: path, encoding: .utf8))
        let oids = Set(records.map(\.oid))
        #expect(oids.contains("1.3.6.1.2.1.1.1.0") && oids.contains("1.3.6.1.2.1.1.5.0"))
        #expect(records.filter { $0.oid.hasPrefix("1.3.6.1.2.1.2.2.1.1") }.count >= 8)
        #expect(
            records.contains {
                if case .counter64 = $0.value {
                    return $0.oid.hasPrefix("1.3.6.1.2.1.31.1.1.1.6")
                } else {
                    return false
                }
            }
        )
    }
}
