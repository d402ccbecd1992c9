//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import Foundation
import PeerSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Objects whose values move between two walks (uptime and traffic counters): compared by name only.
func isDynamic(_ oid: String) -> Bool {
    if oid == ".1.3.6.1.2.1.1.3.0" { return true }
    for (table, columns) in [(".1.3.6.1.2.1.2.2.1.", 10...21), (".1.3.6.1.2.1.31.1.1.1.", 2...13)] {
        if oid.hasPrefix(table), let column = Int(oid.dropFirst(table.count).split(separator: ".").first ?? "") {
            if columns.contains(column) { return true }
        }
    }
    return false
}

@Suite("The gateway against a real snmpd back end")
struct GatewayTests {
    /// snmpwalk and snmpbulkwalk through the gateway (IPv4 and IPv6 listeners) see what a direct v2c
    /// walk sees: the same OIDs, and the same values for objects that do not move.
    @Test(
        "walks through the gateway equal the direct v2c walk",
        arguments: ["1.3.6.1.2.1.1", "1.3.6.1.2.1.2", "1.3.6.1.2.1.31.1.1"]
    )
    func walksEqualDirectWalk(subtree: String) throws {
        let lab = try GatewayLab(name: "walk")
        try lab.startGateway()
        let direct = WalkLine.parse(try lab.direct([subtree], tool: "snmpwalk"))
        #expect(direct.count > 5, "the direct walk found too little: \(direct)")
        for (tool, address) in [
            ("snmpwalk", "udp:127.0.0.1:\(lab.gatewayPort)"), ("snmpbulkwalk", "udp6:[::1]:\(lab.gatewayPort)"),
        ] {
            let output = try lab.throughGateway([subtree], tool: tool, address: address)
            let proxied = WalkLine.parse(output)
            #expect(proxied.map(\.oid) == direct.map(\.oid), "\(tool) via \(address): \(output)")
            for (a, b) in zip(proxied, direct) where !isDynamic(a.oid) {
                #expect(a.value == b.value, "\(tool) \(a.oid)")
            }
        }
    }

    @Test("snmptable through the gateway prints the interface table")
    func snmptable() throws {
        let lab = try GatewayLab(name: "table")
        try lab.startGateway()
        // No MIB files on the machine: snmptable gets a minimal table definition of our own.
        let mibDirectory = lab.directory + "/mibs"
        try FileManager.default.createDirectory(atPath: mibDirectory, withIntermediateDirectories: true)
        try Self.tinyIfMIB.write(toFile: mibDirectory + "/WARDEN-TEST-IF-MIB.txt", atomically: true, encoding: .utf8)
        let path = try #require(Peers.netSNMP("snmptable"))
        var environment = lab.environment
        environment["MIBDIRS"] = mibDirectory
        environment["MIBS"] = "WARDEN-TEST-IF-MIB"
        let result = try Peers.run(
            path,
            GatewayLab.noc + ["-Cf", "|", "udp:127.0.0.1:\(lab.gatewayPort)", "WARDEN-TEST-IF-MIB::wtIfTable"],
            environment: environment
        )
        let direct = WalkLine.parse(try lab.direct(["1.3.6.1.2.1.2.2.1.2"], tool: "snmpwalk"))
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("wtIfIndex|wtIfDescr|wtIfType|wtIfMtu"), "\(result.output)")
        // One row per interface, as the direct walks of ifDescr, ifType and ifMtu say.
        let types = WalkLine.parse(try lab.direct(["1.3.6.1.2.1.2.2.1.3"], tool: "snmpwalk"))
        let mtus = WalkLine.parse(try lab.direct(["1.3.6.1.2.1.2.2.1.4"], tool: "snmpwalk"))
        #expect(direct.count == types.count && direct.count == mtus.count && !direct.isEmpty)
        let rows = result.output.split(separator: "\n").filter { $0.first?.isNumber == true }
        #expect(rows.count == direct.count, "\(result.output)")
        for ((description, type), mtu) in zip(zip(direct, types), mtus) {
            let index = description.oid.split(separator: ".").last!
            func value(_ line: WalkLine) -> String {
                String(line.value.split(separator: ": ", maxSplits: 1).last ?? "")
            }
            let row = "\(index)|\(value(description))|\(value(type))|\(value(mtu))"
            #expect(rows.contains(Substring(row)), "\(row) missing in \(result.output)")
        }
    }

    /// The smallest MIB module snmptable needs for three columns of ifTable (Net-SNMP knows `iso`).
    static let tinyIfMIB = """
        WARDEN-TEST-IF-MIB DEFINITIONS ::= BEGIN
        wtIfTable OBJECT-TYPE
            SYNTAX SEQUENCE OF WtIfEntry
            MAX-ACCESS not-accessible
            STATUS current
            DESCRIPTION "ifTable (RFC 2863), three columns."
            ::= { iso 3 6 1 2 1 2 2 }
        wtIfEntry OBJECT-TYPE
            SYNTAX WtIfEntry
            MAX-ACCESS not-accessible
            STATUS current
            DESCRIPTION "A row."
            INDEX { wtIfIndex }
            ::= { wtIfTable 1 }
        WtIfEntry ::= SEQUENCE { wtIfIndex INTEGER, wtIfDescr OCTET STRING, wtIfType INTEGER, wtIfMtu INTEGER }
        wtIfIndex OBJECT-TYPE SYNTAX INTEGER MAX-ACCESS read-only STATUS current DESCRIPTION "" ::= { wtIfEntry 1 }
        wtIfDescr OBJECT-TYPE SYNTAX OCTET STRING MAX-ACCESS read-only STATUS current DESCRIPTION "" ::= { wtIfEntry 2 }
        wtIfType OBJECT-TYPE SYNTAX INTEGER MAX-ACCESS read-only STATUS current DESCRIPTION "" ::= { wtIfEntry 3 }
        wtIfMtu OBJECT-TYPE SYNTAX INTEGER MAX-ACCESS read-only STATUS current DESCRIPTION "" ::= { wtIfEntry 4 }
        END

        """

    @Test("a GetBulk through the gateway is one packet at the back end")
    func getBulkIsOneBackendPacket() throws {
        let lab = try GatewayLab(name: "bulk")
        try lab.startGateway()
        let before = try lab.backendInPackets()
        let output = try lab.throughGateway(["-Cn0", "-Cr20", "1.3.6.1.2.1.2.2.1"], tool: "snmpbulkget")
        let after = try lab.backendInPackets()
        #expect(WalkLine.parse(output).count == 20, "\(output)")
        // `after` counts its own request too.
        #expect(after - before - 1 == 1, "snmpd received \(after - before - 1) packets for one GetBulk")
        // max-repetitions above limits.max-repetitions (50) is clamped, and still one packet.
        let clamped = try lab.throughGateway(["-Cn0", "-Cr500", "1.3.6.1.2.1"], tool: "snmpbulkget")
        let last = try lab.backendInPackets()
        #expect(WalkLine.parse(clamped).count == 50, "\(clamped)")
        #expect(last - after - 1 == 1)
    }

    @Test("a v1 back end: GetBulk, Counter64 as an exception, a Get with one missing object")
    func v1Backend() throws {
        let lab = try GatewayLab(name: "v1")
        try lab.startGateway()
        let v1 = GatewayLab.noc + ["-n", "v1"]
        // GetBulk becomes GetNext towards v1: a bulk walk still walks the whole group.
        let direct = WalkLine.parse(try lab.direct(["1.3.6.1.2.1.1"], tool: "snmpwalk"))
        let bulk = WalkLine.parse(try lab.throughGateway(["1.3.6.1.2.1.1"], user: v1, tool: "snmpbulkwalk"))
        #expect(bulk.map(\.oid) == direct.map(\.oid))
        // snmpd leaves Counter64 out of v1; the v3 manager gets the v2 exception.
        let counter = try lab.throughGateway(["1.3.6.1.2.1.31.1.1.1.6.1"], user: v1)
        #expect(counter.contains(".1.3.6.1.2.1.31.1.1.1.6.1 = No Such Object"), "\(counter)")
        // v2c for comparison: the same object is a Counter64.
        #expect(try lab.throughGateway(["1.3.6.1.2.1.31.1.1.1.6.1"]).contains("Counter64"))
        // Three objects, the middle one missing: the other two are answered.
        let mixed = try lab.throughGateway(
            ["1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.99.0", "1.3.6.1.2.1.1.6.0"],
            user: v1
        )
        let lines = WalkLine.parse(mixed)
        #expect(lines.map(\.oid) == [".1.3.6.1.2.1.1.5.0", ".1.3.6.1.2.1.1.99.0", ".1.3.6.1.2.1.1.6.0"], "\(mixed)")
        #expect(lines.first?.value == "STRING: \"legacy-switch\"")
        #expect(lines.dropFirst().first?.value.contains("No Such Object") == true)
        #expect(lines.last?.value == "STRING: \"Lab rack 1\"")
    }

    @Test("a dead back end: genErr within timeout × (retries + 1); other routes answer meanwhile")
    func deadBackend() throws {
        let lab = try GatewayLab(name: "dead")
        let deadPort = Peers.freeUDPPort()
        try lab.startGateway(
            lab.configuration(
                extraBackends:
                    "  - { name: dead, address: \"udp:127.0.0.1:\(deadPort)\", version: 2c, community: x, timeout: 700ms, retries: 2 }",
                extraRoutes: "  - { name: dead, users: [ noc ], context: dead, backend: dead, read-view: all }"
            )
        )
        let snmpget = try #require(Peers.netSNMP("snmpget"))
        let started = Date()
        let deadQuery = try PeerProcess(
            snmpget,
            GatewayLab.noc + [
                "-On", "-r", "0", "-t", "10", "-n", "dead", "udp:127.0.0.1:\(lab.gatewayPort)", "1.3.6.1.2.1.1.5.0",
            ],
            environment: lab.environment
        )
        // While that request waits on the dead back end, the live route answers a whole walk.
        let walk = WalkLine.parse(try lab.throughGateway(["1.3.6.1.2.1.1"], tool: "snmpwalk"))
        #expect(walk.count > 5)
        #expect(deadQuery.isRunning, "the dead back end's request finished before the live walk")
        deadQuery.waitUntilExit()
        let elapsed = Date().timeIntervalSince(started)
        #expect(deadQuery.output.contains("genErr"), "\(deadQuery.output)")
        // 700 ms × 3 tries = 2.1 s; not much later (the manager's own timeout is 10 s).
        #expect(elapsed >= 2.0 && elapsed < 4.5, "genErr after \(elapsed) s")
        let (status, counters) = try lab.stopGateway()
        #expect(status == 0)
        #expect(counters["backend_timeouts"] == "1")
        #expect(counters["backend_retransmissions"] == "2")
    }

    @Test("Set: refused without a write view (back end unchanged), forwarded with one")
    func setPolicy() throws {
        let lab = try GatewayLab(name: "set")
        try lab.startGateway()
        let contact = ["1.3.6.1.2.1.1.4.0"]
        let original = try lab.direct(contact)
        let refused = try lab.throughGateway(contact + ["s", "changed-by-noc"], tool: "snmpset")
        #expect(refused.contains("noAccess"), "\(refused)")
        #expect(try lab.direct(contact) == original)
        let allowed = try lab.throughGateway(
            contact + ["s", "changed-by-admin"],
            user: GatewayLab.admin,
            tool: "snmpset"
        )
        #expect(allowed.contains("changed-by-admin"), "\(allowed)")
        #expect(try lab.direct(contact).contains("changed-by-admin"))
        // A v1 back end refuses a read-only object with its own error, mapped for the v3 manager.
        let readOnly = try lab.throughGateway(
            ["1.3.6.1.2.1.1.5.0", "s", "x"],
            user: GatewayLab.admin + ["-n", "v1"],
            tool: "snmpset"
        )
        #expect(readOnly.contains("notWritable"), "\(readOnly)")
    }

    @Test("SIGHUP reloads the same file and the gateway goes on serving")
    func hangup() throws {
        let lab = try GatewayLab(name: "hup")
        try lab.startGateway()
        let gateway = try #require(lab.gateway)
        kill(gateway.pid, SIGHUP)
        #expect(gateway.waitForLine(containing: "\"reloaded\"") != nil, "\(gateway.output)")
        #expect(gateway.isRunning)
        #expect(try lab.throughGateway(["1.3.6.1.2.1.1.5.0"]).contains("legacy-switch"))
        #expect(try lab.stopGateway().status == 0)
    }

    @Test("no route: authorizationError, nothing forwarded; USM failures get their Reports")
    func refusals() throws {
        let lab = try GatewayLab(name: "refuse")
        try lab.startGateway()
        let before = try lab.backendInPackets()
        let output = try lab.throughGateway(["1.3.6.1.2.1.1.5.0"], user: GatewayLab.noc + ["-n", "nosuchcontext"])
        #expect(output.contains("authorizationError"), "\(output)")
        var wrongKey = GatewayLab.noc
        wrongKey[8] = "wrong-auth-pass"
        #expect(try lab.throughGateway(["1.3.6.1.2.1.1.5.0"], user: wrongKey).contains("Authentication failure"))
        var unknown = GatewayLab.noc
        unknown[4] = "mallory"
        #expect(try lab.throughGateway(["1.3.6.1.2.1.1.5.0"], user: unknown).contains("Unknown user name"))
        #expect(try lab.backendInPackets() - before == 1, "something reached the back end")
        let (status, counters) = try lab.stopGateway()
        #expect(status == 0)
        #expect(counters["no_route"] == "1")
        #expect(counters["usm_wrong_digests"] == "1")
        #expect(counters["usm_unknown_user_names"] == "1")
    }
}

@Suite("The optional v1/v2c front end")
struct CommunityFrontEndTests {
    static let routes = """
          - { name: v2c-managers, communities: [ frontpub ], sources: [ 127.0.0.0/8, "::1/128" ], backend: legacy, read-view: all }
          - { name: far-managers, communities: [ farpub ], sources: [ 10.0.0.0/8 ], backend: legacy, read-view: all }
        """

    func run(
        _ lab: GatewayLab,
        _ tool: String,
        version: String,
        community: String,
        _ arguments: [String]
    ) throws -> String {
        let path = try #require(Peers.netSNMP(tool))
        return try Peers.run(
            path,
            ["-v\(version)", "-c", community, "-On", "-r", "0", "-t", "2", "udp:127.0.0.1:\(lab.gatewayPort)"]
                + arguments,
            environment: lab.environment
        ).output
    }

    @Test("v2c and v1 managers by community; v1 never sees a Counter64; unknown communities are dropped")
    func communityManagers() throws {
        let lab = try GatewayLab(name: "community")
        try lab.startGateway(lab.configuration(communityRoutes: Self.routes))
        // v2c: the same walk as direct.
        let direct = WalkLine.parse(try lab.direct(["1.3.6.1.2.1.31.1.1.1"], tool: "snmpwalk"))
        let v2c = WalkLine.parse(
            try self.run(lab, "snmpbulkwalk", version: "2c", community: "frontpub", ["1.3.6.1.2.1.31.1.1.1"])
        )
        #expect(v2c.map(\.oid) == direct.map(\.oid))
        // v1: the walk skips every Counter64 (RFC 3584 §4.2.2.1) and goes on past them.
        let v1 = WalkLine.parse(
            try self.run(lab, "snmpwalk", version: "1", community: "frontpub", ["1.3.6.1.2.1.31.1.1.1"])
        )
        #expect(v1.map(\.oid) == direct.filter { !$0.value.hasPrefix("Counter64") }.map(\.oid))
        #expect(v1.contains { $0.oid.hasPrefix(".1.3.6.1.2.1.31.1.1.1.18.") }, "the v1 walk stopped early")
        // v1 Get of a Counter64: noSuchName.
        let get = try self.run(lab, "snmpget", version: "1", community: "frontpub", ["1.3.6.1.2.1.31.1.1.1.6.1"])
        #expect(get.contains("noSuchName"), "\(get)")
        // v1 Set without a write view: noSuchName (RFC 3584 §4.4 maps noAccess).
        let set = try self.run(lab, "snmpset", version: "1", community: "frontpub", ["1.3.6.1.2.1.1.4.0", "s", "x"])
        #expect(set.contains("noSuchName"), "\(set)")
        // Unknown community, and a known one from a source its route does not allow: no answer.
        #expect(
            try self.run(lab, "snmpget", version: "2c", community: "guess", ["1.3.6.1.2.1.1.5.0"]).contains("Timeout")
        )
        #expect(
            try self.run(lab, "snmpget", version: "2c", community: "farpub", ["1.3.6.1.2.1.1.5.0"]).contains("Timeout")
        )
        let (status, counters) = try lab.stopGateway()
        #expect(status == 0)
        #expect(counters["bad_community_names"] == "1")
        #expect(counters["bad_community_uses"] == "1")
    }

    @Test("without a community route, v1/v2c requests are dropped and counted")
    func frontEndOffByDefault() throws {
        let lab = try GatewayLab(name: "nocommunity")
        try lab.startGateway()
        #expect(
            try self.run(lab, "snmpget", version: "2c", community: GatewayLab.community, ["1.3.6.1.2.1.1.5.0"])
                .contains("Timeout")
        )
        let (_, counters) = try lab.stopGateway()
        #expect(counters["community_front_end_off"] == "1")
    }
}
