//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOCore

/// Reads BER elements from the content of one constructed element (or a whole message).
///
/// `buffer` is a slice whose index 0 is the byte at message offset `origin`, so every error can say
/// where in the message it happened. Reading a constructed element returns a reader over its content
/// one level deeper; ``SNMPWireLimits/maximumNestingDepth`` bounds that.
struct BERReader {
    var buffer: ByteBuffer
    let origin: Int
    let depth: Int

    /// A reader over all readable bytes of `buffer`, which is the message (offset 0).
    init(message buffer: ByteBuffer) {
        self.buffer = buffer.getSlice(at: buffer.readerIndex, length: buffer.readableBytes)!
        self.origin = 0
        self.depth = 0
    }

    init(slice: ByteBuffer, origin: Int, depth: Int) {
        self.buffer = slice
        self.origin = origin
        self.depth = depth
    }

    /// The message offset of the next byte.
    var offset: Int { self.origin + self.buffer.readerIndex }

    var isAtEnd: Bool { self.buffer.readableBytes == 0 }

    /// The next tag, without consuming it.
    func peekTag() throws(SNMPWireError) -> UInt8 {
        guard let tag = self.buffer.getInteger(at: self.buffer.readerIndex, as: UInt8.self) else {
            throw SNMPWireError(.truncated, at: self.offset)
        }
        return tag
    }

    /// Reads an identifier and a definite length; the content is then the next `length` bytes.
    /// Returns the tag, the length and the message offset of the tag octet.
    mutating func readHeader() throws(SNMPWireError) -> (tag: UInt8, length: Int, start: Int) {
        let start = self.offset
        guard let tag = self.buffer.readInteger(as: UInt8.self),
            let first = self.buffer.readInteger(as: UInt8.self)
        else {
            throw SNMPWireError(.truncated, at: start)
        }
        if tag & 0x1F == 0x1F {
            // High-tag-number form: SNMP never uses it.
            throw SNMPWireError(.unknownTag(tag), at: start)
        }
        var length: Int
        if first < 0x80 {
            length = Int(first)
        } else if first == 0x80 {
            throw SNMPWireError(.indefiniteLength, at: start)
        } else {
            let count = Int(first & 0x7F)
            guard count <= SNMPWireLimits.maximumLengthOctets else {
                throw SNMPWireError(.tooManyLengthOctets(count), at: start)
            }
            length = 0
            for _ in 0..<count {
                guard let byte = self.buffer.readInteger(as: UInt8.self) else {
                    throw SNMPWireError(.truncated, at: start)
                }
                length = length << 8 | Int(byte)
            }
        }
        guard length <= self.buffer.readableBytes else {
            throw SNMPWireError(.lengthPastEnd(length: length, available: self.buffer.readableBytes), at: start)
        }
        return (tag, length, start)
    }

    /// Reads an element whose tag must be `tag` and returns its content and the offset of its tag.
    mutating func readElement(tag: UInt8) throws(SNMPWireError) -> (content: ByteBuffer, start: Int) {
        let header = try self.readHeader()
        guard header.tag == tag else {
            throw SNMPWireError(.unexpectedTag(expected: tag, found: header.tag), at: header.start)
        }
        return (self.buffer.readSlice(length: header.length)!, header.start)
    }

    /// Reads a constructed element with tag `tag` and returns a reader over its content.
    mutating func readConstructed(tag: UInt8) throws(SNMPWireError) -> BERReader {
        let header = try self.readHeader()
        guard header.tag == tag else {
            throw SNMPWireError(.unexpectedTag(expected: tag, found: header.tag), at: header.start)
        }
        return try self.enter(length: header.length, start: header.start)
    }

    /// Returns a reader over the next `length` bytes (the content of an element whose header was just read).
    mutating func enter(length: Int, start: Int) throws(SNMPWireError) -> BERReader {
        guard self.depth < SNMPWireLimits.maximumNestingDepth else {
            throw SNMPWireError(.nestingTooDeep, at: start)
        }
        let contentOrigin = self.offset
        return BERReader(slice: self.buffer.readSlice(length: length)!, origin: contentOrigin, depth: self.depth + 1)
    }

    /// Skips one whole element.
    mutating func skipElement() throws(SNMPWireError) {
        let header = try self.readHeader()
        self.buffer.moveReaderIndex(forwardBy: header.length)
    }

    /// Throws unless every byte has been read (X.690 gives no meaning to bytes after the last field).
    func expectEnd() throws(SNMPWireError) {
        guard self.buffer.readableBytes == 0 else {
            throw SNMPWireError(.trailingBytes(count: self.buffer.readableBytes), at: self.offset)
        }
    }

    // MARK: - Primitives

    /// An INTEGER-family element that must fit `Int32` (1 to 4 content octets after redundant padding).
    mutating func readInt32(tag: UInt8 = BERTag.integer) throws(SNMPWireError) -> Int32 {
        let (content, start) = try self.readElement(tag: tag)
        return try Self.decodeInt32(content, tag: tag, start: start)
    }

    static func decodeInt32(_ content: ByteBuffer, tag: UInt8, start: Int) throws(SNMPWireError) -> Int32 {
        let count = content.readableBytes
        guard count > 0 else { throw SNMPWireError(.invalidLength(tag: tag, length: 0), at: start) }
        guard count <= 4 else { throw SNMPWireError(.integerOverflow(tag: tag), at: start) }
        var index = content.readerIndex
        // Sign-extend from the first octet.
        var value = Int32(Int8(bitPattern: content.getInteger(at: index, as: UInt8.self)!))
        index += 1
        for _ in 1..<count {
            value = value << 8 | Int32(content.getInteger(at: index, as: UInt8.self)!)
            index += 1
        }
        return value
    }

    /// An unsigned INTEGER-family element (Counter32, Gauge32, TimeTicks): 1 to 5 octets, never negative,
    /// except that exactly 4 octets with the top bit set are read as unsigned (agents that skip the `00`).
    mutating func readUInt32(tag: UInt8) throws(SNMPWireError) -> UInt32 {
        let (content, start) = try self.readElement(tag: tag)
        let value = try Self.decodeUnsigned(content, tag: tag, start: start, width: 4)
        return UInt32(truncatingIfNeeded: value)
    }

    /// Counter64: 1 to 9 octets, never negative; 8 octets with the top bit set are read as unsigned.
    mutating func readUInt64(tag: UInt8) throws(SNMPWireError) -> UInt64 {
        let (content, start) = try self.readElement(tag: tag)
        return try Self.decodeUnsigned(content, tag: tag, start: start, width: 8)
    }

    static func decodeUnsigned(
        _ content: ByteBuffer,
        tag: UInt8,
        start: Int,
        width: Int
    ) throws(SNMPWireError) -> UInt64 {
        var count = content.readableBytes
        guard count > 0 else { throw SNMPWireError(.invalidLength(tag: tag, length: 0), at: start) }
        var index = content.readerIndex
        let first = content.getInteger(at: index, as: UInt8.self)!
        if first & 0x80 != 0 && count != width {
            // A negative number (the sloppy-agent exception is exactly `width` octets).
            throw SNMPWireError(.integerOverflow(tag: tag), at: start)
        }
        // Skip redundant leading zero octets, then at most `width` octets may remain.
        while count > 1, content.getInteger(at: index, as: UInt8.self)! == 0 {
            index += 1
            count -= 1
        }
        guard count <= width else { throw SNMPWireError(.integerOverflow(tag: tag), at: start) }
        var value: UInt64 = 0
        for _ in 0..<count {
            value = value << 8 | UInt64(content.getInteger(at: index, as: UInt8.self)!)
            index += 1
        }
        return value
    }

    /// An OCTET STRING-family element of at most `maximumLength` octets, as a slice of the message.
    mutating func readOctetString(
        tag: UInt8 = BERTag.octetString,
        maximumLength: Int,
        field: SNMPWireError.Field
    ) throws(SNMPWireError) -> ByteBuffer {
        let (content, start) = try self.readElement(tag: tag)
        guard content.readableBytes <= maximumLength else {
            throw SNMPWireError(.fieldTooLong(field, length: content.readableBytes), at: start)
        }
        return content
    }

    /// A NULL-family element (NULL or a varbind exception): zero content octets.
    mutating func readNull(tag: UInt8 = BERTag.null) throws(SNMPWireError) {
        let (content, start) = try self.readElement(tag: tag)
        guard content.readableBytes == 0 else {
            throw SNMPWireError(.invalidLength(tag: tag, length: content.readableBytes), at: start)
        }
    }

    /// An OBJECT IDENTIFIER, validated (arc count, arc size, minimal sub-identifiers).
    mutating func readOID() throws(SNMPWireError) -> OID {
        let (content, start) = try self.readElement(tag: BERTag.objectIdentifier)
        try OID.validate(encoded: content, start: start)
        return OID(validatedEncoding: content)
    }
}
