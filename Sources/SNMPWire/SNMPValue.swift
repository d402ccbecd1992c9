//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOCore

/// An IPv4 address as SNMP's `IpAddress` carries it (4 octets, network order).
public struct IPv4Address: Hashable, Sendable, CustomStringConvertible {
    /// The address as a big-endian 32-bit number: `192.0.2.1` is `0xC000_0201`.
    public var rawValue: UInt32

    public init(rawValue: UInt32) {
        self.rawValue = rawValue
    }

    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        self.rawValue = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }

    /// The four octets, most significant first.
    public var octets: (UInt8, UInt8, UInt8, UInt8) {
        (
            UInt8(truncatingIfNeeded: self.rawValue >> 24), UInt8(truncatingIfNeeded: self.rawValue >> 16),
            UInt8(truncatingIfNeeded: self.rawValue >> 8), UInt8(truncatingIfNeeded: self.rawValue)
        )
    }

    public var description: String {
        let o = self.octets
        return "\(o.0).\(o.1).\(o.2).\(o.3)"
    }
}

/// The value of a variable binding (RFC 3416 §3, `VarBind.CHOICE`).
///
/// OCTET STRING and Opaque contents are slices of the datagram they were decoded from (see
/// ``compacted()``).
public enum SNMPValue: Hashable, Sendable {
    /// INTEGER / Integer32.
    case integer(Int32)
    /// OCTET STRING.
    case octetString(ByteBuffer)
    /// NULL: the value in requests.
    case null
    /// OBJECT IDENTIFIER.
    case objectIdentifier(OID)
    /// IpAddress.
    case ipAddress(IPv4Address)
    /// Counter32.
    case counter32(UInt32)
    /// Gauge32, also Unsigned32 (same tag).
    case gauge32(UInt32)
    /// TimeTicks, in hundredths of a second.
    case timeTicks(UInt32)
    /// Opaque: arbitrary BER wrapped in an OCTET STRING.
    case opaque(ByteBuffer)
    /// Counter64 (not representable in SNMPv1).
    case counter64(UInt64)
    /// Exception: no such object.
    case noSuchObject
    /// Exception: no such instance.
    case noSuchInstance
    /// Exception: end of the MIB view.
    case endOfMibView

    /// The identifier octet this value is encoded with.
    public var tag: UInt8 {
        switch self {
        case .integer: return BERTag.integer
        case .octetString: return BERTag.octetString
        case .null: return BERTag.null
        case .objectIdentifier: return BERTag.objectIdentifier
        case .ipAddress: return BERTag.ipAddress
        case .counter32: return BERTag.counter32
        case .gauge32: return BERTag.gauge32
        case .timeTicks: return BERTag.timeTicks
        case .opaque: return BERTag.opaque
        case .counter64: return BERTag.counter64
        case .noSuchObject: return BERTag.noSuchObject
        case .noSuchInstance: return BERTag.noSuchInstance
        case .endOfMibView: return BERTag.endOfMibView
        }
    }

    /// True for noSuchObject, noSuchInstance and endOfMibView.
    public var isException: Bool {
        switch self {
        case .noSuchObject, .noSuchInstance, .endOfMibView: return true
        default: return false
        }
    }

    /// A copy that no longer refers to the datagram it was decoded from.
    public func compacted() -> SNMPValue {
        switch self {
        case .octetString(let bytes): return .octetString(ByteBuffer(buffer: bytes))
        case .opaque(let bytes): return .opaque(ByteBuffer(buffer: bytes))
        case .objectIdentifier(let oid): return .objectIdentifier(oid.compacted())
        default: return self
        }
    }

    /// Convenience: an OCTET STRING from UTF-8 text.
    public static func string(_ text: String) -> SNMPValue {
        .octetString(ByteBuffer(string: text))
    }
}

extension ByteBuffer {
    /// A copy of `buffer`'s readable bytes in fresh storage.
    init(buffer: ByteBuffer) {
        self = ByteBuffer()
        self.writeImmutableBuffer(buffer)
    }
}

/// A variable binding: a name and its value.
public struct VarBind: Hashable, Sendable {
    public var oid: OID
    public var value: SNMPValue

    public init(oid: OID, value: SNMPValue = .null) {
        self.oid = oid
        self.value = value
    }
}

// MARK: - CustomStringConvertible

extension SNMPValue: CustomStringConvertible {
    public var description: String {
        switch self {
        case .integer(let v): return "INTEGER: \(v)"
        case .octetString(let bytes): return "STRING: \(Self.printable(bytes))"
        case .null: return "NULL"
        case .objectIdentifier(let oid): return "OID: \(oid)"
        case .ipAddress(let address): return "IpAddress: \(address)"
        case .counter32(let v): return "Counter32: \(v)"
        case .gauge32(let v): return "Gauge32: \(v)"
        case .timeTicks(let v): return "Timeticks: (\(v))"
        case .opaque(let bytes): return "Opaque: \(Self.hex(bytes))"
        case .counter64(let v): return "Counter64: \(v)"
        case .noSuchObject: return "No Such Object available on this agent at this OID"
        case .noSuchInstance: return "No Such Instance currently exists at this OID"
        case .endOfMibView: return "No more variables left in this MIB View (It is past the end of the MIB tree)"
        }
    }

    /// Quoted text when every byte is printable ASCII, else hex (as Net-SNMP shows it).
    static func printable(_ bytes: ByteBuffer) -> String {
        let view = bytes.readableBytesView
        if view.allSatisfy({ ($0 >= 0x20 && $0 < 0x7F) || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
            return "\"" + String(decoding: view, as: UTF8.self) + "\""
        }
        return "Hex: " + Self.hex(bytes)
    }

    static func hex(_ bytes: ByteBuffer) -> String {
        let digits = Array("0123456789ABCDEF")
        var text = ""
        for (i, byte) in bytes.readableBytesView.enumerated() {
            if i > 0 { text.append(" ") }
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return text
    }
}

extension VarBind: CustomStringConvertible {
    public var description: String { "\(self.oid) = \(self.value)" }
}

// MARK: - BER

extension BERReader {
    /// One varbind value (RFC 3416 `VarBind.CHOICE`): any other tag is rejected.
    mutating func readValue() throws(SNMPWireError) -> SNMPValue {
        let tag = try self.peekTag()
        switch tag {
        case BERTag.integer:
            return .integer(try self.readInt32())
        case BERTag.octetString:
            return .octetString(try self.readOctetString(tag: tag))
        case BERTag.null:
            try self.readNull()
            return .null
        case BERTag.objectIdentifier:
            return .objectIdentifier(try self.readOID())
        case BERTag.ipAddress:
            return .ipAddress(try self.readIPAddress())
        case BERTag.counter32:
            return .counter32(try self.readUInt32(tag: tag))
        case BERTag.gauge32:
            return .gauge32(try self.readUInt32(tag: tag))
        case BERTag.timeTicks:
            return .timeTicks(try self.readUInt32(tag: tag))
        case BERTag.opaque:
            return .opaque(try self.readOctetString(tag: tag))
        case BERTag.counter64:
            return .counter64(try self.readUInt64(tag: tag))
        case BERTag.noSuchObject:
            try self.readNull(tag: tag)
            return .noSuchObject
        case BERTag.noSuchInstance:
            try self.readNull(tag: tag)
            return .noSuchInstance
        case BERTag.endOfMibView:
            try self.readNull(tag: tag)
            return .endOfMibView
        default:
            throw SNMPWireError(.unknownTag(tag), at: self.position)
        }
    }

    /// IpAddress: exactly 4 octets.
    mutating func readIPAddress() throws(SNMPWireError) -> IPv4Address {
        let (content, length, start) = try self.readElement(tag: BERTag.ipAddress)
        guard length == 4 else {
            throw SNMPWireError(.invalidLength(tag: BERTag.ipAddress, length: length), at: start)
        }
        let value =
            UInt32(self.bytes[content]) << 24 | UInt32(self.bytes[content + 1]) << 16
            | UInt32(self.bytes[content + 2]) << 8 | UInt32(self.bytes[content + 3])
        return IPv4Address(rawValue: value)
    }

    /// One `VarBind ::= SEQUENCE { name ObjectName, value CHOICE }`.
    mutating func readVarBind() throws(SNMPWireError) -> VarBind {
        let outer = try self.enter(tag: BERTag.sequence)
        let oid = try self.readOID()
        let value = try self.readValue()
        try self.leave(outer)
        return VarBind(oid: oid, value: value)
    }

    /// `VarBindList ::= SEQUENCE (SIZE (0..max-bindings)) OF VarBind`, with one allocation: the
    /// elements are counted first so the array is created at its final size.
    ///
    /// With a caller's storage (``varbindStorage``) the list goes into it, without an allocation
    /// when it is large enough and nothing else holds it; the storage then shares the result.
    mutating func readVarBindList() throws(SNMPWireError) -> [VarBind] {
        let outer = try self.enter(tag: BERTag.sequence)
        let first = self.position
        var count = 0
        while !self.isAtEnd, (try? self.skipElement()) != nil { count += 1 }
        self.position = first
        var varbinds: [VarBind] = []
        swap(&varbinds, &self.varbindStorage)
        varbinds.removeAll(keepingCapacity: true)
        varbinds.reserveCapacity(count)
        while !self.isAtEnd {
            varbinds.append(try self.readVarBind())
        }
        self.varbindListContent = first..<self.position
        try self.leave(outer)
        self.varbindStorage = varbinds
        return varbinds
    }
}

extension SNMPValue {
    /// Content octets of this value's encoding.
    var encodedContentLength: Int {
        switch self {
        case .integer(let v): return BERSize.ofSigned(Int64(v))
        case .octetString(let bytes), .opaque(let bytes): return bytes.readableBytes
        case .null, .noSuchObject, .noSuchInstance, .endOfMibView: return 0
        case .objectIdentifier(let oid): return oid.encoded.readableBytes
        case .ipAddress: return 4
        case .counter32(let v), .gauge32(let v), .timeTicks(let v): return BERSize.ofUnsigned(UInt64(v))
        case .counter64(let v): return BERSize.ofUnsigned(v)
        }
    }
}

extension RawBERWriter {
    /// Writes one varbind value; the caller reserved room for it.
    mutating func value(_ value: SNMPValue) {
        switch value {
        case .integer(let v): self.signed(Int64(v), tag: BERTag.integer)
        case .octetString(let bytes): self.octetString(bytes, tag: BERTag.octetString)
        case .null: self.header(tag: BERTag.null, length: 0)
        case .objectIdentifier(let oid): self.octetString(oid.encoded, tag: BERTag.objectIdentifier)
        case .ipAddress(let address):
            self.header(tag: BERTag.ipAddress, length: 4)
            self.base.storeBytes(of: address.rawValue.bigEndian, toByteOffset: self.count, as: UInt32.self)
            self.count += 4
        case .counter32(let v): self.unsigned(UInt64(v), tag: BERTag.counter32)
        case .gauge32(let v): self.unsigned(UInt64(v), tag: BERTag.gauge32)
        case .timeTicks(let v): self.unsigned(UInt64(v), tag: BERTag.timeTicks)
        case .opaque(let bytes): self.octetString(bytes, tag: BERTag.opaque)
        case .counter64(let v): self.unsigned(v, tag: BERTag.counter64)
        case .noSuchObject: self.header(tag: BERTag.noSuchObject, length: 0)
        case .noSuchInstance: self.header(tag: BERTag.noSuchInstance, length: 0)
        case .endOfMibView: self.header(tag: BERTag.endOfMibView, length: 0)
        }
    }
}

extension ByteBuffer {
    /// Writes one varbind value.
    @discardableResult
    mutating func writeSNMPValue(_ value: SNMPValue) -> Int {
        let length = BERSize.ofElement(content: value.encodedContentLength)
        return self.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { raw in
            var writer = RawBERWriter(raw)
            writer.value(value)
            return writer.count
        }
    }

    /// Writes one `VarBind` SEQUENCE.
    @discardableResult
    mutating func writeVarBind(_ varbind: VarBind) -> Int {
        self.writeWithUnsafeMutableBytes(minimumWritableBytes: varbind.encodedLength) { raw in
            var writer = RawBERWriter(raw)
            writer.varbind(varbind)
            return writer.count
        }
    }

    /// Writes a `VarBindList` SEQUENCE with exact lengths in one raw write: the list is the hot part
    /// of every message, and sizing it first costs less than writing it through `ByteBuffer` calls.
    @discardableResult
    mutating func writeVarBindList(_ varbinds: [VarBind]) -> Int {
        var content = 0
        for varbind in varbinds { content += varbind.encodedLength }
        return self.writeWithUnsafeMutableBytes(minimumWritableBytes: BERSize.ofElement(content: content)) { raw in
            var writer = RawBERWriter(raw)
            writer.header(tag: BERTag.sequence, length: content)
            for varbind in varbinds { writer.varbind(varbind) }
            return writer.count
        }
    }
}

extension VarBind {
    /// The content length of this varbind's SEQUENCE.
    var encodedContentLength: Int {
        BERSize.ofElement(content: self.oid.encoded.readableBytes)
            + BERSize.ofElement(content: self.value.encodedContentLength)
    }

    /// The whole encoded SEQUENCE's length.
    var encodedLength: Int { BERSize.ofElement(content: self.encodedContentLength) }
}

extension RawBERWriter {
    /// Writes one varbind SEQUENCE; the caller reserved room for it.
    mutating func varbind(_ varbind: VarBind) {
        self.header(tag: BERTag.sequence, length: varbind.encodedContentLength)
        self.octetString(varbind.oid.encoded, tag: BERTag.objectIdentifier)
        self.value(varbind.value)
    }
}
