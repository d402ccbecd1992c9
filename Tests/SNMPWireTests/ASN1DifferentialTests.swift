//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOCore
import SNMPWire
import SwiftASN1
import Testing

/// Our encodings parsed by swift-asn1, an independent ASN.1 implementation.
///
/// swift-asn1's DER parser refuses non-minimal lengths, indefinite lengths and trailing data, so a
/// parse there proves our output is canonical; walking its tree and comparing every node with the
/// message we encoded proves the structure.
@Suite("Differential: swift-asn1")
struct ASN1DifferentialTests {
    @Test("generated messages parse as DER and match node for node", arguments: 1...4)
    func generatedMessages(seed: UInt64) throws {
        var generator = MessageGenerator(seed: 500 + seed)
        for _ in 0..<250 {
            let message = generator.message()
            let bytes = Array(encode(message).readableBytesView)
            let root = try DER.parse(bytes)
            try Self.check(root, against: message)
        }
    }

    @Test("fixtures re-encoded by us parse as DER and match", arguments: Fixture.allNames)
    func fixtures(name: String) throws {
        let message = try SNMPMessage(decoding: ByteBuffer(bytes: Fixture.load(name).bytes))
        try Self.check(try DER.parse(Array(encode(message).readableBytesView)), against: message)
    }

    // MARK: - Tree comparison

    struct Mismatch: Error, CustomStringConvertible {
        var description: String
    }

    static func children(_ node: ASN1Node, tag: UInt8, count: Int? = nil) throws -> [ASN1Node] {
        try self.expectTag(node, tag)
        guard case .constructed(let collection) = node.content else {
            throw Mismatch(description: "not constructed: \(node)")
        }
        let nodes = Array(collection)
        if let count, nodes.count != count {
            throw Mismatch(description: "expected \(count) children, found \(nodes.count)")
        }
        return nodes
    }

    static func primitive(_ node: ASN1Node, tag: UInt8) throws -> [UInt8] {
        try self.expectTag(node, tag)
        guard case .primitive(let bytes) = node.content else { throw Mismatch(description: "not primitive") }
        return Array(bytes)
    }

    static func expectTag(_ node: ASN1Node, _ tag: UInt8) throws {
        let classBits: UInt8
        switch node.identifier.tagClass {
        case .universal: classBits = 0x00
        case .application: classBits = 0x40
        case .contextSpecific: classBits = 0x80
        case .private: classBits = 0xC0
        }
        let constructed: UInt8 = {
            if case .constructed = node.content { return 0x20 }
            return 0
        }()
        let actual = classBits | constructed | UInt8(node.identifier.tagNumber)
        if actual != tag { throw Mismatch(description: "tag \(actual) where \(tag) was expected") }
    }

    static func integer<T: ASN1IntegerRepresentable>(_ node: ASN1Node, tag: UInt8, as: T.Type) throws -> T {
        try self.expectTag(node, tag)
        return try T(derEncoded: node, withIdentifier: node.identifier)
    }

    static func equal<T: Equatable>(_ a: T, _ b: T, _ what: String) throws {
        if a != b { throw Mismatch(description: "\(what): \(a) != \(b)") }
    }

    static func check(_ root: ASN1Node, against message: SNMPMessage) throws {
        switch message {
        case .community(let m):
            let top = try self.children(root, tag: 0x30, count: 3)
            try self.equal(try self.integer(top[0], tag: 0x02, as: Int32.self), m.version.rawValue, "version")
            try self.equal(try self.primitive(top[1], tag: 0x04), Array(m.community.readableBytesView), "community")
            try self.check(top[2], against: m.pdu)
        case .v3(let m):
            let top = try self.children(root, tag: 0x30, count: 4)
            try self.equal(try self.integer(top[0], tag: 0x02, as: Int32.self), 3, "version")
            let global = try self.children(top[1], tag: 0x30, count: 4)
            try self.equal(try self.integer(global[0], tag: 0x02, as: Int32.self), m.messageID, "msgID")
            try self.equal(try self.integer(global[1], tag: 0x02, as: Int32.self), m.maxSize, "msgMaxSize")
            try self.equal(try self.primitive(global[2], tag: 0x04), [m.flags.rawValue], "msgFlags")
            try self.equal(try self.integer(global[3], tag: 0x02, as: Int32.self), m.securityModel, "msgSecurityModel")
            let parameterBytes = try self.primitive(top[2], tag: 0x04)
            switch m.securityParameters {
            case .usm(let usm):
                let fields = try self.children(try DER.parse(parameterBytes), tag: 0x30, count: 6)
                try self.equal(
                    try self.primitive(fields[0], tag: 0x04),
                    Array(usm.authoritativeEngineID.readableBytesView),
                    "engineID"
                )
                try self.equal(
                    try self.integer(fields[1], tag: 0x02, as: Int32.self),
                    usm.authoritativeEngineBoots,
                    "boots"
                )
                try self.equal(
                    try self.integer(fields[2], tag: 0x02, as: Int32.self),
                    usm.authoritativeEngineTime,
                    "time"
                )
                try self.equal(try self.primitive(fields[3], tag: 0x04), Array(usm.userName.readableBytesView), "user")
                try self.equal(
                    try self.primitive(fields[4], tag: 0x04),
                    Array(usm.authenticationParameters.readableBytesView),
                    "auth"
                )
                try self.equal(
                    try self.primitive(fields[5], tag: 0x04),
                    Array(usm.privacyParameters.readableBytesView),
                    "priv"
                )
            case .other(let bytes):
                try self.equal(parameterBytes, Array(bytes.readableBytesView), "security parameters")
            }
            switch m.data {
            case .encrypted(let bytes):
                try self.equal(try self.primitive(top[3], tag: 0x04), Array(bytes.readableBytesView), "encryptedPDU")
            case .plaintext(let scoped):
                let parts = try self.children(top[3], tag: 0x30, count: 3)
                try self.equal(
                    try self.primitive(parts[0], tag: 0x04),
                    Array(scoped.contextEngineID.readableBytesView),
                    "contextEngineID"
                )
                try self.equal(
                    try self.primitive(parts[1], tag: 0x04),
                    Array(scoped.contextName.readableBytesView),
                    "contextName"
                )
                try self.check(parts[2], against: .pdu(scoped.pdu))
            }
        }
    }

    static func check(_ node: ASN1Node, against pdu: AnyPDU) throws {
        switch pdu {
        case .pdu(let p):
            let fields = try self.children(node, tag: p.type.rawValue, count: 4)
            try self.equal(try self.integer(fields[0], tag: 0x02, as: Int32.self), p.requestID, "request-id")
            try self.equal(try self.integer(fields[1], tag: 0x02, as: Int32.self), p.errorStatusField, "error-status")
            try self.equal(try self.integer(fields[2], tag: 0x02, as: Int32.self), p.errorIndexField, "error-index")
            try self.check(fields[3], against: p.varbinds)
        case .trapV1(let t):
            let fields = try self.children(node, tag: 0xA4, count: 6)
            try self.checkOID(fields[0], t.enterprise)
            try self.equal(try self.primitive(fields[1], tag: 0x40), Self.octets(t.agentAddress), "agent-addr")
            try self.equal(try self.integer(fields[2], tag: 0x02, as: Int32.self), t.genericTrap, "generic-trap")
            try self.equal(try self.integer(fields[3], tag: 0x02, as: Int32.self), t.specificTrap, "specific-trap")
            try self.equal(try self.integer(fields[4], tag: 0x43, as: UInt32.self), t.timeStamp, "time-stamp")
            try self.check(fields[5], against: t.varbinds)
        }
    }

    static func octets(_ address: IPv4Address) -> [UInt8] {
        let o = address.octets
        return [o.0, o.1, o.2, o.3]
    }

    static func checkOID(_ node: ASN1Node, _ oid: OID) throws {
        if oid.isEmpty {
            // swift-asn1 cannot represent the empty OID; check the bytes.
            try self.equal(try self.primitive(node, tag: 0x06), [], "empty OID")
            return
        }
        try self.expectTag(node, 0x06)
        let parsed = try ASN1ObjectIdentifier(derEncoded: node, withIdentifier: node.identifier)
        // swift-asn1 splits the first sub-identifier as (v / 40, v % 40) even when v ≥ 120, where X.690
        // says the first arc is 2; compare the shared sub-identifier instead of the first two arcs.
        func combined(_ arcs: [UInt64]) -> [UInt64] { [40 * arcs[0] + arcs[1]] + arcs.dropFirst(2) }
        try self.equal(
            combined(parsed.oidComponents.map { UInt64($0) }),
            combined(oid.arcs.map { UInt64($0) }),
            "OID arcs"
        )
    }

    static func check(_ node: ASN1Node, against varbinds: [VarBind]) throws {
        let list = try self.children(node, tag: 0x30, count: varbinds.count)
        for (element, varbind) in zip(list, varbinds) {
            let pair = try self.children(element, tag: 0x30, count: 2)
            try self.checkOID(pair[0], varbind.oid)
            let value = pair[1]
            switch varbind.value {
            case .integer(let v): try self.equal(try self.integer(value, tag: 0x02, as: Int32.self), v, "INTEGER")
            case .octetString(let b):
                try self.equal(try self.primitive(value, tag: 0x04), Array(b.readableBytesView), "OCTET STRING")
            case .null: try self.equal(try self.primitive(value, tag: 0x05), [], "NULL")
            case .objectIdentifier(let o): try self.checkOID(value, o)
            case .ipAddress(let a): try self.equal(try self.primitive(value, tag: 0x40), Self.octets(a), "IpAddress")
            case .counter32(let v): try self.equal(try self.integer(value, tag: 0x41, as: UInt32.self), v, "Counter32")
            case .gauge32(let v): try self.equal(try self.integer(value, tag: 0x42, as: UInt32.self), v, "Gauge32")
            case .timeTicks(let v): try self.equal(try self.integer(value, tag: 0x43, as: UInt32.self), v, "TimeTicks")
            case .opaque(let b):
                try self.equal(try self.primitive(value, tag: 0x44), Array(b.readableBytesView), "Opaque")
            case .counter64(let v): try self.equal(try self.integer(value, tag: 0x46, as: UInt64.self), v, "Counter64")
            case .noSuchObject: try self.equal(try self.primitive(value, tag: 0x80), [], "noSuchObject")
            case .noSuchInstance: try self.equal(try self.primitive(value, tag: 0x81), [], "noSuchInstance")
            case .endOfMibView: try self.equal(try self.primitive(value, tag: 0x82), [], "endOfMibView")
            }
        }
    }
}
