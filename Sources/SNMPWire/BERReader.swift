//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOCore

/// Reads BER from one message through a raw pointer.
///
/// The whole decode runs inside one `withUnsafeReadableBytes` (see ``decode(_:_:)``): going
/// through `ByteBuffer` for every octet costs a dynamic exclusivity check and a bounds check per
/// call, which profiled at over a third of decoding time. Values that outlive the decode (OIDs,
/// strings) are taken as slices of ``message``, so they share its storage.
///
/// Positions are offsets from the message's first byte; every error reports one. ``end`` is the end
/// of the element being read: ``enter(tag:)`` narrows it to a constructed element's content and
/// ``leave(_:)`` checks that the content was used up and widens it again. Every read is checked
/// against ``end``, which never exceeds the input, so nothing reads out of bounds.
struct BERReader {
    /// The datagram; decoded values are slices of it.
    let message: ByteBuffer
    /// The datagram's readable bytes, valid for the duration of ``decode(_:_:)``.
    let bytes: UnsafeRawBufferPointer
    /// The next byte to read.
    var position: Int
    /// One past the last byte of the element being read.
    var end: Int
    /// How many constructed elements enclose the position.
    var depth: Int
    /// Storage for the next varbind list (a caller's ``SNMPDecodingScratch``), reused when nothing
    /// else holds it.
    var varbindStorage: [VarBind] = []
    /// The content of the last varbind list read (message offsets).
    var varbindListContent: Range<Int>? = nil
    /// False once an element was read that is not in the canonical form our encoder writes: a
    /// length in more octets than needed, an INTEGER with redundant leading octets, an unsigned
    /// value without its leading `00`.
    var isCanonical = true

    /// Runs `body` with a reader over all readable bytes of `message`.
    static func decode<Result>(
        _ message: ByteBuffer,
        _ body: (inout BERReader) throws(SNMPWireError) -> Result
    ) throws(SNMPWireError) -> Result {
        let result: Swift.Result<Result, SNMPWireError> = message.withUnsafeReadableBytes { bytes in
            var reader = BERReader(message: message, bytes: bytes, position: 0, end: bytes.count, depth: 0)
            do throws(SNMPWireError) {
                return .success(try body(&reader))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// The same, with the varbind list in `scratch`'s storage; `scratch` then tells where the list
    /// was and whether the message was canonical.
    static func decode<Result>(
        _ message: ByteBuffer,
        scratch: inout SNMPDecodingScratch,
        _ body: (inout BERReader) throws(SNMPWireError) -> Result
    ) throws(SNMPWireError) -> Result {
        var storage: [VarBind] = []
        swap(&storage, &scratch.varbinds)
        // Drop the previous datagram's varbinds first, in place when nothing else holds them.
        storage.removeAll(keepingCapacity: true)
        scratch.varbindListContent = nil
        scratch.isCanonical = false
        let result: Swift.Result<Result, SNMPWireError> = message.withUnsafeReadableBytes { bytes in
            var reader = BERReader(message: message, bytes: bytes, position: 0, end: bytes.count, depth: 0)
            swap(&reader.varbindStorage, &storage)
            defer { swap(&reader.varbindStorage, &storage) }
            do throws(SNMPWireError) {
                let decoded = try body(&reader)
                scratch.varbindListContent = reader.varbindListContent
                scratch.isCanonical = reader.isCanonical
                return .success(decoded)
            } catch {
                return .failure(error)
            }
        }
        swap(&storage, &scratch.varbinds)
        return try result.get()
    }

    /// The message offset of the next byte.
    var offset: Int { self.position }

    var isAtEnd: Bool { self.position >= self.end }

    /// The next tag, without consuming it.
    func peekTag() throws(SNMPWireError) -> UInt8 {
        guard self.position < self.end else { throw SNMPWireError(.truncated, at: self.position) }
        return self.bytes[self.position]
    }

    /// Reads an identifier and a definite length (X.690 §8.1.2–8.1.3); the content is the next `length` bytes.
    mutating func readHeader() throws(SNMPWireError) -> (tag: UInt8, length: Int, start: Int) {
        let start = self.position
        guard self.end - start >= 2 else { throw SNMPWireError(.truncated, at: start) }
        let tag = self.bytes[start]
        let first = self.bytes[start + 1]
        self.position = start + 2
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
            guard self.end - self.position >= count else { throw SNMPWireError(.truncated, at: start) }
            length = 0
            for _ in 0..<count {
                length = length << 8 | Int(self.bytes[self.position])
                self.position += 1
            }
            // X.690 §10.1: the long form only from 128 on, in as few octets as the value needs.
            if length < 0x80 || self.bytes[start + 2] == 0 { self.isCanonical = false }
        }
        let available = self.end - self.position
        guard length <= available else {
            throw SNMPWireError(.lengthPastEnd(length: length, available: available), at: start)
        }
        return (tag, length, start)
    }

    /// Reads an element whose tag must be `tag`; returns where its content starts, its length, and its tag's offset.
    mutating func readElement(tag: UInt8) throws(SNMPWireError) -> (content: Int, length: Int, start: Int) {
        let header = try self.readHeader()
        guard header.tag == tag else {
            throw SNMPWireError(.unexpectedTag(expected: tag, found: header.tag), at: header.start)
        }
        let content = self.position
        self.position += header.length
        return (content, header.length, header.start)
    }

    /// Enters a constructed element with tag `tag`: reading continues in its content. Returns the
    /// outer end, to hand to ``leave(_:)``.
    mutating func enter(tag: UInt8) throws(SNMPWireError) -> Int {
        let header = try self.readHeader()
        guard header.tag == tag else {
            throw SNMPWireError(.unexpectedTag(expected: tag, found: header.tag), at: header.start)
        }
        return try self.enterContent(length: header.length, start: header.start)
    }

    /// Enters the content of the element whose header was just read.
    mutating func enterContent(length: Int, start: Int) throws(SNMPWireError) -> Int {
        guard self.depth < SNMPWireLimits.maximumNestingDepth else {
            throw SNMPWireError(.nestingTooDeep, at: start)
        }
        self.depth += 1
        let outer = self.end
        self.end = self.position + length
        return outer
    }

    /// Leaves the element entered last: its content must be used up (X.690 gives bytes after the last
    /// field no meaning).
    mutating func leave(_ outerEnd: Int) throws(SNMPWireError) {
        try self.expectEnd()
        self.depth -= 1
        self.end = outerEnd
    }

    /// Skips one whole element.
    mutating func skipElement() throws(SNMPWireError) {
        let header = try self.readHeader()
        self.position += header.length
    }

    /// Throws unless the current element is used up.
    func expectEnd() throws(SNMPWireError) {
        guard self.position == self.end else {
            throw SNMPWireError(.trailingBytes(count: self.end - self.position), at: self.position)
        }
    }

    /// A slice of the message: `length` bytes from message offset `start`.
    func slice(_ start: Int, _ length: Int) -> ByteBuffer {
        self.message.getSlice(at: self.message.readerIndex + start, length: length)!
    }

    // MARK: - Primitives

    /// An INTEGER-family element that must fit `Int32` (1 to 4 content octets).
    mutating func readInt32(tag: UInt8 = BERTag.integer) throws(SNMPWireError) -> Int32 {
        let (content, count, start) = try self.readElement(tag: tag)
        guard count > 0 else { throw SNMPWireError(.invalidLength(tag: tag, length: 0), at: start) }
        guard count <= 4 else { throw SNMPWireError(.integerOverflow(tag: tag), at: start) }
        // X.690 §8.3.2: the first nine bits are never all zeros or all ones.
        if count > 1 {
            let top = Int16(Int8(bitPattern: self.bytes[content])) << 1 | Int16(self.bytes[content + 1] >> 7)
            if top == 0 || top == -1 { self.isCanonical = false }
        }
        // Sign-extend from the first octet.
        var value = Int32(Int8(bitPattern: self.bytes[content]))
        for index in (content + 1)..<(content + count) {
            value = value << 8 | Int32(self.bytes[index])
        }
        return value
    }

    /// An unsigned INTEGER-family element (Counter32, Gauge32, TimeTicks): never negative, except that
    /// exactly 4 octets with the top bit set are read as unsigned (agents that skip the `00`).
    mutating func readUInt32(tag: UInt8) throws(SNMPWireError) -> UInt32 {
        UInt32(truncatingIfNeeded: try self.readUnsigned(tag: tag, width: 4))
    }

    /// Counter64: never negative; 8 octets with the top bit set are read as unsigned.
    mutating func readUInt64(tag: UInt8) throws(SNMPWireError) -> UInt64 {
        try self.readUnsigned(tag: tag, width: 8)
    }

    private mutating func readUnsigned(tag: UInt8, width: Int) throws(SNMPWireError) -> UInt64 {
        let (content, length, start) = try self.readElement(tag: tag)
        guard length > 0 else { throw SNMPWireError(.invalidLength(tag: tag, length: 0), at: start) }
        var index = content
        var count = length
        // Canonical: no redundant leading `00`, and a leading `00` when the top bit is set.
        if self.bytes[index] & 0x80 != 0 || (count > 1 && self.bytes[index] == 0 && self.bytes[index + 1] & 0x80 == 0) {
            self.isCanonical = false
        }
        if self.bytes[index] & 0x80 != 0 && count != width {
            // A negative number (the sloppy-agent exception is exactly `width` octets).
            throw SNMPWireError(.integerOverflow(tag: tag), at: start)
        }
        // Skip redundant leading zero octets; then at most `width` octets may remain.
        while count > 1 && self.bytes[index] == 0 {
            index += 1
            count -= 1
        }
        guard count <= width else { throw SNMPWireError(.integerOverflow(tag: tag), at: start) }
        var value: UInt64 = 0
        for i in index..<(index + count) {
            value = value << 8 | UInt64(self.bytes[i])
        }
        return value
    }

    /// An OCTET STRING-family element of at most `maximumLength` octets, as a slice of the message.
    mutating func readOctetString(
        tag: UInt8 = BERTag.octetString,
        maximumLength: Int,
        field: SNMPWireError.Field
    ) throws(SNMPWireError) -> ByteBuffer {
        let (content, length, start) = try self.readElement(tag: tag)
        guard length <= maximumLength else {
            throw SNMPWireError(.fieldTooLong(field, length: length), at: start)
        }
        return self.slice(content, length)
    }

    /// An OCTET STRING-family element of any length (varbind values).
    mutating func readOctetString(tag: UInt8) throws(SNMPWireError) -> ByteBuffer {
        let (content, length, _) = try self.readElement(tag: tag)
        return self.slice(content, length)
    }

    /// A NULL-family element (NULL or a varbind exception): zero content octets.
    mutating func readNull(tag: UInt8 = BERTag.null) throws(SNMPWireError) {
        let (_, length, start) = try self.readElement(tag: tag)
        guard length == 0 else {
            throw SNMPWireError(.invalidLength(tag: tag, length: length), at: start)
        }
    }

    /// An OBJECT IDENTIFIER, validated (arc count, arc size, minimal sub-identifiers).
    mutating func readOID() throws(SNMPWireError) -> OID {
        let (content, length, start) = try self.readElement(tag: BERTag.objectIdentifier)
        if let reason = OID.validate(UnsafeRawBufferPointer(rebasing: self.bytes[content..<(content + length)])) {
            throw SNMPWireError(reason, at: start)
        }
        return OID(validatedEncoding: self.slice(content, length))
    }
}
