//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOCore

/// A message could not be decoded.
///
/// Cheap to create and to throw (no strings are built until ``description`` is asked for), so a
/// flood of garbage datagrams costs little. ``offset`` is counted from the first byte of the
/// message and points at the element (usually its tag octet) that failed.
public struct SNMPWireError: Error, Hashable, Sendable {
    /// Why decoding failed.
    public var reason: Reason
    /// The byte offset, from the start of the message, of the element that failed.
    public var offset: Int

    /// Creates an error.
    @inlinable
    public init(_ reason: Reason, at offset: Int) {
        self.reason = reason
        self.offset = offset
    }

    /// A field with a size or range limit.
    public enum Field: String, Hashable, Sendable {
        case version, community, requestID, errorStatus, errorIndex
        case messageID, messageMaxSize, messageFlags, securityModel, securityParameters
        case authoritativeEngineID, engineBoots, engineTime, userName
        case authenticationParameters, privacyParameters
        case contextEngineID, contextName
        case agentAddress, genericTrap, specificTrap, timeStamp
    }

    /// The reasons a decoder rejects input.
    public enum Reason: Hashable, Sendable {
        /// The input ended inside a tag or length, or before the element it announced.
        case truncated
        /// `0x80`: indefinite lengths are not allowed in SNMP (RFC 3417 §8).
        case indefiniteLength
        /// More length octets than ``SNMPWireLimits/maximumLengthOctets``.
        case tooManyLengthOctets(Int)
        /// A length that runs past the enclosing element or the datagram.
        case lengthPastEnd(length: Int, available: Int)
        /// Bytes left after the last field of a SEQUENCE or after the message.
        case trailingBytes(count: Int)
        /// The grammar wants `expected` here.
        case unexpectedTag(expected: UInt8, found: UInt8)
        /// A tag the grammar does not allow at this position (varbind values, PDUs, msgData).
        case unknownTag(UInt8)
        /// A primitive whose content length is impossible for its type (NULL with content, IpAddress not 4 octets,
        /// zero-length INTEGER).
        case invalidLength(tag: UInt8, length: Int)
        /// An integer that does not fit its type.
        case integerOverflow(tag: UInt8)
        /// An OBJECT IDENTIFIER with more arcs than ``SNMPWireLimits/maximumOIDArcs``.
        case tooManyOIDArcs
        /// A sub-identifier over 2^32-1.
        case oidArcTooLarge
        /// A sub-identifier with a leading `0x80` octet or a missing final octet.
        case malformedOID
        /// Constructed elements nested deeper than ``SNMPWireLimits/maximumNestingDepth``.
        case nestingTooDeep
        /// msgVersion other than 0 (v1), 1 (v2c) or 3.
        case unsupportedVersion(Int32)
        /// The PDU type does not exist in this SNMP version (a GetBulk in v1, a v1 Trap in v2c or v3).
        case pduNotAllowedInVersion(pduTag: UInt8, version: Int32)
        /// A field longer than its SNMP size limit.
        case fieldTooLong(Field, length: Int)
        /// A field outside its allowed range, or of the wrong size.
        case fieldOutOfRange(Field)
    }
}

// MARK: - CustomStringConvertible

extension SNMPWireError: CustomStringConvertible {
    public var description: String {
        "offset \(self.offset): \(self.reason)"
    }
}

extension SNMPWireError.Reason: CustomStringConvertible {
    public var description: String {
        switch self {
        case .truncated:
            return "input ends inside an element"
        case .indefiniteLength:
            return "indefinite length is not allowed"
        case .tooManyLengthOctets(let n):
            return "\(n) length octets (at most \(SNMPWireLimits.maximumLengthOctets))"
        case .lengthPastEnd(let length, let available):
            return "length \(length) runs past the end (\(available) bytes left)"
        case .trailingBytes(let count):
            return "\(count) trailing bytes"
        case .unexpectedTag(let expected, let found):
            return "expected tag \(hexByte(expected)), found \(hexByte(found))"
        case .unknownTag(let tag):
            return "tag \(hexByte(tag)) is not allowed here"
        case .invalidLength(let tag, let length):
            return "content length \(length) is invalid for tag \(hexByte(tag))"
        case .integerOverflow(let tag):
            return "integer with tag \(hexByte(tag)) does not fit its type"
        case .tooManyOIDArcs:
            return "object identifier has more than \(SNMPWireLimits.maximumOIDArcs) arcs"
        case .oidArcTooLarge:
            return "object identifier arc exceeds 2^32-1"
        case .malformedOID:
            return "malformed object identifier sub-identifier"
        case .nestingTooDeep:
            return "constructed elements nested deeper than \(SNMPWireLimits.maximumNestingDepth)"
        case .unsupportedVersion(let v):
            return "unsupported SNMP version \(v)"
        case .pduNotAllowedInVersion(let tag, let version):
            return "PDU \(hexByte(tag)) is not allowed in SNMP version \(version)"
        case .fieldTooLong(let field, let length):
            return "\(field.rawValue) is \(length) octets, too long"
        case .fieldOutOfRange(let field):
            return "\(field.rawValue) is out of range"
        }
    }
}

private func hexByte(_ byte: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return "0x" + String(digits[Int(byte >> 4)]) + String(digits[Int(byte & 0x0F)])
}
