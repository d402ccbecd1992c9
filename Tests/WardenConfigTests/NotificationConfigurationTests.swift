//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import SNMPSecurity
import SNMPWire
import Testing
import WardenConfig

/// The rest of a configuration, before `notifications:`: 14 lines, so that the section's first
/// line is line 15 and its first entry line 16.
let notificationPreamble = """
    listen: [ "udp:127.0.0.1:1161" ]
    users:
      - name: trapuser
        auth: SHA
        auth-key: trapauth123
        priv: AES
        priv-key: trappriv123
      - name: relay
        auth: SHA-256
        auth-key: relayauth123
    views:
      - name: traps-only
        include: [ 1.3.6.1.6.3.1.1.5, 1.3.6.1.2.1.2 ]
    routes: []

    """

/// A whole configuration with `section` (YAML at column 1, starting with `notifications:`).
func withNotifications(_ section: String) -> String {
    notificationPreamble + section
}

let fullNotifications = """
    notifications:
      listen: [ "udp:0.0.0.0:10162", "udp6:[::]:10162" ]
      source-rate: 50
      source-burst: 100
      loop-marker: false
      sources:
        - name: switches
          prefixes: [ 10.0.0.0/8, "2001:db8::/32" ]
          communities: [ public, "${SW_COMMUNITY}" ]
        - name: v3-agents
          prefixes: [ 192.0.2.0/24 ]
          users: [ trapuser ]
          engine-ids: [ "0x8000000001020304", 80001f8804aabbcc ]
      targets:
        - name: nms
          address: udp:198.51.100.1:162
          version: 2c
          community: nmscomm
          kind: inform
          timeout: 500ms
          retries: 3
          max-pending: 50
        - name: legacy
          address: udp:198.51.100.2:162
          version: 1
          community: old
        - name: secure
          address: "udp6:[2001:db8::5]:162"
          version: 3
          user: relay
          kind: inform
          engine-id: 0x80001f8804010203
        - name: secure-traps
          address: udp:198.51.100.3
          version: 3
          user: trapuser
      routes:
        - name: everything
          sources: [ switches, v3-agents ]
          targets: [ nms, legacy, secure ]
          view: traps-only
          rewrite: [ { backend: 1.3.6.1.4.1.9, manager: 1.3.6.1.4.1.99999.9 } ]
          ack: local
          community-varbind: true
        - name: plain
          sources: [ switches ]
          targets: [ secure-traps ]

    """

@Suite("Configuration: notifications")
struct NotificationConfigurationTests {
    @Test("a full notifications: section parses, every value as written")
    func fullSection() throws {
        let configuration = try parse(withNotifications(fullNotifications))
        let settings = try #require(configuration.notifications)
        #expect(settings.listen.map(\.description) == ["udp:0.0.0.0:10162", "udp6:[::]:10162"])
        #expect(settings.sourceRate == 50 && settings.sourceBurst == 100 && settings.loopMarker == false)

        #expect(settings.sources.map(\.name) == ["switches", "v3-agents"])
        let switches = settings.sources[0]
        #expect(switches.prefixes.count == 2)
        #expect(switches.prefixes[0].contains([10, 20, 30, 40]) && !switches.prefixes[0].contains([11, 0, 0, 1]))
        #expect(switches.prefixes[1].length == 32 && switches.prefixes[1].address.count == 16)
        #expect(switches.communities == [Array("public".utf8), Array("s3cret-community".utf8)])
        #expect(switches.users.isEmpty && switches.engineIDs.isEmpty)
        let agents = settings.sources[1]
        #expect(agents.users == ["trapuser"] && agents.communities.isEmpty)
        #expect(
            agents.engineIDs == [[0x80, 0x00, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04], [0x80, 0x00, 0x1F, 0x88, 0x04, 0xAA, 0xBB, 0xCC]]
        )

        #expect(settings.targets.map(\.name) == ["nms", "legacy", "secure", "secure-traps"])
        let nms = settings.targets[0]
        #expect(nms.address.description == "udp:198.51.100.1:162" && nms.version == .v2c && nms.kind == .inform)
        #expect(nms.community == Array("nmscomm".utf8) && nms.user == nil)
        #expect(nms.timeoutMilliseconds == 500 && nms.retries == 3 && nms.maxPending == 50 && nms.engineID == nil)
        let legacy = settings.targets[1]
        #expect(legacy.version == .v1 && legacy.kind == .trap && legacy.community == Array("old".utf8))
        // The defaults.
        #expect(legacy.timeoutMilliseconds == 1000 && legacy.retries == 2 && legacy.maxPending == 1000)
        let secure = settings.targets[2]
        #expect(secure.address.description == "udp6:[2001:db8::5]:162" && secure.version == .v3)
        #expect(secure.user == "relay" && secure.kind == .inform && secure.community.isEmpty)
        #expect(secure.engineID == [0x80, 0x00, 0x1F, 0x88, 0x04, 0x01, 0x02, 0x03])
        let secureTraps = settings.targets[3]
        #expect(secureTraps.address.description == "udp:198.51.100.3:161")
        #expect(secureTraps.version == .v3 && secureTraps.user == "trapuser" && secureTraps.kind == .trap)

        #expect(settings.routes.map(\.name) == ["everything", "plain"])
        let everything = settings.routes[0]
        #expect(everything.sources == ["switches", "v3-agents"] && everything.targets == ["nms", "legacy", "secure"])
        #expect(everything.view == "traps-only" && everything.ack == .local && everything.communityVarbind)
        #expect(everything.rewrite.map(\.backend) == ["1.3.6.1.4.1.9"])
        #expect(everything.rewrite.map(\.manager) == ["1.3.6.1.4.1.99999.9"])
        let plain = settings.routes[1]
        #expect(plain.view == nil && plain.rewrite.isEmpty && plain.ack == .forwarded && !plain.communityVarbind)
    }

    @Test("without notifications: there is no notification listener")
    func absent() throws {
        #expect(try parse(notificationPreamble).notifications == nil)
    }

    /// Broken sections and the exact messages expected; the section starts at line 15.
    static let broken: [(String, String, [String])] = [
        (
            "unknown key in the section",
            """
            notifications:
              listen: [ "udp:0.0.0.0:10162" ]
              listens: [ "udp:0.0.0.0:162" ]
              sources: []
              targets: []
              routes: []
            """,
            [
                "test.yaml:17:3: unknown key 'listens' in notifications; expected one of: listen, sources, targets, routes, source-rate, source-burst, loop-marker"
            ]
        ),
        (
            "unknown key in a target",
            """
            notifications:
              listen: [ "udp:0.0.0.0:10162" ]
              sources: []
              targets:
                - name: nms
                  address: udp:198.51.100.1:162
                  community: c
                  port: 162
              routes: []
            """,
            [
                "test.yaml:22:7: unknown key 'port' in a notification target; expected one of: name, address, version, community, user, kind, timeout, retries, max-pending, engine-id"
            ]
        ),
        (
            "unknown source, target and view in a route",
            """
            notifications:
              listen: [ "udp:0.0.0.0:10162" ]
              sources:
                - name: switches
                  prefixes: [ 10.0.0.0/8 ]
                  communities: [ public ]
              targets:
                - name: nms
                  address: udp:198.51.100.1:162
                  community: c
              routes:
                - name: r
                  sources: [ switches, routers ]
                  targets: [ nms, nsm ]
                  view: traps
            """,
            [
                "test.yaml:27:28: notification route 'r': no source named 'routers'",
                "test.yaml:28:23: notification route 'r': no target named 'nsm'",
                "test.yaml:29:13: notification route 'r': no view named 'traps'",
            ]
        ),
        (
            "unknown user in a source and in a target",
            """
            notifications:
              listen: [ "udp:0.0.0.0:10162" ]
              sources:
                - name: agents
                  prefixes: [ 10.0.0.0/8 ]
                  users: [ trapuser, nobody ]
              targets:
                - name: secure
                  address: udp:198.51.100.1:162
                  version: 3
                  user: someone
              routes: []
            """,
            [
                "test.yaml:20:26: source 'agents': no user named 'nobody'",
                "test.yaml:25:13: target 'secure': no user named 'someone'",
            ]
        ),
        (
            "SNMPv1 with kind inform",
            """
            notifications:
              listen: [ "udp:0.0.0.0:10162" ]
              sources: []
              targets:
                - name: old
                  address: udp:198.51.100.1:162
                  version: 1
                  community: c
                  kind: inform
              routes: []
            """,
            ["test.yaml:23:13: target 'old': SNMPv1 has no inform; use version 2c or 3"]
        ),
        (
            "SNMPv3 without a user, and a community on an SNMPv3 target",
            """
            notifications:
              listen: [ "udp:0.0.0.0:10162" ]
              sources: []
              targets:
                - name: secure
                  address: udp:198.51.100.1:162
                  version: 3
                  community: c
              routes: []
            """,
            [
                "test.yaml:19:7: target 'secure' (version 3) needs 'user'",
                "test.yaml:22:7: target 'secure': community is for versions 1 and 2c",
            ]
        ),
        (
            "a target that is our own listener",
            """
            notifications:
              listen: [ "udp:192.0.2.1:10162" ]
              sources: []
              targets:
                - name: me
                  address: udp:192.0.2.1:10162
                  community: c
                - name: other-port
                  address: udp:192.0.2.1:162
                  community: c
                - name: other-host
                  address: udp:192.0.2.2:10162
                  community: c
              routes: []
            """,
            ["test.yaml:19:7: target 'me': udp:192.0.2.1:10162 is one of our own notification listeners (a loop)"]
        ),
        (
            "a loopback target and a wildcard listener",
            """
            notifications:
              listen: [ "udp:0.0.0.0:10162", "udp6:[::]:10162" ]
              sources: []
              targets:
                - name: local
                  address: udp:127.0.0.1:10162
                  community: c
                - name: local6
                  address: "udp6:[::1]:10162"
                  community: c
                - name: remote
                  address: udp:198.51.100.1:10162
                  community: c
              routes: []
            """,
            [
                "test.yaml:19:7: target 'local': udp:127.0.0.1:10162 is one of our own notification listeners (a loop)",
                "test.yaml:22:7: target 'local6': udp6:[::1]:10162 is one of our own notification listeners (a loop)",
            ]
        ),
        (
            "engine-ids without users",
            """
            notifications:
              listen: [ "udp:0.0.0.0:10162" ]
              sources:
                - name: agents
                  prefixes: [ 10.0.0.0/8 ]
                  communities: [ public ]
                  engine-ids: [ 8000000001020304 ]
              targets: []
              routes: []
            """,
            ["test.yaml:21:19: source 'agents': engine-ids go with users (the v3 agents' trap users)"]
        ),
        (
            "bad engine IDs: not hex, too short, too long, all zeros",
            """
            notifications:
              listen: [ "udp:0.0.0.0:10162" ]
              sources:
                - name: agents
                  prefixes: [ 10.0.0.0/8 ]
                  users: [ trapuser ]
                  engine-ids: [ 0xZZ00000001, "0x01020304", 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20, 0000000000 ]
              targets:
                - name: secure
                  address: udp:198.51.100.1:162
                  version: 3
                  user: relay
                  kind: inform
                  engine-id: 80001f88
              routes: []
            """,
            [
                "test.yaml:21:21: source 'agents': engine ID '0xZZ00000001' must be 5 to 32 octets in hex",
                "test.yaml:21:35: source 'agents': engine ID '0x01020304' must be 5 to 32 octets in hex",
                "test.yaml:21:49: source 'agents': engine ID '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20' must be 5 to 32 octets in hex",
                "test.yaml:21:117: source 'agents': engine ID '0000000000' must be 5 to 32 octets in hex",
                "test.yaml:28:18: target 'secure': engine-id must be 5 to 32 octets in hex",
            ]
        ),
        (
            "timeout, retries and max-pending on a trap target",
            """
            notifications:
              listen: [ "udp:0.0.0.0:10162" ]
              sources: []
              targets:
                - name: nms
                  address: udp:198.51.100.1:162
                  community: c
                  timeout: 2s
                  retries: 1
                  max-pending: 10
              routes: []
            """,
            [
                "test.yaml:22:7: target 'nms': timeout is for informs (traps get no answer)",
                "test.yaml:23:7: target 'nms': retries is for informs (traps get no answer)",
                "test.yaml:24:7: target 'nms': max-pending is for informs (traps get no answer)",
            ]
        ),
    ]

    @Test("broken notifications: every error, with its line and column", arguments: broken)
    func brokenSection(label: String, section: String, expected: [String]) {
        #expect(errors(withNotifications(section + "\n")) == expected, "\(label)")
    }
}
