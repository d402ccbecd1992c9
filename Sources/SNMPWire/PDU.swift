//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOCore

/// The PDU types and their context tags (RFC 3416 §3; Trap-PDU from RFC 1157 §4.1.6).
public enum PDUType: UInt8, Hashable, Sendable, CaseIterable {
    case get = 0xA0
    case getNext = 0xA1
    case response = 0xA2
    case set = 0xA3
    /// SNMPv1 Trap-PDU: a different shape, see ``TrapV1PDU``.
    case trapV1 = 0xA4
    case getBulk = 0xA5
    case inform = 0xA6
    case trapV2 = 0xA7
    case report = 0xA8

    /// Confirmed-class PDUs expect a Response (RFC 3411 §2.8): Get, GetNext, GetBulk, Set, Inform.
    public var isConfirmed: Bool {
        switch self {
        case .get, .getNext, .getBulk, .set, .inform: return true
        case .response, .trapV1, .trapV2, .report: return false
        }
    }

    /// Whether SNMPv1 has this PDU (RFC 1157): Get, GetNext, Response, Set, Trap.
    public var existsInSNMPv1: Bool {
        switch self {
        case .get, .getNext, .response, .set, .trapV1: return true
        case .getBulk, .inform, .trapV2, .report: return false
        }
    }
}

/// error-status values (RFC 3416 §3; 0–5 are also SNMPv1's).
///
/// An extensible struct rather than an enum: a PDU decoded from the wire keeps whatever number the
/// agent sent, so it re-encodes unchanged.
public struct ErrorStatus: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int32

    public init(rawValue: Int32) {
        self.rawValue = rawValue
    }

    public static let noError = ErrorStatus(rawValue: 0)
    public static let tooBig = ErrorStatus(rawValue: 1)
    public static let noSuchName = ErrorStatus(rawValue: 2)
    public static let badValue = ErrorStatus(rawValue: 3)
    public static let readOnly = ErrorStatus(rawValue: 4)
    public static let genErr = ErrorStatus(rawValue: 5)
    public static let noAccess = ErrorStatus(rawValue: 6)
    public static let wrongType = ErrorStatus(rawValue: 7)
    public static let wrongLength = ErrorStatus(rawValue: 8)
    public static let wrongEncoding = ErrorStatus(rawValue: 9)
    public static let wrongValue = ErrorStatus(rawValue: 10)
    public static let noCreation = ErrorStatus(rawValue: 11)
    public static let inconsistentValue = ErrorStatus(rawValue: 12)
    public static let resourceUnavailable = ErrorStatus(rawValue: 13)
    public static let commitFailed = ErrorStatus(rawValue: 14)
    public static let undoFailed = ErrorStatus(rawValue: 15)
    public static let authorizationError = ErrorStatus(rawValue: 16)
    public static let notWritable = ErrorStatus(rawValue: 17)
    public static let inconsistentName = ErrorStatus(rawValue: 18)

    private static let names = [
        "noError", "tooBig", "noSuchName", "badValue", "readOnly", "genErr", "noAccess", "wrongType",
        "wrongLength", "wrongEncoding", "wrongValue", "noCreation", "inconsistentValue", "resourceUnavailable",
        "commitFailed", "undoFailed", "authorizationError", "notWritable", "inconsistentName",
    ]

    public var description: String {
        if self.rawValue >= 0 && Int(self.rawValue) < Self.names.count {
            return Self.names[Int(self.rawValue)]
        }
        return "errorStatus(\(self.rawValue))"
    }
}

/// Every PDU except the SNMPv1 Trap: `request-id, error-status, error-index, variable-bindings`.
///
/// For GetBulk the two middle fields are non-repeaters and max-repetitions (RFC 3416 §3); both are
/// kept as the signed numbers that were sent (negative values are legal on the wire and mean 0).
public struct PDU: Hashable, Sendable {
    /// Never ``PDUType/trapV1``.
    public var type: PDUType {
        willSet { precondition(newValue != .trapV1, "an SNMPv1 Trap is a TrapV1PDU") }
    }
    public var requestID: Int32
    /// error-status, or non-repeaters in a GetBulk.
    public var errorStatusField: Int32
    /// error-index, or max-repetitions in a GetBulk.
    public var errorIndexField: Int32
    public var varbinds: [VarBind]

    public init(
        type: PDUType,
        requestID: Int32,
        errorStatus: ErrorStatus = .noError,
        errorIndex: Int32 = 0,
        varbinds: [VarBind]
    ) {
        precondition(type != .trapV1, "an SNMPv1 Trap is a TrapV1PDU")
        self.type = type
        self.requestID = requestID
        self.errorStatusField = errorStatus.rawValue
        self.errorIndexField = errorIndex
        self.varbinds = varbinds
    }

    /// A GetBulk request.
    public static func getBulk(
        requestID: Int32,
        nonRepeaters: Int32,
        maxRepetitions: Int32,
        varbinds: [VarBind]
    ) -> PDU {
        var pdu = PDU(type: .getBulk, requestID: requestID, varbinds: varbinds)
        pdu.errorStatusField = nonRepeaters
        pdu.errorIndexField = maxRepetitions
        return pdu
    }

    public var errorStatus: ErrorStatus {
        get { ErrorStatus(rawValue: self.errorStatusField) }
        set { self.errorStatusField = newValue.rawValue }
    }

    public var errorIndex: Int32 {
        get { self.errorIndexField }
        set { self.errorIndexField = newValue }
    }

    /// GetBulk non-repeaters.
    public var nonRepeaters: Int32 {
        get { self.errorStatusField }
        set { self.errorStatusField = newValue }
    }

    /// GetBulk max-repetitions.
    public var maxRepetitions: Int32 {
        get { self.errorIndexField }
        set { self.errorIndexField = newValue }
    }
}

/// The SNMPv1 Trap-PDU (RFC 1157 §4.1.6).
public struct TrapV1PDU: Hashable, Sendable {
    public var enterprise: OID
    /// agent-addr (NetworkAddress: `internet IpAddress` is the only choice).
    public var agentAddress: IPv4Address
    /// generic-trap: coldStart(0) … enterpriseSpecific(6).
    public var genericTrap: Int32
    public var specificTrap: Int32
    /// time-stamp (TimeTicks).
    public var timeStamp: UInt32
    public var varbinds: [VarBind]

    public init(
        enterprise: OID,
        agentAddress: IPv4Address,
        genericTrap: Int32,
        specificTrap: Int32,
        timeStamp: UInt32,
        varbinds: [VarBind]
    ) {
        self.enterprise = enterprise
        self.agentAddress = agentAddress
        self.genericTrap = genericTrap
        self.specificTrap = specificTrap
        self.timeStamp = timeStamp
        self.varbinds = varbinds
    }
}

/// Any PDU an SNMP message can carry.
public enum AnyPDU: Hashable, Sendable {
    case pdu(PDU)
    case trapV1(TrapV1PDU)

    public var type: PDUType {
        switch self {
        case .pdu(let pdu): return pdu.type
        case .trapV1: return .trapV1
        }
    }

    public var varbinds: [VarBind] {
        switch self {
        case .pdu(let pdu): return pdu.varbinds
        case .trapV1(let trap): return trap.varbinds
        }
    }
}

// MARK: - BER

extension BERReader {
    /// Reads any PDU; `version` is the message's msgVersion (0, 1 or 3), which decides what is allowed.
    mutating func readPDU(version: Int32) throws(SNMPWireError) -> AnyPDU {
        let header = try self.readHeader()
        guard let type = PDUType(rawValue: header.tag) else {
            throw SNMPWireError(.unknownTag(header.tag), at: header.start)
        }
        let allowed = version == 0 ? type.existsInSNMPv1 : type != .trapV1
        guard allowed else {
            throw SNMPWireError(.pduNotAllowedInVersion(pduTag: header.tag, version: version), at: header.start)
        }
        let outer = try self.enterContent(length: header.length, start: header.start)
        if type == .trapV1 {
            let enterprise = try self.readOID()
            let agentAddress = try self.readIPAddress()
            let generic = try self.readInt32()
            let specific = try self.readInt32()
            let timeStamp = try self.readUInt32(tag: BERTag.timeTicks)
            let varbinds = try self.readVarBindList()
            try self.leave(outer)
            return .trapV1(
                TrapV1PDU(
                    enterprise: enterprise,
                    agentAddress: agentAddress,
                    genericTrap: generic,
                    specificTrap: specific,
                    timeStamp: timeStamp,
                    varbinds: varbinds
                )
            )
        }
        let requestID = try self.readInt32()
        let errorStatus = try self.readInt32()
        let errorIndex = try self.readInt32()
        let varbinds = try self.readVarBindList()
        try self.leave(outer)
        var pdu = PDU(type: type, requestID: requestID, varbinds: varbinds)
        pdu.errorStatusField = errorStatus
        pdu.errorIndexField = errorIndex
        return .pdu(pdu)
    }
}

extension ByteBuffer {
    /// Writes a PDU.
    @discardableResult
    public mutating func writePDU(_ pdu: AnyPDU) -> Int {
        switch pdu {
        case .pdu(let pdu):
            return self.writePDU(pdu)
        case .trapV1(let trap):
            return self.writeBERConstructed(tag: PDUType.trapV1.rawValue, strategy: .long) { buffer in
                buffer.writeBEROctetString(trap.enterprise.encoded, tag: BERTag.objectIdentifier)
                buffer.writeSNMPValue(.ipAddress(trap.agentAddress))
                buffer.writeBERInteger(Int64(trap.genericTrap))
                buffer.writeBERInteger(Int64(trap.specificTrap))
                buffer.writeBERUnsigned(UInt64(trap.timeStamp), tag: BERTag.timeTicks)
                buffer.writeVarBindList(trap.varbinds)
            }
        }
    }

    /// Writes a PDU other than an SNMPv1 Trap.
    @discardableResult
    public mutating func writePDU(_ pdu: PDU) -> Int {
        self.writePDU(pdu, varBindList: nil)
    }

    /// Writes a PDU whose varbind list is `varBindList`, the content octets of the SEQUENCE as an
    /// agent sent them (an answer passed through unchanged), or its varbinds encoded when nil.
    ///
    /// The octets must be canonical and decode to exactly `pdu.varbinds`
    /// (``SNMPDecodingScratch/isCanonical``): then the output is what encoding the varbinds writes.
    @discardableResult
    public mutating func writePDU(_ pdu: PDU, varBindList: ByteBuffer?) -> Int {
        let size = pdu.encodedSize(varBindListLength: varBindList?.readableBytes)
        return self.writeWithUnsafeMutableBytes(minimumWritableBytes: BERSize.ofElement(content: size.content)) { raw in
            var writer = RawBERWriter(raw)
            writer.pdu(pdu, size, varBindList: varBindList)
            return writer.count
        }
    }
}

extension PDU {
    /// A copy whose OIDs and values live in one small buffer of their own, so that the datagram
    /// (or decryption buffer) they were decoded from is free to be reused.
    ///
    /// One allocation and one copy of the octets, whatever the number of varbinds.
    public func compacted() -> PDU {
        var storage = ByteBuffer()
        var varbinds: [VarBind] = []
        return self.compacted(into: &storage, varbinds: &varbinds, alongWith: ByteBuffer()).pdu
    }

    /// The same into storage the caller keeps and reuses: `storage`'s bytes and `varbinds`'
    /// elements are replaced, in place when nothing else holds them (no allocation once they are
    /// large enough), and the result shares both. `extra` (a context name, say) is copied along
    /// and returned as a slice of the same storage.
    ///
    /// Every byte is written before the first slice is taken: a slice shares the storage, and a
    /// write to shared storage would copy it.
    public func compacted(
        into storage: inout ByteBuffer,
        varbinds: inout [VarBind],
        alongWith extra: ByteBuffer
    ) -> (pdu: PDU, extra: ByteBuffer) {
        var total = extra.readableBytes
        for varbind in self.varbinds {
            total += varbind.oid.encoded.readableBytes + varbind.value.storedOctets
        }
        // Let go of the previous contents (slices of `storage`) before reusing it.
        varbinds.removeAll(keepingCapacity: true)
        storage.clear(minimumCapacity: total)
        let base = storage.writerIndex
        for varbind in self.varbinds {
            storage.writeImmutableBuffer(varbind.oid.encoded)
            switch varbind.value {
            case .octetString(let bytes), .opaque(let bytes): storage.writeImmutableBuffer(bytes)
            case .objectIdentifier(let other): storage.writeImmutableBuffer(other.encoded)
            default: break
            }
        }
        storage.writeImmutableBuffer(extra)
        var at = base
        func slice(_ length: Int) -> ByteBuffer {
            defer { at += length }
            return storage.getSlice(at: at, length: length)!
        }
        varbinds.reserveCapacity(self.varbinds.count)
        for varbind in self.varbinds {
            let oid = OID(validatedEncoding: slice(varbind.oid.encoded.readableBytes))
            let value: SNMPValue
            switch varbind.value {
            case .octetString(let bytes): value = .octetString(slice(bytes.readableBytes))
            case .opaque(let bytes): value = .opaque(slice(bytes.readableBytes))
            case .objectIdentifier(let other):
                value = .objectIdentifier(OID(validatedEncoding: slice(other.encoded.readableBytes)))
            default: value = varbind.value
            }
            varbinds.append(VarBind(oid: oid, value: value))
        }
        let copiedExtra = extra.readableBytes == 0 ? ByteBuffer() : slice(extra.readableBytes)
        var compacted = self
        compacted.varbinds = varbinds
        return (compacted, copiedExtra)
    }
}

extension SNMPValue {
    /// The octets this value keeps in a buffer (strings, opaque, OIDs); 0 for the others.
    var storedOctets: Int {
        switch self {
        case .octetString(let bytes), .opaque(let bytes): return bytes.readableBytes
        case .objectIdentifier(let oid): return oid.encoded.readableBytes
        default: return 0
        }
    }
}
