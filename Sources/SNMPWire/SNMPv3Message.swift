//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOCore

/// msgFlags (RFC 3412 §6.4): one octet.
public struct SNMPv3Flags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt8

    public init(rawValue: UInt8) {
        self.rawValue = rawValue
    }

    /// authFlag.
    public static let authenticated = SNMPv3Flags(rawValue: 0x01)
    /// privFlag (only valid together with authFlag).
    public static let privacy = SNMPv3Flags(rawValue: 0x02)
    /// reportableFlag.
    public static let reportable = SNMPv3Flags(rawValue: 0x04)
}

/// The User-based Security Model's msgSecurityParameters (RFC 3414 §2.4):
/// `UsmSecurityParameters ::= SEQUENCE { msgAuthoritativeEngineID, …Boots, …Time, msgUserName,
/// msgAuthenticationParameters, msgPrivacyParameters }`.
public struct USMSecurityParameters: Hashable, Sendable {
    public var authoritativeEngineID: ByteBuffer
    /// 0…2^31-1.
    public var authoritativeEngineBoots: Int32
    /// 0…2^31-1.
    public var authoritativeEngineTime: Int32
    public var userName: ByteBuffer
    /// The MAC (12, 16, 24, 32 or 48 octets), zero-filled while it is computed; empty without authentication.
    public var authenticationParameters: ByteBuffer
    /// The salt (8 octets) with privacy; empty without.
    public var privacyParameters: ByteBuffer

    public init(
        authoritativeEngineID: ByteBuffer,
        authoritativeEngineBoots: Int32,
        authoritativeEngineTime: Int32,
        userName: ByteBuffer,
        authenticationParameters: ByteBuffer = ByteBuffer(),
        privacyParameters: ByteBuffer = ByteBuffer()
    ) {
        self.authoritativeEngineID = authoritativeEngineID
        self.authoritativeEngineBoots = authoritativeEngineBoots
        self.authoritativeEngineTime = authoritativeEngineTime
        self.userName = userName
        self.authenticationParameters = authenticationParameters
        self.privacyParameters = privacyParameters
    }
}

/// msgSecurityParameters: decoded for the USM (model 3), kept as bytes for any other model.
public enum SNMPv3SecurityParameters: Hashable, Sendable {
    case usm(USMSecurityParameters)
    /// The content of the msgSecurityParameters OCTET STRING of a security model this module does not know.
    case other(ByteBuffer)
}

/// `ScopedPDU ::= SEQUENCE { contextEngineID, contextName, data }` (RFC 3412 §6.8).
public struct ScopedPDU: Hashable, Sendable {
    public var contextEngineID: ByteBuffer
    public var contextName: ByteBuffer
    /// SNMPv3 has no v1 Trap-PDU, so this is always a ``PDU``.
    public var pdu: PDU

    public init(contextEngineID: ByteBuffer, contextName: ByteBuffer, pdu: PDU) {
        self.contextEngineID = contextEngineID
        self.contextName = contextName
        self.pdu = pdu
    }

    /// Decodes a ScopedPDU on its own, as it comes out of decryption.
    ///
    /// - Parameter allowingTrailingBytes: true after decryption with a block cipher (DES, 3DES): the
    ///   plaintext is padded to the block size (RFC 3414 §8.1.1.2) and the padding is ignored.
    public init(decoding buffer: ByteBuffer, allowingTrailingBytes: Bool) throws(SNMPWireError) {
        self = try BERReader.decode(buffer) { (reader: inout BERReader) throws(SNMPWireError) in
            let scoped = try reader.readScopedPDU()
            if !allowingTrailingBytes { try reader.expectEnd() }
            return scoped
        }
    }

    /// The same, with the varbind list in `scratch`'s storage (see ``SNMPDecodingScratch``).
    public init(
        decoding buffer: ByteBuffer,
        allowingTrailingBytes: Bool,
        scratch: inout SNMPDecodingScratch
    ) throws(SNMPWireError) {
        self = try BERReader.decode(buffer, scratch: &scratch) { (reader: inout BERReader) throws(SNMPWireError) in
            let scoped = try reader.readScopedPDU()
            if !allowingTrailingBytes { try reader.expectEnd() }
            return scoped
        }
    }
}

/// msgData: a plaintext ScopedPDU, or the encrypted one (`encryptedPDU OCTET STRING`).
public enum ScopedPDUData: Hashable, Sendable {
    case plaintext(ScopedPDU)
    /// The ciphertext: the content of the OCTET STRING.
    case encrypted(ByteBuffer)
}

/// Where the parts USM works on lie in an encoded v3 message: offsets from the message's first byte.
///
/// With them the security layer authenticates in place (zero the authentication parameters, HMAC the
/// whole message, compare or write the MAC) and decrypts the msgData content without re-encoding.
public struct SNMPv3WireLayout: Hashable, Sendable {
    /// The whole message.
    public var message: Range<Int>
    /// The content octets of msgAuthenticationParameters (nil when the security model is not USM).
    public var authenticationParameters: Range<Int>?
    /// For an encrypted msgData, the ciphertext (the OCTET STRING's content); for a plaintext one,
    /// the whole ScopedPDU element, tag and length included.
    public var messageData: Range<Int>

    public init(message: Range<Int>, authenticationParameters: Range<Int>?, messageData: Range<Int>) {
        self.message = message
        self.authenticationParameters = authenticationParameters
        self.messageData = messageData
    }
}

/// An SNMPv3 message (RFC 3412 §6): `SEQUENCE { msgVersion 3, msgGlobalData, msgSecurityParameters, msgData }`.
public struct SNMPv3Message: Sendable {
    /// msgID, 0…2^31-1: independent of the PDU's request-id and echoed in the response.
    public var messageID: Int32
    /// msgMaxSize: the largest message the sender accepts, 484…2^31-1.
    public var maxSize: Int32
    public var flags: SNMPv3Flags
    /// msgSecurityModel: 3 is USM.
    public var securityModel: Int32
    public var securityParameters: SNMPv3SecurityParameters
    public var data: ScopedPDUData
    /// Where the USM parts were in the datagram this message was decoded from; nil for a message
    /// built in code. Not part of the message's value (ignored by `==`).
    public internal(set) var wireLayout: SNMPv3WireLayout?

    /// The User-based Security Model's number (RFC 3411 §5, SnmpSecurityModel).
    public static let userBasedSecurityModel: Int32 = 3

    public init(
        messageID: Int32,
        maxSize: Int32,
        flags: SNMPv3Flags,
        securityModel: Int32 = SNMPv3Message.userBasedSecurityModel,
        securityParameters: SNMPv3SecurityParameters,
        data: ScopedPDUData
    ) {
        self.messageID = messageID
        self.maxSize = maxSize
        self.flags = flags
        self.securityModel = securityModel
        self.securityParameters = securityParameters
        self.data = data
        self.wireLayout = nil
    }

    /// The USM parameters, if the security model is USM.
    public var usm: USMSecurityParameters? {
        if case .usm(let parameters) = self.securityParameters { return parameters }
        return nil
    }

    /// The plaintext ScopedPDU, if msgData is not encrypted.
    public var scopedPDU: ScopedPDU? {
        if case .plaintext(let scoped) = self.data { return scoped }
        return nil
    }
}

// MARK: - Equatable, Hashable

extension SNMPv3Message: Hashable {
    public static func == (lhs: SNMPv3Message, rhs: SNMPv3Message) -> Bool {
        lhs.messageID == rhs.messageID && lhs.maxSize == rhs.maxSize && lhs.flags == rhs.flags
            && lhs.securityModel == rhs.securityModel && lhs.securityParameters == rhs.securityParameters
            && lhs.data == rhs.data
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.messageID)
        hasher.combine(self.maxSize)
        hasher.combine(self.flags)
        hasher.combine(self.securityModel)
        hasher.combine(self.securityParameters)
        hasher.combine(self.data)
    }
}

// MARK: - BER

extension BERReader {
    /// Reads an INTEGER field of at least `minimum`, or throws ``SNMPWireError/Reason/fieldOutOfRange(_:)``.
    mutating func readInt32(field: SNMPWireError.Field, minimum: Int32) throws(SNMPWireError) -> Int32 {
        let start = self.position
        let value = try self.readInt32()
        guard value >= minimum else { throw SNMPWireError(.fieldOutOfRange(field), at: start) }
        return value
    }

    /// Reads everything after msgVersion, up to the end of the message SEQUENCE.
    mutating func readV3MessageBody() throws(SNMPWireError) -> SNMPv3Message {
        let messageEnd = self.end
        let globalEnd = try self.enter(tag: BERTag.sequence)
        let messageID = try self.readInt32(field: .messageID, minimum: 0)
        let maxSize = try self.readInt32(field: .messageMaxSize, minimum: SNMPWireLimits.minimumMessageMaxSize)
        let flagsStart = self.position
        let (flagsContent, flagsLength, _) = try self.readElement(tag: BERTag.octetString)
        guard flagsLength == 1 else { throw SNMPWireError(.fieldOutOfRange(.messageFlags), at: flagsStart) }
        let flags = SNMPv3Flags(rawValue: self.bytes[flagsContent])
        let securityModel = try self.readInt32(field: .securityModel, minimum: 1)
        try self.leave(globalEnd)

        let parameters: SNMPv3SecurityParameters
        var authRange: Range<Int>? = nil
        if securityModel == SNMPv3Message.userBasedSecurityModel {
            // msgSecurityParameters is an OCTET STRING whose content is the USM SEQUENCE.
            let octetsEnd = try self.enter(tag: BERTag.octetString)
            let usmEnd = try self.enter(tag: BERTag.sequence)
            let (usm, range) = try self.readUSMSecurityParameters()
            try self.leave(usmEnd)
            try self.leave(octetsEnd)
            parameters = .usm(usm)
            authRange = range
        } else {
            parameters = .other(try self.readOctetString(tag: BERTag.octetString))
        }

        let dataStart = self.position
        let data: ScopedPDUData
        let dataRange: Range<Int>
        switch try self.peekTag() {
        case BERTag.sequence:
            data = .plaintext(try self.readScopedPDU())
            dataRange = dataStart..<self.position
        case BERTag.octetString:
            let (content, length, _) = try self.readElement(tag: BERTag.octetString)
            data = .encrypted(self.slice(content, length))
            dataRange = content..<(content + length)
        case let tag:
            throw SNMPWireError(.unknownTag(tag), at: dataStart)
        }

        var message = SNMPv3Message(
            messageID: messageID,
            maxSize: maxSize,
            flags: flags,
            securityModel: securityModel,
            securityParameters: parameters,
            data: data
        )
        message.wireLayout = SNMPv3WireLayout(
            message: 0..<messageEnd,
            authenticationParameters: authRange,
            messageData: dataRange
        )
        return message
    }

    /// Reads the six USM fields (RFC 3414 §2.4). Also returns where the authentication parameters'
    /// content lies.
    mutating func readUSMSecurityParameters() throws(SNMPWireError) -> (USMSecurityParameters, Range<Int>) {
        let engineID = try self.readOctetString(
            maximumLength: SNMPWireLimits.maximumEngineIDLength,
            field: .authoritativeEngineID
        )
        let boots = try self.readInt32(field: .engineBoots, minimum: 0)
        let time = try self.readInt32(field: .engineTime, minimum: 0)
        let userName = try self.readOctetString(maximumLength: SNMPWireLimits.maximumUserNameLength, field: .userName)
        let authentication = try self.readOctetString(
            maximumLength: SNMPWireLimits.maximumAuthenticationParametersLength,
            field: .authenticationParameters
        )
        let authEnd = self.position
        let privacy = try self.readOctetString(
            maximumLength: SNMPWireLimits.maximumPrivacyParametersLength,
            field: .privacyParameters
        )
        let parameters = USMSecurityParameters(
            authoritativeEngineID: engineID,
            authoritativeEngineBoots: boots,
            authoritativeEngineTime: time,
            userName: userName,
            authenticationParameters: authentication,
            privacyParameters: privacy
        )
        return (parameters, (authEnd - authentication.readableBytes)..<authEnd)
    }

    /// Reads a ScopedPDU element.
    mutating func readScopedPDU() throws(SNMPWireError) -> ScopedPDU {
        let outer = try self.enter(tag: BERTag.sequence)
        let contextEngineID = try self.readOctetString(
            maximumLength: SNMPWireLimits.maximumEngineIDLength,
            field: .contextEngineID
        )
        let contextName = try self.readOctetString(
            maximumLength: SNMPWireLimits.maximumContextNameLength,
            field: .contextName
        )
        guard case .pdu(let pdu) = try self.readPDU(version: SNMPVersion.v3.rawValue) else {
            preconditionFailure("readPDU(version: 3) never returns a v1 Trap")
        }
        try self.leave(outer)
        return ScopedPDU(contextEngineID: contextEngineID, contextName: contextName, pdu: pdu)
    }
}

extension ByteBuffer {
    /// Writes a ScopedPDU element (what USM encrypts).
    @discardableResult
    public mutating func writeScopedPDU(_ scoped: ScopedPDU) -> Int {
        self.writeScopedPDU(scoped, varBindList: nil)
    }

    /// Writes a ScopedPDU element whose PDU's varbind list is `varBindList` (the content octets of
    /// the SEQUENCE, written as they are), or its varbinds encoded when nil. See
    /// ``writePDU(_:varBindList:)`` for what the octets must be.
    @discardableResult
    public mutating func writeScopedPDU(_ scoped: ScopedPDU, varBindList: ByteBuffer?) -> Int {
        let size = scoped.encodedSize(varBindListLength: varBindList?.readableBytes)
        return self.writeWithUnsafeMutableBytes(minimumWritableBytes: size.element) { raw in
            var writer = RawBERWriter(raw)
            writer.scopedPDU(scoped, size, varBindList: varBindList)
            return writer.count
        }
    }

    /// Writes an SNMPv3 message and returns the bytes written and where its USM parts are, as offsets
    /// from the message's first byte (add the writer index from before the call for buffer indices).
    ///
    /// Every length is computed first and the message written in one pass, so nothing moves and the
    /// parts' offsets are known as they are written.
    @discardableResult
    public mutating func writeSNMPv3Message(_ message: SNMPv3Message) -> (bytesWritten: Int, layout: SNMPv3WireLayout) {
        self.writeSNMPv3Message(message, varBindList: nil)
    }

    /// The same, with a plaintext scoped PDU's varbind list written as the octets `varBindList`
    /// (see ``writePDU(_:varBindList:)``); ignored for an encrypted one.
    @discardableResult
    public mutating func writeSNMPv3Message(
        _ message: SNMPv3Message,
        varBindList: ByteBuffer?
    ) -> (bytesWritten: Int, layout: SNMPv3WireLayout) {
        let global =
            BERSize.ofSigned(Int64(message.messageID)) + BERSize.ofSigned(Int64(message.maxSize))
            + BERSize.ofSigned(Int64(message.securityModel)) + 6 + 3
        var usmContent = 0
        let securityParameters: Int
        switch message.securityParameters {
        case .usm(let usm):
            usmContent =
                BERSize.ofElement(content: usm.authoritativeEngineID.readableBytes)
                + BERSize.ofElement(content: BERSize.ofSigned(Int64(usm.authoritativeEngineBoots)))
                + BERSize.ofElement(content: BERSize.ofSigned(Int64(usm.authoritativeEngineTime)))
                + BERSize.ofElement(content: usm.userName.readableBytes)
                + BERSize.ofElement(content: usm.authenticationParameters.readableBytes)
                + BERSize.ofElement(content: usm.privacyParameters.readableBytes)
            securityParameters = BERSize.ofElement(content: BERSize.ofElement(content: usmContent))
        case .other(let bytes):
            securityParameters = BERSize.ofElement(content: bytes.readableBytes)
        }
        var scopedSize: ScopedPDU.EncodedSize?
        let data: Int
        switch message.data {
        case .plaintext(let scoped):
            scopedSize = scoped.encodedSize(varBindListLength: varBindList?.readableBytes)
            data = scopedSize!.element
        case .encrypted(let ciphertext):
            data = BERSize.ofElement(content: ciphertext.readableBytes)
        }
        let content = 3 + BERSize.ofElement(content: global) + securityParameters + data
        let total = BERSize.ofElement(content: content)
        var authenticationParameters: Range<Int>? = nil
        var messageData = 0..<0
        let written = self.writeWithUnsafeMutableBytes(minimumWritableBytes: total) { raw in
            var writer = RawBERWriter(raw)
            writer.header(tag: BERTag.sequence, length: content)
            writer.signed(Int64(SNMPVersion.v3.rawValue), tag: BERTag.integer)
            writer.header(tag: BERTag.sequence, length: global)
            writer.signed(Int64(message.messageID), tag: BERTag.integer)
            writer.signed(Int64(message.maxSize), tag: BERTag.integer)
            writer.header(tag: BERTag.octetString, length: 1)
            writer.byte(message.flags.rawValue)
            writer.signed(Int64(message.securityModel), tag: BERTag.integer)
            switch message.securityParameters {
            case .usm(let usm):
                writer.header(tag: BERTag.octetString, length: BERSize.ofElement(content: usmContent))
                writer.header(tag: BERTag.sequence, length: usmContent)
                writer.octetString(usm.authoritativeEngineID, tag: BERTag.octetString)
                writer.signed(Int64(usm.authoritativeEngineBoots), tag: BERTag.integer)
                writer.signed(Int64(usm.authoritativeEngineTime), tag: BERTag.integer)
                writer.octetString(usm.userName, tag: BERTag.octetString)
                writer.header(tag: BERTag.octetString, length: usm.authenticationParameters.readableBytes)
                authenticationParameters = writer.count..<(writer.count + usm.authenticationParameters.readableBytes)
                writer.content(usm.authenticationParameters)
                writer.octetString(usm.privacyParameters, tag: BERTag.octetString)
            case .other(let bytes):
                writer.octetString(bytes, tag: BERTag.octetString)
            }
            switch message.data {
            case .plaintext(let scoped):
                let start = writer.count
                writer.scopedPDU(scoped, scopedSize!, varBindList: varBindList)
                messageData = start..<writer.count
            case .encrypted(let ciphertext):
                writer.header(tag: BERTag.octetString, length: ciphertext.readableBytes)
                messageData = writer.count..<(writer.count + ciphertext.readableBytes)
                writer.content(ciphertext)
            }
            return writer.count
        }
        assert(written == total)
        return (
            written,
            SNMPv3WireLayout(
                message: 0..<written,
                authenticationParameters: authenticationParameters,
                messageData: messageData
            )
        )
    }
}

extension ScopedPDU {
    /// The content lengths of a scoped PDU's nested elements, computed once before writing it.
    struct EncodedSize {
        var pdu: PDU.EncodedSize
        var content: Int
        var element: Int
    }

    var encodedSize: EncodedSize { self.encodedSize(varBindListLength: nil) }

    /// With the length of the varbind list's content octets when they are given as they are.
    func encodedSize(varBindListLength: Int?) -> EncodedSize {
        let pdu = self.pdu.encodedSize(varBindListLength: varBindListLength)
        let content =
            BERSize.ofElement(content: self.contextEngineID.readableBytes)
            + BERSize.ofElement(content: self.contextName.readableBytes) + BERSize.ofElement(content: pdu.content)
        return EncodedSize(pdu: pdu, content: content, element: BERSize.ofElement(content: content))
    }
}

extension PDU {
    /// The content lengths of a PDU and of its varbind list, computed once before writing it.
    struct EncodedSize {
        var content: Int
        var varbindsContent: Int
    }

    var encodedSize: EncodedSize { self.encodedSize(varBindListLength: nil) }

    /// With the length of the varbind list's content octets when they are given as they are.
    func encodedSize(varBindListLength: Int?) -> EncodedSize {
        var varbinds = 0
        if let varBindListLength {
            varbinds = varBindListLength
        } else {
            for varbind in self.varbinds { varbinds += varbind.encodedLength }
        }
        let content =
            BERSize.ofElement(content: BERSize.ofSigned(Int64(self.requestID)))
            + BERSize.ofElement(content: BERSize.ofSigned(Int64(self.errorStatusField)))
            + BERSize.ofElement(content: BERSize.ofSigned(Int64(self.errorIndexField)))
            + BERSize.ofElement(content: varbinds)
        return EncodedSize(content: content, varbindsContent: varbinds)
    }
}

extension RawBERWriter {
    /// Writes a scoped PDU whose sizes were computed by ``ScopedPDU/encodedSize``.
    mutating func scopedPDU(_ scoped: ScopedPDU, _ size: ScopedPDU.EncodedSize, varBindList: ByteBuffer? = nil) {
        self.header(tag: BERTag.sequence, length: size.content)
        self.octetString(scoped.contextEngineID, tag: BERTag.octetString)
        self.octetString(scoped.contextName, tag: BERTag.octetString)
        self.pdu(scoped.pdu, size.pdu, varBindList: varBindList)
    }

    /// Writes a PDU whose sizes were computed by ``PDU/encodedSize``, with its varbind list as the
    /// octets `varBindList` when they are given.
    mutating func pdu(_ pdu: PDU, _ size: PDU.EncodedSize, varBindList: ByteBuffer? = nil) {
        self.header(tag: pdu.type.rawValue, length: size.content)
        self.signed(Int64(pdu.requestID), tag: BERTag.integer)
        self.signed(Int64(pdu.errorStatusField), tag: BERTag.integer)
        self.signed(Int64(pdu.errorIndexField), tag: BERTag.integer)
        self.header(tag: BERTag.sequence, length: size.varbindsContent)
        if let varBindList {
            self.content(varBindList)
        } else {
            for varbind in pdu.varbinds { self.varbind(varbind) }
        }
    }
}

extension BERReader {
    /// Finds the USM parts of an encoded v3 message without decoding its PDU.
    mutating func readV3Layout() throws(SNMPWireError) -> SNMPv3WireLayout {
        _ = try self.enter(tag: BERTag.sequence)
        let messageEnd = self.end
        try self.skipElement()  // msgVersion
        let globalEnd = try self.enter(tag: BERTag.sequence)
        try self.skipElement()  // msgID
        try self.skipElement()  // msgMaxSize
        try self.skipElement()  // msgFlags
        let model = try self.readInt32()
        try self.leave(globalEnd)
        var authRange: Range<Int>? = nil
        if model == SNMPv3Message.userBasedSecurityModel {
            let octetsEnd = try self.enter(tag: BERTag.octetString)
            let usmEnd = try self.enter(tag: BERTag.sequence)
            for _ in 0..<4 { try self.skipElement() }
            let (content, length, _) = try self.readElement(tag: BERTag.octetString)
            authRange = content..<(content + length)
            try self.skipElement()
            try self.leave(usmEnd)
            try self.leave(octetsEnd)
        } else {
            try self.skipElement()
        }
        let dataStart = self.position
        let header = try self.readHeader()
        let dataRange =
            header.tag == BERTag.octetString
            ? self.position..<(self.position + header.length) : dataStart..<(self.position + header.length)
        return SNMPv3WireLayout(message: 0..<messageEnd, authenticationParameters: authRange, messageData: dataRange)
    }
}
