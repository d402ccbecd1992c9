//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import Foundation
import PeerSupport
import Testing

/// What the README tells a new user to do: run the gateway on the shipped configuration and query
/// the simulated switch through v3 with Net-SNMP's tools. (The file is used as shipped, but for
/// its ports and state directory, so that the test cannot collide with anything on the machine.)
@Suite("The shipped configuration, as the README uses it")
struct ShippedDemoTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    @Test("snmpwalk, snmpbulkwalk over IPv6, snmpget of a Counter64, snmpset refused")
    func readmeCommands() throws {
        let directory = Peers.temporaryDirectory("demo")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let port = Peers.freeUDPPort()
        let trapPort = Peers.freeUDPPort()
        let receiverPort = Peers.freeUDPPort()
        let opsPort = Peers.freeTCPPort()
        var text = try String(contentsOfFile: Self.repository + "/conf/snmpwarden.yaml", encoding: .utf8)
        #expect(text.contains("16161") && text.contains("tcp:127.0.0.1:9161"))
        #expect(text.contains("udp:127.0.0.1:16162") && text.contains("udp:127.0.0.1:16163"))
        text = text.replacingOccurrences(of: "16161", with: "\(port)")
            .replacingOccurrences(of: "16162", with: "\(trapPort)")
            .replacingOccurrences(of: "16163", with: "\(receiverPort)")
            .replacingOccurrences(of: "tcp:127.0.0.1:9161", with: "tcp:127.0.0.1:\(opsPort)")
            .replacingOccurrences(of: "state-dir: state", with: "state-dir: \(directory)/state")
            .replacingOccurrences(of: "simulate: demo.snmprec", with: "simulate: \(Self.repository)/conf/demo.snmprec")
        try text.write(toFile: directory + "/snmpwarden.yaml", atomically: true, encoding: .utf8)
        let gateway = try PeerProcess(
            Peers.builtProduct("snmpwarden"),
            ["run", "--config", directory + "/snmpwarden.yaml"]
        )
        defer { gateway.stop() }
        try #require(gateway.waitForLine(containing: "listening") != nil, "\(gateway.output)")

        let v3 = [
            "-v3", "-l", "authPriv", "-u", "demo", "-a", "SHA-256", "-A", "demo-auth-pass", "-x", "AES", "-X",
            "demo-priv-pass", "-On",
        ]
        let environment = ["SNMP_PERSISTENT_DIR": directory, "HOME": directory, "MIBS": "", "SNMPCONFPATH": directory]
        func tool(_ name: String, _ arguments: [String]) throws -> String {
            try Peers.run(try #require(Peers.netSNMP(name)), v3 + arguments, environment: environment).output
        }
        let system = WalkLine.parse(try tool("snmpwalk", ["udp:127.0.0.1:\(port)", "1.3.6.1.2.1.1"]))
        #expect(system.map(\.oid) == (1...7).map { ".1.3.6.1.2.1.1.\($0).0" }, "\(system)")
        #expect(system.first?.value.contains("Demo access switch") == true)
        let ifX = WalkLine.parse(try tool("snmpbulkwalk", ["udp6:[::1]:\(port)", "1.3.6.1.2.1.31.1.1"]))
        #expect(ifX.count > 50 && ifX.contains { $0.value.hasPrefix("Counter64") }, "\(ifX.count)")
        let counter = try tool("snmpget", ["udp:127.0.0.1:\(port)", "1.3.6.1.2.1.31.1.1.1.6.1"])
        #expect(counter.contains("Counter64"), "\(counter)")
        let set = try tool("snmpset", ["udp:127.0.0.1:\(port)", "1.3.6.1.2.1.1.6.0", "s", "x"])
        #expect(set.contains("noAccess"), "\(set)")
        // The shipped configuration's ops listener on loopback.
        let close = "Connection: close\\r\\n\\r\\n"
        #expect(try Peers.http("GET /readyz HTTP/1.1\\r\\nHost: x\\r\\n" + close, port: opsPort).status == 200)
        let metrics = try Peers.http("GET /metrics HTTP/1.1\\r\\nHost: x\\r\\n" + close, port: opsPort).body
        #expect(metrics.contains("snmpwarden_requests_total{route=\"demo\",pdu=\"getnext\",outcome=\"ok\"}"), "\(metrics)")

        // The README's notification lines: snmptrapd receives the trap as an SNMPv3 inform.
        try "createUser demo SHA-256 demo-auth-pass AES demo-priv-pass\nauthUser log demo priv\n".write(
            toFile: directory + "/demo-trapd.conf",
            atomically: true,
            encoding: .utf8
        )
        let receiver = try PeerProcess(
            try #require(Peers.netSNMP("snmptrapd")),
            ["-f", "-Lo", "-C", "-c", directory + "/demo-trapd.conf", "-n", "udp:127.0.0.1:\(receiverPort)"],
            environment: environment
        )
        defer { receiver.stop() }
        try #require(receiver.waitForLine(containing: "NET-SNMP version") != nil, "\(receiver.output)")
        let trap = try Peers.run(
            try #require(Peers.netSNMP("snmptrap")),
            ["-v", "2c", "-c", "demo-traps", "udp:127.0.0.1:\(trapPort)", "", "1.3.6.1.6.3.1.1.5.3", "1.3.6.1.2.1.2.2.1.1.3", "i", "3"],
            environment: environment
        )
        #expect(trap.status == 0, "\(trap.output)")
        // snmptrapd's default format: the transport line, then the varbinds with snmpTrapOID.0's value.
        #expect(receiver.waitForLine(containing: "6.3.1.1.5.3", timeout: 10) != nil, "\(receiver.output)")
    }
}
