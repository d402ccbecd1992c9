//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import Foundation
import NIOCore
import PeerSupport
import SNMPWire
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Notifications end to end: Net-SNMP's snmptrap, snmpinform and snmpd as devices, snmptrapd as the
/// receivers, the real gateway between them.
@Suite("Notifications against Net-SNMP")
struct NotificationTests {
    static let sysUpTime = ".1.3.6.1.2.1.1.3.0"
    static let snmpTrapAddress = ".1.3.6.1.6.3.18.1.3.0"
    static let snmpTrapCommunity = ".1.3.6.1.6.3.18.1.4.0"
    static let snmpTrapEnterprise = ".1.3.6.1.6.3.1.1.4.3.0"
    static let marker = ".1.3.6.1.6.3.10.2.1.1.1"

    /// v1 traps (every generic trap and an enterprise-specific one) and a v2c trap from snmptrap reach
    /// an SNMPv3 receiver as authPriv traps from our engine, and a v2c receiver, translated as RFC
    /// 3584 §3.1 says (Net-SNMP's own translation is the oracle); a v1 receiver gets §3.2.
    @Test func legacyTrapsReachReceiversTranslated() throws {
        let v3 = try TrapReceiver(
            name: "notify-v3",
            configuration: [
                "createUser -e 0x\(NotificationLab.engineID) nms-trap SHA nms-trap-pass AES nms-trap-pass",
                "authUser log nms-trap priv",
            ]
        )
        let v2c = try TrapReceiver(name: "notify-v2c", configuration: ["authCommunity log nms-community"])
        let v1 = try TrapReceiver(name: "notify-v1", configuration: ["authCommunity log old-community"])
        let lab = NotificationLab(name: "notify-translate")
        try lab.start(
            lab.configuration(
                users: "  - { name: nms-trap, auth: SHA, auth-key: nms-trap-pass, priv: AES, priv-key: nms-trap-pass }",
                notifications: """
                      sources:
                        - { name: legacy, prefixes: [ 127.0.0.0/8 ], communities: [ device-community ] }
                      targets:
                        - { name: nms, address: "udp:127.0.0.1:\(v3.port)", version: 3, user: nms-trap, kind: trap }
                        - { name: old-nms, address: "udp:127.0.0.1:\(v2c.port)", version: 2c, community: nms-community, kind: trap }
                        - { name: v1-nms, address: "udp:127.0.0.1:\(v1.port)", version: 1, community: old-community }
                      routes:
                        - { name: all, sources: [ legacy ], targets: [ nms, old-nms, v1-nms ] }
                    """
            )
        )
        // coldStart(0) … egpNeighborLoss(5), then enterpriseSpecific(6) 17.
        for generic in 0...6 {
            try lab.device(
                "snmptrap",
                [
                    "-v", "1", "-c", "device-community", "1.3.6.1.4.1.8072.9999", "192.0.2.7", "\(generic)",
                    generic == 6 ? "17" : "0", "\(1000 + generic)", "1.3.6.1.2.1.1.5.0", "s", "hello-\(generic)",
                ]
            )
        }
        try lab.device(
            "snmptrap",
            [
                "-v", "2c", "-c", "device-community", "4242", "1.3.6.1.4.1.8072.2.3.0.1", "1.3.6.1.2.1.2.2.1.1.3",
                "i", "3", "1.3.6.1.6.3.1.1.4.3.0", "o", "1.3.6.1.4.1.8072.2.3",
            ]
        )
        // A v2c trap with a Counter64 cannot go to the v1 receiver (RFC 3584 §3.2). snmptrap has no
        // Counter64 type: the device is a datagram of our own.
        var counter64Trap = ByteBuffer()
        counter64Trap.writeCommunityMessage(
            CommunityMessage(
                version: .v2c,
                community: "device-community",
                pdu: PDU(
                    type: .trapV2,
                    requestID: 4243,
                    varbinds: [
                        VarBind(oid: OID(dotted: "1.3.6.1.2.1.1.3.0")!, value: .timeTicks(4243)),
                        VarBind(oid: OID(dotted: "1.3.6.1.6.3.1.1.4.1.0")!, value: .objectIdentifier(OID(dotted: "1.3.6.1.6.3.1.1.5.4")!)),
                        VarBind(oid: OID(dotted: "1.3.6.1.2.1.31.1.1.1.6.3")!, value: .counter64(12_345_678_901)),
                    ]
                )
            )
        )
        UDPClient().send(counter64Trap, to: lab.notificationPort)
        // A wrong community: dropped, counted, never forwarded.
        try lab.device("snmptrap", ["-v", "2c", "-c", "guess", "1", "1.3.6.1.6.3.1.1.5.1"])

        for receiver in [v3, v2c] {
            let lines = receiver.await(9)
            try #require(lines.count == 9, "\(lines)")
            for generic in 0...6 {
                let line = lines[generic]
                #expect(line.varbinds.map(\.oid) .prefix(3) == [Self.sysUpTime, ".1.3.6.1.6.3.1.1.4.1.0", ".1.3.6.1.2.1.1.5.0"])
                #expect(line.value(Self.sysUpTime)?.contains("(\(1000 + generic))") == true, "\(line)")
                let expected = generic == 6 ? ".1.3.6.1.4.1.8072.9999.0.17" : ".1.3.6.1.6.3.1.1.5.\(generic + 1)"
                #expect(line.trapOID == "OID: \(expected)", "\(line)")
                #expect(line.value(".1.3.6.1.2.1.1.5.0") == "STRING: \"hello-\(generic)\"")
                // agent-addr, then the enterprise, as Net-SNMP orders them; no community.
                let oids = line.varbinds.map(\.oid)
                #expect(Array(oids[3...5]) == [Self.snmpTrapAddress, Self.snmpTrapEnterprise, ".1.3.6.1.6.3.18.1.3.1"], "\(line)")
                #expect(line.value(Self.snmpTrapAddress) == "IpAddress: 192.0.2.7")
                #expect(line.value(Self.snmpTrapEnterprise) == "OID: .1.3.6.1.4.1.8072.9999")
                // The hop it came from (the device's real address), as Net-SNMP's addForwarderInfo stacks it.
                #expect(line.value(".1.3.6.1.6.3.18.1.3.1") == "IpAddress: 127.0.0.1")
                #expect(line.value(Self.snmpTrapCommunity) == nil)
                #expect(!line.raw.contains("device-community"))
                #expect(line.value(Self.marker) != nil)
            }
            let v2Trap = lines[7]
            #expect(v2Trap.trapOID == "OID: .1.3.6.1.4.1.8072.2.3.0.1")
            #expect(v2Trap.value(Self.snmpTrapAddress) == "IpAddress: 127.0.0.1")
            #expect(lines[8].value(".1.3.6.1.2.1.31.1.1.1.6.3")?.hasPrefix("Counter64: 12345678901") == true)
        }
        #expect(v3.received.allSatisfy { $0.version == "3" && $0.security.contains("user nms-trap") })
        #expect(v2c.received.allSatisfy { $0.version == "1" && $0.security.contains("community nms-community") })

        // §3.2 at the v1 receiver: 8 traps (the Counter64 one is not sent).
        let old = v1.await(8)
        try #require(old.count == 8, "\(old)")
        for generic in 0...6 {
            #expect(old[generic].version == "0")
            #expect(old[generic].generic == "\(generic)")
            #expect(old[generic].specific == (generic == 6 ? "17" : "0"))
            #expect(old[generic].enterprise == ".1.3.6.1.4.1.8072.9999")
            #expect(old[generic].agent == "192.0.2.7")
        }
        // The next-to-last-0 rule and snmpTrapEnterprise.0 left as a varbind.
        #expect(old[7].enterprise == ".1.3.6.1.4.1.8072.2.3")
        #expect(old[7].generic == "6" && old[7].specific == "1")
        #expect(old[7].agent == "127.0.0.1")
        usleep(300_000)
        #expect(v1.received.count == 8)
        #expect(try lab.metric("snmpwarden_notification_target_dropped_total", ["target": "v1-nms", "reason": "counter64"]) == 1)
        #expect(try lab.metric("snmpwarden_notifications_dropped_total", ["reason": "wrong-community"]) == 1)
        #expect(try lab.metric("snmpwarden_notifications_translated_total", ["direction": "v1-to-v2"]) == 7)
        #expect(try lab.metric("snmpwarden_notifications_received_total", ["version": "2c", "pdu": "trap"]) == 2)
    }

    /// SNMPv3 towards receivers for several auth × priv combinations: traps (the receiver knows the
    /// user under our engine ID) and informs (the gateway discovers the receiver's engine).
    @Test func v3TrapsAndInformsForEveryProtocol() throws {
        let combinations: [(auth: String, priv: String?)] = [
            ("MD5", nil), ("SHA", "DES"), ("SHA", "AES"), ("SHA-256", "AES-256"), ("SHA-512", "AES-192"),
            ("SHA-224", "AES"), ("SHA-384", "DES"),
        ]
        var trapd: [String] = []
        var users: [String] = []
        var targets: [String] = []
        for (index, (auth, priv)) in combinations.enumerated() {
            let privacy = priv.map { " \($0) priv-pass-\(index)" } ?? ""
            trapd.append("createUser -e 0x\(NotificationLab.engineID) trap\(index) \(auth) auth-pass-\(index)\(privacy)")
            trapd.append("createUser inform\(index) \(auth) auth-pass-\(index)\(privacy)")
            let level = priv == nil ? "auth" : "priv"
            trapd.append("authUser log trap\(index) \(level)")
            trapd.append("authUser log inform\(index) \(level)")
            let yamlPrivacy = priv.map { ", priv: \($0), priv-key: priv-pass-\(index)" } ?? ""
            users.append("  - { name: trap\(index), auth: \(auth), auth-key: auth-pass-\(index)\(yamlPrivacy) }")
            users.append("  - { name: inform\(index), auth: \(auth), auth-key: auth-pass-\(index)\(yamlPrivacy) }")
            targets.append("    - { name: t\(index), address: \"udp:127.0.0.1:PORT\", version: 3, user: trap\(index), kind: trap }")
            targets.append(
                "    - { name: i\(index), address: \"udp:127.0.0.1:PORT\", version: 3, user: inform\(index), kind: inform, timeout: 1s, retries: 2 }"
            )
        }
        let receiver = try TrapReceiver(name: "notify-v3-protocols", configuration: trapd)
        let lab = NotificationLab(name: "notify-v3-protocols")
        let names = (0..<combinations.count).flatMap { ["t\($0)", "i\($0)"] }
        try lab.start(
            lab.configuration(
                users: users.joined(separator: "\n"),
                notifications: """
                      sources:
                        - { name: legacy, prefixes: [ 127.0.0.1/32 ], communities: [ device-community ] }
                      targets:
                    \(targets.joined(separator: "\n").replacingOccurrences(of: "PORT", with: "\(receiver.port)"))
                      routes:
                        - { name: all, sources: [ legacy ], targets: [ \(names.joined(separator: ", ")) ] }
                    """
            )
        )
        try lab.device("snmptrap", ["-v", "2c", "-c", "device-community", "77", "1.3.6.1.6.3.1.1.5.3", "1.3.6.1.2.1.2.2.1.1.5", "i", "5"])
        let lines = receiver.await(2 * combinations.count)
        #expect(lines.count == 2 * combinations.count, "\(lines)")
        for index in combinations.indices {
            for kind in ["TRAP2", "INFORM"] {
                let user = kind == "TRAP2" ? "trap\(index)" : "inform\(index)"
                let matching = lines.filter { $0.security.contains("\(kind), SNMP v3, user \(user),") }
                #expect(matching.count == 1, "\(combinations[index]) \(kind): \(lines)")
                #expect(matching.first?.trapOID == "OID: .1.3.6.1.6.3.1.1.5.3")
            }
        }
        #expect(
            try lab.awaitMetric("snmpwarden_notification_target_acknowledged_total", ["target": "i3"], atLeast: 1) == 1
        )
    }

    /// A device's inform is acknowledged only after the receiver acknowledged the forwarded inform;
    /// with the receiver down, the device times out; with two receivers and one down, the live one
    /// gets it at once and the device is acknowledged before the dead one's retries end.
    @Test func informsAreAcknowledgedTruthfully() throws {
        let receiver = try TrapReceiver(
            name: "notify-inform",
            configuration: ["createUser nms-inform SHA-256 inform-pass AES inform-pass", "authUser log nms-inform priv"]
        )
        let deadPort = Peers.freeUDPPort()
        let lab = NotificationLab(name: "notify-inform")
        try lab.start(
            lab.configuration(
                users: """
                      - { name: nms-inform, auth: SHA-256, auth-key: inform-pass, priv: AES, priv-key: inform-pass }
                      - { name: device-v3, auth: SHA, auth-key: device-pass, priv: AES, priv-key: device-pass }
                    """,
                notifications: """
                      sources:
                        - { name: legacy, prefixes: [ 127.0.0.1/32 ], communities: [ device-community ] }
                        - { name: dead-only, prefixes: [ 127.0.0.1/32 ], communities: [ dead-community ] }
                        - { name: v3-devices, prefixes: [ 127.0.0.1/32 ], users: [ device-v3 ], engine-ids: [ 8000000001020304 ] }
                      targets:
                        - { name: nms, address: "udp:127.0.0.1:\(receiver.port)", version: 3, user: nms-inform, kind: inform, timeout: 500ms, retries: 1 }
                        - { name: dead, address: "udp:127.0.0.1:\(deadPort)", version: 2c, community: c, kind: inform, timeout: 2s, retries: 2 }
                      routes:
                        - { name: both, sources: [ legacy, v3-devices ], targets: [ nms, dead ] }
                        - { name: dead-only, sources: [ dead-only ], targets: [ dead ] }
                    """
            )
        )
        // Two targets, one dead: acknowledged through the live one, long before the dead one gives up (6 s).
        let started = Date()
        let ok = try lab.device(
            "snmpinform",
            ["-v", "2c", "-c", "device-community", "-t", "3", "-r", "0", "55", "1.3.6.1.6.3.1.1.5.4", "1.3.6.1.2.1.2.2.1.1.4", "i", "4"]
        )
        #expect(ok.status == 0, "\(ok.output)")
        #expect(Date().timeIntervalSince(started) < 3)
        #expect(receiver.await(1).first?.security.contains("INFORM, SNMP v3, user nms-inform") == true)

        // An SNMPv3 inform from a device: our engine is authoritative (the device discovers it).
        let v3 = try lab.device(
            "snmpinform",
            [
                "-v", "3", "-u", "device-v3", "-l", "authPriv", "-a", "SHA", "-A", "device-pass", "-x", "AES", "-X",
                "device-pass", "-t", "3", "-r", "0", "", "1.3.6.1.6.3.1.1.5.2",
            ]
        )
        #expect(v3.status == 0, "\(v3.output)")
        #expect(receiver.await(2).last?.trapOID == "OID: .1.3.6.1.6.3.1.1.5.2")

        // An SNMPv3 trap from a device: the device is authoritative, the gateway knows its engine ID.
        let trap = try lab.device(
            "snmptrap",
            [
                "-v", "3", "-e", "0x8000000001020304", "-u", "device-v3", "-l", "authPriv", "-a", "SHA", "-A",
                "device-pass", "-x", "AES", "-X", "device-pass", "", "1.3.6.1.6.3.1.1.5.5",
            ]
        )
        #expect(trap.status == 0, "\(trap.output)")
        #expect(receiver.await(3).last?.trapOID == "OID: .1.3.6.1.6.3.1.1.5.5")
        // The same from an engine the gateway does not know, and with a wrong key: dropped.
        for (engine, key) in [("0x8000000001020399", "device-pass"), ("0x8000000001020304", "wrong-pass")] {
            try lab.device(
                "snmptrap",
                [
                    "-v", "3", "-e", engine, "-u", "device-v3", "-l", "authPriv", "-a", "SHA", "-A", key, "-x", "AES",
                    "-X", "device-pass", "", "1.3.6.1.6.3.1.1.5.6",
                ]
            )
        }

        // Only the dead receiver: the device is never acknowledged and times out.
        let dead = try lab.device(
            "snmpinform",
            ["-v", "2c", "-c", "dead-community", "-t", "1", "-r", "1", "56", "1.3.6.1.6.3.1.1.5.1"]
        )
        #expect(dead.status != 0)
        #expect(dead.output.contains("Timeout"), "\(dead.output)")

        // A wrong community: no acknowledgement, nothing forwarded.
        let wrong = try lab.device("snmpinform", ["-v", "2c", "-c", "guess", "-t", "1", "-r", "0", "57", "1.3.6.1.6.3.1.1.5.1"])
        #expect(wrong.status != 0)
        // A wrong key from a v3 device: no acknowledgement either.
        let badKey = try lab.device(
            "snmpinform",
            [
                "-v", "3", "-u", "device-v3", "-l", "authPriv", "-a", "SHA", "-A", "wrong-pass", "-x", "AES", "-X",
                "device-pass", "-t", "1", "-r", "0", "", "1.3.6.1.6.3.1.1.5.2",
            ]
        )
        #expect(badKey.status != 0)
        usleep(300_000)
        #expect(receiver.received.count == 3)
        #expect(try lab.metric("snmpwarden_notifications_acknowledged_total", ["mode": "forwarded"]) == 2)
        #expect(try lab.metric("snmpwarden_notifications_dropped_total", ["reason": "authentication"]) >= 3)
        #expect(try lab.metric("snmpwarden_notifications_received_total", ["version": "3", "pdu": "trap"]) == 1)
        #expect(try lab.awaitMetric("snmpwarden_notification_target_timeouts_total", ["target": "dead"], atLeast: 2, timeout: 15) >= 2)
        #expect(try lab.metric("snmpwarden_notifications_unacknowledged_informs_total") >= 1)
    }

    /// A reload moves notifications to a new receiver at once; changing the listeners is refused.
    @Test func reloadChangesTargets() throws {
        let first = try TrapReceiver(name: "notify-reload-1", configuration: ["authCommunity log nms"])
        let second = try TrapReceiver(name: "notify-reload-2", configuration: ["authCommunity log nms"])
        let lab = NotificationLab(name: "notify-reload")
        func notifications(_ receiver: TrapReceiver) -> String {
            """
              sources:
                - { name: legacy, prefixes: [ 127.0.0.1/32 ], communities: [ device-community ] }
              targets:
                - { name: nms, address: "udp:127.0.0.1:\(receiver.port)", version: 2c, community: nms }
              routes:
                - { name: all, sources: [ legacy ], targets: [ nms ] }
            """
        }
        try lab.start(lab.configuration(notifications: notifications(first)))
        try lab.device("snmptrap", ["-v", "2c", "-c", "device-community", "1", "1.3.6.1.6.3.1.1.5.1"])
        #expect(first.await(1).count == 1)
        let reloaded = try lab.reload(lab.configuration(notifications: notifications(second)))
        #expect(reloaded.status == 200, "\(reloaded.body)")
        try lab.device("snmptrap", ["-v", "2c", "-c", "device-community", "2", "1.3.6.1.6.3.1.1.5.2"])
        #expect(second.await(1).first?.trapOID == "OID: .1.3.6.1.6.3.1.1.5.2")
        #expect(first.received.count == 1)
        let refused = try lab.reload(
            lab.configuration(notifications: notifications(second), extraListen: ", \"udp:127.0.0.1:\(Peers.freeUDPPort())\"")
        )
        #expect(refused.status == 422)
        #expect(refused.body.contains("notifications.listen"), "\(refused.body)")
    }

    /// `ack: local` answers at once, as snmptrapd does, even with no receiver up; over IPv6 too.
    @Test func localAcknowledgement() throws {
        let lab = NotificationLab(name: "notify-local-ack")
        let deadPort = Peers.freeUDPPort()
        try lab.start(
            lab.configuration(
                notifications: """
                      sources:
                        - { name: legacy, prefixes: [ 127.0.0.1/32 ], communities: [ device-community ] }
                        - { name: ipv6, prefixes: [ "::1/128" ], communities: [ device-community ] }
                      targets:
                        - { name: dead, address: "udp:127.0.0.1:\(deadPort)", version: 2c, community: c, kind: inform }
                      routes:
                        - { name: all, sources: [ legacy, ipv6 ], targets: [ dead ], ack: local }
                    """,
                extraListen: ", \"udp6:[::1]:\(lab.notificationPort)\""
            )
        )
        let ok = try lab.device("snmpinform", ["-v", "2c", "-c", "device-community", "-t", "2", "-r", "0", "1", "1.3.6.1.6.3.1.1.5.1"])
        #expect(ok.status == 0, "\(ok.output)")
        let path = try #require(Peers.netSNMP("snmpinform"))
        let overIPv6 = try Peers.run(
            path,
            ["-v", "2c", "-c", "device-community", "-t", "2", "-r", "0", "udp6:[::1]:\(lab.notificationPort)", "2", "1.3.6.1.6.3.1.1.5.2"],
            environment: lab.environment
        )
        #expect(overIPv6.status == 0, "\(overIPv6.output)")
        #expect(try lab.metric("snmpwarden_notifications_acknowledged_total", ["mode": "local"]) == 2)
    }

    /// A view drops a notification type and removes a varbind; a rewrite renames varbinds and the trap OID.
    @Test func viewAndRewrite() throws {
        let receiver = try TrapReceiver(name: "notify-view", configuration: ["authCommunity log nms-community"])
        let lab = NotificationLab(name: "notify-view")
        try lab.start(
            lab.configuration(
                views: """
                      - { name: traps, include: [ 1.3.6.1.6.3.1.1.5, 1.3.6.1.2.1.2, 1.3.6.1.4.1.55555, 1.3.6.1.6.3.18.1.3 ], exclude: [ 1.3.6.1.6.3.1.1.5.1, 1.3.6.1.2.1.2.2.1.2 ] }
                    """,
                notifications: """
                      sources:
                        - { name: legacy, prefixes: [ 127.0.0.1/32 ], communities: [ device-community ] }
                      targets:
                        - { name: nms, address: "udp:127.0.0.1:\(receiver.port)", version: 2c, community: nms-community }
                      routes:
                        - { name: filtered, sources: [ legacy ], targets: [ nms ], view: traps, rewrite: [ { backend: 1.3.6.1.4.1.99999, manager: 1.3.6.1.4.1.55555 } ] }
                    """
            )
        )
        // coldStart is outside the view: dropped.
        try lab.device("snmptrap", ["-v", "2c", "-c", "device-community", "1", "1.3.6.1.6.3.1.1.5.1"])
        // linkDown with ifIndex (kept), ifDescr (excluded) and a vendor varbind (rewritten).
        try lab.device(
            "snmptrap",
            [
                "-v", "2c", "-c", "device-community", "2", "1.3.6.1.6.3.1.1.5.3", "1.3.6.1.2.1.2.2.1.1.7", "i", "7",
                "1.3.6.1.2.1.2.2.1.2.7", "s", "secret-port-name", "1.3.6.1.4.1.99999.1.2.7", "i", "42",
            ]
        )
        // A vendor trap under the rewritten tree: its OID is renamed and it passes.
        try lab.device("snmptrap", ["-v", "2c", "-c", "device-community", "3", "1.3.6.1.4.1.99999.0.5"])
        let lines = receiver.await(2)
        try #require(lines.count == 2, "\(lines)")
        #expect(lines[0].trapOID == "OID: .1.3.6.1.6.3.1.1.5.3")
        #expect(lines[0].value(".1.3.6.1.2.1.2.2.1.1.7") == "INTEGER: 7")
        #expect(lines[0].value(".1.3.6.1.2.1.2.2.1.2.7") == nil)
        #expect(!lines[0].raw.contains("secret-port-name"))
        #expect(lines[0].value(".1.3.6.1.4.1.55555.1.2.7") == "INTEGER: 42")
        #expect(!lines[0].raw.contains(".1.3.6.1.4.1.99999"))
        #expect(lines[1].trapOID == "OID: .1.3.6.1.4.1.55555.0.5")
        usleep(300_000)
        #expect(receiver.received.count == 2)
        #expect(try lab.metric("snmpwarden_notifications_dropped_total", ["reason": "view"]) == 1)
    }

    /// Two gateways forwarding to each other: a notification reaches each receiver once, and the
    /// copy that comes back is recognised by the marker and dropped.
    @Test func twoGatewaysPointingAtEachOtherForwardOnce() throws {
        let receiverA = try TrapReceiver(name: "notify-loop-a", configuration: ["authCommunity log nms"])
        let receiverB = try TrapReceiver(name: "notify-loop-b", configuration: ["authCommunity log nms"])
        let a = NotificationLab(name: "notify-loop-gw-a")
        let b = NotificationLab(name: "notify-loop-gw-b")
        func notifications(peer: UInt16, receiver: UInt16) -> String {
            """
              sources:
                - { name: anyone, prefixes: [ 127.0.0.0/8 ], communities: [ shared ] }
              targets:
                - { name: peer, address: "udp:127.0.0.1:\(peer)", version: 2c, community: shared }
                - { name: nms, address: "udp:127.0.0.1:\(receiver)", version: 2c, community: nms }
              routes:
                - { name: all, sources: [ anyone ], targets: [ peer, nms ] }
            """
        }
        try a.start(a.configuration(notifications: notifications(peer: b.notificationPort, receiver: receiverA.port)))
        // Two gateways, two engines (replicas of one engine would rightly take each other's copies as theirs).
        try b.start(
            b.configuration(
                notifications: notifications(peer: a.notificationPort, receiver: receiverB.port),
                engineID: "80001f8804736e6d70776172642d62"
            )
        )
        try a.device("snmptrap", ["-v", "2c", "-c", "shared", "9", "1.3.6.1.6.3.1.1.5.2"])
        #expect(receiverA.await(1).count == 1)
        #expect(receiverB.await(1).count == 1)
        #expect(try a.awaitMetric("snmpwarden_notifications_dropped_total", ["reason": "loop"], atLeast: 1) == 1)
        usleep(300_000)
        #expect(receiverA.received.count == 1)
        #expect(receiverB.received.count == 1)
        // B's copy carries A's mark and B's own.
        #expect(receiverB.received.first?.value(Self.marker) != nil)
        #expect(receiverB.received.first?.value(".1.3.6.1.6.3.10.2.1.1.2") != nil)
        #expect(try b.metric("snmpwarden_notifications_dropped_total", ["reason": "loop"]) == 0)
    }

    /// A configuration whose target is one of our own notification listeners is refused at load.
    @Test func targetThatIsOurListenerIsRefused() throws {
        let lab = NotificationLab(name: "notify-self")
        let path = lab.directory + "/self.yaml"
        try FileManager.default.createDirectory(atPath: lab.directory, withIntermediateDirectories: true)
        try lab.configuration(
            notifications: """
                  sources:
                    - { name: legacy, prefixes: [ 127.0.0.1/32 ], communities: [ c ] }
                  targets:
                    - { name: me, address: "udp:127.0.0.1:\(lab.notificationPort)", version: 2c, community: c }
                  routes:
                    - { name: all, sources: [ legacy ], targets: [ me ] }
                """
        ).write(toFile: path, atomically: true, encoding: .utf8)
        let result = try Peers.run(Peers.builtProduct("snmpwarden"), ["check", "--config", path])
        #expect(result.status != 0)
        #expect(result.output.contains("one of our own notification listeners"), "\(result.output)")
    }

    /// snmpd as a real originator: its coldStart at start-up through `trap2sink` (v2c) and an
    /// SNMPv3 `trapsess` (the gateway knows snmpd's engine ID), forwarded to an SNMPv3 receiver.
    @Test func snmpdAsOriginator() throws {
        let receiver = try TrapReceiver(
            name: "notify-snmpd-rx",
            configuration: [
                "createUser -e 0x\(NotificationLab.engineID) nms-trap SHA nms-trap-pass AES nms-trap-pass",
                "authUser log nms-trap priv",
            ]
        )
        let lab = NotificationLab(name: "notify-snmpd")
        // `engineID warden-test` gives 0x80001f8804 followed by the text.
        let snmpdEngine = "80001f880477617264656e2d74657374"
        try lab.start(
            lab.configuration(
                users: """
                      - { name: nms-trap, auth: SHA, auth-key: nms-trap-pass, priv: AES, priv-key: nms-trap-pass }
                      - { name: agent-trap, auth: SHA-256, auth-key: agent-trap-pass, priv: AES, priv-key: agent-trap-pass }
                    """,
                notifications: """
                      sources:
                        - { name: legacy, prefixes: [ 127.0.0.1/32 ], communities: [ device-community ] }
                        - { name: v3-agents, prefixes: [ 127.0.0.1/32 ], users: [ agent-trap ], engine-ids: [ \(snmpdEngine) ] }
                      targets:
                        - { name: nms, address: "udp:127.0.0.1:\(receiver.port)", version: 3, user: nms-trap }
                      routes:
                        - { name: all, sources: [ legacy, v3-agents ], targets: [ nms ] }
                    """
            )
        )
        let snmpd = try #require(Peers.netSNMP("snmpd"))
        let directory = lab.directory + "/snmpd"
        try FileManager.default.createDirectory(atPath: directory + "/state", withIntermediateDirectories: true)
        let agentPort = Peers.freeUDPPort()
        try """
        [snmp] persistentDir \(directory)/state
        engineID warden-test
        rocommunity public 127.0.0.1
        createUser agent-trap SHA-256 agent-trap-pass AES agent-trap-pass
        trap2sink udp:127.0.0.1:\(lab.notificationPort) device-community
        trapsess -v 3 -u agent-trap -l authPriv -a SHA-256 -A agent-trap-pass -x AES -X agent-trap-pass udp:127.0.0.1:\(lab.notificationPort)

        """.write(toFile: directory + "/snmpd.conf", atomically: true, encoding: .utf8)
        let agent = try PeerProcess(
            snmpd,
            ["-f", "-C", "-c", directory + "/snmpd.conf", "-Lf", directory + "/snmpd.log", "-I", "-smux", "udp:127.0.0.1:\(agentPort)"],
            environment: GatewayLab.environment(directory)
        )
        defer { agent.stop() }
        let lines = receiver.await(2, timeout: 15)
        #expect(lines.count == 2, "\(lines)")
        // coldStart from both sinks, each with snmpTrapEnterprise.0 as snmpd sends it.
        for line in lines {
            #expect(line.trapOID == "OID: .1.3.6.1.6.3.1.1.5.1", "\(line)")
            #expect(line.value(Self.snmpTrapEnterprise) != nil)
            #expect(line.security.contains("TRAP2, SNMP v3, user nms-trap"))
        }
        #expect(try lab.metric("snmpwarden_notifications_received_total", ["version": "3", "pdu": "trap"]) == 1)
        #expect(try lab.metric("snmpwarden_notifications_received_total", ["version": "2c", "pdu": "trap"]) == 1)
    }
}
