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

/// Renders a decoded message in the vocabulary of the capture script's own (Python) decoder, whose
/// reading of each datagram is stored in the fixture's `# decoded:` and `# varbind:` lines. The two
/// decoders share no code, so agreement on all 48 real datagrams is a differential test.
enum OracleRendering {
    static func lines(_ message: SNMPMessage) -> [String] {
        switch message {
        case .community(let m):
            let prefix = "SNMPv\(m.version) community=\(String(buffer: m.community))"
            switch m.pdu {
            case .pdu(let pdu):
                return ["\(prefix) \(self.header(pdu))"] + pdu.varbinds.map(self.varbind)
            case .trapV1(let t):
                return [
                    "\(prefix) Trap(v1) enterprise=\(t.enterprise) agent-addr=\(t.agentAddress) generic=\(t.genericTrap) specific=\(t.specificTrap) time-stamp=\(t.timeStamp)"
                ] + t.varbinds.map(self.varbind)
            }
        case .v3(let m):
            let usm = m.usm!
            var level =
                m.flags.contains(.privacy)
                ? "authPriv" : (m.flags.contains(.authenticated) ? "authNoPriv" : "noAuthNoPriv")
            if m.flags.contains(.reportable) { level += ",reportable" }
            let engine = usm.authoritativeEngineID.readableBytes == 0 ? "(empty)" : hex(usm.authoritativeEngineID)
            let user = usm.userName.readableBytes == 0 ? "(empty)" : String(buffer: usm.userName)
            let security =
                "SNMPv3 [\(level) msgID=\(m.messageID) engineID=\(engine) boots=\(usm.authoritativeEngineBoots) time=\(usm.authoritativeEngineTime) user=\(user)"
            switch m.data {
            case .encrypted:
                return ["\(security)] encrypted scopedPDU"]
            case .plaintext(let scoped):
                return ["\(security) contextName='\(String(buffer: scoped.contextName))'] \(self.header(scoped.pdu))"]
                    + scoped.pdu.varbinds.map(self.varbind)
            }
        }
    }

    static let pduNames: [PDUType: String] = [
        .get: "GetRequest", .getNext: "GetNextRequest", .response: "Response", .set: "SetRequest",
        .getBulk: "GetBulkRequest", .inform: "InformRequest", .trapV2: "SNMPv2-Trap", .report: "Report",
    ]

    static func header(_ pdu: PDU) -> String {
        let name = self.pduNames[pdu.type]!
        if pdu.type == .getBulk {
            return
                "\(name) reqid=\(pdu.requestID) non-repeaters=\(pdu.nonRepeaters) max-repetitions=\(pdu.maxRepetitions)"
        }
        return
            "\(name) reqid=\(pdu.requestID) error-status=\(pdu.errorStatus)(\(pdu.errorStatus.rawValue)) error-index=\(pdu.errorIndex)"
    }

    static func varbind(_ varbind: VarBind) -> String {
        let value: String
        switch varbind.value {
        case .integer(let v): value = "INTEGER \(v)"
        case .octetString(let s): value = "OCTET STRING \"\(String(buffer: s))\""
        case .null: value = "NULL"
        case .objectIdentifier(let o): value = "OBJECT IDENTIFIER \(o)"
        case .ipAddress(let a): value = "IpAddress \(a)"
        case .counter32(let v): value = "Counter32 \(v)"
        case .gauge32(let v): value = "Gauge32 \(v)"
        case .timeTicks(let v): value = "TimeTicks \(v)"
        case .opaque(let b): value = "Opaque \(hex(b))"
        case .counter64(let v): value = "Counter64 \(v)"
        case .noSuchObject: value = "noSuchObject"
        case .noSuchInstance: value = "noSuchInstance"
        case .endOfMibView: value = "endOfMibView"
        }
        return "varbind: \(varbind.oid) = \(value)"
    }

    /// The oracle annotates some OIDs with a name: `1.3.6.1.6.3.15.1.1.4.0 (usmStatsUnknownEngineIDs) = …`.
    static func normalise(_ line: String) -> String {
        line.replacingOccurrences(of: #" \([A-Za-z]+\) ="#, with: " =", options: .regularExpression)
    }
}

@Suite("Net-SNMP fixtures")
struct FixtureTests {
    @Test("the fixture set covers every capture the issue asks for")
    func fixtureSetIsComplete() {
        let required = [
            "get-v2c-request", "get-v2c-response", "getnext-v2c-request", "getnext-v2c-response",
            "getbulk-v2c-request", "getbulk-v2c-response", "set-v2c-request", "set-v2c-response",
            "trap-v1-notification", "trap-v2c-notification", "inform-v2c-request", "inform-v2c-response",
            "v3-discovery-request", "v3-discovery-report", "v3-authpriv-get-request", "v3-authpriv-get-response",
        ]
        for name in required { #expect(Fixture.allNames.contains(name), "missing fixture \(name)") }
        #expect(Fixture.allNames.count >= 40)
    }

    @Test("decodes to what the independent decoder read", arguments: Fixture.allNames)
    func decodesLikeTheOracle(name: String) throws {
        let fixture = Fixture.load(name)
        let message = try SNMPMessage(decoding: ByteBuffer(bytes: fixture.bytes))
        #expect(!fixture.decodedLines.isEmpty)
        #expect(OracleRendering.lines(message) == fixture.decodedLines.map(OracleRendering.normalise))
    }

    @Test("re-encodes byte for byte", arguments: Fixture.allNames)
    func reencodesByteForByte(name: String) throws {
        let fixture = Fixture.load(name)
        let message = try SNMPMessage(decoding: ByteBuffer(bytes: fixture.bytes))
        #expect(hex(encode(message)) == hex(fixture.bytes))
        #expect(Int(fixture.headerValue("length")?.split(separator: " ").first ?? "") == fixture.bytes.count)
    }

    @Test("every truncation throws, at an offset inside the input", arguments: Fixture.allNames)
    func everyTruncationThrows(name: String) {
        let fixture = Fixture.load(name)
        for length in 0..<fixture.bytes.count {
            let error = decodeError(ByteBuffer(bytes: fixture.bytes[0..<length]))
            #expect(error != nil, "prefix of \(length) bytes decoded")
            if let error { #expect(error.offset >= 0 && error.offset <= length) }
        }
        // And one byte too many is trailing garbage.
        let error = decodeError(ByteBuffer(bytes: fixture.bytes + [0x00]))
        #expect(error == SNMPWireError(.trailingBytes(count: 1), at: fixture.bytes.count))
    }

    @Test("random byte flips throw cleanly or decode to a canonical message", arguments: Fixture.allNames)
    func randomByteFlips(name: String) {
        let fixture = Fixture.load(name)
        var rng = SplitMix64(seed: UInt64(truncatingIfNeeded: name.hashValueStable))
        var decoded = 0
        for _ in 0..<400 {
            var mutated = fixture.bytes
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                let index = Int.random(in: 0..<mutated.count, using: &rng)
                mutated[index] ^= UInt8.random(in: 1...255, using: &rng)
            }
            if FuzzWireDecodeCheck.run(ByteBuffer(bytes: mutated)) { decoded += 1 }
        }
        // Flipping value bytes leaves many messages valid; the check above verified each of them.
        #expect(decoded < 400)
    }

    // MARK: - What the commands asked for, checked field by field

    @Test func v3DiscoveryRequest() throws {
        let message = try SNMPMessage(decoding: ByteBuffer(bytes: Fixture.load("v3-discovery-request").bytes))
        guard case .v3(let v3) = message else {
            Issue.record("not v3")
            return
        }
        #expect(v3.flags == [.reportable])
        #expect(v3.maxSize == 65507)
        #expect(v3.securityModel == 3)
        let usm = try #require(v3.usm)
        #expect(usm.authoritativeEngineID.readableBytes == 0)
        #expect(usm.userName.readableBytes == 0)
        #expect(usm.authoritativeEngineBoots == 0 && usm.authoritativeEngineTime == 0)
        let scoped = try #require(v3.scopedPDU)
        #expect(scoped.pdu.type == .get)
        #expect(scoped.pdu.varbinds.isEmpty)
    }

    @Test func v3DiscoveryReport() throws {
        let request = try SNMPMessage(decoding: ByteBuffer(bytes: Fixture.load("v3-discovery-request").bytes))
        let message = try SNMPMessage(decoding: ByteBuffer(bytes: Fixture.load("v3-discovery-report").bytes))
        guard case .v3(let report) = message, case .v3(let probe) = request else {
            Issue.record("not v3")
            return
        }
        #expect(report.flags == [])
        #expect(report.messageID == probe.messageID)
        let usm = try #require(report.usm)
        // engineID fixturesagent: 80001F88 (enterprise 8072), format 04 (text), then the text.
        #expect(hex(usm.authoritativeEngineID) == "80001f8804" + hex(Array("fixturesagent".utf8)))
        #expect(usm.authoritativeEngineBoots >= 1)
        let pdu = try #require(report.scopedPDU).pdu
        #expect(pdu.type == .report)
        #expect(pdu.requestID == probe.scopedPDU?.pdu.requestID)
        #expect(pdu.varbinds.count == 1)
        #expect(pdu.varbinds.first?.oid == "1.3.6.1.6.3.15.1.1.4.0")
        if case .counter32 = pdu.varbinds.first?.value {
        } else {
            Issue.record("usmStatsUnknownEngineIDs is not a Counter32")
        }
    }

    @Test func v3AuthPrivLayoutLocatesMACAndCiphertext() throws {
        let fixture = Fixture.load("v3-authpriv-get-request")
        let input = ByteBuffer(bytes: fixture.bytes)
        guard case .v3(let v3) = try SNMPMessage(decoding: input) else {
            Issue.record("not v3")
            return
        }
        #expect(v3.flags == [.authenticated, .privacy, .reportable])
        let usm = try #require(v3.usm)
        #expect(String(buffer: usm.userName) == "fixuser")
        #expect(usm.authenticationParameters.readableBytes == 24)  // HMAC-SHA-256 truncated to 192 bits
        #expect(usm.privacyParameters.readableBytes == 8)
        let layout = try #require(v3.wireLayout)
        #expect(layout.message == 0..<fixture.bytes.count)
        let macRange = try #require(layout.authenticationParameters)
        let macHex = fixture.headerValue("usm-msgAuthenticationParameters")!.split(separator: " ").first!
        #expect(hex(Array(fixture.bytes[macRange])) == String(macHex))
        guard case .encrypted(let ciphertext) = v3.data else {
            Issue.record("not encrypted")
            return
        }
        #expect(Array(fixture.bytes[layout.messageData]) == Array(ciphertext.readableBytesView))
        // The ciphertext is the scoped PDU's length: AES-CFB adds no padding.
        #expect(layout.messageData.upperBound == fixture.bytes.count)
    }

    @Test func decryptedScopedPDUFromTheCaptureDecodes() throws {
        // The capture script decrypted the request with the localized AES key; its plaintext is a ScopedPDU.
        let fixture = Fixture.load("v3-authpriv-get-request")
        let text = try String(
            contentsOf: Fixture.directory.appendingPathComponent("v3-authpriv-get-request.hex"),
            encoding: .utf8
        )
        let lines = text.split(separator: "\n")
        let start = try #require(lines.firstIndex { $0.contains("usm-decrypted-scopedPDU-hex") })
        var plaintextHex = ""
        for line in lines[(start + 1)...] where line.hasPrefix("#   ") { plaintextHex += line.dropFirst(4) }
        let scoped = try ScopedPDU(decoding: buffer(hex: plaintextHex), allowingTrailingBytes: false)
        #expect(scoped.pdu.type == .get)
        #expect(scoped.pdu.varbinds == [VarBind(oid: "1.3.6.1.2.1.1.1.0")])
        #expect(
            hex(scoped.contextEngineID)
                == hex(
                    try #require(
                        { () -> SNMPv3Message? in
                            if case .v3(let m) = try? SNMPMessage(decoding: ByteBuffer(bytes: fixture.bytes)) {
                                return m
                            }
                            return nil
                        }()?.usm
                    ).authoritativeEngineID
                )
        )
        // DES would leave up to 7 bytes of padding after the ScopedPDU; those must be accepted on request.
        var padded = buffer(hex: plaintextHex)
        padded.writeBytes([0, 0, 0, 0, 0, 0])
        #expect(throws: SNMPWireError.self) { try ScopedPDU(decoding: padded, allowingTrailingBytes: false) }
        #expect(try ScopedPDU(decoding: padded, allowingTrailingBytes: true) == scoped)
    }

    @Test func trapV1Fields() throws {
        let message = try SNMPMessage(decoding: ByteBuffer(bytes: Fixture.load("trap-v1-notification").bytes))
        guard case .community(let m) = message, case .trapV1(let trap) = m.pdu else {
            Issue.record("not a v1 trap")
            return
        }
        #expect(m.version == .v1)
        #expect(trap.enterprise == "1.3.6.1.4.1.8072.2.3")
        #expect(trap.agentAddress == IPv4Address(127, 0, 0, 1))
        #expect(trap.genericTrap == 6 && trap.specificTrap == 17)
        #expect(trap.varbinds == [VarBind(oid: "1.3.6.1.2.1.1.5.0", value: .string("trap-test"))])
    }

    @Test func trapV2AndInform() throws {
        for name in ["trap-v2c-notification", "inform-v2c-request"] {
            let message = try SNMPMessage(decoding: ByteBuffer(bytes: Fixture.load(name).bytes))
            guard case .community(let m) = message, case .pdu(let pdu) = m.pdu else {
                Issue.record("bad \(name)")
                continue
            }
            #expect(pdu.type == (name.hasPrefix("trap") ? .trapV2 : .inform))
            #expect(pdu.type.isConfirmed == (name.hasPrefix("inform")))
            #expect(
                pdu.varbinds.map(\.oid) == [
                    "1.3.6.1.2.1.1.3.0", "1.3.6.1.6.3.1.1.4.1.0", "1.3.6.1.2.1.2.2.1.1.3", "1.3.6.1.2.1.1.5.0",
                ]
            )
            #expect(pdu.varbinds[1].value == .objectIdentifier("1.3.6.1.6.3.1.1.5.3"))
            #expect(pdu.varbinds[2].value == .integer(3))
        }
    }

    @Test func getBulkRequestFields() throws {
        let message = try SNMPMessage(decoding: ByteBuffer(bytes: Fixture.load("getbulk-v2c-request").bytes))
        guard case .community(let m) = message, case .pdu(let pdu) = m.pdu else {
            Issue.record("bad")
            return
        }
        #expect(pdu.type == .getBulk)
        #expect(pdu.nonRepeaters == 1 && pdu.maxRepetitions == 10)
        #expect(pdu.varbinds.map(\.oid) == ["1.3.6.1.2.1.1.3", "1.3.6.1.2.1.2.2.1.2", "1.3.6.1.2.1.2.2.1.10"])
        #expect(pdu.varbinds.allSatisfy { $0.value == .null })
    }

    @Test func getBulkResponseIsOrderedPerRepetition() throws {
        let message = try SNMPMessage(decoding: ByteBuffer(bytes: Fixture.load("getbulk-v2c-response").bytes))
        guard case .community(let m) = message, case .pdu(let pdu) = m.pdu else {
            Issue.record("bad")
            return
        }
        #expect(pdu.varbinds.count == 1 + 2 * 10)
        // Column by column the OIDs strictly increase: this is what OID ordering must agree with.
        let column1 = stride(from: 1, to: pdu.varbinds.count, by: 2).map { pdu.varbinds[$0].oid }
        let column2 = stride(from: 2, to: pdu.varbinds.count, by: 2).map { pdu.varbinds[$0].oid }
        #expect(column1 == column1.sorted() && Set(column1).count == column1.count)
        #expect(column2 == column2.sorted() && Set(column2).count == column2.count)
    }

    @Test func counter64Values() throws {
        let message = try SNMPMessage(decoding: ByteBuffer(bytes: Fixture.load("getbulk-v2c-counter64-response").bytes))
        guard case .community(let m) = message, case .pdu(let pdu) = m.pdu else {
            Issue.record("bad")
            return
        }
        #expect(pdu.varbinds.count == 5)
        for varbind in pdu.varbinds {
            if case .counter64 = varbind.value {} else { Issue.record("\(varbind) is not a Counter64") }
        }
        #expect(pdu.varbinds[0].oid.hasPrefix("1.3.6.1.2.1.31.1.1.1.6"))
    }

    @Test func exceptionsAndErrors() throws {
        func pdu(_ name: String) throws -> PDU {
            let message = try SNMPMessage(decoding: ByteBuffer(bytes: Fixture.load(name).bytes))
            guard case .community(let m) = message, case .pdu(let pdu) = m.pdu else {
                throw SNMPWireError(.truncated, at: 0)
            }
            return pdu
        }
        #expect(try pdu("get-v2c-missing-response").varbinds.map(\.value) == [.noSuchObject, .noSuchInstance])
        #expect(try pdu("getnext-v2c-end-response").varbinds.map(\.value) == [.endOfMibView])
        let v1 = try pdu("get-v1-missing-response")
        #expect(v1.errorStatus == .noSuchName && v1.errorIndex == 1)
        let notWritable = try pdu("set-v2c-notwritable-response")
        #expect(notWritable.errorStatus == .notWritable && notWritable.errorIndex == 1)
        let ip = try pdu("getnext-v2c-ipaddress-response")
        #expect(ip.varbinds.first?.value == .ipAddress(IPv4Address(127, 0, 0, 1)))
        #expect(ip.varbinds.first?.oid == "1.3.6.1.2.1.4.20.1.1.127.0.0.1")
        let typed = try pdu("get-v2c-oid-gauge-response")
        #expect(typed.varbinds.map(\.value) == [.objectIdentifier("1.3.6.1.4.1.8072.3.2.10"), .gauge32(10_000_000)])
    }
}

extension String {
    /// A hash that is the same in every run (Swift's `hashValue` is seeded per process).
    var hashValueStable: UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in self.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash
    }
}
