//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOCore
import Testing

@testable import SNMPWire

@Suite("Messages")
struct MessageTests {
    /// A v2c GetRequest for sysDescr.0, request-id 0x1f5c6ac8, community "public" (as snmpget sends it).
    static let getSysDescr = "302902010104067075626c6963a01c02041f5c6ac8020100020100300e300c06082b060102010101000500"

    @Test func buildsWhatSnmpgetSends() throws {
        let pdu = PDU(type: .get, requestID: 0x1f5c_6ac8, varbinds: [VarBind(oid: "1.3.6.1.2.1.1.1.0")])
        let message = SNMPMessage.community(CommunityMessage(version: .v2c, community: "public", pdu: pdu))
        #expect(hex(encode(message)) == Self.getSysDescr)
        var input = buffer(hex: Self.getSysDescr)
        #expect(try input.readSNMPMessage() == message)
        #expect(input.readableBytes == 0)
    }

    @Test("decoding starts at the reader index and offsets count from there")
    func offsetsAreRelativeToTheMessage() throws {
        var input = ByteBuffer(bytes: [0xDE, 0xAD])
        input.moveReaderIndex(forwardBy: 2)
        input.writeBytes(decodeHex(Self.getSysDescr))
        #expect(try SNMPMessage(decoding: input).version == .v2c)
        // Corrupt the PDU tag (offset 13 in the message) and see the error point there.
        var corrupt = decodeHex(Self.getSysDescr)
        corrupt[13] = 0xA9
        var shifted = ByteBuffer(bytes: [0xDE, 0xAD] + corrupt)
        shifted.moveReaderIndex(forwardBy: 2)
        #expect(throws: SNMPWireError(.unknownTag(0xA9), at: 13)) { try shifted.readSNMPMessage() }
        #expect(shifted.readerIndex == 2, "a failed read leaves the reader index alone")
    }

    @Test func v1CannotCarryV2PDUs() throws {
        for type in [PDUType.getBulk, .inform, .trapV2, .report] {
            let pdu = PDU(type: type, requestID: 1, varbinds: [VarBind(oid: "1.3.6.1")])
            let v2 = encode(.community(CommunityMessage(version: .v2c, community: "c", pdu: pdu)))
            var bytes = Array(v2.readableBytesView)
            bytes[4] = 0x00  // msgVersion 1 → 0
            #expect(throws: SNMPWireError(.pduNotAllowedInVersion(pduTag: type.rawValue, version: 0), at: 8)) {
                try SNMPMessage(decoding: ByteBuffer(bytes: bytes))
            }
        }
    }

    @Test func v2cAndV3CannotCarryAV1Trap() throws {
        let trap = TrapV1PDU(
            enterprise: "1.3.6.1.4.1.8072",
            agentAddress: IPv4Address(192, 0, 2, 1),
            genericTrap: 6,
            specificTrap: 1,
            timeStamp: 100,
            varbinds: []
        )
        let v1 = encode(
            .community(CommunityMessage(version: .v1, community: ByteBuffer(string: "c"), pdu: .trapV1(trap)))
        )
        var bytes = Array(v1.readableBytesView)
        #expect(
            try SNMPMessage(decoding: v1)
                == .community(CommunityMessage(version: .v1, community: ByteBuffer(string: "c"), pdu: .trapV1(trap)))
        )
        bytes[4] = 0x01
        #expect(throws: SNMPWireError(.pduNotAllowedInVersion(pduTag: 0xA4, version: 1), at: 8)) {
            try SNMPMessage(decoding: ByteBuffer(bytes: bytes))
        }
    }

    @Test("unknown versions are refused at the version field", arguments: [Int32(2), 4, -1, 0x7FFF_FFFF])
    func unknownVersion(version: Int32) {
        // SEQUENCE { INTEGER version, the rest of the original body }.
        let original = decodeHex(Self.getSysDescr)
        var body = ByteBuffer()
        body.writeBytes(versionElement(version))
        body.writeBytes(original[5...])
        var message = ByteBuffer(bytes: [0x30, UInt8(body.readableBytes)])
        message.writeImmutableBuffer(body)
        #expect(throws: SNMPWireError(.unsupportedVersion(version), at: 2)) { try SNMPMessage(decoding: message) }
    }

    private func versionElement(_ version: Int32) -> [UInt8] {
        let bytes: [UInt8]
        switch version {
        case 2: bytes = [2]
        case 4: bytes = [4]
        case -1: bytes = [0xFF]
        default: bytes = [0x7F, 0xFF, 0xFF, 0xFF]
        }
        return [0x02, UInt8(bytes.count)] + bytes
    }

    @Test("a varbind SEQUENCE with a third element is refused")
    func varbindWithExtraElement() {
        // 30 10 06 08 <sysDescr.0> 05 00 05 00 : an extra NULL inside the varbind.
        let varbind = "300e" + "06082b06010201010100" + "0500" + "0500"
        let list = "3010" + varbind
        let pdu = "a01b" + "020101" + "020100" + "020100" + list
        let message = "3028" + "020101" + "0406" + "7075626c6963" + pdu
        let error = decodeError(buffer(hex: message))
        #expect(error?.reason == .trailingBytes(count: 2))
        #expect(error?.offset == 40)
    }

    @Test func communityLongerThanTheLimit() {
        let pdu = PDU(type: .get, requestID: 1, varbinds: [])
        let community = ByteBuffer(repeating: 0x61, count: 256)
        let encoded = encode(.community(CommunityMessage(version: .v2c, community: community, pdu: .pdu(pdu))))
        #expect(decodeError(encoded) == SNMPWireError(.fieldTooLong(.community, length: 256), at: 7))
        let ok = encode(
            .community(
                CommunityMessage(version: .v2c, community: ByteBuffer(repeating: 0x61, count: 255), pdu: .pdu(pdu))
            )
        )
        #expect(decodeError(ok) == nil)
    }

    @Test func emptyInputAndNonSequence() {
        #expect(decodeError(ByteBuffer()) == SNMPWireError(.truncated, at: 0))
        #expect(decodeError(buffer(hex: "0400")) == SNMPWireError(.unexpectedTag(expected: 0x30, found: 0x04), at: 0))
        #expect(decodeError(buffer(hex: "3000")) == SNMPWireError(.truncated, at: 2))
    }

    @Test func getBulkAccessors() throws {
        var pdu = PDU.getBulk(requestID: 7, nonRepeaters: 1, maxRepetitions: 25, varbinds: [])
        #expect(pdu.nonRepeaters == 1 && pdu.maxRepetitions == 25)
        #expect(pdu.errorStatusField == 1 && pdu.errorIndexField == 25)
        pdu.maxRepetitions = -3  // legal on the wire; RFC 3416 treats it as 0
        let message = SNMPMessage.community(CommunityMessage(version: .v2c, community: "c", pdu: pdu))
        #expect(try SNMPMessage(decoding: encode(message)) == message)
    }

    @Test func errorStatusNames() {
        #expect(ErrorStatus.notWritable.description == "notWritable")
        #expect(ErrorStatus.inconsistentName.rawValue == 18)
        #expect(ErrorStatus(rawValue: 99).description == "errorStatus(99)")
        #expect(PDUType.allCases.filter(\.isConfirmed) == [.get, .getNext, .set, .getBulk, .inform])
    }
}

@Suite("SNMPv3 messages")
struct SNMPv3MessageTests {
    static func message(
        authentication: Int = 24,
        data: ScopedPDUData? = nil,
        flags: SNMPv3Flags = [.authenticated, .privacy, .reportable]
    ) -> SNMPv3Message {
        let usm = USMSecurityParameters(
            authoritativeEngineID: buffer(hex: "80001f880466697874757265736167656e74"),
            authoritativeEngineBoots: 1,
            authoritativeEngineTime: 6,
            userName: ByteBuffer(string: "fixuser"),
            authenticationParameters: ByteBuffer(repeating: 0, count: authentication),
            privacyParameters: buffer(hex: "2bf573d712d71f19")
        )
        let scoped = ScopedPDU(
            contextEngineID: usm.authoritativeEngineID,
            contextName: ByteBuffer(),
            pdu: PDU(type: .get, requestID: 120_741_893, varbinds: [VarBind(oid: "1.3.6.1.2.1.1.1.0")])
        )
        return SNMPv3Message(
            messageID: 1_334_973_371,
            maxSize: 65507,
            flags: flags,
            securityParameters: .usm(usm),
            data: data ?? .plaintext(scoped)
        )
    }

    @Test("the layout an encoder returns points at the zeroed MAC and at msgData", arguments: [0, 12, 16, 24, 32, 48])
    func encoderLayout(macLength: Int) throws {
        for data in [ScopedPDUData.encrypted(ByteBuffer(repeating: 0xC5, count: 300)), nil] {
            let message = Self.message(authentication: macLength, data: data)
            var out = ByteBuffer(bytes: [1, 2, 3])  // the layout is relative to the message, not the buffer
            let (written, layout) = out.writeSNMPv3Message(message)
            let encoded = out.getSlice(at: 3, length: written)!
            #expect(layout.message == 0..<written)
            let mac = try #require(layout.authenticationParameters)
            #expect(mac.count == macLength)
            #expect(Array(encoded.readableBytesView)[mac].allSatisfy { $0 == 0 })
            let decoded = try SNMPMessage(decoding: encoded)
            guard case .v3(let v3) = decoded else {
                Issue.record("not v3")
                return
            }
            #expect(v3 == message)
            #expect(v3.wireLayout == layout, "decoder and encoder agree on where the parts are")
            if case .encrypted = message.data {
                #expect(Array(encoded.readableBytesView)[layout.messageData].allSatisfy { $0 == 0xC5 })
                #expect(layout.messageData.count == 300)
            } else {
                #expect(encoded.getInteger(at: layout.messageData.lowerBound, as: UInt8.self) == 0x30)
                #expect(layout.messageData.upperBound == written)
            }
        }
    }

    @Test("writing a MAC into the layout's range changes nothing else")
    func macInPlace() throws {
        var out = ByteBuffer()
        let (_, layout) = out.writeSNMPv3Message(Self.message())
        let mac = try #require(layout.authenticationParameters)
        out.setBytes([UInt8](repeating: 0x5A, count: mac.count), at: mac.lowerBound)
        guard case .v3(let v3) = try SNMPMessage(decoding: out) else {
            Issue.record("not v3")
            return
        }
        #expect(Array(v3.usm!.authenticationParameters.readableBytesView) == [UInt8](repeating: 0x5A, count: mac.count))
    }

    @Test func otherSecurityModelsKeepTheirBytes() throws {
        var message = Self.message()
        message.securityModel = 4
        message.securityParameters = .other(buffer(hex: "300402020000"))
        let decoded = try SNMPMessage(decoding: encode(.v3(message)))
        #expect(decoded == .v3(message))
        guard case .v3(let v3) = decoded else { return }
        #expect(v3.usm == nil)
        #expect(v3.wireLayout?.authenticationParameters == nil)
    }

    static let headerViolations: [(String, @Sendable (inout SNMPv3Message) -> Void, SNMPWireError.Reason)] = [
        ("negative msgID", { $0.messageID = -1 }, .fieldOutOfRange(.messageID)),
        ("msgMaxSize 483", { $0.maxSize = 483 }, .fieldOutOfRange(.messageMaxSize)),
        (
            "security model 0",
            {
                $0.securityModel = 0
                $0.securityParameters = .other(ByteBuffer())
            }, .fieldOutOfRange(.securityModel)
        ),
        (
            "negative boots",
            {
                guard case .usm(var usm) = $0.securityParameters else { return }
                usm.authoritativeEngineBoots = -5
                $0.securityParameters = .usm(usm)
            }, .fieldOutOfRange(.engineBoots)
        ),
        (
            "negative time",
            {
                guard case .usm(var usm) = $0.securityParameters else { return }
                usm.authoritativeEngineTime = Int32.min
                $0.securityParameters = .usm(usm)
            }, .fieldOutOfRange(.engineTime)
        ),
        (
            "33-octet engine id",
            {
                guard case .usm(var usm) = $0.securityParameters else { return }
                usm.authoritativeEngineID = ByteBuffer(repeating: 1, count: 33)
                $0.securityParameters = .usm(usm)
            }, .fieldTooLong(.authoritativeEngineID, length: 33)
        ),
        (
            "33-octet user name",
            {
                guard case .usm(var usm) = $0.securityParameters else { return }
                usm.userName = ByteBuffer(repeating: 0x61, count: 33)
                $0.securityParameters = .usm(usm)
            }, .fieldTooLong(.userName, length: 33)
        ),
        (
            "65-octet authentication parameters",
            {
                guard case .usm(var usm) = $0.securityParameters else { return }
                usm.authenticationParameters = ByteBuffer(repeating: 0, count: 65)
                $0.securityParameters = .usm(usm)
            }, .fieldTooLong(.authenticationParameters, length: 65)
        ),
        (
            "33-octet context name",
            {
                guard case .plaintext(var scoped) = $0.data else { return }
                scoped.contextName = ByteBuffer(repeating: 0x61, count: 33)
                $0.data = .plaintext(scoped)
            }, .fieldTooLong(.contextName, length: 33)
        ),
    ]

    @Test("header fields out of range are refused", arguments: headerViolations.indices)
    func headerViolation(index: Int) {
        let (label, mutate, reason) = Self.headerViolations[index]
        var message = Self.message()
        mutate(&message)
        let error = decodeError(encode(.v3(message)))
        #expect(error?.reason == reason, "\(label)")
    }

    @Test("msgFlags must be exactly one octet", arguments: [0, 2])
    func msgFlagsMustBeOneOctet(length: Int) {
        var out = ByteBuffer()
        out.writeBERConstructed(tag: BERTag.sequence, strategy: .long) { buffer in
            buffer.writeBERInteger(3)
            buffer.writeBERConstructed(tag: BERTag.sequence, strategy: .short) { global in
                global.writeBERInteger(1)
                global.writeBERInteger(65507)
                global.writeBEROctetString(bytes: [UInt8](repeating: 0x04, count: length))
                global.writeBERInteger(3)
            }
        }
        #expect(decodeError(out) == SNMPWireError(.fieldOutOfRange(.messageFlags), at: 7 + 3 + 5))
    }

    @Test func msgDataMustBeSequenceOrOctetString() {
        var message = Self.message()
        message.data = .encrypted(ByteBuffer(bytes: [1, 2, 3]))
        var bytes = Array(encode(.v3(message)).readableBytesView)
        bytes[bytes.count - 5] = 0x05  // the OCTET STRING tag of msgData becomes NULL
        #expect(decodeError(ByteBuffer(bytes: bytes))?.reason == .unknownTag(0x05))
    }

    @Test("the layout written with a v3 message is where a reader finds its parts", arguments: 1...4)
    func writtenLayout(seed: UInt64) throws {
        var generator = MessageGenerator(seed: 500 + seed)
        for index in 0..<300 {
            let message = generator.v3Message()
            var buffer = ByteBuffer()
            buffer.writeString("prefix")  // offsets are relative to the message, not the buffer
            buffer.moveReaderIndex(forwardBy: 6)
            let (written, layout) = buffer.writeSNMPv3Message(message)
            #expect(written == buffer.readableBytes, "seed \(seed) message \(index)")
            let found = try BERReader.decode(buffer) { (reader: inout BERReader) throws(SNMPWireError) in
                try reader.readV3Layout()
            }
            #expect(layout == found, "seed \(seed) message \(index)")
        }
    }
}
