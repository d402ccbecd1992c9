//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOCore

/// The identifier octets SNMP uses (RFC 3416 §3, RFC 2578 §7.1, RFC 3417).
///
/// All SNMP tags fit the low-tag-number form (one octet).
public enum BERTag {
    public static let integer: UInt8 = 0x02
    public static let octetString: UInt8 = 0x04
    public static let null: UInt8 = 0x05
    public static let objectIdentifier: UInt8 = 0x06
    public static let sequence: UInt8 = 0x30
    /// `[APPLICATION 0] IMPLICIT OCTET STRING (SIZE (4))` (RFC 2578).
    public static let ipAddress: UInt8 = 0x40
    /// `[APPLICATION 1] IMPLICIT INTEGER (0..4294967295)`.
    public static let counter32: UInt8 = 0x41
    /// `[APPLICATION 2]`, Gauge32 and Unsigned32 share the tag.
    public static let gauge32: UInt8 = 0x42
    /// `[APPLICATION 3]`.
    public static let timeTicks: UInt8 = 0x43
    /// `[APPLICATION 4] IMPLICIT OCTET STRING`.
    public static let opaque: UInt8 = 0x44
    /// `[APPLICATION 6] IMPLICIT INTEGER (0..18446744073709551615)`.
    public static let counter64: UInt8 = 0x46
    /// `[0] IMPLICIT NULL` in a varbind value (RFC 3416 §3).
    public static let noSuchObject: UInt8 = 0x80
    /// `[1] IMPLICIT NULL`.
    public static let noSuchInstance: UInt8 = 0x81
    /// `[2] IMPLICIT NULL`.
    public static let endOfMibView: UInt8 = 0x82
}

/// BER definite lengths as a `NIOBinaryIntegerEncodingStrategy` (X.690 §8.1.3).
///
/// Writes the minimal form (canonical); reads short and long forms with up to
/// ``SNMPWireLimits/maximumLengthOctets`` octets. `requiredBytesHint` is chosen per call site so
/// that `writeLengthPrefixed` rarely has to move content.
struct BERLengthStrategy: NIOBinaryIntegerEncodingStrategy {
    let requiredBytesHint: Int

    init(hint: Int) {
        self.requiredBytesHint = hint
    }

    func readInteger<IntegerType: FixedWidthInteger>(
        as: IntegerType.Type,
        from buffer: inout ByteBuffer
    ) -> IntegerType? {
        let start = buffer.readerIndex
        guard let first = buffer.readInteger(as: UInt8.self) else { return nil }
        if first < 0x80 { return IntegerType(first) }
        let count = Int(first & 0x7F)
        guard count >= 1, count <= SNMPWireLimits.maximumLengthOctets else {
            buffer.moveReaderIndex(to: start)
            return nil
        }
        var value: UInt64 = 0
        for _ in 0..<count {
            guard let byte = buffer.readInteger(as: UInt8.self) else {
                buffer.moveReaderIndex(to: start)
                return nil
            }
            value = value << 8 | UInt64(byte)
        }
        guard let result = IntegerType(exactly: value) else {
            buffer.moveReaderIndex(to: start)
            return nil
        }
        return result
    }

    func writeInteger<IntegerType: FixedWidthInteger>(
        _ integer: IntegerType,
        to buffer: inout ByteBuffer
    ) -> Int {
        buffer.writeBERLength(Int(integer))
    }

    func writeInteger(_ integer: Int, reservedCapacity: Int, to buffer: inout ByteBuffer) -> Int {
        // Canonical encoding wins over avoiding a move: always the minimal form.
        buffer.writeBERLength(integer)
    }
}

extension BERLengthStrategy {
    /// For small elements that almost always stay under 128 octets (a varbind, msgGlobalData).
    static let short = BERLengthStrategy(hint: 1)
    /// For elements that usually exceed 255 octets (message, PDU, varbind list).
    static let long = BERLengthStrategy(hint: 3)
}
