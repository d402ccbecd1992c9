//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOCore
import SNMPWire

/// Generates random but valid SNMP messages for property tests.
///
/// Values are drawn with a bias towards the edges that break codecs: 0, 127/128, 255/256, sign
/// boundaries, type maxima, empty and long strings, OIDs with huge arcs and many arcs.
struct MessageGenerator {
    var rng: SplitMix64

    init(seed: UInt64) {
        self.rng = SplitMix64(seed: seed)
    }

    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self.rng) }
    mutating func bool() -> Bool { Bool.random(using: &self.rng) }

    mutating func int32() -> Int32 {
        let edges: [Int32] = [
            0, 1, -1, 127, 128, -128, -129, 255, 256, 32767, 32768, -32768, .max, .min, 8_388_607, -8_388_608,
        ]
        return self.bool() ? edges[self.int(0...edges.count - 1)] : Int32.random(in: .min ... .max, using: &self.rng)
    }

    mutating func uint32() -> UInt32 {
        let edges: [UInt32] = [0, 1, 127, 128, 255, 256, 0x7FFF_FFFF, 0x8000_0000, .max, 0xFF_FFFF, 0x100_0000]
        return self.bool() ? edges[self.int(0...edges.count - 1)] : UInt32.random(in: 0 ... .max, using: &self.rng)
    }

    mutating func uint64() -> UInt64 {
        let edges: [UInt64] = [0, 1, 127, 128, .max, 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, 0xFFFF_FFFF]
        return self.bool() ? edges[self.int(0...edges.count - 1)] : UInt64.random(in: 0 ... .max, using: &self.rng)
    }

    mutating func bytes(maximum: Int) -> ByteBuffer {
        let lengths = [0, 1, 4, 31, 32, 127, 128, 255, 256]
        var length = self.bool() ? lengths[self.int(0...lengths.count - 1)] : self.int(0...maximum)
        length = min(length, maximum)
        var buffer = ByteBuffer()
        for _ in 0..<length { buffer.writeInteger(UInt8.random(in: 0...255, using: &self.rng)) }
        return buffer
    }

    mutating func arc() -> UInt32 {
        switch self.int(0...5) {
        case 0: return UInt32.max
        case 1: return UInt32(self.int(128...20000))
        default: return UInt32(self.int(0...40))
        }
    }

    mutating func oid() -> OID {
        let first = UInt32(self.int(0...2))
        let second = first == 2 ? self.arc() % (UInt32.max - 80) : UInt32(self.int(0...39))
        let count = self.int(0...9) == 0 ? self.int(0...126) : self.int(0...14)
        var arcs: [UInt32] = [first, second]
        for _ in 0..<count { arcs.append(self.arc()) }
        return OID(arcs: arcs)!
    }

    mutating func value() -> SNMPValue {
        switch self.int(0...12) {
        case 0: return .integer(self.int32())
        case 1: return .octetString(self.bytes(maximum: 300))
        case 2: return .null
        case 3: return .objectIdentifier(self.oid())
        case 4: return .ipAddress(IPv4Address(rawValue: self.uint32()))
        case 5: return .counter32(self.uint32())
        case 6: return .gauge32(self.uint32())
        case 7: return .timeTicks(self.uint32())
        case 8: return .opaque(self.bytes(maximum: 40))
        case 9: return .counter64(self.uint64())
        case 10: return .noSuchObject
        case 11: return .noSuchInstance
        default: return .endOfMibView
        }
    }

    mutating func varbinds() -> [VarBind] {
        let count = self.int(0...20) == 0 ? self.int(0...120) : self.int(0...12)
        return (0..<count).map { _ in VarBind(oid: self.oid(), value: self.value()) }
    }

    mutating func pdu(allowing types: [PDUType]) -> PDU {
        let type = types[self.int(0...types.count - 1)]
        var pdu = PDU(type: type, requestID: self.int32(), varbinds: self.varbinds())
        pdu.errorStatusField = self.int32()
        pdu.errorIndexField = self.int32()
        return pdu
    }

    mutating func trapV1() -> TrapV1PDU {
        TrapV1PDU(
            enterprise: self.oid(),
            agentAddress: IPv4Address(rawValue: self.uint32()),
            genericTrap: self.int32(),
            specificTrap: self.int32(),
            timeStamp: self.uint32(),
            varbinds: self.varbinds()
        )
    }

    static let v1Types: [PDUType] = [.get, .getNext, .response, .set]
    static let v2Types: [PDUType] = [.get, .getNext, .response, .set, .getBulk, .inform, .trapV2, .report]

    mutating func message() -> SNMPMessage {
        switch self.int(0...2) {
        case 0:
            let pdu: AnyPDU = self.int(0...4) == 0 ? .trapV1(self.trapV1()) : .pdu(self.pdu(allowing: Self.v1Types))
            return .community(CommunityMessage(version: .v1, community: self.bytes(maximum: 255), pdu: pdu))
        case 1:
            return .community(
                CommunityMessage(
                    version: .v2c,
                    community: self.bytes(maximum: 255),
                    pdu: .pdu(self.pdu(allowing: Self.v2Types))
                )
            )
        default:
            return .v3(self.v3Message())
        }
    }

    mutating func nonNegativeInt32() -> Int32 { self.int32() & Int32.max }

    mutating func v3Message() -> SNMPv3Message {
        let usm = USMSecurityParameters(
            authoritativeEngineID: self.bytes(maximum: 32),
            authoritativeEngineBoots: self.nonNegativeInt32(),
            authoritativeEngineTime: self.nonNegativeInt32(),
            userName: self.bytes(maximum: 32),
            authenticationParameters: self.bytes(maximum: 48),
            privacyParameters: self.bytes(maximum: 8)
        )
        let parameters: SNMPv3SecurityParameters = self.int(0...5) == 0 ? .other(self.bytes(maximum: 60)) : .usm(usm)
        let model: Int32
        if case .usm = parameters { model = 3 } else { model = [1, 2, 4, 99, Int32.max][self.int(0...4)] }
        let data: ScopedPDUData =
            self.bool()
            ? .encrypted(self.bytes(maximum: 400))
            : .plaintext(
                ScopedPDU(
                    contextEngineID: self.bytes(maximum: 32),
                    contextName: self.bytes(maximum: 32),
                    pdu: self.pdu(allowing: Self.v2Types)
                )
            )
        return SNMPv3Message(
            messageID: self.nonNegativeInt32(),
            maxSize: max(484, self.nonNegativeInt32()),
            flags: SNMPv3Flags(rawValue: UInt8(self.int(0...255))),
            securityModel: model,
            securityParameters: parameters,
            data: data
        )
    }
}
