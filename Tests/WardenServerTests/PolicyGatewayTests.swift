//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import Foundation
import PeerSupport
import Testing

/// Views, wildcards, rewrites and write views, against a real snmpd through the real gateway.
@Suite("The firewall against a real snmpd back end")
struct PolicyGatewayTests {
    static let views = """
          - { name: no-secrets, include: [ 1.3.6.1.2.1 ], exclude: [ 1.3.6.1.2.1.2.2.1.6, 1.3.6.1.2.1.1.4 ] }
          - { name: row-one, include: [ "1.3.6.1.2.1.2.2.1.*.1" ] }
          - { name: enterprise, include: [ 1.3.6.1.4.1.99999 ] }
          - { name: mib-2-short, include: [ 1.3.6.1.2.1.1, 1.3.6.1.2.1.2 ] }
          - { name: contact-only, include: [ 1.3.6.1.2.1.1.4 ] }
        """
    static let routes = """
          - { name: filtered, users: [ noc, admin ], context: filtered, backend: legacy, read-view: no-secrets, write-view: contact-only }
          - { name: filtered-v1, users: [ noc ], context: filtered-v1, backend: legacy-v1, read-view: no-secrets }
          - { name: row-one, users: [ noc ], context: row-one, backend: legacy, read-view: row-one }
          - { name: enterprise, users: [ noc ], context: enterprise, backend: legacy, read-view: enterprise, rewrite: [ { backend: 1.3.6.1.2.1.1, manager: 1.3.6.1.4.1.99999.1 } ] }
          - { name: short, users: [ noc ], context: short, backend: legacy, read-view: mib-2-short }
        """

    static func lab(_ name: String) throws -> GatewayLab {
        let lab = try GatewayLab(name: name)
        try lab.startGateway(lab.configuration(extraRoutes: Self.routes, extraViews: Self.views))
        return lab
    }

    static func context(_ name: String, user: [String] = GatewayLab.noc) -> [String] { user + ["-n", name] }

    @Test("a view without ifPhysAddress and sysContact: walk, bulkwalk (v2c and v1 back ends) and get")
    func hiddenColumns() throws {
        let lab = try Self.lab("hide")
        for subtree in ["1.3.6.1.2.1.1", "1.3.6.1.2.1.2"] {
            let direct = WalkLine.parse(try lab.direct([subtree], tool: "snmpwalk"))
            let visible = direct.filter {
                !$0.oid.hasPrefix(".1.3.6.1.2.1.2.2.1.6.") && !$0.oid.hasPrefix(".1.3.6.1.2.1.1.4.")
            }
            #expect(visible.count < direct.count, "nothing was hidden in \(subtree)")
            for (tool, context) in [
                ("snmpwalk", "filtered"), ("snmpbulkwalk", "filtered"), ("snmpbulkwalk", "filtered-v1"),
            ] {
                let walked = WalkLine.parse(try lab.throughGateway([subtree], user: Self.context(context), tool: tool))
                #expect(walked.map(\.oid) == visible.map(\.oid), "\(tool) -n \(context) \(subtree)")
            }
        }
        let get = try lab.throughGateway(
            ["1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.4.0", "1.3.6.1.2.1.2.2.1.6.1"],
            user: Self.context("filtered")
        )
        let lines = WalkLine.parse(get)
        #expect(lines.first?.value == "STRING: \"legacy-switch\"", "\(get)")
        #expect(lines.dropFirst().allSatisfy { $0.value.contains("No Such Object") }, "\(get)")
        // The refusal is logged with who asked what (once per source, route and reason a minute).
        let gateway = try #require(lab.gateway)
        let audit = try #require(
            gateway.output.split(separator: "\n").first { $0.contains("refused by the route's policy") }
        )
        for field in [
            "\"user\":\"noc\"", "\"context\":\"filtered\"", "\"oid\":\"1.3.6.1.2.1.1.4.0\"",
            "\"reason\":\"read-outside-view\"", "\"source\":\"127.0.0.1:",
        ] {
            #expect(audit.contains(field), "\(field) missing in \(audit)")
        }
        let (status, counters) = try lab.stopGateway()
        #expect(status == 0)
        #expect(counters["refused/filtered/read-outside-view"] == "2")
    }

    @Test("a wildcard view of one ifTable row")
    func wildcardRow() throws {
        let lab = try Self.lab("row")
        let direct = WalkLine.parse(try lab.direct(["1.3.6.1.2.1.2.2"], tool: "snmpwalk"))
        let rowOne = direct.filter { $0.oid.hasSuffix(".1") && $0.oid.split(separator: ".").count == 11 }
        #expect(rowOne.count >= 20, "\(rowOne.count) columns in row 1")
        for tool in ["snmpwalk", "snmpbulkwalk"] {
            let walked = WalkLine.parse(
                try lab.throughGateway(["1.3.6.1.2.1.2.2"], user: Self.context("row-one"), tool: tool)
            )
            #expect(walked.map(\.oid) == rowOne.map(\.oid), "\(tool)")
        }
    }

    @Test("the system group rewritten under an enterprise prefix")
    func rewrite() throws {
        let lab = try Self.lab("rewrite")
        let direct = WalkLine.parse(try lab.direct(["1.3.6.1.2.1.1"], tool: "snmpwalk"))
        let mapped = direct.map { ".1.3.6.1.4.1.99999.1" + $0.oid.dropFirst(".1.3.6.1.2.1.1".count) }
        for tool in ["snmpwalk", "snmpbulkwalk"] {
            // A walk of everything the route shows: exactly the system group, under its new name.
            let walked = WalkLine.parse(try lab.throughGateway(["1.3"], user: Self.context("enterprise"), tool: tool))
            #expect(walked.map(\.oid) == mapped, "\(tool)")
        }
        let get = try lab.throughGateway(
            ["1.3.6.1.4.1.99999.1.5.0", "1.3.6.1.2.1.1.5.0"],
            user: Self.context("enterprise")
        )
        let lines = WalkLine.parse(get)
        #expect(lines.first?.value == "STRING: \"legacy-switch\"", "\(get)")
        #expect(lines.last?.value.contains("No Such Object") == true, "the original name stays hidden: \(get)")
    }

    /// Net-SNMP's issue 842: a GetNext after the last OID of a view, with the back end holding
    /// thousands of objects after it. Net-SNMP's proxy walks them all and spins; the gateway jumps.
    @Test("GetNext after the last OID of the view: endOfMibView, a handful of back-end packets")
    func issue842() throws {
        let lab = try Self.lab("842")
        let lastRows = WalkLine.parse(try lab.direct(["1.3.6.1.2.1.2.2.1.22"], tool: "snmpwalk"))
        let last = try #require(lastRows.last?.oid, "no ifSpecific column")
        let before = try lab.backendInPackets()
        let output = try lab.throughGateway(
            [String(last.dropFirst())],
            user: Self.context("short"),
            tool: "snmpgetnext"
        )
        let after = try lab.backendInPackets()
        #expect(output.contains("No more variables left in this MIB View"), "\(output)")
        #expect(after - before - 1 <= 2, "snmpd received \(after - before - 1) packets")
    }

    @Test("Set inside, outside and across the write view")
    func writeView() throws {
        let lab = try Self.lab("write")
        let contact = "1.3.6.1.2.1.1.4.0"
        let admin = Self.context("filtered", user: GatewayLab.admin)
        // Inside: forwarded.
        let inside = try lab.throughGateway([contact, "s", "inside"], user: admin, tool: "snmpset")
        #expect(inside.contains("inside"), "\(inside)")
        #expect(try lab.direct([contact]).contains("inside"))
        // Outside: noAccess, nothing sent.
        let before = try lab.backendInPackets()
        let outside = try lab.throughGateway(["1.3.6.1.2.1.1.6.0", "s", "outside"], user: admin, tool: "snmpset")
        #expect(outside.contains("noAccess"), "\(outside)")
        // Across: one varbind inside, one outside: the whole Set refused, the inside one untouched.
        let across = try lab.throughGateway(
            [contact, "s", "across", "1.3.6.1.2.1.1.5.0", "s", "x"],
            user: admin,
            tool: "snmpset"
        )
        #expect(across.contains("noAccess"), "\(across)")
        #expect(across.contains("1.3.6.1.2.1.1.5.0"), "the failed object is the second one: \(across)")
        let after = try lab.backendInPackets()
        #expect(after - before - 1 == 0, "a refused Set reached snmpd")
        #expect(try lab.direct([contact]).contains("inside"))
    }
}
