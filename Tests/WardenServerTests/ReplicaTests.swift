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

/// A network namespace of the test's own, with a UDP load balancer built the way kube-proxy does:
/// an nftables `dnat` to `numgen random mod 3` of three replicas. Removed when released.
final class LoadBalancedNamespace {
    let name: String
    static let ip = "/usr/sbin/ip"
    /// The service address managers use, and the replicas' addresses behind it.
    static let service = "127.0.0.10"
    static let replicas = ["127.0.0.11", "127.0.0.12", "127.0.0.13"]

    init() throws {
        try #require(getuid() == 0, "building a network namespace needs root (CI runs as root)")
        try #require(FileManager.default.isExecutableFile(atPath: Self.ip), "iproute2 is not installed")
        self.name = "snmpwarden-\(getpid())-\(UInt16.random(in: 1...UInt16.max))"
        try Self.check(Peers.run(Self.ip, ["netns", "add", self.name]))
        try Self.check(Peers.run(Self.ip, ["netns", "exec", self.name, Self.ip, "link", "set", "lo", "up"]))
        let rules = """
            table ip snmpwarden_lb {
              chain output {
                type nat hook output priority -100; policy accept;
                ip daddr \(Self.service) udp dport 161 dnat to numgen random mod 3 map { 0 : \(Self.replicas[0]), 1 : \(Self.replicas[1]), 2 : \(Self.replicas[2]) }
              }
            }
            """
        let file = NSTemporaryDirectory() + "\(self.name).nft"
        try rules.write(toFile: file, atomically: true, encoding: .utf8)
        defer { unlink(file) }
        let nft = try #require(["/usr/sbin/nft", "/sbin/nft"].first { FileManager.default.isExecutableFile(atPath: $0) })
        try Self.check(Peers.run(Self.ip, ["netns", "exec", self.name, nft, "-f", file]))
    }

    deinit {
        _ = try? Peers.run(Self.ip, ["netns", "del", self.name])
    }

    static func check(_ result: (status: Int32, output: String)) throws {
        try #require(result.status == 0, "\(result.output)")
    }

    /// `command` run inside the namespace.
    func inside(_ command: [String]) -> [String] {
        ["netns", "exec", self.name] + command
    }
}

@Suite("Replicas as one SNMPv3 engine behind a UDP load balancer", .serialized)
struct ReplicaTests {
    static let engineID = "80001f8804736e6d7077617264656e"
    static let epoch = "2026-01-01T00:00:00Z"

    static func configuration(replica: Int, directory: String, backendPort: UInt16, opsPort: Int) -> String {
        """
        engine:
          id: \(Self.engineID)
          time: epoch
          epoch: "\(Self.epoch)"
          state-dir: \(directory)/state-\(replica)
        listen: [ "udp:\(LoadBalancedNamespace.replicas[replica]):161" ]
        users:
          - { name: noc, auth: SHA-256, auth-key: noc-auth-pass, priv: AES, priv-key: noc-priv-pass }
        backends:
          - { name: agent, address: "udp:127.0.0.1:\(backendPort)", community: \(GatewayLab.community), timeout: 1s, retries: 1 }
        views:
          - { name: all, include: [ 1.3.6.1 ] }
        routes:
          - { name: agent, users: [ noc ], backend: agent, read-view: all }
        ops: { listen: "tcp:127.0.0.1:\(opsPort)" }

        """
    }

    /// One replica's counters, read from its /metrics inside the namespace.
    static func metrics(_ namespace: LoadBalancedNamespace, port: Int) throws -> String {
        let script = "import sys, urllib.request; print(urllib.request.urlopen('http://127.0.0.1:%s/metrics' % sys.argv[1], timeout=10).read().decode())"
        let result = try Peers.run(
            LoadBalancedNamespace.ip,
            namespace.inside(["/usr/bin/env", "python3", "-c", script, "\(port)"]),
            timeout: 30
        )
        try #require(result.status == 0, "\(result.output)")
        return result.output
    }

    static func value(_ metrics: String, _ series: String) -> Double {
        for line in metrics.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.split(separator: " ").last ?? "") ?? 0
        }
        return 0
    }

    @Test("three replicas with time: epoch: the engine time learned from one is good at the others, across kill -9 and restart")
    func replicasAnswerAsOneEngine() throws {
        let namespace = try LoadBalancedNamespace()
        let directory = Peers.temporaryDirectory("replicas")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let snmpd = try #require(Peers.netSNMP("snmpd"))
        let snmpget = try #require(Peers.netSNMP("snmpget"))
        let environment = GatewayLab.environment(directory)
        // The agent, inside the namespace too.
        let backendPort = Peers.freeUDPPort()
        try "[snmp] persistentDir \(directory)\nrocommunity \(GatewayLab.community) 127.0.0.1\nsysName replicated\n"
            .write(toFile: directory + "/snmpd.conf", atomically: true, encoding: .utf8)
        let agent = try PeerProcess(
            LoadBalancedNamespace.ip,
            namespace.inside([snmpd, "-f", "-C", "-c", directory + "/snmpd.conf", "-Lf", directory + "/snmpd.log", "udp:127.0.0.1:\(backendPort)"]),
            environment: environment
        )
        defer { agent.stop() }
        // Three replicas, one configuration each (their own listener and ops port, the same engine).
        let opsPorts = [19_611, 19_612, 19_613]
        func startReplica(_ index: Int) throws -> PeerProcess {
            let path = directory + "/replica-\(index).yaml"
            try Self.configuration(replica: index, directory: directory, backendPort: backendPort, opsPort: opsPorts[index])
                .write(toFile: path, atomically: true, encoding: .utf8)
            let process = try PeerProcess(
                LoadBalancedNamespace.ip,
                namespace.inside([Peers.builtProduct("snmpwarden"), "run", "--config", path, "--log-format", "json", "--threads", "1"])
            )
            try #require(process.waitForLine(containing: "\"listening\"") != nil, "replica \(index): \(process.output)")
            return process
        }
        var replicas = try (0..<3).map(startReplica)
        defer { for replica in replicas { replica.stop() } }

        // Net-SNMP's tools through the load balancer: each run a new socket, so any replica.
        for round in 0..<6 {
            let output = try Peers.run(
                LoadBalancedNamespace.ip,
                namespace.inside(
                    [snmpget] + GatewayLab.noc + [
                        "-On", "-r", "0", "-t", "2", "udp:\(LoadBalancedNamespace.service):161", "1.3.6.1.2.1.1.5.0",
                    ]
                ),
                environment: environment
            ).output
            #expect(output.contains("STRING: \"replicated\""), "round \(round): \(output)")
        }
        // A manager that learns the engine from replica 0 alone and keeps that one engine cache,
        // sending from 12 sockets through the load balancer for about 8 seconds; meanwhile one
        // replica is killed with SIGKILL and started again.
        let manager = try PeerProcess(
            LoadBalancedNamespace.ip,
            namespace.inside([
                Peers.builtProduct("SNMPTestManager"),
                "--learn-from", "\(LoadBalancedNamespace.replicas[0]):161",
                "--target", "\(LoadBalancedNamespace.service):161",
                "--user", "noc:SHA-256:noc-auth-pass:AES:noc-priv-pass",
                "--requests", "160", "--sockets", "12", "--interval-ms", "50", "--timeout-ms", "500",
            ])
        )
        usleep(2_000_000)
        try #require(manager.isRunning, "the manager ended early: \(manager.output)")
        replicas[1].stop(signal: SIGKILL)
        replicas[1] = try startReplica(1)
        #expect(manager.waitUntilExit(timeout: 60))
        let line = try #require(manager.output.split(separator: "\n").last { $0.hasPrefix("{") }, "\(manager.output)")
        let result = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let reports = result["reports"] as? [String: Int] ?? [:]
        // No Report of any kind reached the manager: the restarted replica is the same engine.
        #expect(reports.isEmpty, "\(line)")
        #expect((result["invalid"] as? Int) == 0, "\(line)")
        // Requests to the killed replica while it was down time out; the rest are answered.
        let ok = result["ok"] as? Int ?? 0
        let timeouts = result["timeouts"] as? Int ?? 0
        #expect(ok + timeouts == 160 && ok >= 120, "\(line)")
        // Every replica served (the restarted one since its restart), all as boots 1 of one engine.
        // (Net-SNMP's tools above synchronise with an authenticated request that gets a
        // notInTimeWindow Report by design, RFC 3414 §4: the replicas' counters include those.)
        for (index, port) in opsPorts.enumerated() {
            let metrics = try Self.metrics(namespace, port: port)
            #expect(Self.value(metrics, "snmpwarden_in_packets_total") > 0, "replica \(index) got nothing")
            #expect(Self.value(metrics, "snmpwarden_engine_boots") == 1)
        }
    }
}
