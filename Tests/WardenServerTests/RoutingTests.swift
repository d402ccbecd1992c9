//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import SNMPWire
import Testing
import WardenConfig

@testable import WardenServer

@Suite("Routes and v1 translation, as values")
struct RoutingTests {
    static let configuration = try! ConfigurationLoader.parse(
        yaml: """
            listen: [ "udp:127.0.0.1:1161" ]
            users:
              - { name: noc, auth: SHA, auth-key: noc-pass-1 }
              - { name: ops, auth: SHA, auth-key: ops-pass-1 }
            backends:
              - { name: a, address: "udp:192.0.2.1:161", community: x }
              - { name: b, address: "udp:192.0.2.2:161", community: y }
            routes:
              - { name: lab-only, users: [ noc ], context: lab, sources: [ 10.1.0.0/16 ], backend: a }
              - { name: lab, users: [ noc, ops ], context: lab, backend: b }
              - { name: default, users: [ noc ], backend: a }
              - { name: any-context, users: [ ops ], context: "*", sources: [ "2001:db8::/32" ], backend: b }
              - { name: v2c, communities: [ public ], sources: [ 192.0.2.0/24 ], backend: a }
            """,
        file: "routes.yaml",
        environment: [:]
    )
    static let table = RouteTable(routes: configuration.routes)

    static func v4(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) -> [UInt8] { [a, b, c, d] }
    static let v6: [UInt8] = [0x20, 0x01, 0x0D, 0xB8] + [UInt8](repeating: 0, count: 11) + [1]

    @Test("first match by user, context and source")
    func firstMatch() {
        let names = { (index: Int?) in index.map { Self.table.routes[$0].name } }
        #expect(names(Self.table.match(user: "noc", context: "lab", source: Self.v4(10, 1, 2, 3))) == "lab-only")
        #expect(names(Self.table.match(user: "noc", context: "lab", source: Self.v4(10, 2, 2, 3))) == "lab")
        #expect(names(Self.table.match(user: "noc", context: "", source: Self.v4(10, 2, 2, 3))) == "default")
        #expect(names(Self.table.match(user: "ops", context: "", source: Self.v4(10, 2, 2, 3))) == nil)
        #expect(names(Self.table.match(user: "ops", context: "anything", source: Self.v6)) == "any-context")
        #expect(names(Self.table.match(user: "ops", context: "lab", source: Self.v6)) == "lab")
        #expect(names(Self.table.match(user: "nobody", context: "", source: Self.v6)) == nil)
        // A context is matched exactly: no prefixes, no case folding.
        #expect(names(Self.table.match(user: "noc", context: "Lab", source: Self.v4(10, 1, 2, 3))) == nil)
    }

    @Test("communities, sources, and IPv4-mapped IPv6 sources")
    func communities() {
        #expect(Self.table.acceptsCommunities)
        #expect(Self.table.match(community: Array("public".utf8), source: Self.v4(192, 0, 2, 9)) == 4)
        #expect(Self.table.match(community: Array("public".utf8), source: Self.v4(198, 51, 100, 1)) == nil)
        #expect(Self.table.knows(community: Array("public".utf8)))
        #expect(!Self.table.knows(community: Array("noc".utf8)))
        let mapped: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 192, 0, 2, 9]
        #expect(RouteTable.canonical(mapped) == [192, 0, 2, 9])
        #expect(RouteTable.canonical(Self.v6) == Self.v6)
        #expect(!RouteTable(routes: Array(Self.table.routes.prefix(4))).acceptsCommunities)
    }

    @Test(
        "v2 error-status as a v1 manager sees it (RFC 3584 §4.4)",
        arguments: [
            (0, 0), (1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 2), (7, 3), (8, 3), (9, 3), (10, 3), (11, 2), (12, 3),
            (13, 5), (14, 5), (15, 5), (16, 2), (17, 2), (18, 2),
        ]
    )
    func v1Status(v2: Int32, v1: Int32) {
        #expect(ManagerTranslation.v1Status(ErrorStatus(rawValue: v2)) == ErrorStatus(rawValue: v1))
    }

    @Test("exceptions and Counter64 become noSuchName at the first such varbind, request echoed")
    func v1Response() {
        let request = PDU(
            type: .get,
            requestID: 9,
            varbinds: [
                VarBind(oid: "1.3.6.1.2.1.1.5.0"), VarBind(oid: "1.3.6.1.2.1.31.1.1.1.6.1"),
                VarBind(oid: "1.3.6.1.2.1.1.9.0"),
            ]
        )
        var response = PDU(
            type: .response,
            requestID: 9,
            varbinds: [
                VarBind(oid: "1.3.6.1.2.1.1.5.0", value: .string("sw")),
                VarBind(oid: "1.3.6.1.2.1.31.1.1.1.6.1", value: .counter64(7)),
                VarBind(oid: "1.3.6.1.2.1.1.9.0", value: .noSuchObject),
            ]
        )
        let translated = ManagerTranslation.v1Response(response, request: request)
        #expect(
            translated.errorStatus == .noSuchName && translated.errorIndex == 2
                && translated.varbinds == request.varbinds
        )
        #expect(ManagerTranslation.counter64Positions(response) == [1])
        response.varbinds[1].value = .counter32(7)
        response.varbinds[2].value = .integer(1)
        #expect(ManagerTranslation.v1Response(response, request: request) == response)
        var failed = response
        failed.errorStatus = .notWritable
        failed.errorIndex = 3
        let mapped = ManagerTranslation.v1Response(failed, request: request)
        #expect(mapped.errorStatus == .noSuchName && mapped.errorIndex == 3)
    }
}
