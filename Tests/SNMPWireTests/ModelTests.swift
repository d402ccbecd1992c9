//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOCore
import SNMPWire
import Testing

@Suite("Fixture pairs")
struct FixturePairTests {
    /// Request and reply captured for one command.
    static let pairs: [(String, String)] = [
        ("get-v1-request", "get-v1-response"), ("get-v2c-request", "get-v2c-response"),
        ("get-v2c-missing-request", "get-v2c-missing-response"), ("get-v1-missing-request", "get-v1-missing-response"),
        ("get-v1-missing-fixup-request-1", "get-v1-missing-fixup-response-1"),
        ("get-v1-missing-fixup-request-2", "get-v1-missing-fixup-response-2"),
        ("getnext-v2c-request", "getnext-v2c-response"), ("getnext-v2c-end-request", "getnext-v2c-end-response"),
        ("getbulk-v2c-request", "getbulk-v2c-response"),
        ("getbulk-v2c-counter64-request", "getbulk-v2c-counter64-response"),
        ("getnext-v2c-ipaddress-request", "getnext-v2c-ipaddress-response"),
        ("get-v2c-oid-gauge-request", "get-v2c-oid-gauge-response"), ("set-v2c-request", "set-v2c-response"),
        ("set-v2c-notwritable-request", "set-v2c-notwritable-response"),
        ("set-v1-readonly-request", "set-v1-readonly-response"), ("inform-v2c-request", "inform-v2c-response"),
        ("v3-discovery-request", "v3-discovery-report"), ("v3-unknown-user-request", "v3-unknown-user-report"),
        ("v3-authnopriv-request-1", "v3-authnopriv-report"), ("v3-authnopriv-request-2", "v3-authnopriv-response"),
        ("v3-noauth-request", "v3-noauth-response"), ("v3-authpriv-get-request", "v3-authpriv-get-response"),
    ]

    @Test("a reply carries its request's version, community or msgID, and request-id", arguments: pairs)
    func replyMatchesRequest(request: String, reply: String) throws {
        let q = try SNMPMessage(decoding: ByteBuffer(bytes: Fixture.load(request).bytes))
        let r = try SNMPMessage(decoding: ByteBuffer(bytes: Fixture.load(reply).bytes))
        #expect(q.version == r.version)
        switch (q, r) {
        case (.community(let a), .community(let b)):
            #expect(a.community == b.community)
            guard case .pdu(let qp) = a.pdu, case .pdu(let rp) = b.pdu else {
                Issue.record("trap in a pair")
                return
            }
            #expect(qp.type.isConfirmed && rp.type == .response)
            #expect(qp.requestID == rp.requestID)
            if qp.type != .getBulk { #expect(rp.varbinds.count == qp.varbinds.count) }
        case (.v3(let a), .v3(let b)):
            #expect(a.messageID == b.messageID)
            #expect(a.flags.contains(.reportable) && !b.flags.contains(.reportable))
            if let qp = a.scopedPDU?.pdu, let rp = b.scopedPDU?.pdu {
                #expect(qp.requestID == rp.requestID)
                #expect(rp.type == .response || rp.type == .report)
            }
        default:
            Issue.record("versions differ")
        }
    }

    @Test(
        "authenticated fixtures: the layout points at the MAC Net-SNMP computed",
        arguments: [
            "v3-authnopriv-request-1", "v3-authnopriv-request-2", "v3-authnopriv-report", "v3-authnopriv-response",
            "v3-authpriv-get-request", "v3-authpriv-get-response",
        ]
    )
    func authenticatedLayout(name: String) throws {
        let fixture = Fixture.load(name)
        guard case .v3(let v3) = try SNMPMessage(decoding: ByteBuffer(bytes: fixture.bytes)) else {
            Issue.record("not v3")
            return
        }
        #expect(v3.flags.contains(.authenticated))
        let range = try #require(v3.wireLayout?.authenticationParameters)
        let expected = try #require(fixture.headerValue("usm-msgAuthenticationParameters")?.split(separator: " ").first)
        #expect(hex(Array(fixture.bytes[range])) == String(expected))
        #expect(range.count == (name.contains("authpriv") ? 24 : 12))
        // Re-encoding with the MAC zeroed and writing it back gives the datagram again.
        var zeroed = v3
        guard case .usm(var usm) = zeroed.securityParameters else { return }
        usm.authenticationParameters = ByteBuffer(repeating: 0, count: range.count)
        zeroed.securityParameters = .usm(usm)
        var out = ByteBuffer()
        let (_, layout) = out.writeSNMPv3Message(zeroed)
        #expect(layout.authenticationParameters == range)
        out.setBytes(fixture.bytes[range], at: range.lowerBound)
        #expect(Array(out.readableBytesView) == fixture.bytes)
    }
}

@Suite("Data model")
struct ModelTests {
    @Test func ipv4Address() {
        let address = IPv4Address(192, 0, 2, 254)
        #expect(address.rawValue == 0xC000_02FE)
        #expect(address.description == "192.0.2.254")
        #expect(address.octets == (192, 0, 2, 254))
        #expect(IPv4Address(rawValue: 0).description == "0.0.0.0")
    }

    @Test func valueDescriptionsLookLikeNetSNMP() {
        #expect(SNMPValue.string("lo").description == "STRING: \"lo\"")
        #expect(SNMPValue.octetString(ByteBuffer(bytes: [0x00, 0x1B, 0x21])).description == "STRING: Hex: 00 1B 21")
        #expect(SNMPValue.timeTicks(275).description == "Timeticks: (275)")
        #expect(SNMPValue.counter64(.max).description == "Counter64: 18446744073709551615")
        #expect(SNMPValue.objectIdentifier("1.3.6.1.4.1.8072.3.2.10").description == "OID: 1.3.6.1.4.1.8072.3.2.10")
        #expect(VarBind(oid: "1.3.6.1.2.1.1.5.0", value: .null).description == "1.3.6.1.2.1.1.5.0 = NULL")
    }

    @Test func flags() {
        let flags: SNMPv3Flags = [.authenticated, .privacy, .reportable]
        #expect(flags.rawValue == 0x07)
        #expect(SNMPv3Flags(rawValue: 0x04) == .reportable)
        #expect(!SNMPv3Flags(rawValue: 0x01).contains(.privacy))
    }

    @Test func pduTypesPerVersion() {
        #expect(PDUType.allCases.filter(\.existsInSNMPv1) == [.get, .getNext, .response, .set, .trapV1])
        #expect(AnyPDU.pdu(PDU(type: .get, requestID: 1, varbinds: [])).type == .get)
    }

    @Test("every PDU type round-trips in every version that has it", arguments: PDUType.allCases)
    func pduTypeRoundTrip(type: PDUType) throws {
        let varbinds = [
            VarBind(oid: "1.3.6.1.2.1.1.3.0", value: .timeTicks(1)),
            VarBind(oid: "1.3.6.1.6.3.1.1.4.1.0", value: .objectIdentifier("1.3.6.1.6.3.1.1.5.1")),
        ]
        var messages: [SNMPMessage] = []
        if type == .trapV1 {
            let trap = TrapV1PDU(
                enterprise: "1.3.6.1.4.1.8072.2.3",
                agentAddress: IPv4Address(127, 0, 0, 1),
                genericTrap: 0,
                specificTrap: 0,
                timeStamp: 0,
                varbinds: varbinds
            )
            messages.append(
                .community(CommunityMessage(version: .v1, community: ByteBuffer(string: "public"), pdu: .trapV1(trap)))
            )
        } else {
            let pdu = PDU(type: type, requestID: -42, varbinds: varbinds)
            if type.existsInSNMPv1 {
                messages.append(.community(CommunityMessage(version: .v1, community: "public", pdu: pdu)))
            }
            messages.append(.community(CommunityMessage(version: .v2c, community: "public", pdu: pdu)))
            messages.append(
                .v3(
                    SNMPv3Message(
                        messageID: 7,
                        maxSize: 1500,
                        flags: type.isConfirmed ? .reportable : [],
                        securityParameters: .usm(
                            USMSecurityParameters(
                                authoritativeEngineID: ByteBuffer(bytes: [0x80, 0, 0x1F, 0x88, 4, 0x61]),
                                authoritativeEngineBoots: 1,
                                authoritativeEngineTime: 2,
                                userName: ByteBuffer(string: "u")
                            )
                        ),
                        data: .plaintext(
                            ScopedPDU(contextEngineID: ByteBuffer(), contextName: ByteBuffer(string: "ctx"), pdu: pdu)
                        )
                    )
                )
            )
        }
        for message in messages {
            let encoded = encode(message)
            #expect(encoded.getInteger(at: encoded.readerIndex, as: UInt8.self) == 0x30)
            #expect(try SNMPMessage(decoding: encoded) == message)
        }
    }

    @Test("messages with long lengths: 2- and 3-octet length forms")
    func largeMessages() throws {
        for count in [1, 200, 3000] {
            let varbinds = (0..<count).map {
                VarBind(
                    oid: OID(arcs: [1, 3, 6, 1, 4, 1, 99999, UInt32($0)])!,
                    value: .string(String(repeating: "x", count: 20))
                )
            }
            let message = SNMPMessage.community(
                CommunityMessage(
                    version: .v2c,
                    community: "public",
                    pdu: PDU(type: .response, requestID: 1, varbinds: varbinds)
                )
            )
            var out = ByteBuffer()
            let written = out.writeSNMPMessage(message)
            #expect(written == out.readableBytes)
            let lengthOctet = out.getInteger(at: 1, as: UInt8.self)!
            switch written {
            case ..<130: #expect(lengthOctet < 0x80)
            case ..<259: #expect(lengthOctet == 0x81)
            case ..<65540: #expect(lengthOctet == 0x82)
            default: #expect(lengthOctet == 0x83)
            }
            #expect(try SNMPMessage(decoding: out) == message)
        }
    }

    @Test func readSNMPMessageConsumesOnSuccessOnly() throws {
        var good = encode(
            .community(CommunityMessage(version: .v1, community: "c", pdu: PDU(type: .get, requestID: 0, varbinds: [])))
        )
        _ = try good.readSNMPMessage()
        #expect(good.readableBytes == 0)
        var bad = ByteBuffer(bytes: [0x30, 0x03, 0x02, 0x01, 0x00])
        #expect(throws: SNMPWireError.self) { try bad.readSNMPMessage() }
        #expect(bad.readableBytes == 5)
    }

    @Test("OIDs work as dictionary keys across decoded and constructed values")
    func oidHashing() throws {
        let decoded = try SNMPMessage(decoding: ByteBuffer(bytes: Fixture.load("get-v2c-response").bytes))
        guard case .community(let m) = decoded else { return }
        var table: [OID: Int] = ["1.3.6.1.2.1.1.1.0": 1, "1.3.6.1.2.1.1.3.0": 3]
        for varbind in m.pdu.varbinds { table[varbind.oid, default: 0] += 10 }
        #expect(table["1.3.6.1.2.1.1.1.0"] == 11)
        #expect(table["1.3.6.1.2.1.1.3.0"] == 13)
        #expect(table.count == 4)
    }

    @Test func emptyVarbindListsAndZeroLengthStrings() throws {
        let message = SNMPMessage.community(
            CommunityMessage(
                version: .v2c,
                community: ByteBuffer(),
                pdu: .pdu(
                    PDU(type: .get, requestID: 0, varbinds: [VarBind(oid: "0.0", value: .octetString(ByteBuffer()))])
                )
            )
        )
        let encoded = encode(message)
        #expect(
            hex(encoded) == "3019" + "020101" + "0400" + "a012" + "020100020100020100" + "3007" + "3005" + "060100"
                + "0400"
        )
        #expect(try SNMPMessage(decoding: encoded) == message)
    }
}
