//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import Foundation
import SNMPSecurity
import SNMPWire
import Testing
import WardenConfig

/// The full example of DESIGN.md §5, with its secrets from the environment.
let designExample = """
    engine:
      id: 80001f8804736e6d7077617264656e
      state-dir: ./state
    listen: [ "udp:0.0.0.0:161", "udp6:[::]:161" ]
    users:
      - name: noc
        auth: SHA-256
        auth-key: ${NOC_AUTH}
        priv: AES
        priv-key: ${NOC_PRIV}
    backends:
      - name: legacy-switch
        address: udp:192.0.2.10:161
        version: 2c
        community: ${SW_COMMUNITY}
        timeout: 1s
        retries: 2
    views:
      - name: monitoring
        include: [ 1.3.6.1.2.1.1, 1.3.6.1.2.1.2, 1.3.6.1.2.1.31 ]
        exclude: [ 1.3.6.1.2.1.2.2.1.6 ]
    routes:
      - name: noc-switch
        users: [ noc ]
        context: legacy-switch
        sources: [ 10.0.0.0/8, "2001:db8::/32" ]
        backend: legacy-switch
        read-view: monitoring
        write-view: none
        rewrite: [ { backend: 1.3.6.1.4.1.9.9, manager: 1.3.6.1.4.1.99999.9 } ]
        on-timeout: genErr
    limits:
      max-repetitions: 50
      max-varbinds: 200
      max-pending: 10000
    """

let environment = ["NOC_AUTH": "auth-secret-1", "NOC_PRIV": "priv-secret-2", "SW_COMMUNITY": "s3cret-community"]

func parse(_ yaml: String) throws(ConfigurationErrors) -> WardenConfiguration {
    try ConfigurationLoader.parse(
        yaml: yaml,
        file: "test.yaml",
        environment: environment,
        baseDirectory: "/etc/snmpwarden"
    )
}

func errors(_ yaml: String) -> [String] {
    do {
        _ = try parse(yaml)
        return []
    } catch {
        return error.errors.map(\.description)
    }
}

@Suite("Configuration")
struct ConfigurationTests {
    @Test func designExampleLoads() throws {
        let configuration = try parse(designExample)
        #expect(configuration.engine.engineID?.count == 15)
        #expect(configuration.engine.stateDirectory == "/etc/snmpwarden/./state")
        #expect(configuration.listen.map(\.description) == ["udp:0.0.0.0:161", "udp6:[::]:161"])
        #expect(configuration.users.count == 1)
        #expect(configuration.users[0].auth?.protocol == .sha256)
        #expect(configuration.users[0].auth?.secret == .passphrase("auth-secret-1"))
        #expect(configuration.users[0].privacy?.protocol == .aes128)
        guard
            case .agent(let address, let version, let community, let timeout, let retries) = configuration.backends[0]
                .kind
        else {
            Issue.record("not an agent")
            return
        }
        #expect(address.description == "udp:192.0.2.10:161" && version == .v2c)
        #expect(community == Array("s3cret-community".utf8) && timeout == 1000 && retries == 2)
        #expect(
            configuration.views[0].include.map(\.description) == ["1.3.6.1.2.1.1", "1.3.6.1.2.1.2", "1.3.6.1.2.1.31"]
        )
        let route = configuration.routes[0]
        #expect(
            route.users == ["noc"] && route.context == .exactly("legacy-switch")
                && route.backend == .named("legacy-switch")
        )
        #expect(route.readView == "monitoring" && route.writeView == nil && route.onTimeout == .genErr)
        #expect(
            route.sources.count == 2 && route.sources[0].contains([10, 1, 2, 3])
                && !route.sources[0].contains([11, 0, 0, 1])
        )
        #expect(route.rewrite.count == 1 && route.rewrite[0].manager == "1.3.6.1.4.1.99999.9")
        #expect(configuration.limits == Limits())
    }

    /// Broken files and the exact messages expected; line:column point at the offending node.
    static let broken: [(String, String, [String])] = [
        (
            "unknown top-level key", "listen: [udp:127.0.0.1:1161]\nroutes: []\nlisten-on: x\n",
            [
                "test.yaml:3:1: unknown key 'listen-on' in the configuration; expected one of: engine, listen, users, backends, backend-sockets, views, routes, limits, ops, audit, notifications"
            ]
        ),
        (
            "YAML syntax", "listen: [udp:127.0.0.1:1161\nroutes: []\n",
            ["test.yaml:2:7: YAML: did not find expected ',' or ']'"]
        ),
        (
            "route naming an unknown backend and view",
            """
            listen: [udp:127.0.0.1:1161]
            users: [{ name: noc }]
            routes:
              - name: r
                users: [noc, nobody]
                backend: missing
                read-view: nothing
            """,
            [
                "test.yaml:5:18: route 'r': no user named 'nobody'",
                "test.yaml:6:14: route 'r': no backend named 'missing'",
                "test.yaml:7:16: route 'r': no view named 'nothing'",
            ]
        ),
        (
            "community routes: no context, not empty; a route needs users or communities",
            """
            listen: [udp:127.0.0.1:1161]
            backends: [{ name: b, address: "udp:127.0.0.1:161", community: public }]
            routes:
              - { name: r1, communities: [ public ], context: x, backend: b }
              - { name: r2, communities: [], backend: b }
              - { name: r3, backend: b }
            """,
            [
                "test.yaml:4:42: route 'r1': 'context' is for v3 users; v1/v2c has no context",
                "test.yaml:5:30: route 'r2': communities is empty",
                "test.yaml:6:5: route 'r3' needs 'users' (v3) or 'communities' (v1/v2c)",
            ]
        ),
        (
            "rewrites whose prefixes overlap",
            """
            listen: [udp:127.0.0.1:1161]
            backends: [{ name: b, address: "udp:127.0.0.1:161", community: public }]
            routes:
              - name: r
                users: []
                backend: b
                rewrite: [ { backend: 1.3.6.1.2.1.1, manager: 1.3.6.1.4.1.9.1 }, { backend: 1.3.6.1.2.1, manager: 1.3.6.1.4.1.9.2 } ]
            limits: { max-backend-requests: 0 }
            """,
            [
                "test.yaml:7:14: route 'r': the backend prefixes of two rewrites overlap",
                "test.yaml:8:33: limits.max-backend-requests must be from 1 to 1000",
            ]
        ),
        (
            "bad OID and pattern",
            """
            listen: [udp:127.0.0.1:1161]
            views:
              - name: v
                include: [1.3.6.x, "1.3.6.1.2.1.2.2.1.*.1"]
            routes:
              - name: r
                users: []
                backend: b
                rewrite: [{ backend: 1, manager: 1.3.6.1.4.1.99999 }]
            backends: [{ name: b, simulate: /dev/null }]
            """,
            [
                "test.yaml:4:15: view 'v': include: '1.3.6.x' is not an OID pattern (dotted numbers, '*' for any one arc)",
                "test.yaml:9:26: rewrite backend: '1' is not an OID (dotted numbers, at least two arcs)",
            ]
        ),
        (
            "bad addresses",
            """
            listen: ["udp:300.0.0.1:161", "udp6:::1:161", "tcp:127.0.0.1:161"]
            routes: [{ name: r, users: [], backend: b, sources: [10.0.0.0/33] }]
            backends: [{ name: b, address: "udp:192.0.2.1:70000", community: c }]
            """,
            [
                "test.yaml:1:10: listen: 'udp:300.0.0.1:161' is not a transport address (udp:192.0.2.1:161 or udp6:[2001:db8::1]:161)",
                "test.yaml:1:31: listen: 'udp6:::1:161' is not a transport address (udp:192.0.2.1:161 or udp6:[2001:db8::1]:161)",
                "test.yaml:1:47: listen: 'tcp:127.0.0.1:161' is not a transport address (udp:192.0.2.1:161 or udp6:[2001:db8::1]:161)",
                "test.yaml:2:54: route 'r': sources: '10.0.0.0/33' is not an address prefix (10.0.0.0/8 or 2001:db8::/32)",
                "test.yaml:3:32: backend 'b': address: 'udp:192.0.2.1:70000' is not a transport address (udp:192.0.2.1:161 or udp6:[2001:db8::1]:161)",
            ]
        ),
        (
            "weak passphrase and a missing secret",
            """
            listen: [udp:127.0.0.1:1161]
            users:
              - { name: a, auth: SHA, auth-key: short }
              - { name: b, auth: SHA, auth-key: "${NOT_SET}" }
              - { name: c, auth: MD6, auth-key: longenough }
              - { name: d, priv: AES, priv-key: longenough }
              - { name: e, auth: SHA, auth-key: longenough, priv-key: longenough }
              - { name: f, auth: SHA, auth-key: longenough, priv: none, priv-key: longenough }
            routes: []
            """,
            [
                "test.yaml:3:37: user 'a': auth-key is 5 characters; at least 8 are required (RFC 3414 §11.2)",
                "test.yaml:4:37: user 'b': auth-key: environment variable NOT_SET is not set",
                "test.yaml:5:22: user 'c': auth must be MD5, SHA, SHA-224, SHA-256, SHA-384 or SHA-512",
                "test.yaml:6:22: user 'd': privacy needs authentication ('auth')",
                "test.yaml:7:49: user 'e': a privacy key without 'priv' (or with 'priv: none')",
                "test.yaml:8:61: user 'f': a privacy key without 'priv' (or with 'priv: none')",
            ]
        ),
        (
            "durations, versions, limits",
            """
            listen: [udp:127.0.0.1:1161]
            backends: [{ name: b, address: "udp:127.0.0.1:161", version: 4, community: c, timeout: soon, retries: 99 }]
            routes: [{ name: r, users: [], backend: b, on-timeout: silent }]
            limits: { max-repetitions: 0, max-pending: lots }
            """,
            [
                "test.yaml:2:62: backend 'b': version must be 1, 2c or 3",
                "test.yaml:2:88: backend 'b': timeout must be a duration such as 500ms, 1s or 2m",
                "test.yaml:2:103: backend 'b': retries must be from 0 to 10",
                "test.yaml:3:56: route 'r': on-timeout must be genErr or drop",
                "test.yaml:4:28: limits.max-repetitions must be from 1 to 10000",
                "test.yaml:4:44: limits.max-pending must be a whole number",
            ]
        ),
        (
            "ops, audit and engine time",
            """
            engine: { time: epoch }
            listen: [udp:127.0.0.1:1161]
            ops: { listen: "udp:127.0.0.1:9161", per-backend-metrics: maybe }
            audit: { file: "" }
            routes: []
            """,
            [
                "test.yaml:1:17: engine.time: epoch needs engine.epoch (the instant engineTime counts from)",
                "test.yaml:1:17: engine.time: epoch needs engine.id: replicas answer as one engine only with the same ID",
                "test.yaml:3:16: ops.listen: 'udp:127.0.0.1:9161' is not a TCP address (tcp:127.0.0.1:9161 or tcp6:[::1]:9161)",
                "test.yaml:3:59: ops.per-backend-metrics must be true or false",
                "test.yaml:4:16: audit.file must be a path, or - for standard error",
            ]
        ),
        (
            "an epoch without time: epoch, and a date that is not one",
            """
            engine: { id: 80001f8804736e6d7077617264656e, epoch: "yesterday" }
            listen: [udp:127.0.0.1:1161]
            routes: []
            """,
            [
                "test.yaml:1:54: engine.epoch must be an RFC 3339 time such as 2026-01-01T00:00:00Z",
                "test.yaml:1:47: engine.epoch goes with time: epoch",
            ]
        ),
        (
            "transforms that cannot apply",
            """
            listen: [udp:127.0.0.1:1161]
            backends: [{ name: b, address: "udp:127.0.0.1:161", community: c }]
            routes:
              - name: r
                users: []
                backend: b
                transform:
                  - { oid: 1.3.6.1.2.1.2.2.1.3, match: "x", with: "y" }
                  - { oid: 1.3.6.1.2.1.2.2.1.5, replace: "fast" }
                  - { oid: 1.3.6.1.2.1.4.20.1, redact: hash }
                  - { oid: 1.3.6.1.2.1.1.1.0, match: "(unclosed", with: "y" }
                  - { oid: 1.3.6.1.2.1.1.4.0, replace: "a", redact: zero }
                  - { oid: "1.3.6.1.4.1.9.*", synthesize: { type: string, value: "s" } }
                  - { oid: 1.3.6.1.4.1.9.1.0, synthesize: { type: integer, value: "many" } }
                  - { oid: 1.3.6.1.4.1.9.2.0, replace: "1", type: colour }
                  - { oid: 1.3.6.1.2.1.1.5.0, match: "x" }
                  - { oid: 1.3.6.1.2.1.1.6.0, redact: blur }
            """,
            [
                "test.yaml:8:44: route 'r': transform of 1.3.6.1.2.1.2.2.1.3: a regular expression applies to strings, and ifType is of type integer",
                "test.yaml:9:46: route 'r': transform of 1.3.6.1.2.1.2.2.1.5: 'fast' is not a value of type unsigned (ifSpeed is one)",
                "test.yaml:10:44: route 'r': transform of 1.3.6.1.2.1.4.20.1: redact: hash needs the route's hash-key (a secret: ${ENV} or file:)",
                "test.yaml:11:42: route 'r': transform of 1.3.6.1.2.1.1.1.0: '(unclosed' is not a regular expression: expected ')'",
                "test.yaml:12:9: route 'r': a transform needs exactly one of redact, replace, match (with with) or synthesize",
                "test.yaml:13:16: route 'r': transform of 1.3.6.1.4.1.9.*: a synthesized object needs one OID, without '*'",
                "test.yaml:14:71: route 'r': transform of 1.3.6.1.4.1.9.1.0: 'many' is not a value of type integer",
                "test.yaml:15:55: route 'r': transform of 1.3.6.1.4.1.9.2.0: type must be one of string, integer, unsigned, counter32, counter64, timeticks, ipaddress, oid",
                "test.yaml:16:35: route 'r': transform of 1.3.6.1.2.1.1.5.0: match needs 'with' (the text that replaces what matches)",
                "test.yaml:17:43: route 'r': transform of 1.3.6.1.2.1.1.6.0: redact must be zero or hash",
            ]
        ),
        (
            "SNMPv3 back ends: user, context and engine-id, and what does not go with them",
            """
            listen: [udp:127.0.0.1:1161]
            users:
              - { name: agent, auth: SHA-256, auth-key: agent-auth-pass }
              - { name: keyed, auth: MD5, auth-localized-key: 0x00112233445566778899aabbccddeeff }
              - { name: weak, auth: SHA, auth-key: short }
            backends:
              - { name: a, address: "udp:192.0.2.1:161", version: 3, user: agent, community: c }
              - { name: b, address: "udp:192.0.2.2:161", version: 3, user: nobody }
              - { name: c, address: "udp:192.0.2.3:161", version: 3 }
              - { name: d, address: "udp:192.0.2.4:161", version: 3, user: agent, engine-id: 0x0102, context: "0123456789012345678901234567890123" }
              - { name: e, address: "udp:192.0.2.5:161", version: 2c, community: c, user: agent, context: x, engine-id: 800000020109840301 }
              - { name: f, address: "udp:192.0.2.6:161", version: 3, user: keyed }
              - { name: g, address: "udp:192.0.2.7:161", version: 3, user: weak }
              - { name: h, simulate: /dev/null, user: agent }
            routes: [{ name: r, users: [agent], backend: a }]
            """,
            [
                "test.yaml:5:40: user 'weak': auth-key is 5 characters; at least 8 are required (RFC 3414 §11.2)",
                "test.yaml:7:71: backend 'a': 'community' does not go with version 3 (it has a 'user')",
                "test.yaml:8:64: backend 'b': no user named 'nobody' in users",
                "test.yaml:9:5: backend 'c' (version 3) needs 'user'",
                "test.yaml:10:82: backend 'd': engine-id must be 5 to 32 octets in hex, not all zeros or all ones (RFC 3411)",
                "test.yaml:10:99: backend 'd': context must be at most 32 octets",
                "test.yaml:11:73: backend 'e': 'user' goes with version 3 only",
                "test.yaml:11:86: backend 'e': 'context' goes with version 3 only",
                "test.yaml:11:98: backend 'e': 'engine-id' goes with version 3 only",
                "test.yaml:12:64: backend 'f': user 'keyed' has a localized key, which is for one engine ID only: give the agent's engine-id (or give the user passphrases)",
                "test.yaml:14:37: backend 'h': 'user' does not go with 'simulate'",
            ]
        ),
        (
            "missing sections", "users: []\n",
            [
                "test.yaml:1:1: the configuration needs 'listen'",
                "test.yaml:1:1: the configuration needs 'routes' (without a route nothing is forwarded)",
            ]
        ),
    ]

    @Test("broken files: every error, with file:line:column", arguments: broken)
    func brokenFile(label: String, yaml: String, expected: [String]) {
        #expect(errors(yaml).sorted() == expected.sorted(), "\(label)")
    }

    @Test("max-in-flight: 64 by default, 0 for no bound, from a back end or an inventory's defaults; out of range is an error")
    func maxInFlight() throws {
        let configuration = try parse(
            """
            listen: [udp:127.0.0.1:1161]
            backends:
              - { name: plain, address: "udp:192.0.2.1:161", community: c }
              - { name: serial, address: "udp:192.0.2.2:161", community: c, max-in-flight: 1 }
              - { name: free, address: "udp:192.0.2.3:161", community: c, max-in-flight: 0 }
            routes: []
            """
        )
        #expect(configuration.backends.map(\.maxInFlight) == [64, 1, 0])
        #expect(
            errors(
                """
                listen: [udp:127.0.0.1:1161]
                backends:
                  - { name: a, address: "udp:192.0.2.1:161", community: c, max-in-flight: -1 }
                  - { name: b, address: "udp:192.0.2.2:161", community: c, max-in-flight: 65536 }
                  - { name: s, simulate: x.snmprec, max-in-flight: 2 }
                routes: []
                """
            ).filter { $0.contains("max-in-flight") } == [
                "test.yaml:3:75: backend 'a': max-in-flight must be from 0 to 65535",
                "test.yaml:4:75: backend 'b': max-in-flight must be from 0 to 65535",
                "test.yaml:5:37: backend 's': 'max-in-flight' does not go with 'simulate'",
            ]
        )
    }

    @Test("SNMPv3 back ends: the user from users:, the context, the engine ID; v1/v2c back ends beside them")
    func v3Backends() throws {
        let configuration = try parse(
            """
            listen: [udp:127.0.0.1:1161]
            users:
              - { name: noc, auth: SHA-256, auth-key: noc-auth-pass, priv: AES, priv-key: noc-priv-pass }
              - { name: agent, auth: SHA-512, auth-key: agent-auth-pass, priv: AES-256, priv-key: agent-priv-pass }
              - { name: keyed, auth: MD5, auth-localized-key: 0x00112233445566778899aabbccddeeff }
            backends:
              - { name: core, address: "udp:192.0.2.1:161", version: 3, user: agent }
              - { name: edge, address: "udp6:[2001:db8::2]:161", version: 3, user: agent, context: vrf-blue, engine-id: 0x80001f8804656467652d31, timeout: 2s, retries: 1 }
              - { name: pinned, address: "udp:192.0.2.3:161", version: 3, user: keyed, engine-id: 80001f88046b6579 }
              - { name: old, address: "udp:192.0.2.4:161", version: 2c, community: c }
            routes: [{ name: r, users: [noc], backend: core }]
            """
        )
        let backends = configuration.backends
        #expect(backends.map(\.usm) == [
            Backend.USM(user: "agent"),
            Backend.USM(user: "agent", context: "vrf-blue", engineID: [0x80, 0, 0x1F, 0x88, 0x04] + Array("edge-1".utf8)),
            Backend.USM(user: "keyed", engineID: [0x80, 0, 0x1F, 0x88, 0x04] + Array("key".utf8)),
            nil,
        ])
        guard case .agent(_, let version, let community, let timeout, let retries) = backends[1].kind else {
            Issue.record("not an agent")
            return
        }
        #expect(version == .v3 && community.isEmpty && timeout == 2000 && retries == 1)
        guard case .agent(_, .v2c, let oldCommunity, _, _) = backends[3].kind else {
            Issue.record("not a v2c agent")
            return
        }
        #expect(oldCommunity == Array("c".utf8))
    }

    @Test("secrets never appear in errors")
    func secretsStaySecret() {
        let yaml = """
            listen: [udp:127.0.0.1:1161]
            users:
              - { name: a, auth: SHA, auth-key: "${NOC_PRIV}", priv: AES, priv-key: tiny }
            backends: [{ name: b, address: "udp:127.0.0.1:161", community: "${SW_COMMUNITY}", timeout: never }]
            routes: [{ name: r, users: [a], backend: b, read-view: nope }]
            """
        let text = errors(yaml).joined(separator: "\n")
        #expect(!text.isEmpty)
        for secret in environment.values { #expect(!text.contains(secret)) }
        #expect(!text.contains("tiny"))
    }

    @Test("file: secrets are read, relative to the configuration's directory")
    func fileSecrets() throws {
        let directory = NSTemporaryDirectory() + "snmpwarden-config-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "from-a-file-123\n".write(toFile: directory + "/auth.key", atomically: true, encoding: .utf8)
        let yaml = """
            listen: [udp:127.0.0.1:1161]
            users: [{ name: a, auth: SHA-512, auth-key: "file:auth.key" }, { name: b, auth: SHA, auth-key: "file:/nonexistent/key" }]
            routes: []
            """
        try yaml.write(toFile: directory + "/warden.yaml", atomically: true, encoding: .utf8)
        do {
            _ = try ConfigurationLoader.load(path: directory + "/warden.yaml", environment: [:])
            Issue.record("a missing key file was accepted")
        } catch {
            #expect(
                error.errors.map(\.description) == [
                    "\(directory)/warden.yaml:2:96: user 'b': auth-key: cannot read /nonexistent/key"
                ]
            )
        }
        try yaml.replacingOccurrences(of: ", { name: b, auth: SHA, auth-key: \"file:/nonexistent/key\" }", with: "")
            .write(toFile: directory + "/warden.yaml", atomically: true, encoding: .utf8)
        let configuration = try ConfigurationLoader.load(path: directory + "/warden.yaml", environment: [:])
        #expect(configuration.users[0].auth?.secret == .passphrase("from-a-file-123"))
    }
}
