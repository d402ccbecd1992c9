//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOCore

// MARK: - Sizes

/// Encoded sizes, so that small elements can be written with exact lengths in one raw write.
enum BERSize {
    /// Octets of a definite length in minimal form (X.690 §10.1).
    static func ofLength(_ length: Int) -> Int {
        switch length {
        case 0..<0x80: return 1
        case 0x80...0xFF: return 2
        case 0x100...0xFFFF: return 3
        case 0x1_0000...0xFF_FFFF: return 4
        default: return 5
        }
    }

    /// Tag, length and content.
    static func ofElement(content: Int) -> Int {
        1 + Self.ofLength(content) + content
    }

    /// Content octets of a signed INTEGER in minimal two's complement (X.690 §8.3.2).
    static func ofSigned(_ value: Int64) -> Int {
        // Drop leading octets that are pure sign extension.
        var octets = 8
        while octets > 1 {
            let top = value >> ((octets - 1) * 8 - 1)  // the bits of the top octet plus the next sign bit
            if top == 0 || top == -1 { octets -= 1 } else { break }
        }
        return octets
    }

    /// Content octets of an unsigned value as a non-negative INTEGER (a leading `00` when the top bit is set).
    static func ofUnsigned(_ value: UInt64) -> Int {
        max(1, (64 - value.leadingZeroBitCount + 8) / 8)
    }
}

// MARK: - Raw writing

/// Writes BER into memory that `ByteBuffer.writeWithUnsafeMutableBytes` reserved.
///
/// Writing an element octet by octet through `ByteBuffer` costs a capacity check, a uniqueness check
/// and a dynamic exclusivity check per call; profiled, that was most of the encoding time. Callers
/// reserve the exact (or maximum) size first, so these writes need no checks of their own.
struct RawBERWriter {
    let base: UnsafeMutableRawPointer
    var count: Int = 0

    init(_ buffer: UnsafeMutableRawBufferPointer) {
        self.base = buffer.baseAddress!
    }

    mutating func byte(_ value: UInt8) {
        self.base.storeBytes(of: value, toByteOffset: self.count, as: UInt8.self)
        self.count += 1
    }

    mutating func length(_ length: Int) {
        let octets = BERSize.ofLength(length)
        if octets == 1 {
            self.byte(UInt8(length))
            return
        }
        self.byte(0x80 | UInt8(octets - 1))
        var shift = (octets - 2) * 8
        while shift >= 0 {
            self.byte(UInt8(truncatingIfNeeded: length >> shift))
            shift -= 8
        }
    }

    mutating func header(tag: UInt8, length: Int) {
        self.byte(tag)
        self.length(length)
    }

    mutating func signed(_ value: Int64, tag: UInt8) {
        let octets = BERSize.ofSigned(value)
        self.header(tag: tag, length: octets)
        var shift = (octets - 1) * 8
        while shift >= 0 {
            self.byte(UInt8(truncatingIfNeeded: value >> shift))
            shift -= 8
        }
    }

    mutating func unsigned(_ value: UInt64, tag: UInt8) {
        let octets = BERSize.ofUnsigned(value)
        self.header(tag: tag, length: octets)
        var shift = (octets - 1) * 8
        while shift >= 0 {
            self.byte(shift >= 64 ? 0 : UInt8(truncatingIfNeeded: value >> UInt64(shift)))
            shift -= 8
        }
    }

    mutating func content(_ bytes: ByteBuffer) {
        bytes.withUnsafeReadableBytes { source in
            if source.count > 0 {
                (self.base + self.count).copyMemory(from: source.baseAddress!, byteCount: source.count)
            }
        }
        self.count += bytes.readableBytes
    }

    mutating func octetString(_ bytes: ByteBuffer, tag: UInt8) {
        self.header(tag: tag, length: bytes.readableBytes)
        self.content(bytes)
    }
}

// MARK: - Writing canonical BER

extension ByteBuffer {
    /// Writes a definite length in its minimal form (X.690 §10.1). Returns the octets written.
    @discardableResult
    mutating func writeBERLength(_ length: Int) -> Int {
        precondition(length >= 0 && length <= Int(UInt32.max), "BER length out of range: \(length)")
        return self.writeWithUnsafeMutableBytes(minimumWritableBytes: 5) { raw in
            var writer = RawBERWriter(raw)
            writer.length(length)
            return writer.count
        }
    }

    /// Writes tag and minimal length.
    @discardableResult
    mutating func writeBERHeader(tag: UInt8, length: Int) -> Int {
        self.writeWithUnsafeMutableBytes(minimumWritableBytes: 6) { raw in
            var writer = RawBERWriter(raw)
            writer.header(tag: tag, length: length)
            return writer.count
        }
    }

    /// Writes a signed INTEGER-family element in minimal two's complement (X.690 §8.3.2).
    @discardableResult
    mutating func writeBERInteger(_ value: Int64, tag: UInt8 = BERTag.integer) -> Int {
        self.writeWithUnsafeMutableBytes(minimumWritableBytes: 10) { raw in
            var writer = RawBERWriter(raw)
            writer.signed(value, tag: tag)
            return writer.count
        }
    }

    /// Writes an unsigned INTEGER-family element (Counter32, Gauge32, TimeTicks, Counter64): minimal,
    /// with a leading `00` when the top bit of the first octet would be set.
    @discardableResult
    mutating func writeBERUnsigned(_ value: UInt64, tag: UInt8) -> Int {
        self.writeWithUnsafeMutableBytes(minimumWritableBytes: 11) { raw in
            var writer = RawBERWriter(raw)
            writer.unsigned(value, tag: tag)
            return writer.count
        }
    }

    /// Writes an OCTET STRING-family element whose content is `bytes`' readable bytes.
    @discardableResult
    mutating func writeBEROctetString(_ bytes: ByteBuffer, tag: UInt8 = BERTag.octetString) -> Int {
        self.writeWithUnsafeMutableBytes(minimumWritableBytes: 6 + bytes.readableBytes) { raw in
            var writer = RawBERWriter(raw)
            writer.octetString(bytes, tag: tag)
            return writer.count
        }
    }

    /// Writes an OCTET STRING element from raw bytes.
    @discardableResult
    mutating func writeBEROctetString<Bytes: Collection<UInt8>>(bytes: Bytes, tag: UInt8 = BERTag.octetString) -> Int {
        self.writeBERHeader(tag: tag, length: bytes.count) + self.writeBytes(bytes)
    }

    /// Writes a constructed element: the tag, then the content written by `body`, prefixed by its
    /// minimal length. The length octets are reserved as `strategy` guesses and fixed up afterwards
    /// (`writeLengthPrefixed`), so content is written once and moved only when the guess was wrong.
    @discardableResult
    mutating func writeBERConstructed(
        tag: UInt8,
        strategy: BERLengthStrategy,
        _ body: (inout ByteBuffer) -> Void
    ) -> Int {
        self.writeInteger(tag)
            + self.writeLengthPrefixed(strategy: strategy) { buffer in
                let start = buffer.writerIndex
                body(&buffer)
                return buffer.writerIndex - start
            }
    }
}
