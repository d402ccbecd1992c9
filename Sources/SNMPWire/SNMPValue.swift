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
            return .octetString(try self.readElement(tag: tag).content)
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
            return .opaque(try self.readElement(tag: tag).content)
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
            throw SNMPWireError(.unknownTag(tag), at: self.offset)
        }
    }

    /// IpAddress: exactly 4 octets.
    mutating func readIPAddress() throws(SNMPWireError) -> IPv4Address {
        let (content, start) = try self.readElement(tag: BERTag.ipAddress)
        guard content.readableBytes == 4 else {
            throw SNMPWireError(.invalidLength(tag: BERTag.ipAddress, length: content.readableBytes), at: start)
        }
        return IPv4Address(rawValue: content.getInteger(at: content.readerIndex, as: UInt32.self)!)
    }

    /// One `VarBind ::= SEQUENCE { name ObjectName, value CHOICE }`.
    mutating func readVarBind() throws(SNMPWireError) -> VarBind {
        var inner = try self.readConstructed(tag: BERTag.sequence)
        let oid = try inner.readOID()
        let value = try inner.readValue()
        try inner.expectEnd()
        return VarBind(oid: oid, value: value)
    }

    /// `VarBindList ::= SEQUENCE (SIZE (0..max-bindings)) OF VarBind`, with one allocation: the
    /// elements are counted first so the array is created at its final size.
    mutating func readVarBindList() throws(SNMPWireError) -> [VarBind] {
        var list = try self.readConstructed(tag: BERTag.sequence)
        var counter = list
        var count = 0
        while !counter.isAtEnd, (try? counter.skipElement()) != nil { count += 1 }
        var varbinds: [VarBind] = []
        varbinds.reserveCapacity(count)
        while !list.isAtEnd {
            varbinds.append(try list.readVarBind())
        }
        return varbinds
    }
}

extension ByteBuffer {
    /// Writes one varbind value.
    @discardableResult
    mutating func writeSNMPValue(_ value: SNMPValue) -> Int {
        switch value {
        case .integer(let v):
            return self.writeBERInteger(Int64(v))
        case .octetString(let bytes):
            return self.writeBEROctetString(bytes)
        case .null:
            return self.writeBERHeader(tag: BERTag.null, length: 0)
        case .objectIdentifier(let oid):
            return self.writeBEROctetString(oid.encoded, tag: BERTag.objectIdentifier)
        case .ipAddress(let address):
            return self.writeBERHeader(tag: BERTag.ipAddress, length: 4) + self.writeInteger(address.rawValue)
        case .counter32(let v):
            return self.writeBERUnsigned(UInt64(v), tag: BERTag.counter32)
        case .gauge32(let v):
            return self.writeBERUnsigned(UInt64(v), tag: BERTag.gauge32)
        case .timeTicks(let v):
            return self.writeBERUnsigned(UInt64(v), tag: BERTag.timeTicks)
        case .opaque(let bytes):
            return self.writeBEROctetString(bytes, tag: BERTag.opaque)
        case .counter64(let v):
            return self.writeBERUnsigned(v, tag: BERTag.counter64)
        case .noSuchObject:
            return self.writeBERHeader(tag: BERTag.noSuchObject, length: 0)
        case .noSuchInstance:
            return self.writeBERHeader(tag: BERTag.noSuchInstance, length: 0)
        case .endOfMibView:
            return self.writeBERHeader(tag: BERTag.endOfMibView, length: 0)
        }
    }

    /// Writes one `VarBind` SEQUENCE.
    @discardableResult
    mutating func writeVarBind(_ varbind: VarBind) -> Int {
        self.writeBERConstructed(tag: BERTag.sequence, strategy: .short) { buffer in
            buffer.writeBEROctetString(varbind.oid.encoded, tag: BERTag.objectIdentifier)
            buffer.writeSNMPValue(varbind.value)
        }
    }

    /// Writes a `VarBindList` SEQUENCE.
    @discardableResult
    mutating func writeVarBindList(_ varbinds: [VarBind]) -> Int {
        self.writeBERConstructed(tag: BERTag.sequence, strategy: .long) { buffer in
            for varbind in varbinds {
                buffer.writeVarBind(varbind)
            }
        }
    }
}
