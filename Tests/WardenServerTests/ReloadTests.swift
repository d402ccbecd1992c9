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

/// A UDP relay that answers late: datagrams to LISTEN go on to TARGET at once, and TARGET's answers
/// come back from LISTEN after DELAY seconds. It stands for a slow agent (snmpd behind it).
let slowRelay = """
    import select, socket, sys, time
    listen, target, delay = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    front.bind(("127.0.0.1", listen))
    upstream = {}   # client address -> socket towards the target
    clients = {}    # that socket -> client address
    due = []        # (time, datagram, client address)
    while True:
        timeout = max(0.0, min(t for t, _, _ in due) - time.monotonic()) if due else 1.0
        readable, _, _ = select.select([front] + list(clients), [], [], timeout)
        for s in readable:
            data, address = s.recvfrom(65536)
            if s is front:
                if address not in upstream:
                    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    u.bind(("127.0.0.1", 0))
                    upstream[address] = u
                    clients[u] = address
                upstream[address].sendto(data, ("127.0.0.1", target))
            else:
                due.append((time.monotonic() + delay, data, clients[s]))
        now = time.monotonic()
        for item in [d for d in due if d[0] <= now]:
            front.sendto(item[1], item[2])
            due.remove(item)
    """

@Suite("Reload: SIGHUP and POST /-/reload swap the configuration without losing a request", .serialized)
struct ReloadTests {
    static let keep = GatewayLab.noc
    static let old = [
        "-v3", "-l", "authPriv", "-u", "old", "-a", "SHA", "-A", "old-auth-pass", "-x", "AES", "-X", "old-priv-pass",
    ]
    static let new = [
        "-v3", "-l", "authPriv", "-u", "new", "-a", "SHA-512", "-A", "new-auth-pass", "-x", "AES-256", "-X",
        "new-priv-pass",
    ]

    /// User noc and one more (`user`, a YAML line, named `name`); one route to the slow agent with `view`.
    static func configuration(
        _ lab: GatewayLab,
        slowPort: UInt16,
        opsPort: UInt16,
        user: String,
        name: String,
        view: String
    ) -> String {
        """
        engine:
          state-dir: state
        listen: [ "udp:127.0.0.1:\(lab.gatewayPort)" ]
        users:
          - { name: noc, auth: SHA-256, auth-key: noc-auth-pass, priv: AES, priv-key: noc-priv-pass }
        \(user)
        backends:
          - { name: slow, address: "udp:127.0.0.1:\(slowPort)", community: \(GatewayLab.community), timeout: 3s, retries: 0 }
        views:
          - { name: all, include: [ 1.3.6.1 ] }
          - { name: no-contact, include: [ 1.3.6.1 ], exclude: [ 1.3.6.1.2.1.1.4 ] }
        routes:
          - { name: slow, users: [ noc, \(name) ], backend: slow, read-view: \(view) }
        ops: { listen: "tcp:127.0.0.1:\(opsPort)" }
        audit: { file: audit.jsonl }

        """
    }

    static let oldUser = "  - { name: old, auth: SHA, auth-key: old-auth-pass, priv: AES, priv-key: old-priv-pass }"
    static let newUser = "  - { name: new, auth: SHA-512, auth-key: new-auth-pass, priv: AES-256, priv-key: new-priv-pass }"

    /// Writes `configuration`, sends SIGHUP and waits for the outcome's log line.
    static func reload(_ lab: GatewayLab, _ configuration: String) throws -> Bool {
        let gateway = try #require(lab.gateway)
        let before = gateway.output.components(separatedBy: "\"reload").count
        try configuration.write(toFile: lab.configPath, atomically: true, encoding: .utf8)
        kill(gateway.pid, SIGHUP)
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            let output = gateway.output
            // One "reloading" line, then "reloaded" or "reload refused".
            if output.components(separatedBy: "\"reload").count >= before + 2 {
                return output.split(separator: "\n").last { $0.contains("\"reload") }?.contains("\"reloaded\"") ?? false
            }
            usleep(10_000)
        }
        Issue.record("no reload outcome in the log: \(gateway.output)")
        return false
    }

    @Test("under load: a user added, one removed, a view changed; in-flight requests finish with the keys they came with; a broken file changes nothing")
    func reloadUnderLoad() throws {
        let lab = try GatewayLab(name: "reload")
        let slowPort = Peers.freeUDPPort()
        let opsPort = Peers.freeTCPPort()
        let relay = try PeerProcess("/usr/bin/env", ["python3", "-c", slowRelay, "\(slowPort)", "\(lab.backendPort)", "0.3"])
        defer { relay.stop() }
        // Bounded wait until the relay passes requests on.
        var relaying = false
        for _ in 0..<50 where !relaying {
            let path = try #require(Peers.netSNMP("snmpget"))
            relaying =
                (try? Peers.run(
                    path,
                    ["-v2c", "-c", GatewayLab.community, "-r", "0", "-t", "1", "udp:127.0.0.1:\(slowPort)", "1.3.6.1.2.1.1.5.0"],
                    environment: lab.environment
                ).output.contains("legacy-switch")) ?? false
        }
        try #require(relaying, "the slow relay did not start")
        let before = Self.configuration(lab, slowPort: slowPort, opsPort: opsPort, user: Self.oldUser, name: "old", view: "all")
        try lab.startGateway(before)
        let contact = ["1.3.6.1.2.1.1.4.0"]
        let direct = WalkLine.parse(try lab.direct(["1.3.6.1.2.1.1"], tool: "snmpwalk"))
        #expect(try lab.throughGateway(contact, user: Self.old).contains("STRING"))

        // Load: three managers walking the system group over and over (each answer 0.3 s late).
        let walker = try #require(Peers.netSNMP("snmpwalk"))
        let walks = try (0..<3).map { _ in
            try PeerProcess(
                "/bin/sh",
                [
                    "-c",
                    "for i in 1 2 3; do \"$0\" \"$@\" || echo WALK-FAILED; done",
                    walker,
                ] + Self.keep + ["-On", "-r", "0", "-t", "5", "udp:127.0.0.1:\(lab.gatewayPort)", "1.3.6.1.2.1.1"],
                environment: lab.environment
            )
        }
        // A request of the user about to be removed, in flight during the reload.
        let snmpget = try #require(Peers.netSNMP("snmpget"))
        let inFlight = try PeerProcess(
            snmpget,
            Self.old + ["-On", "-r", "0", "-t", "5", "udp:127.0.0.1:\(lab.gatewayPort)", "1.3.6.1.2.1.1.5.0"],
            environment: lab.environment
        )
        usleep(100_000)  // the request is at the slow agent (0.3 s)
        let after = Self.configuration(lab, slowPort: slowPort, opsPort: opsPort, user: Self.newUser, name: "new", view: "no-contact")
        #expect(try Self.reload(lab, after))
        // The new user works at once; the view changed for everyone.
        let newUser = try lab.throughGateway(["1.3.6.1.2.1.1.5.0"], user: Self.new, timeout: 5)
        #expect(newUser.contains("STRING: \"legacy-switch\""), "\(newUser)")
        #expect(try lab.throughGateway(contact, timeout: 5).contains("No Such Object"))
        // The removed user's request in flight was answered, with its own keys; after it, refused.
        #expect(inFlight.waitUntilExit(timeout: 10))
        #expect(inFlight.output.contains("STRING: \"legacy-switch\""), "\(inFlight.output)")
        #expect(try lab.throughGateway(contact, user: Self.old, timeout: 2).contains("Unknown user name"))

        // A broken file: refused, nothing changes, the metric says 0.
        #expect(try !Self.reload(lab, after + "routes: [ broken\n"))
        #expect(try lab.throughGateway(["1.3.6.1.2.1.1.5.0"], user: Self.new, timeout: 5).contains("legacy-switch"))
        let metrics = try Peers.http("GET /metrics HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n", port: opsPort).body
        #expect(metrics.contains("snmpwarden_config_last_reload_successful 0.0"), "\(metrics)")
        #expect(metrics.contains("snmpwarden_config_reloads_total{result=\"failure\"} 1"))
        #expect(metrics.contains("snmpwarden_config_reloads_total{result=\"success\"} 2"))  // start + reload
        // POST /-/reload with the good file again: back to 1.
        try after.write(toFile: lab.configPath, atomically: true, encoding: .utf8)
        let posted = try Peers.http("POST /-/reload HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 0\\r\\nConnection: close\\r\\n\\r\\n", port: opsPort)
        #expect(posted.status == 200, "\(posted)")

        // Every walk of the load completed: no lost answer, no error, every object of the group.
        for walk in walks {
            #expect(walk.waitUntilExit(timeout: 60))
            let output = walk.output
            #expect(!output.contains("WALK-FAILED") && !output.contains("Timeout"), "\(output)")
            let lines = WalkLine.parse(output)
            // Three walks, each the group with or without sysContact (the view changed midway).
            #expect(lines.count >= 3 * (direct.count - 1) && lines.count <= 3 * direct.count, "\(output)")
        }
        // engineBoots is what the gateway started with: a reload is no re-initialisation.
        let listening = try #require(lab.gateway?.output.split(separator: "\n").first { $0.contains("\"listening\"") })
        let boots = try #require(
            try JSONSerialization.jsonObject(with: Data(listening.utf8)) as? [String: String]
        )["engine_boots"]
        let scraped = try Peers.http("GET /metrics HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n", port: opsPort).body
        #expect(scraped.contains("snmpwarden_engine_boots \(boots ?? "?").0"), "\(scraped)")
        let (status, counters) = try lab.stopGateway()
        #expect(status == 0)
        #expect(counters["backend_timeouts"] == "0")
        // Each reload is an audit event: two that took, one refused with the error's position.
        let audit = try String(contentsOfFile: lab.directory + "/audit.jsonl", encoding: .utf8)
        let reloads = try audit.split(separator: "\n").compactMap {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String]
        }.filter { $0["event"] == "reload" }
        #expect(reloads.map { $0["result"] ?? "" } == ["success", "failure", "success"], "\(reloads)")
        #expect(reloads[1]["errors"]?.contains("snmpwarden.yaml:") == true, "\(reloads)")
    }

    @Test("a reload moves a listener, and the inventory file reloads with it")
    func listenersAndInventory() throws {
        let lab = try GatewayLab(name: "reload-listeners")
        let secondPort = Peers.freeUDPPort()
        try "name,address\nsw-a,udp:127.0.0.1:\(lab.backendPort)\n".write(
            toFile: lab.directory + "/fleet.csv",
            atomically: true,
            encoding: .utf8
        )
        let inventory = """
              - inventory: fleet.csv
                defaults: { community: \(GatewayLab.community), timeout: 1s, retries: 0 }
            """
        let fleet = """
              - { name: fleet, users: [ noc ], context: "*", backend: "{context}", read-view: all }
            """
        try lab.startGateway(lab.configuration(listen: ["udp:127.0.0.1:\(lab.gatewayPort)"], extraBackends: inventory, extraRoutes: fleet))
        #expect(try lab.throughGateway(["-n", "sw-a", "1.3.6.1.2.1.1.5.0"]).contains("legacy-switch"))
        #expect(try lab.throughGateway(["-n", "sw-b", "1.3.6.1.2.1.1.5.0"]).contains("authorizationError"))
        // The next file: the listener moves to another port, and the inventory has a second device.
        try "name,address\nsw-a,udp:127.0.0.1:\(lab.backendPort)\nsw-b,udp:127.0.0.1:\(lab.backendPort)\n".write(
            toFile: lab.directory + "/fleet.csv",
            atomically: true,
            encoding: .utf8
        )
        #expect(
            try Self.reload(
                lab,
                lab.configuration(listen: ["udp:127.0.0.1:\(secondPort)"], extraBackends: inventory, extraRoutes: fleet)
            )
        )
        let moved = "udp:127.0.0.1:\(secondPort)"
        #expect(try lab.throughGateway(["-n", "sw-b", "1.3.6.1.2.1.1.5.0"], address: moved).contains("legacy-switch"))
        // The old port is closed: nobody answers there any more.
        #expect(try lab.throughGateway(["-n", "sw-a", "1.3.6.1.2.1.1.5.0"], timeout: 1).contains("Timeout"))
        let (status, _) = try lab.stopGateway()
        #expect(status == 0)
    }
}
