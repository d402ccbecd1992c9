//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOCore

/// An OBJECT IDENTIFIER, stored as its canonical BER content octets (X.690 §8.19).
///
/// Keeping the wire form makes decoding free (the OID is a slice of the datagram), encoding a copy,
/// equality and hashing a byte comparison, and ``hasPrefix(_:)`` a byte-prefix test: sub-identifiers
/// are a prefix code, so a byte prefix that ends on a sub-identifier boundary is an arc prefix.
/// Ordering (``<``) is the lexicographic order of the arcs that walks depend on; it compares bytes
/// up to the first difference and then decodes only the two sub-identifiers that differ.
///
/// Every `OID` value is canonical: sub-identifiers are minimal, each at most 2^32-1, at most
/// ``SNMPWireLimits/maximumOIDArcs`` arcs. The first two arcs share one sub-identifier (`40·X + Y`),
/// so an OID has either no arcs or at least two, the first is 0, 1 or 2, and under 0 or 1 the second
/// is below 40.
public struct OID: Sendable {
    /// The BER content octets.
    public private(set) var encoded: ByteBuffer

    /// Wraps content octets that ``validate(_:)`` accepted.
    init(validatedEncoding: ByteBuffer) {
        self.encoded = validatedEncoding
    }

    /// The OID with no arcs (it encodes as `06 00`).
    public init() {
        self.encoded = ByteBuffer()
    }

    /// Creates an OID from arcs, or nil if they cannot form an OID (see the type's documentation).
    public init?<Arcs: Sequence<UInt32>>(arcs: Arcs) {
        var buffer = ByteBuffer()
        var iterator = arcs.makeIterator()
        guard let first = iterator.next() else {
            self.encoded = buffer
            return
        }
        guard let second = iterator.next(), first <= 2, first == 2 || second < 40 else { return nil }
        let (combined, overflow) = (40 * first).addingReportingOverflow(second)
        guard !overflow else { return nil }
        buffer.reserveCapacity(16)
        buffer.writeSubidentifier(combined)
        var count = 2
        while let arc = iterator.next() {
            count += 1
            guard count <= SNMPWireLimits.maximumOIDArcs else { return nil }
            buffer.writeSubidentifier(arc)
        }
        self.encoded = buffer
    }

    /// Parses dotted text (`1.3.6.1.2.1.1.1.0`, with or without a leading dot); nil if it is not an OID.
    public init?(dotted: some StringProtocol) {
        var arcs: [UInt32] = []
        arcs.reserveCapacity(16)
        var utf8 = Substring(dotted).utf8[...]
        if utf8.first == UInt8(ascii: ".") { utf8 = utf8.dropFirst() }
        if utf8.isEmpty { return nil }
        var current: UInt64 = 0
        var digits = 0
        for byte in utf8 {
            if byte == UInt8(ascii: ".") {
                guard digits > 0 else { return nil }
                arcs.append(UInt32(current))
                current = 0
                digits = 0
            } else if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
                current = current * 10 + UInt64(byte - UInt8(ascii: "0"))
                digits += 1
                guard current <= UInt64(UInt32.max) else { return nil }
            } else {
                return nil
            }
        }
        guard digits > 0 else { return nil }
        arcs.append(UInt32(current))
        self.init(arcs: arcs)
    }

    /// The arcs, decoded lazily.
    public var arcs: ArcSequence { ArcSequence(encoded: self.encoded) }

    /// The number of arcs.
    public var count: Int {
        if self.encoded.readableBytes == 0 { return 0 }
        var terminators = 0
        self.encoded.withUnsafeReadableBytes { bytes in
            for byte in bytes where byte & 0x80 == 0 { terminators += 1 }
        }
        return terminators + 1  // the first sub-identifier holds two arcs
    }

    /// True when this OID has no arcs.
    public var isEmpty: Bool { self.encoded.readableBytes == 0 }

    /// True when `prefix`'s arcs are the first arcs of this OID (an OID is a prefix of itself).
    ///
    /// A two-arc prefix such as `1.3` works on the shared first sub-identifier; asking whether `1` is a
    /// prefix is not possible with this type (an OID has no single-arc form).
    public func hasPrefix(_ prefix: OID) -> Bool {
        let n = prefix.encoded.readableBytes
        guard n <= self.encoded.readableBytes else { return false }
        return self.encoded.withUnsafeReadableBytes { mine in
            prefix.encoded.withUnsafeReadableBytes { theirs in
                n == 0 || memcmpEqual(mine.baseAddress!, theirs.baseAddress!, n)
            }
        }
    }

    /// This OID with `arcs` appended; nil past ``SNMPWireLimits/maximumOIDArcs`` or onto an empty OID
    /// with a single arc.
    public func appending(_ arcs: some Sequence<UInt32>) -> OID? {
        if self.isEmpty { return OID(arcs: arcs) }
        var buffer = self.encoded
        var count = self.count
        for arc in arcs {
            count += 1
            guard count <= SNMPWireLimits.maximumOIDArcs else { return nil }
            buffer.writeSubidentifier(arc)
        }
        return OID(validatedEncoding: buffer)
    }

    /// This OID with one more arc; nil past ``SNMPWireLimits/maximumOIDArcs``.
    public func appending(_ arc: UInt32) -> OID? {
        self.appending(CollectionOfOne(arc))
    }

    /// A copy whose storage holds only this OID, releasing the datagram it was decoded from.
    public func compacted() -> OID {
        var copy = ByteBuffer()
        copy.writeImmutableBuffer(self.encoded)
        return OID(validatedEncoding: copy)
    }

    /// Checks content octets: minimal sub-identifiers, each ≤ 2^32-1, complete, at most 128 arcs.
    /// Returns why they are not an OID, or nil.
    static func validate(_ bytes: UnsafeRawBufferPointer) -> SNMPWireError.Reason? {
        var arcs = 0
        var index = 0
        let count = bytes.count
        while index < count {
            // One sub-identifier: no leading 0x80, at most 5 octets, value ≤ 2^32-1.
            if bytes[index] == 0x80 { return .malformedOID }
            var value: UInt64 = 0
            var length = 0
            while true {
                guard index < count else { return .malformedOID }
                let byte = bytes[index]
                index += 1
                length += 1
                value = value << 7 | UInt64(byte & 0x7F)
                if byte & 0x80 == 0 { break }
                if length == 5 { return .oidArcTooLarge }
            }
            if value > UInt64(UInt32.max) { return .oidArcTooLarge }
            arcs += arcs == 0 ? 2 : 1
            if arcs > SNMPWireLimits.maximumOIDArcs { return .tooManyOIDArcs }
        }
        return nil
    }
}

/// `memcmp(a, b, n) == 0` without importing Glibc into a pure module.
@inline(__always)
private func memcmpEqual(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ n: Int) -> Bool {
    UnsafeRawBufferPointer(start: a, count: n).elementsEqual(UnsafeRawBufferPointer(start: b, count: n))
}

extension ByteBuffer {
    /// Writes one sub-identifier in base 128, minimal (X.690 §8.19.2).
    mutating func writeSubidentifier(_ value: UInt32) {
        if value < 0x80 {
            self.writeInteger(UInt8(value))
            return
        }
        var shift = (32 - value.leadingZeroBitCount + 6) / 7 * 7 - 7
        while shift > 0 {
            self.writeInteger(UInt8(truncatingIfNeeded: value >> UInt32(shift)) | 0x80)
            shift -= 7
        }
        self.writeInteger(UInt8(value & 0x7F))
    }
}

// MARK: - Arcs

extension OID {
    /// The arcs of an OID, decoded from its BER content as they are iterated.
    public struct ArcSequence: Sequence, Sendable {
        let encoded: ByteBuffer

        public func makeIterator() -> Iterator {
            Iterator(encoded: self.encoded, index: self.encoded.readerIndex, pendingSecond: nil)
        }

        /// Iterates the arcs.
        public struct Iterator: IteratorProtocol, Sendable {
            let encoded: ByteBuffer
            var index: Int
            var pendingSecond: UInt32?

            public mutating func next() -> UInt32? {
                if let second = self.pendingSecond {
                    self.pendingSecond = nil
                    return second
                }
                guard self.index < self.encoded.writerIndex else { return nil }
                let isFirst = self.index == self.encoded.readerIndex
                var value: UInt64 = 0
                while let byte = self.encoded.getInteger(at: self.index, as: UInt8.self) {
                    self.index += 1
                    value = value << 7 | UInt64(byte & 0x7F)
                    if byte & 0x80 == 0 { break }
                }
                if isFirst {
                    let first: UInt64 = value < 40 ? 0 : (value < 80 ? 1 : 2)
                    self.pendingSecond = UInt32(value - 40 * first)
                    return UInt32(first)
                }
                return UInt32(value)
            }
        }
    }
}

// MARK: - Equatable, Hashable, Comparable

extension OID: Hashable {
    public static func == (lhs: OID, rhs: OID) -> Bool {
        lhs.encoded == rhs.encoded
    }

    public func hash(into hasher: inout Hasher) {
        self.encoded.withUnsafeReadableBytes { hasher.combine(bytes: $0) }
    }
}

extension OID: Comparable {
    /// Lexicographic order of the arcs (RFC 3416 §4.2.2's "lexicographic successor").
    public static func < (lhs: OID, rhs: OID) -> Bool {
        lhs.compare(rhs) < 0
    }

    /// -1, 0 or 1 as `self` sorts before, equal to or after `other`.
    public func compare(_ other: OID) -> Int {
        self.encoded.withUnsafeReadableBytes { a in
            other.encoded.withUnsafeReadableBytes { b in
                compareEncodedOIDs(a, b)
            }
        }
    }
}

/// Compares two canonical OID encodings in arc order.
///
/// Bytes are equal up to index `i`. If one encoding ends there, it is an arc prefix of the other and
/// sorts first. Otherwise both have a sub-identifier starting at the last boundary before `i`; with
/// minimal encodings they differ, and their numeric order is the arc order (the shared first
/// sub-identifier `40·X + Y` is monotonic in `(X, Y)`).
private func compareEncodedOIDs(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
    let common = min(a.count, b.count)
    var i = 0
    while i < common && a[i] == b[i] { i += 1 }
    if i == common {
        return a.count == b.count ? 0 : (a.count < b.count ? -1 : 1)
    }
    var start = i
    while start > 0 && a[start - 1] & 0x80 != 0 { start -= 1 }
    let x = subidentifier(a, from: start)
    let y = subidentifier(b, from: start)
    return x < y ? -1 : (x > y ? 1 : 0)
}

private func subidentifier(_ bytes: UnsafeRawBufferPointer, from start: Int) -> UInt64 {
    var value: UInt64 = 0
    var index = start
    while index < bytes.count {
        let byte = bytes[index]
        value = value << 7 | UInt64(byte & 0x7F)
        index += 1
        if byte & 0x80 == 0 { break }
    }
    return value
}

// MARK: - Text

extension OID: CustomStringConvertible, CustomDebugStringConvertible {
    /// Dotted decimal, without a leading dot: `1.3.6.1.2.1.1.1.0`.
    public var description: String {
        var text = ""
        text.reserveCapacity(self.encoded.readableBytes * 3)
        var first = true
        for arc in self.arcs {
            if !first { text.append(".") }
            first = false
            text.append(String(arc))
        }
        return text
    }

    public var debugDescription: String { "OID(\(self.description))" }
}

extension OID: ExpressibleByArrayLiteral {
    /// `[1, 3, 6, 1]`. A literal that is not an OID is a programmer error.
    public init(arrayLiteral arcs: UInt32...) {
        guard let oid = OID(arcs: arcs) else { preconditionFailure("not a valid OID: \(arcs)") }
        self = oid
    }
}

extension OID: ExpressibleByStringLiteral {
    /// `"1.3.6.1.2.1"`. A literal that is not an OID is a programmer error.
    public init(stringLiteral text: String) {
        guard let oid = OID(dotted: text) else { preconditionFailure("not a valid OID: \(text)") }
        self = oid
    }
}
