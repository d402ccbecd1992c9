//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOCore

/// msgVersion (RFC 3584 §2.1: 0 is SNMPv1, 1 is SNMPv2c, 3 is SNMPv3).
public enum SNMPVersion: Int32, Hashable, Sendable, CustomStringConvertible {
    case v1 = 0
    case v2c = 1
    case v3 = 3

    public var description: String {
        switch self {
        case .v1: return "1"
        case .v2c: return "2c"
        case .v3: return "3"
        }
    }
}

/// An SNMPv1 or SNMPv2c message: `SEQUENCE { version, community, data }` (RFC 1157, RFC 1901).
public struct CommunityMessage: Hashable, Sendable {
    /// ``SNMPVersion/v1`` or ``SNMPVersion/v2c``.
    public var version: SNMPVersion {
        willSet { precondition(newValue != .v3, "a community message is SNMPv1 or SNMPv2c") }
    }
    public var community: ByteBuffer
    public var pdu: AnyPDU

    public init(version: SNMPVersion, community: ByteBuffer, pdu: AnyPDU) {
        precondition(version != .v3, "a community message is SNMPv1 or SNMPv2c")
        self.version = version
        self.community = community
        self.pdu = pdu
    }

    public init(version: SNMPVersion, community: String, pdu: PDU) {
        self.init(version: version, community: ByteBuffer(string: community), pdu: .pdu(pdu))
    }
}

/// Any SNMP message.
public enum SNMPMessage: Hashable, Sendable {
    case community(CommunityMessage)
    case v3(SNMPv3Message)

    public var version: SNMPVersion {
        switch self {
        case .community(let message): return message.version
        case .v3: return .v3
        }
    }

    /// Decodes one whole datagram: every readable byte of `buffer` must belong to the message.
    public init(decoding buffer: ByteBuffer) throws(SNMPWireError) {
        self = try BERReader.decode(buffer) { (reader: inout BERReader) throws(SNMPWireError) in
            try reader.readMessage()
        }
    }

    /// Decodes one whole datagram as ``init(decoding:)`` does, with the varbind list in `scratch`'s
    /// storage (no allocation once it is large enough, if the previous result is gone); `scratch`
    /// then tells where the list lay and whether the message was canonical.
    public init(decoding buffer: ByteBuffer, scratch: inout SNMPDecodingScratch) throws(SNMPWireError) {
        self = try BERReader.decode(buffer, scratch: &scratch) { (reader: inout BERReader) throws(SNMPWireError) in
            try reader.readMessage()
        }
    }
}

/// What a decoder reuses from one datagram to the next, and what it noticed about the last one.
///
/// One per event loop and purpose (a buffer of the caller's, like a receive buffer). The varbinds
/// of the last decoded message share its storage until the next decode or ``release()``.
public struct SNMPDecodingScratch {
    var varbinds: [VarBind] = []
    /// The content octets of the last message's varbind list: offsets from the datagram's reader
    /// index. Nil when decoding failed or the message had no varbind list.
    public internal(set) var varbindListContent: Range<Int>?
    /// Whether every element of the last message was in the canonical form ``ByteBuffer`` writers
    /// produce (minimal lengths and integers): then re-encoding its varbinds gives these octets.
    public internal(set) var isCanonical = false

    public init() {}

    /// Lets go of the last message's varbinds (slices of its datagram), keeping the storage.
    public mutating func release() {
        self.varbinds.removeAll(keepingCapacity: true)
        self.varbindListContent = nil
    }
}

// MARK: - BER

extension BERReader {
    /// Reads a whole message and requires the input to end with it.
    mutating func readMessage() throws(SNMPWireError) -> SNMPMessage {
        let outer = try self.enter(tag: BERTag.sequence)
        // Nothing may follow the message in the datagram.
        if outer != self.end {
            throw SNMPWireError(.trailingBytes(count: outer - self.end), at: self.end)
        }
        let versionStart = self.position
        let version = try self.readInt32()
        let message: SNMPMessage
        switch version {
        case SNMPVersion.v1.rawValue, SNMPVersion.v2c.rawValue:
            let community = try self.readOctetString(
                maximumLength: SNMPWireLimits.maximumCommunityLength,
                field: .community
            )
            let pdu = try self.readPDU(version: version)
            message = .community(
                CommunityMessage(version: SNMPVersion(rawValue: version)!, community: community, pdu: pdu)
            )
        case SNMPVersion.v3.rawValue:
            message = .v3(try self.readV3MessageBody())
        default:
            throw SNMPWireError(.unsupportedVersion(version), at: versionStart)
        }
        try self.leave(outer)
        return message
    }
}

extension ByteBuffer {
    /// Decodes one whole message from the readable bytes, which must all belong to it, and consumes
    /// them. On error the reader index does not move.
    public mutating func readSNMPMessage() throws(SNMPWireError) -> SNMPMessage {
        let message = try SNMPMessage(decoding: self)
        self.moveReaderIndex(forwardBy: self.readableBytes)
        return message
    }

    /// Writes a message in canonical BER. Returns the number of bytes written.
    @discardableResult
    public mutating func writeSNMPMessage(_ message: SNMPMessage) -> Int {
        switch message {
        case .community(let message):
            return self.writeCommunityMessage(message)
        case .v3(let message):
            return self.writeSNMPv3Message(message).bytesWritten
        }
    }

    /// Writes an SNMPv1/v2c message.
    @discardableResult
    public mutating func writeCommunityMessage(_ message: CommunityMessage) -> Int {
        self.writeCommunityMessage(message, varBindList: nil)
    }

    /// Writes an SNMPv1/v2c message whose PDU's varbind list is `varBindList` (see
    /// ``writePDU(_:varBindList:)``); ignored for an SNMPv1 Trap.
    @discardableResult
    public mutating func writeCommunityMessage(_ message: CommunityMessage, varBindList: ByteBuffer?) -> Int {
        guard case .pdu(let pdu) = message.pdu else {
            return self.writeBERConstructed(tag: BERTag.sequence, strategy: .long) { buffer in
                buffer.writeBERInteger(Int64(message.version.rawValue))
                buffer.writeBEROctetString(message.community)
                buffer.writePDU(message.pdu)
            }
        }
        // The common case, in one pass with every length computed first (as writeSNMPv3Message).
        let size = pdu.encodedSize(varBindListLength: varBindList?.readableBytes)
        let content =
            BERSize.ofElement(content: BERSize.ofSigned(Int64(message.version.rawValue)))
            + BERSize.ofElement(content: message.community.readableBytes) + BERSize.ofElement(content: size.content)
        return self.writeWithUnsafeMutableBytes(minimumWritableBytes: BERSize.ofElement(content: content)) { raw in
            var writer = RawBERWriter(raw)
            writer.header(tag: BERTag.sequence, length: content)
            writer.signed(Int64(message.version.rawValue), tag: BERTag.integer)
            writer.octetString(message.community, tag: BERTag.octetString)
            writer.pdu(pdu, size, varBindList: varBindList)
            return writer.count
        }
    }
}
