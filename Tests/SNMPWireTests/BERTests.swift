//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOCore
import Testing

@testable import SNMPWire

@Suite("BER primitives")
struct BERPrimitiveTests {
    static let integers: [(Int32, String)] = [
        (0, "020100"), (1, "020101"), (127, "02017f"), (128, "02020080"), (255, "020200ff"), (256, "02020100"),
        (-1, "0201ff"), (-128, "020180"), (-129, "0202ff7f"), (32767, "02027fff"), (-32768, "02028000"),
        (8_388_607, "02037fffff"), (-8_388_608, "0203800000"), (.max, "02047fffffff"), (.min, "020480000000"),
    ]

    @Test("INTEGER encodes minimally and decodes back", arguments: integers)
    func integer(value: Int32, expected: String) throws {
        var out = ByteBuffer()
        out.writeBERInteger(Int64(value))
        #expect(hex(out) == expected)
        try withReader(out) { (reader: inout BERReader) throws in
            #expect(try reader.readInt32() == value)
            #expect(reader.isAtEnd)
        }
    }

    static let unsigned: [(UInt64, UInt8, String)] = [
        (0, 0x41, "410100"), (127, 0x41, "41017f"), (128, 0x41, "41020080"), (0x7FFF_FFFF, 0x42, "42047fffffff"),
        (0x8000_0000, 0x43, "43050080000000"), (0xFFFF_FFFF, 0x41, "410500ffffffff"),
        (0xFFFF_FFFF_FFFF_FFFF, 0x46, "460900ffffffffffffffff"), (0x1_0000_0000, 0x46, "46050100000000"),
    ]

    @Test("unsigned types encode with a leading zero when needed", arguments: unsigned)
    func unsignedValues(value: UInt64, tag: UInt8, expected: String) throws {
        var out = ByteBuffer()
        out.writeBERUnsigned(value, tag: tag)
        #expect(hex(out) == expected)
        try withReader(out) { (reader: inout BERReader) throws in
            if tag == BERTag.counter64 {
                #expect(try reader.readUInt64(tag: tag) == value)
            } else {
                #expect(try reader.readUInt32(tag: tag) == UInt32(value))
            }
        }
    }

    static let lengths: [(Int, String)] = [
        (0, "00"), (1, "01"), (127, "7f"), (128, "8180"), (255, "81ff"), (256, "820100"), (65535, "82ffff"),
        (65536, "83010000"), (16_777_216, "8401000000"),
    ]

    @Test("lengths use the fewest octets", arguments: lengths)
    func length(value: Int, expected: String) {
        var out = ByteBuffer()
        out.writeBERLength(value)
        #expect(hex(out) == expected)
        var copy = out
        #expect(BERLengthStrategy.short.readInteger(as: Int.self, from: &copy) == value)
    }

    @Test(
        "constructed elements get minimal lengths whatever the reserved hint",
        arguments: [0, 1, 127, 128, 255, 256, 70000]
    )
    func constructedLengthFixUp(contentLength: Int) {
        for strategy in [BERLengthStrategy.short, .long, BERLengthStrategy(hint: 2)] {
            var out = ByteBuffer()
            out.writeInteger(UInt8(0xEE))  // something before, to see that it is not disturbed
            out.writeBERConstructed(tag: 0x30, strategy: strategy) { buffer in
                buffer.writeRepeatingByte(0xAB, count: contentLength)
            }
            var expected = ByteBuffer(bytes: [0xEE, 0x30])
            expected.writeBERLength(contentLength)
            expected.writeRepeatingByte(0xAB, count: contentLength)
            #expect(out == expected)
        }
    }

    // MARK: - Tolerated input

    @Test(
        "non-minimal long-form lengths are accepted",
        arguments: ["04810568656c6c6f", "0482000568656c6c6f", "048400000005" + "68656c6c6f"]
    )
    func longFormLength(element: String) throws {
        let content = try withReader(buffer(hex: element)) {
            try $0.readOctetString(maximumLength: 255, field: .community)
        }
        #expect(String(buffer: content) == "hello")
    }

    @Test(
        "a 4-octet Counter32/Gauge32/TimeTicks with the top bit set is read as unsigned",
        arguments: [UInt8(0x41), 0x42, 0x43]
    )
    func sloppyUnsigned(tag: UInt8) throws {
        #expect(
            try withReader(ByteBuffer(bytes: [tag, 4, 0xFF, 0xFF, 0xFF, 0xFE])) { try $0.readUInt32(tag: tag) }
                == 0xFFFF_FFFE
        )
    }

    @Test func sloppyCounter64() throws {
        #expect(try withReader(buffer(hex: "4608ffffffffffffffff")) { try $0.readUInt64(tag: 0x46) } == .max)
    }

    @Test("redundant leading octets are tolerated when the value still fits")
    func paddedIntegers() throws {
        try withReader(buffer(hex: "020400000005" + "0204ffffff80" + "41050000000005" + "4603000001")) {
            (reader: inout BERReader) throws in
            #expect(try reader.readInt32() == 5)
            #expect(try reader.readInt32() == -128)
            #expect(try reader.readUInt32(tag: 0x41) == 5)
            #expect(try reader.readUInt64(tag: 0x46) == 1)
            #expect(reader.isAtEnd)
        }
    }

    // MARK: - Rejected input

    static let rejectedElements: [(String, String, SNMPWireError.Reason)] = [
        ("INTEGER of 5 octets", "02050000000001", .integerOverflow(tag: 0x02)),
        ("empty INTEGER", "0200", .invalidLength(tag: 0x02, length: 0)),
        ("negative Counter32", "4101ff", .integerOverflow(tag: 0x41)),
        ("3-octet Counter32 with the top bit", "4103800000", .integerOverflow(tag: 0x41)),
        ("Counter32 of 5 octets not led by 00", "41050100000000", .integerOverflow(tag: 0x41)),
        ("Counter32 of 6 octets", "4106000100000000", .integerOverflow(tag: 0x41)),
        ("negative Counter64", "460480000000", .integerOverflow(tag: 0x46)),
        ("Counter64 of 9 octets not led by 00", "4609010000000000000000", .integerOverflow(tag: 0x46)),
        ("indefinite length", "3080", .indefiniteLength),
        ("five length octets", "04850000000001", .tooManyLengthOctets(5)),
        ("length past the end", "040568656c6c", .lengthPastEnd(length: 5, available: 4)),
        ("four-octet length past the end", "0484ffffffff00", .lengthPastEnd(length: 0xFFFF_FFFF, available: 1)),
        ("truncated length", "0482", .truncated),
        ("tag alone", "04", .truncated),
    ]

    @Test("malformed primitives are refused with the reason and offset", arguments: rejectedElements)
    func rejected(label: String, element: String, reason: SNMPWireError.Reason) {
        let tag = decodeHex(element)[0]
        #expect(throws: SNMPWireError(reason, at: 0), "\(label)") {
            try withReader(buffer(hex: element)) { (reader: inout BERReader) throws in
                switch tag {
                case 0x02: _ = try reader.readInt32()
                case 0x46: _ = try reader.readUInt64(tag: tag)
                case 0x41: _ = try reader.readUInt32(tag: tag)
                default: _ = try reader.readOctetString(tag: tag, maximumLength: .max, field: .community)
                }
            }
        }
    }

    static let rejectedValues: [(String, String, SNMPWireError.Reason)] = [
        ("NULL with content", "050100", .invalidLength(tag: 0x05, length: 1)),
        ("noSuchObject with content", "800100", .invalidLength(tag: 0x80, length: 1)),
        ("endOfMibView with content", "820101", .invalidLength(tag: 0x82, length: 1)),
        ("IpAddress of 5 octets", "40057f00000100", .invalidLength(tag: 0x40, length: 5)),
        ("IpAddress of 3 octets", "40037f0000", .invalidLength(tag: 0x40, length: 3)),
        ("NsapAddress (SMIv1)", "450100", .unknownTag(0x45)),
        ("UInteger32 (obsolete)", "470100", .unknownTag(0x47)),
        ("a SEQUENCE where a value goes", "3000", .unknownTag(0x30)),
        ("BOOLEAN", "010100", .unknownTag(0x01)),
        ("high-tag-number form", "5f2101", .unknownTag(0x5f)),
        ("context tag [3]", "8300", .unknownTag(0x83)),
    ]

    @Test("only the RFC 3416 value types are accepted", arguments: rejectedValues)
    func rejectedValue(label: String, element: String, reason: SNMPWireError.Reason) {
        #expect(throws: SNMPWireError(reason, at: 0), "\(label)") {
            try withReader(buffer(hex: element)) { try $0.readValue() }
        }
    }

    @Test("every accepted value type round-trips")
    func valueRoundTrip() throws {
        let values: [SNMPValue] = [
            .integer(-5), .string("x"), .null, .objectIdentifier("1.3.6.1"), .ipAddress(IPv4Address(10, 0, 0, 1)),
            .counter32(.max), .gauge32(0), .timeTicks(12345), .opaque(buffer(hex: "9f780442f60000")),
            .counter64(.max), .noSuchObject, .noSuchInstance, .endOfMibView,
        ]
        for value in values {
            var out = ByteBuffer()
            out.writeSNMPValue(value)
            #expect(out.getInteger(at: 0, as: UInt8.self) == value.tag)
            try withReader(out) { (reader: inout BERReader) throws in
                #expect(try reader.readValue() == value)
                #expect(reader.isAtEnd)
            }
        }
        #expect(values.filter(\.isException).count == 3)
    }

    @Test("nesting is bounded by the named limit")
    func nestingLimit() throws {
        // Build SEQUENCE { SEQUENCE { … } } deeper than the limit and walk into it.
        var nested = ByteBuffer()
        for _ in 0..<(SNMPWireLimits.maximumNestingDepth + 1) {
            var outer = ByteBuffer(bytes: [0x30])
            outer.writeBERLength(nested.readableBytes)
            outer.writeImmutableBuffer(nested)
            nested = outer
        }
        var depth = 0
        let error: SNMPWireError? = {
            do {
                try withReader(nested) { (reader: inout BERReader) throws in
                    while true {
                        _ = try reader.enter(tag: 0x30)
                        depth += 1
                    }
                }
            } catch {
                return error as? SNMPWireError
            }
            return nil
        }()
        #expect(depth == SNMPWireLimits.maximumNestingDepth)
        #expect(error?.reason == .nestingTooDeep)
    }

    @Test("error descriptions name the offset and the reason")
    func errorDescription() {
        let error = SNMPWireError(.unexpectedTag(expected: 0x30, found: 0x04), at: 7)
        #expect(error.description == "offset 7: expected tag 0x30, found 0x04")
        #expect(
            SNMPWireError(.fieldTooLong(.community, length: 300), at: 5).description
                == "offset 5: community is 300 octets, too long"
        )
    }
}
