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

/// A fleet behind one gateway: devices from an inventory file, picked by the manager's context name
/// through one `backend: "{context}"` route, reached through the shared back-end socket pool.
@Suite("A fleet: inventories, devices by context, the shared socket pool", .serialized)
struct FleetTests {
    /// The `{context}` route for user noc, placed before the lab's own routes for noc.
    static let fleetRoute = """
          - { name: fleet, users: [ noc ], context: "*", backend: "{context}", backend-group: fleet, read-view: all }
        """

    static func inventoryBackend(_ file: String) -> String {
        """
          - inventory: \(file)
            group: fleet
            defaults: { version: 2c, community: \(GatewayLab.community), timeout: 1s, retries: 1 }
        """
    }

    @Test("5,000 devices from an inventory start under ulimit -n 1024; the first and the last answer, from different agents")
    func fiveThousandDevices() throws {
        let lab = try GatewayLab(name: "fleet5000")
        // Two more agents with names of their own, each on ten ports: device i is on agent i % 2.
        let ports = (0..<2).map { _ in (0..<10).map { _ in Peers.freeUDPPort() } }
        let agents = try (0..<2).map { agent in
            try GatewayLab.startAgent(
                directory: lab.directory + "/agent-\(agent)",
                listen: ports[agent].map { "udp:127.0.0.1:\($0)" },
                sysName: "fleet-agent-\(agent)"
            )
        }
        defer { for agent in agents { agent.stop() } }
        var csv = "# 5,000 devices\nname,address\n"
        for device in 0..<5000 {
            csv += "dev\(device),udp:127.0.0.1:\(ports[device % 2][(device / 2) % 10])\n"
        }
        try csv.write(toFile: lab.directory + "/fleet.csv", atomically: true, encoding: .utf8)
        try lab.startGateway(
            lab.configuration(extraBackends: Self.inventoryBackend("fleet.csv"), extraRoutes: Self.fleetRoute),
            fileLimit: 1024
        )
        let gateway = try #require(lab.gateway)
        for (device, agent) in [("dev0", 0), ("dev4999", 1), ("dev2500", 0), ("dev1", 1)] {
            let output = try lab.throughGateway(["-n", device, "1.3.6.1.2.1.1.5.0"])
            #expect(output.contains("STRING: \"fleet-agent-\(agent)\""), "\(device): \(output)")
        }
        // A context that names no device: refused like no route.
        let refused = try lab.throughGateway(["-n", "dev5000", "1.3.6.1.2.1.1.5.0"])
        #expect(refused.contains("authorizationError") || refused.contains("Authorization"), "\(refused)")
        // Descriptors do not grow with the number of back ends: 2 loops × (2 listeners + 4 pooled
        // sockets), plus the process's own (epoll, eventfds, timers, standard streams).
        let descriptors = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(gateway.pid)/fd").count
        #expect(descriptors < 64, "\(descriptors) descriptors")
        let (status, counters) = try lab.stopGateway()
        #expect(status == 0)
        #expect(counters["no_device"] == "1")
        #expect(counters["backend_responses"] == "4")
    }

    @Test("three agents by context: each walk equals that agent's direct walk; a forged answer from another agent never completes a request")
    func threeAgentsAndAForger() throws {
        let lab = try GatewayLab(name: "fleet3")
        let ports = (0..<3).map { _ in Peers.freeUDPPort() }
        let agents = try (0..<3).map { index in
            try GatewayLab.startAgent(
                directory: lab.directory + "/agent-\(index)",
                listen: ["udp:127.0.0.1:\(ports[index])"],
                sysName: "agent-\(index)"
            )
        }
        defer { for agent in agents { agent.stop() } }
        // Two devices played by this test: one that answers only when told, and a forger.
        let quiet = UDPClient(timeoutMilliseconds: 5000)
        let forger = UDPClient()
        var csv = "name,address\n"
        for index in 0..<3 { csv += "agent-\(index),udp:127.0.0.1:\(ports[index])\n" }
        csv += "quiet,udp:127.0.0.1:\(quiet.localPort)\nforger,udp:127.0.0.1:\(forger.localPort)\n"
        try csv.write(toFile: lab.directory + "/fleet.csv", atomically: true, encoding: .utf8)
        try lab.startGateway(
            lab.configuration(extraBackends: Self.inventoryBackend("fleet.csv"), extraRoutes: Self.fleetRoute)
        )
        for index in 0..<3 {
            let through = WalkLine.parse(
                try lab.throughGateway(["-n", "agent-\(index)", "1.3.6.1.2.1.1"], tool: "snmpwalk")
            )
            let path = try #require(Peers.netSNMP("snmpwalk"))
            let direct = WalkLine.parse(
                try Peers.run(
                    path,
                    ["-v2c", "-c", GatewayLab.community, "-On", "udp:127.0.0.1:\(ports[index])", "1.3.6.1.2.1.1"],
                    environment: lab.environment
                ).output
            )
            #expect(through.count > 5)
            // Uptime moves between the two walks; everything else is equal.
            let stable = { (lines: [WalkLine]) in lines.filter { !$0.value.hasPrefix("Timeticks") } }
            #expect(through.map(\.oid) == direct.map(\.oid), "agent-\(index)")
            #expect(stable(through) == stable(direct), "agent-\(index)")
            #expect(through.contains { $0.value == "STRING: \"agent-\(index)\"" })
        }
        // A request to the quiet device; the forger, another device on the same pool, answers it
        // with the request-id and community it saw, at the very socket the request left from.
        let snmpget = try #require(Peers.netSNMP("snmpget"))
        let manager = try PeerProcess(
            snmpget,
            GatewayLab.noc + [
                "-On", "-r", "0", "-t", "20", "-n", "quiet", "udp:127.0.0.1:\(lab.gatewayPort)", "1.3.6.1.2.1.1.5.0",
            ],
            environment: lab.environment
        )
        let received = try #require(quiet.receiveWithSource(), "the quiet device got no request")
        guard case .community(let request) = try SNMPMessage(decoding: received.datagram),
            case .pdu(let asked) = request.pdu
        else {
            Issue.record("not a community message")
            return
        }
        func answer(_ text: String) -> ByteBuffer {
            var buffer = ByteBuffer()
            buffer.writeCommunityMessage(
                CommunityMessage(
                    version: .v2c,
                    community: request.community,
                    pdu: .pdu(
                        PDU(
                            type: .response,
                            requestID: asked.requestID,
                            varbinds: [VarBind(oid: "1.3.6.1.2.1.1.5.0", value: .string(text))]
                        )
                    )
                )
            )
            return buffer
        }
        for _ in 0..<5 { forger.send(answer("forged"), to: received.port, host: received.host) }
        // The forger's datagrams are processed before the real answer (same socket, in order).
        usleep(200_000)
        #expect(manager.isRunning, "the manager got an answer from the forger")
        quiet.send(answer("the real one"), to: received.port, host: received.host)
        #expect(manager.waitUntilExit(timeout: 10))
        #expect(manager.output.contains("STRING: \"the real one\""), "\(manager.output)")
        let (status, counters) = try lab.stopGateway()
        #expect(status == 0)
        #expect(counters["backend_wrong_source"] == "5")
    }

    @Test("source: a back end reached from a given local address (a management VLAN's) gets its own pool")
    func sourceAddress() throws {
        let lab = try GatewayLab(name: "fleet-source")
        // An agent that answers only requests from 127.0.0.2.
        let port = Peers.freeUDPPort()
        let agent = try GatewayLab.startAgent(
            directory: lab.directory + "/vlan-agent",
            listen: ["udp:127.0.0.1:\(port)"],
            sysName: "vlan-agent",
            allowedSource: "127.0.0.2"
        )
        defer { agent.stop() }
        let backends = """
              - { name: vlan, address: "udp:127.0.0.1:\(port)", community: \(GatewayLab.community), source: 127.0.0.2, timeout: 500ms, retries: 0 }
              - { name: elsewhere, address: "udp:127.0.0.1:\(port)", community: \(GatewayLab.community), timeout: 500ms, retries: 0 }
            """
        let routes = """
              - { name: vlan, users: [ noc ], context: vlan, backend: vlan, read-view: all }
              - { name: elsewhere, users: [ noc ], context: elsewhere, backend: elsewhere, read-view: all }
            """
        try lab.startGateway(lab.configuration(extraBackends: backends, extraRoutes: routes))
        let output = try lab.throughGateway(["-n", "vlan", "1.3.6.1.2.1.1.5.0"])
        #expect(output.contains("STRING: \"vlan-agent\""), "\(output)")
        // The same agent asked from the default pool: it does not answer 127.0.0.1.
        let refused = try lab.throughGateway(["-n", "elsewhere", "1.3.6.1.2.1.1.5.0"])
        #expect(refused.contains("genErr"), "\(refused)")
        let (status, counters) = try lab.stopGateway()
        #expect(status == 0)
        #expect(counters["backend_timeouts"] == "1" && counters["backend_responses"] == "1")
    }
}
