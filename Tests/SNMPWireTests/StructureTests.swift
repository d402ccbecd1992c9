//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOCore
import Testing

@testable import SNMPWire

/// Hand-built messages whose PDU breaks the RFC 3416 grammar in one place each.
@Suite("PDU structure")
struct StructureTests {
    /// SEQUENCE { version, community "public", [tag] { body } }; the PDU starts at offset 13 when short.
    static func message(version: Int64 = 1, pduTag: UInt8 = 0xA0, _ body: (inout ByteBuffer) -> Void) -> ByteBuffer {
        var out = ByteBuffer()
        out.writeBERConstructed(tag: BERTag.sequence, strategy: .short) { buffer in
            buffer.writeBERInteger(version)
            buffer.writeBEROctetString(ByteBuffer(string: "public"))
            buffer.writeBERConstructed(tag: pduTag, strategy: .short, body)
        }
        return out
    }

    static let sysDescr = VarBind(oid: "1.3.6.1.2.1.1.1.0")

    @Test func wellFormedControl() throws {
        let bytes = Self.message { pdu in
            pdu.writeBERInteger(1)
            pdu.writeBERInteger(0)
            pdu.writeBERInteger(0)
            pdu.writeVarBindList([Self.sysDescr])
        }
        #expect(
            hex(bytes)
                == MessageTests.getSysDescr.replacingOccurrences(of: "02041f5c6ac8", with: "020101")
                .replacingOccurrences(of: "3029", with: "3026").replacingOccurrences(of: "a01c", with: "a019")
        )
        #expect(try SNMPMessage(decoding: bytes).version == .v2c)
    }

    @Test func requestIDMustBeAnInteger() {
        let bytes = Self.message { pdu in
            pdu.writeBEROctetString(ByteBuffer(string: "x"))
            pdu.writeBERInteger(0)
            pdu.writeBERInteger(0)
            pdu.writeVarBindList([])
        }
        #expect(decodeError(bytes) == SNMPWireError(.unexpectedTag(expected: 0x02, found: 0x04), at: 15))
    }

    @Test func missingVarbindList() {
        let bytes = Self.message { pdu in
            pdu.writeBERInteger(1)
            pdu.writeBERInteger(0)
            pdu.writeBERInteger(0)
        }
        #expect(decodeError(bytes) == SNMPWireError(.truncated, at: 24))
    }

    @Test func varbindWithoutValue() {
        let bytes = Self.message { pdu in
            pdu.writeBERInteger(1)
            pdu.writeBERInteger(0)
            pdu.writeBERInteger(0)
            pdu.writeBERConstructed(tag: BERTag.sequence, strategy: .short) { list in
                list.writeBERConstructed(tag: BERTag.sequence, strategy: .short) { varbind in
                    varbind.writeBEROctetString(Self.sysDescr.oid.encoded, tag: BERTag.objectIdentifier)
                }
            }
        }
        // The varbind's content ends after the OID: the value is missing.
        #expect(decodeError(bytes) == SNMPWireError(.truncated, at: 38))
    }

    @Test func varbindNameMustBeAnOID() {
        let bytes = Self.message { pdu in
            pdu.writeBERInteger(1)
            pdu.writeBERInteger(0)
            pdu.writeBERInteger(0)
            pdu.writeBERConstructed(tag: BERTag.sequence, strategy: .short) { list in
                list.writeBERConstructed(tag: BERTag.sequence, strategy: .short) { varbind in
                    varbind.writeBEROctetString(ByteBuffer(string: "1.3.6.1"))
                    varbind.writeBERHeader(tag: BERTag.null, length: 0)
                }
            }
        }
        #expect(decodeError(bytes) == SNMPWireError(.unexpectedTag(expected: 0x06, found: 0x04), at: 28))
    }

    @Test func extraFieldAfterTheVarbindList() {
        let bytes = Self.message { pdu in
            pdu.writeBERInteger(1)
            pdu.writeBERInteger(0)
            pdu.writeBERInteger(0)
            pdu.writeVarBindList([])
            pdu.writeBERInteger(7)
        }
        #expect(decodeError(bytes) == SNMPWireError(.trailingBytes(count: 3), at: 26))
    }

    @Test func communityMustBeAnOctetString() {
        var out = ByteBuffer()
        out.writeBERConstructed(tag: BERTag.sequence, strategy: .short) { buffer in
            buffer.writeBERInteger(1)
            buffer.writeBERInteger(5)
        }
        #expect(decodeError(out) == SNMPWireError(.unexpectedTag(expected: 0x04, found: 0x02), at: 5))
    }

    @Test func unknownPDUTag() {
        let bytes = Self.message(pduTag: 0xA9) { pdu in pdu.writeBERInteger(1) }
        #expect(decodeError(bytes) == SNMPWireError(.unknownTag(0xA9), at: 13))
    }

    @Test func primitivePDUTagIsUnknown() {
        // 0x80 is [0] primitive: not a PDU, whatever its content.
        let bytes = Self.message(pduTag: 0x80) { _ in }
        #expect(decodeError(bytes) == SNMPWireError(.unknownTag(0x80), at: 13))
    }

    @Test func v1TrapAgentAddressMustBeFourOctets() {
        let bytes = Self.message(version: 0, pduTag: 0xA4) { pdu in
            pdu.writeBEROctetString(OID("1.3.6.1.4.1.8072").encoded, tag: BERTag.objectIdentifier)
            pdu.writeBEROctetString(bytes: [127, 0, 0, 1, 9], tag: BERTag.ipAddress)
            pdu.writeBERInteger(6)
            pdu.writeBERInteger(1)
            pdu.writeBERUnsigned(5, tag: BERTag.timeTicks)
            pdu.writeVarBindList([])
        }
        #expect(decodeError(bytes) == SNMPWireError(.invalidLength(tag: 0x40, length: 5), at: 24))
    }

    @Test func v1TrapTimeStampMustBeTimeTicks() {
        let bytes = Self.message(version: 0, pduTag: 0xA4) { pdu in
            pdu.writeBEROctetString(OID("1.3.6.1.4.1.8072").encoded, tag: BERTag.objectIdentifier)
            pdu.writeBEROctetString(bytes: [127, 0, 0, 1], tag: BERTag.ipAddress)
            pdu.writeBERInteger(6)
            pdu.writeBERInteger(1)
            pdu.writeBERInteger(5)
            pdu.writeVarBindList([])
        }
        #expect(decodeError(bytes) == SNMPWireError(.unexpectedTag(expected: 0x43, found: 0x02), at: 36))
    }

    @Test("the error names the varbind that failed, deep in a long list")
    func errorOffsetInALongList() throws {
        var varbinds = (0..<50).map {
            VarBind(oid: OID(arcs: [1, 3, 6, 1, 4, 1, 99, UInt32($0)])!, value: .integer(Int32($0)))
        }
        let good = encode(
            .community(
                CommunityMessage(
                    version: .v2c,
                    community: "public",
                    pdu: PDU(type: .response, requestID: 1, varbinds: varbinds)
                )
            )
        )
        varbinds[37].value = .null
        var bytes = Array(
            encode(
                .community(
                    CommunityMessage(
                        version: .v2c,
                        community: "public",
                        pdu: PDU(type: .response, requestID: 1, varbinds: varbinds)
                    )
                )
            ).readableBytesView
        )
        // Turn that NULL into a NULL with a length byte pointing past the varbind.
        let nullAt = try #require((0..<bytes.count - 1).first { bytes[$0] == 0x05 && bytes[$0 + 1] == 0x00 })
        bytes[nullAt + 1] = 0x01
        let error = try #require(decodeError(ByteBuffer(bytes: bytes)))
        #expect(error.offset == nullAt)
        #expect(error.reason == .lengthPastEnd(length: 1, available: 0))
        #expect(decodeError(good) == nil)
    }
}
