//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOCore
import SNMPWire
import Testing

@Suite("Round-trip properties")
struct RoundTripPropertyTests {
    /// Each seed generates 500 messages; failures print the seed and index to replay.
    @Test("encode → decode gives the same message; encoding is a fixed point", arguments: 1...8)
    func roundTrip(seed: UInt64) throws {
        var generator = MessageGenerator(seed: seed)
        for index in 0..<500 {
            let message = generator.message()
            let first = encode(message)
            let decoded = try SNMPMessage(decoding: first)
            #expect(decoded == message, "seed \(seed) message \(index)")
            #expect(encode(decoded) == first, "seed \(seed) message \(index)")
        }
    }

    @Test("every strict prefix of a valid message is refused", arguments: 1...3)
    func prefixesAreRefused(seed: UInt64) {
        var generator = MessageGenerator(seed: 1000 + seed)
        for _ in 0..<40 {
            let encoded = Array(encode(generator.message()).readableBytesView)
            for length in stride(from: 0, to: encoded.count, by: max(1, encoded.count / 64)) {
                #expect(decodeError(ByteBuffer(bytes: encoded[0..<length])) != nil)
            }
        }
    }

    @Test("random garbage never traps and is almost always refused")
    func garbage() {
        var rng = SplitMix64(seed: 7)
        var accepted = 0
        for _ in 0..<5000 {
            let count = Int.random(in: 0...200, using: &rng)
            var bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
            // Half start like a message, so the decoder gets past the first bytes.
            if Bool.random(using: &rng), bytes.count > 4 {
                bytes[0] = 0x30
                bytes[1] = UInt8(min(count - 2, 127))
            }
            if FuzzWireDecodeCheck.run(ByteBuffer(bytes: bytes)) { accepted += 1 }
        }
        #expect(accepted < 50)
    }

    @Test("decoded values share the datagram's storage until compacted")
    func zeroCopyDecoding() throws {
        var generator = MessageGenerator(seed: 99)
        let value = SNMPValue.octetString(generator.bytes(maximum: 64))
        let message = SNMPMessage.community(
            CommunityMessage(
                version: .v2c,
                community: "public",
                pdu: PDU(type: .response, requestID: 1, varbinds: [VarBind(oid: "1.3.6.1.2.1.1.1.0", value: value)])
            )
        )
        let decoded = try SNMPMessage(decoding: encode(message))
        guard case .community(let m) = decoded, let varbind = m.pdu.varbinds.first else {
            Issue.record("bad")
            return
        }
        #expect(varbind.value.compacted() == value)
        #expect(varbind.oid.compacted() == varbind.oid)
    }

    @Test("a compacted PDU keeps its varbinds but none of the datagram's storage")
    func compactedPDU() throws {
        var generator = MessageGenerator(seed: 7)
        let varbinds = [
            VarBind(oid: "1.3.6.1.2.1.1.1.0", value: .octetString(generator.bytes(maximum: 64))),
            VarBind(oid: "1.3.6.1.2.1.2.2.1.2.7", value: .opaque(ByteBuffer(bytes: [1, 2, 3]))),
            VarBind(oid: "1.3.6.1.2.1.1.2.0", value: .objectIdentifier("1.3.6.1.4.1.8072.3.2.10")),
            VarBind(oid: "1.3.6.1.2.1.1.3.0", value: .timeTicks(42)),
            VarBind(oid: "1.3.6.1.2.1.1.5.0", value: .null),
        ]
        let datagram = encode(
            .community(
                CommunityMessage(
                    version: .v2c,
                    community: "public",
                    pdu: PDU(type: .getNext, requestID: 9, varbinds: varbinds)
                )
            )
        )
        guard case .community(let message) = try SNMPMessage(decoding: datagram), case .pdu(let pdu) = message.pdu
        else {
            Issue.record("not decoded")
            return
        }
        let compacted = pdu.compacted()
        #expect(compacted == pdu)
        #expect(compacted.varbinds == varbinds)
        let inDatagram: (ByteBuffer) -> Bool = { bytes in
            datagram.withUnsafeReadableBytes { whole in
                bytes.withUnsafeReadableBytes { part in
                    guard let base = part.baseAddress, let start = whole.baseAddress else { return false }
                    return base >= start && base < start + whole.count
                }
            }
        }
        // Decoding shares the datagram; the compacted copy does not.
        #expect(pdu.varbinds.contains { inDatagram($0.oid.encoded) })
        for varbind in compacted.varbinds {
            #expect(!inDatagram(varbind.oid.encoded))
            switch varbind.value {
            case .octetString(let bytes), .opaque(let bytes): #expect(!inDatagram(bytes))
            case .objectIdentifier(let oid): #expect(!inDatagram(oid.encoded))
            default: break
            }
        }
    }
}
