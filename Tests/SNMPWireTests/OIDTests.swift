//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOCore
import Testing

@testable import SNMPWire

@Suite("OID")
struct OIDTests {
    /// (dotted text, BER content octets) — X.690 §8.19 and values seen in the fixtures.
    static let encodings: [(String, String)] = [
        ("1.3.6.1", "2b0601"),
        ("1.3.6.1.2.1.1.1.0", "2b06010201010100"),
        ("0.0", "00"),
        ("0.39", "27"),
        ("1.0", "28"),
        ("2.0", "50"),
        ("2.47", "7f"),
        ("2.48", "8100"),
        ("1.3.6.1.4.1.8072.3.2.10", "2b06010401bf0803020a"),
        ("1.3.6.1.4.1.2636", "2b06010401944c"),
        ("1.3.127.128.16383.16384", "2b7f8100ff7f818000"),
        ("1.3.4294967295", "2b8fffffff7f"),
        ("2.4294967215", "8fffffff7f"),
    ]

    @Test("dotted text encodes to the X.690 content octets", arguments: encodings)
    func encodes(text: String, expected: String) throws {
        let oid = try #require(OID(dotted: text))
        #expect(hex(oid.encoded) == expected)
        #expect(oid.description == text)
        #expect(OID(dotted: "." + text) == oid)
        #expect(Array(oid.arcs) == text.split(separator: ".").map { UInt32($0)! })
        #expect(oid.count == text.split(separator: ".").count)
    }

    @Test(
        "invalid text is refused",
        arguments: [
            "", ".", "1", "3.1", "0.40", "1.40", "1..3", "1.3.", "1.3.a", "1.3.-1", "1.3.4294967296",
            "1.3.99999999999999999999", " 1.3", "1.3 ", "2.4294967216",
        ]
    )
    func invalidText(text: String) {
        #expect(OID(dotted: text) == nil)
    }

    @Test func arcLimit() {
        let arcs128 = [UInt32](repeating: 1, count: 128)
        #expect(OID(arcs: arcs128)?.count == 128)
        #expect(OID(arcs: arcs128 + [1]) == nil)
        #expect(OID(arcs: arcs128)?.appending(1) == nil)
        #expect(OID(arcs: [UInt32]())?.isEmpty == true)
        #expect(OID(arcs: [1]) == nil)
    }

    /// Pairs in strictly increasing order; many differ only in how many octets an arc takes.
    static let ordered: [(String, String)] = [
        ("1.3.6.1", "1.3.6.1.0"),
        ("1.3.6.1.2", "1.3.6.1.10"),
        ("1.3.6.1.127", "1.3.6.1.128"),
        ("1.3.6.1.255", "1.3.6.1.256"),
        ("1.3.6.1.16383", "1.3.6.1.16384"),
        ("1.3.6.1.127.5", "1.3.6.1.128"),
        ("1.3.6.1.4294967294", "1.3.6.1.4294967295"),
        ("1.3.6.1.4294967295", "1.3.6.2"),
        ("0.39", "1.0"),
        ("1.39.5", "2.0"),
        ("2.47", "2.48"),
        ("2.48", "2.1000"),
        ("1.3.6.1.2.1.2.2.1.2.4", "1.3.6.1.2.1.2.2.1.10.1"),
        ("1.3.6.1.2.1.1.9.1.4.10", "1.3.6.1.2.1.2"),
    ]

    @Test("ordering is lexicographic in arcs", arguments: ordered)
    func ordering(lower: String, higher: String) throws {
        let a = try #require(OID(dotted: lower))
        let b = try #require(OID(dotted: higher))
        #expect(a < b)
        #expect(!(b < a))
        #expect(a.compare(b) == -1 && b.compare(a) == 1)
        #expect(a.compare(a) == 0 && a == OID(dotted: lower))
    }

    @Test("random OIDs sort exactly as their arc arrays do")
    func orderingProperty() {
        var generator = MessageGenerator(seed: 42)
        for _ in 0..<3000 {
            let a = generator.oid()
            // Half the time derive b from a so that long common prefixes are common.
            var arcs = Array(a.arcs)
            if generator.bool(), arcs.count > 2 {
                arcs[generator.int(2...arcs.count - 1)] = generator.arc()
                if generator.bool() { arcs.removeLast(generator.int(0...arcs.count - 2)) }
            }
            let b = generator.bool() ? OID(arcs: arcs)! : generator.oid()
            let expected = Array(a.arcs).lexicographicallyPrecedes(Array(b.arcs))
            #expect((a < b) == expected, "\(a) < \(b)")
            #expect((a == b) == (Array(a.arcs) == Array(b.arcs)))
            #expect(b.hasPrefix(a) == (Array(b.arcs).starts(with: Array(a.arcs)) && !a.isEmpty || a.isEmpty))
        }
    }

    @Test func prefixes() {
        let ifTable: OID = "1.3.6.1.2.1.2.2"
        #expect(OID(dotted: "1.3.6.1.2.1.2.2.1.2.1")!.hasPrefix(ifTable))
        #expect(ifTable.hasPrefix(ifTable))
        #expect(!OID(dotted: "1.3.6.1.2.1.2.20")!.hasPrefix(ifTable))  // byte 0x14 vs 0x02: not a prefix
        #expect(!OID(dotted: "1.3.6.1.2.1.2")!.hasPrefix(ifTable))
        #expect(!OID(dotted: "1.3.6.1.2.1.2.130")!.hasPrefix("1.3.6.1.2.1.2.1"))  // 130 is 81 02: first byte differs
        #expect(OID(dotted: "1.3.6.1.2.1.2.130.1")!.hasPrefix("1.3.6.1.2.1.2.130"))
        #expect(OID(dotted: "1.3.6.1")!.hasPrefix(OID()))
    }

    @Test func appending() {
        let base: OID = "1.3.6.1.2.1.2.2.1"
        #expect(base.appending([10, 4]) == "1.3.6.1.2.1.2.2.1.10.4")
        #expect(base.appending(4_294_967_295)?.description == "1.3.6.1.2.1.2.2.1.4294967295")
        #expect(OID().appending([1, 3]) == "1.3")
        #expect(OID().appending(1) == nil)
    }

    @Test func literals() {
        let a: OID = [1, 3, 6, 1]
        let b: OID = "1.3.6.1"
        #expect(a == b)
        #expect(Set([a, b]).count == 1)
        #expect(a.debugDescription == "OID(1.3.6.1)")
    }

    @Test("compacted copies drop the datagram but keep the value")
    func compacted() throws {
        let datagram = buffer(hex: "0608" + "2b06010201010100")
        let oid = try withReader(datagram) { try $0.readOID() }
        let copy = oid.compacted()
        #expect(copy == oid)
        #expect(copy.encoded.capacity < datagram.capacity || copy.encoded.capacity <= 16)
    }

    /// Content octets the decoder must refuse, with the reason.
    static let invalidEncodings: [(String, SNMPWireError.Reason)] = [
        ("2b0680", .malformedOID),  // last octet has the continuation bit
        ("2b068001", .malformedOID),  // leading 0x80: non-minimal sub-identifier
        ("2b0690808080ff", .oidArcTooLarge),  // 2^32 (five octets, value too large)
        ("2b06ffffffffff7f", .oidArcTooLarge),  // six octets
        ("9080808000", .oidArcTooLarge),  // first sub-identifier 2^32
    ]

    @Test("malformed content octets are refused")
    func invalidEncodingsAreRefused() {
        for (content, reason) in Self.invalidEncodings {
            let content = decodeHex(content)
            var element = ByteBuffer(bytes: [0x06, UInt8(content.count)])
            element.writeBytes(content)
            #expect(throws: SNMPWireError(reason, at: 0)) { try withReader(element) { try $0.readOID() } }
        }
    }

    @Test func tooManyArcsOnTheWire() {
        var content: [UInt8] = [0x2B]
        content += [UInt8](repeating: 1, count: 126)  // 128 arcs: fine
        var ok = ByteBuffer(bytes: [0x06])
        ok.writeBERLength(content.count)
        ok.writeBytes(content)
        #expect((try? withReader(ok) { try $0.readOID() })?.count == 128)
        content.append(1)  // 129 arcs
        var tooMany = ByteBuffer(bytes: [0x06])
        tooMany.writeBERLength(content.count)
        tooMany.writeBytes(content)
        #expect(throws: SNMPWireError(.tooManyOIDArcs, at: 0)) { try withReader(tooMany) { try $0.readOID() } }
    }

    @Test func emptyOIDIsTolerated() throws {
        let oid = try withReader(buffer(hex: "0600")) { try $0.readOID() }
        #expect(oid.isEmpty && oid.count == 0 && oid.description == "")
    }
}
