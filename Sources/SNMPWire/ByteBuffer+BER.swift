//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOCore

// MARK: - Writing canonical BER

extension ByteBuffer {
    /// Writes a definite length in its minimal form (X.690 §10.1). Returns the octets written.
    @discardableResult
    mutating func writeBERLength(_ length: Int) -> Int {
        precondition(length >= 0 && length <= Int(UInt32.max), "BER length out of range: \(length)")
        switch length {
        case 0..<0x80:
            return self.writeInteger(UInt8(length))
        case 0x80...0xFF:
            return self.writeInteger(UInt16(0x8100 | length))
        case 0x100...0xFFFF:
            return self.writeInteger(UInt8(0x82)) + self.writeInteger(UInt16(length))
        case 0x1_0000...0xFF_FFFF:
            return self.writeInteger(UInt32(0x8300_0000 | length))
        default:
            return self.writeInteger(UInt8(0x84)) + self.writeInteger(UInt32(length))
        }
    }

    /// Writes tag and minimal length.
    @discardableResult
    mutating func writeBERHeader(tag: UInt8, length: Int) -> Int {
        self.writeInteger(tag) + self.writeBERLength(length)
    }

    /// Writes a signed INTEGER-family element in minimal two's complement (X.690 §8.3.2).
    @discardableResult
    mutating func writeBERInteger(_ value: Int64, tag: UInt8 = BERTag.integer) -> Int {
        // Count the octets needed: drop leading octets that are pure sign extension.
        var octets = 8
        while octets > 1 {
            let top = value >> ((octets - 1) * 8 - 1)  // the top 9 bits of the remaining octets
            if top == 0 || top == -1 { octets -= 1 } else { break }
        }
        var written = self.writeBERHeader(tag: tag, length: octets)
        var shift = (octets - 1) * 8
        while shift >= 0 {
            written += self.writeInteger(UInt8(truncatingIfNeeded: value >> shift))
            shift -= 8
        }
        return written
    }

    /// Writes an unsigned INTEGER-family element (Counter32, Gauge32, TimeTicks, Counter64): minimal,
    /// with a leading `00` when the top bit of the first octet would be set.
    @discardableResult
    mutating func writeBERUnsigned(_ value: UInt64, tag: UInt8) -> Int {
        let significantBits = 64 - value.leadingZeroBitCount
        // One sign bit is needed on top of the significant bits; at least one octet.
        let octets = max(1, (significantBits + 8) / 8)
        var written = self.writeBERHeader(tag: tag, length: octets)
        var shift = (octets - 1) * 8
        while shift >= 0 {
            written += self.writeInteger(UInt8(truncatingIfNeeded: shift >= 64 ? 0 : value >> UInt64(shift)))
            shift -= 8
        }
        return written
    }

    /// Writes an OCTET STRING-family element whose content is `bytes`' readable bytes.
    @discardableResult
    mutating func writeBEROctetString(_ bytes: ByteBuffer, tag: UInt8 = BERTag.octetString) -> Int {
        self.writeBERHeader(tag: tag, length: bytes.readableBytes) + self.writeImmutableBuffer(bytes)
    }

    /// Writes an OCTET STRING element from raw bytes.
    @discardableResult
    mutating func writeBEROctetString<Bytes: Collection<UInt8>>(bytes: Bytes, tag: UInt8 = BERTag.octetString) -> Int {
        self.writeBERHeader(tag: tag, length: bytes.count) + self.writeBytes(bytes)
    }

    /// Writes a constructed element: the tag, then the content written by `body`, prefixed by its
    /// minimal length. The length octets are reserved as `strategy` guesses and fixed up afterwards.
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
