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

/// The next item's index and the results of ``V3BackendGatewayTests/concurrently(_:width:_:)``,
/// under a lock.
private final class ConcurrentWork: @unchecked Sendable {
    let lock = NSLock()
    var next = 0
    var results: [String] = []
}

/// SNMPv3 towards a real snmpd: one back end per user, for every auth × priv combination
/// Net-SNMP 5.9.3 accepts, behind one gateway whose `{context}` route picks the back end by the
/// manager's context name.
@Suite("SNMPv3 back ends: the gateway against a real snmpd with createUser", .serialized)
struct V3BackendGatewayTests {
    /// Every combination snmpd 5.9.3 accepts in `createUser` (3DES it refuses: see
    /// NetSNMPInteropTests), by Net-SNMP's names; priv nil is authNoPriv.
    static let combinations: [(auth: String, priv: String?)] = [
        "MD5", "SHA", "SHA-224", "SHA-256", "SHA-384", "SHA-512",
    ]
    .flatMap { auth in [nil, "DES", "AES", "AES-192", "AES-256", "AES-192-C", "AES-256-C"].map { (auth, $0) } }

    /// The user, and back end, of one combination: `sha-256-aes-192-c`, `md5-nopriv`.
    static func name(_ auth: String, _ priv: String?) -> String { "\(auth)-\(priv ?? "nopriv")".lowercased() }

    /// snmpd's engine ID (`engineID` in snmpd.conf: 80001F88 04 and the text).
    static let engineIDText = "snmpwardenv3lab"
    static let engineIDHex = "80001f8804" + engineIDText.utf8.map { String(format: "%02x", $0) }.joined()

    /// snmpd.conf: the users, read access for each at its level, and the context `lab`, served by
    /// snmpd proxying to itself over v2c, which only `ctxuser` may read (in no other context).
    static func agentConfiguration(port: UInt16) -> String {
        var lines = [
            "engineID \(Self.engineIDText)",
            "view all included .1",
            "createUser plain",
            "rouser -s usm plain noauth -V all",
            "createUser ctxuser SHA-256 auth-ctxuser AES priv-ctxuser",
            "rouser -s usm ctxuser priv -V all lab",
            "proxy -Cn lab -v 2c -c \(GatewayLab.community) 127.0.0.1:\(port) .1.3.6.1.2.1.1",
            "createUser wrongpass SHA-256 auth-wrongpass AES priv-wrongpass",
            "rouser -s usm wrongpass priv -V all",
        ]
        for (auth, priv) in Self.combinations {
            let name = Self.name(auth, priv)
            if let priv {
                lines += [
                    "createUser \(name) \(auth) auth-\(name) \(priv) priv-\(name)", "rouser -s usm \(name) priv -V all",
                ]
            } else {
                lines += ["createUser \(name) \(auth) auth-\(name)", "rouser -s usm \(name) auth -V all"]
            }
        }
        return lines.joined(separator: "\n")
    }

    /// The gateway: manager user noc; each combination's user and back end; ctx-lab (context lab),
    /// ctx-default (no context), pinned (engine-id given), wrong-pass (a password snmpd does not
    /// have); a filtered route that hides sysORTable.
    static func gatewayConfiguration(_ lab: GatewayLab, opsPort: UInt16) -> String {
        let agent = "address: \"udp:127.0.0.1:\(lab.backendPort)\", version: 3, timeout: 1s, retries: 1"
        var users = [
            "{ name: noc, auth: SHA-256, auth-key: noc-auth-pass, priv: AES, priv-key: noc-priv-pass }",
            "{ name: plain }",
            "{ name: ctxuser, auth: SHA-256, auth-key: auth-ctxuser, priv: AES, priv-key: priv-ctxuser }",
            "{ name: wrongpass, auth: SHA-256, auth-key: not-the-password, priv: AES, priv-key: priv-wrongpass }",
        ]
        var backends = [
            "{ name: plain, \(agent), user: plain }",
            "{ name: ctx-lab, \(agent), user: ctxuser, context: lab }",
            "{ name: ctx-default, \(agent), user: ctxuser }",
            "{ name: pinned, \(agent), user: sha-256-aes, engine-id: \(Self.engineIDHex) }",
            "{ name: wrong-pass, \(agent), user: wrongpass }",
        ]
        for (auth, priv) in Self.combinations {
            let name = Self.name(auth, priv)
            var user = "{ name: \(name), auth: \(auth), auth-key: auth-\(name)"
            if let priv { user += ", priv: \(priv), priv-key: priv-\(name)" }
            users.append(user + " }")
            backends.append("{ name: \(name), \(agent), user: \(name) }")
        }
        return """
            engine:
              state-dir: state
            listen: [ "udp:127.0.0.1:\(lab.gatewayPort)" ]
            ops: { listen: "tcp:127.0.0.1:\(opsPort)" }
            users:
            \(users.map { "  - " + $0 }.joined(separator: "\n"))
            backends:
            \(backends.map { "  - " + $0 }.joined(separator: "\n"))
            views:
              - { name: all, include: [ 1.3.6.1 ] }
              - { name: no-sysor, include: [ 1.3.6.1 ], exclude: [ 1.3.6.1.2.1.1.9 ] }
            routes:
              - { name: filtered, users: [ noc ], context: filtered, backend: sha-256-aes, read-view: no-sysor }
              - { name: devices, users: [ noc ], context: "*", backend: "{context}", read-view: all }

            """
    }

    /// Net-SNMP's arguments for user `name` of a combination, straight to snmpd.
    static func directUser(_ auth: String, _ priv: String?) -> [String] {
        let name = Self.name(auth, priv)
        if let priv {
            return [
                "-v3", "-l", "authPriv", "-u", name, "-a", auth, "-A", "auth-\(name)", "-x", priv, "-X", "priv-\(name)",
            ]
        }
        return ["-v3", "-l", "authNoPriv", "-u", name, "-a", auth, "-A", "auth-\(name)"]
    }

    /// Runs `work` for each item on `width` threads at once (the tools spend their time waiting)
    /// and returns what the calls returned that is not nil.
    static func concurrently<Item: Sendable>(
        _ items: [Item],
        width: Int = 6,
        _ work: @escaping @Sendable (Item) -> String?
    ) -> [String] {
        let shared = ConcurrentWork()
        let group = DispatchGroup()
        for _ in 0..<min(width, items.count) {
            group.enter()
            Thread {
                while let item: Item = shared.lock.withLock({
                    defer { shared.next += 1 }
                    return shared.next < items.count ? items[shared.next] : nil
                }) {
                    if let result = work(item) { shared.lock.withLock { shared.results.append(result) } }
                }
                group.leave()
            }.start()
        }
        group.wait()
        return shared.results
    }

    /// Runs a Net-SNMP tool (`-On`, numeric OIDs) and returns its output.
    static func run(_ tool: String, _ arguments: [String], environment: [String: String]) throws -> String {
        let path = try #require(Peers.netSNMP(tool), "Net-SNMP's \(tool) is not installed (apt-get install snmp)")
        return try Peers.run(path, ["-On", "-r", "1", "-t", "3"] + arguments, environment: environment, timeout: 60)
            .output
    }

    @Test(
        "every auth × priv snmpd accepts: the walk through the gateway equals snmpd's own v3 walk; bulk, view, context, engine-id"
    )
    func everyCombination() throws {
        let lab = try GatewayLab(name: "v3-backends", agentConfiguration: Self.agentConfiguration)
        let opsPort = Peers.freeTCPPort()
        try lab.startGateway(Self.gatewayConfiguration(lab, opsPort: opsPort))
        let subtree = "1.3.6.1.2.1.1"
        let environment = lab.environment
        let agent = "udp:127.0.0.1:\(lab.backendPort)"
        let gateway = "udp:127.0.0.1:\(lab.gatewayPort)"
        let direct = { (user: [String]) throws -> [WalkLine] in
            WalkLine.parse(try Self.run("snmpwalk", user + [agent, subtree], environment: environment))
        }
        @Sendable func same(_ proxied: [WalkLine], _ direct: [WalkLine]) -> Bool {
            proxied.map(\.oid) == direct.map(\.oid)
                && zip(proxied, direct).allSatisfy { $0.value == $1.value || isDynamic($0.oid) }
        }

        // Each combination: snmpd's walk as the combination's user, and the gateway's walk of the
        // back end of that name (the manager is noc, with the back end's name as context).
        let cases =
            Self.combinations.map { (Self.name($0.auth, $0.priv), Self.directUser($0.auth, $0.priv)) }
            + [("plain", ["-v3", "-l", "noAuthNoPriv", "-u", "plain"])]
        #expect(cases.count == 43)
        let failed = Self.concurrently(cases) { (name, user) in
            do {
                let reference = WalkLine.parse(
                    try Self.run("snmpwalk", user + [agent, subtree], environment: environment)
                )
                let output = try Self.run(
                    "snmpwalk",
                    GatewayLab.noc + ["-n", name, gateway, subtree],
                    environment: environment
                )
                let proxied = WalkLine.parse(output)
                if reference.count < 20 || !same(proxied, reference) {
                    return "\(name): \(reference.count) lines direct; through the gateway: \(output)"
                }
                return nil
            } catch {
                return "\(name): \(error)"
            }
        }
        #expect(failed.isEmpty, "\(failed.sorted().joined(separator: "\n"))")

        let reference = try direct(Self.directUser("SHA-512", "AES-256"))
        // snmpbulkwalk: GetBulk through the gateway, GetBulk to the agent.
        let bulk = try lab.throughGateway(["-n", "sha-512-aes-256", "-Cr10", subtree], tool: "snmpbulkwalk")
        #expect(same(WalkLine.parse(bulk), reference), "\(bulk)")
        // The filtered route's view hides sysORTable, and the walk goes on past it.
        let filtered = WalkLine.parse(try lab.throughGateway(["-n", "filtered", subtree], tool: "snmpwalk"))
        let visible = reference.filter { !$0.oid.hasPrefix(".1.3.6.1.2.1.1.9.") }
        #expect(visible.count < reference.count && same(filtered, visible), "\(filtered)")
        let filteredBulk = WalkLine.parse(
            try lab.throughGateway(["-n", "filtered", "-Cr7", subtree], tool: "snmpbulkwalk")
        )
        #expect(same(filteredBulk, visible), "\(filteredBulk)")
        // engine-id given: no discovery, the same walk.
        let pinned = WalkLine.parse(try lab.throughGateway(["-n", "pinned", subtree], tool: "snmpwalk"))
        #expect(same(pinned, reference), "\(pinned)")

        // The context: ctxuser may read only in context lab, which snmpd serves by proxy.
        let contextReference = try direct([
            "-v3", "-l", "authPriv", "-u", "ctxuser", "-a", "SHA-256", "-A", "auth-ctxuser", "-x", "AES", "-X",
            "priv-ctxuser", "-n", "lab",
        ])
        let inLab = WalkLine.parse(try lab.throughGateway(["-n", "ctx-lab", subtree], tool: "snmpwalk"))
        #expect(contextReference.count > 5 && same(inLab, contextReference), "\(inLab)")
        let outside = try lab.throughGateway(["-n", "ctx-default", "1.3.6.1.2.1.1.5.0"])
        #expect(outside.contains("authorizationError"), "\(outside)")

        // A password snmpd does not have: its wrongDigests Report gives the manager genErr at once,
        // not after the back end's timeout and retry (2 s).
        let started = Date()
        let wrong = try lab.throughGateway(["-n", "wrong-pass", "1.3.6.1.2.1.1.5.0"])
        let elapsed = Date().timeIntervalSince(started)
        #expect(wrong.contains("genError") || wrong.contains("genErr"), "\(wrong)")
        #expect(elapsed < 1.0, "genErr after \(elapsed) s")

        let metrics = try Peers.http(
            "GET /metrics HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n",
            port: opsPort
        ).body
        func value(_ series: String) -> Double {
            metrics.split(separator: "\n").first { $0.hasPrefix(series + " ") }
                .flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
        }
        #expect(value("snmpwarden_backend_reports_total{kind=\"wrongDigests\"}") >= 1, "\(metrics)")
        #expect(value("snmpwarden_backend_usm_failures_total") >= 1)
        // At least one discovery per back end that was asked (one per event loop it was asked on),
        // and none for pinned.
        #expect(value("snmpwarden_backend_discoveries_total") >= 46)
        #expect(value("snmpwarden_backend_reports_total{kind=\"notInTimeWindows\"}") >= 1)
        #expect(value("snmpwarden_backend_unmatched_total{reason=\"usm-invalid\"}") == 0)

        let process = try #require(lab.gateway)
        let (status, counters) = try lab.stopGateway()
        #expect(status == 0)
        #expect(Int(counters["backend_reports_wrong_digests"] ?? "") ?? 0 >= 1, "\(counters)")
        #expect(counters["backend_usm_invalid"] == "0" && counters["backend_timeouts"] == "0", "\(counters)")
        // Audited in the main log (there is no audit.file): the back end, its user and the reason.
        let warning = process.output.split(separator: "\n").first { $0.contains("SNMPv3 agent answered with a Report") }
        #expect(
            warning?.contains("\"wrong-pass\"") == true && warning?.contains("wrongDigests") == true,
            "\(warning ?? "")"
        )
    }
}
