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

/// The HTTP ops listener against a real snmpd behind the gateway: /metrics read with Prometheus'
/// own Python parser (prometheus-client), /livez, /readyz, bad HTTP.
@Suite("The ops listener: metrics, health, bad HTTP", .serialized)
struct OpsTests {
    /// Scrapes /metrics and parses it with prometheus_client's strict parser: every sample as
    /// `name{label=value,...}` (labels sorted) → value.
    static func scrape(port: UInt16) throws -> [String: Double] {
        let script = """
            import json, sys, urllib.request
            from prometheus_client.parser import text_string_to_metric_families
            text = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=10).read().decode()
            out = {}
            for family in text_string_to_metric_families(text):
                for s in family.samples:
                    out[s.name + "{" + ",".join("%s=%s" % kv for kv in sorted(s.labels.items())) + "}"] = s.value
            print(json.dumps(out))
            """
        let result = try Peers.run("/usr/bin/env", ["python3", "-c", script, "\(port)"], timeout: 30)
        try #require(result.status == 0, "the exposition does not parse: \(result.output)")
        let object = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Double]
        return try #require(object, "\(result.output)")
    }

    static func configuration(_ lab: GatewayLab, opsPort: UInt16, deadPort: UInt16) -> String {
        lab.configuration(
            extraBackends: """
                  - { name: dead, address: "udp:127.0.0.1:\(deadPort)", community: x, timeout: 300ms, retries: 1 }
                """,
            extraRoutes: """
                  - { name: filtered, users: [ noc ], context: filtered, backend: legacy, read-view: no-contact }
                  - { name: deadroute, users: [ noc ], context: dead, backend: dead, read-view: all }
                """,
            extraViews: """
                  - { name: no-contact, include: [ 1.3.6.1 ], exclude: [ 1.3.6.1.2.1.1.4 ] }
                """
        ) + "ops: { listen: \"tcp:127.0.0.1:\(opsPort)\" }\naudit: { file: audit.jsonl }\n"
    }

    /// The audit log's events, each a JSON object of strings.
    static func auditEvents(_ lab: GatewayLab) throws -> [[String: String]] {
        let text = try String(contentsOfFile: lab.directory + "/audit.jsonl", encoding: .utf8)
        return try text.split(separator: "\n").map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String], "\(line)")
        }
    }

    @Test("/metrics after a walk, a refused GET, a wrong key and a dead back end: each moved what it should")
    func metricsMove() throws {
        let lab = try GatewayLab(name: "metrics")
        let opsPort = Peers.freeTCPPort()
        let dead = UDPClient()  // bound, never answers
        try lab.startGateway(Self.configuration(lab, opsPort: opsPort, deadPort: dead.localPort))
        let before = try Self.scrape(port: opsPort)
        #expect(before["snmpwarden_build_info{version=0.1.0-dev}"] == 1)
        #expect(before["snmpwarden_pending_requests{}"] == 0)

        let walk = WalkLine.parse(try lab.throughGateway(["1.3.6.1.2.1.1"], tool: "snmpwalk"))
        #expect(walk.count > 5)
        let refused = try lab.throughGateway(["-n", "filtered", "1.3.6.1.2.1.1.4.0", "1.3.6.1.2.1.1.5.0"])
        #expect(refused.contains("No Such Object"), "\(refused)")
        let wrongKey = try lab.throughGateway(
            ["1.3.6.1.2.1.1.5.0"],
            user: ["-v3", "-l", "authPriv", "-u", "noc", "-a", "SHA-256", "-A", "wrong-auth-pass", "-x", "AES",
                   "-X", "noc-priv-pass"]
        )
        #expect(wrongKey.contains("Authentication failure"), "\(wrongKey)")
        let timedOut = try lab.throughGateway(["-n", "dead", "1.3.6.1.2.1.1.5.0"])
        #expect(timedOut.contains("genErr"), "\(timedOut)")

        let after = try Self.scrape(port: opsPort)
        func value(_ key: String) -> Double { after[key] ?? 0 }
        // The walk: one GetNext per object and one past the end, all on route noc.
        #expect(value("snmpwarden_requests_total{outcome=ok,pdu=getnext,route=noc}") == Double(walk.count + 1))
        #expect(value("snmpwarden_request_duration_seconds_count{pdu=getnext}") == Double(walk.count + 1))
        #expect(value("snmpwarden_backend_requests_total{route=noc}") == Double(walk.count + 1))
        #expect(value("snmpwarden_backend_round_trip_seconds_count{}") >= Double(walk.count + 1))
        // The refused varbind: counted per route and reason; the request itself was answered.
        #expect(value("snmpwarden_refusals_total{reason=read-outside-view,route=filtered}") == 1)
        #expect(value("snmpwarden_requests_total{outcome=ok,pdu=get,route=filtered}") == 1)
        // The wrong key: RFC 3414's usmStatsWrongDigests.
        #expect(value("snmpwarden_usm_stats_total{stat=wrongDigests}") >= 1)
        // The dead back end: one retransmission, one timeout, a genErr.
        #expect(value("snmpwarden_backend_retransmissions_total{route=deadroute}") == 1)
        #expect(value("snmpwarden_backend_timeouts_total{route=deadroute}") == 1)
        #expect(value("snmpwarden_requests_total{outcome=timeout,pdu=get,route=deadroute}") == 1)
        // Histogram buckets are cumulative and end at +Inf = count.
        #expect(
            value("snmpwarden_request_duration_seconds_bucket{le=+Inf,pdu=get}")
                == value("snmpwarden_request_duration_seconds_count{pdu=get}")
        )
        #expect(
            value("snmpwarden_request_duration_seconds_bucket{le=0.25,pdu=get}")
                < value("snmpwarden_request_duration_seconds_bucket{le=1.0,pdu=get}"),
            "the 600 ms timeout lies between 0.25 s and 1 s"
        )
        // Scraping again changes no counter (the data path's sums are exported once).
        let again = try Self.scrape(port: opsPort)
        for (key, number) in after where key.contains("_total{") {
            #expect(again[key] == number, "\(key) moved between two scrapes")
        }
        let (status, _) = try lab.stopGateway()
        #expect(status == 0)

        // The audit log: start, the refusal, the authentication failure, stop; never a secret.
        let events = try Self.auditEvents(lab)
        #expect(events.first?["event"] == "start" && events.last?["event"] == "stop", "\(events)")
        #expect(
            events.contains {
                $0["event"] == "refused" && $0["route"] == "filtered" && $0["reason"] == "read-outside-view"
                    && $0["user"] == "noc" && $0["context"] == "filtered" && $0["oid"] == "1.3.6.1.2.1.1.4.0"
                    && $0["source"]?.hasPrefix("127.0.0.1:") == true
            },
            "\(events)"
        )
        #expect(
            events.contains { $0["event"] == "authentication-failure" && $0["user"] == "noc" && $0["reason"] == "wrongDigests" },
            "\(events)"
        )
        #expect(events.allSatisfy { $0["time"]?.hasSuffix("Z") == true })
        let raw = try String(contentsOfFile: lab.directory + "/audit.jsonl", encoding: .utf8)
        for secret in ["noc-auth-pass", "noc-priv-pass", "wrong-auth-pass", GatewayLab.community] {
            #expect(!raw.contains(secret), "a secret in the audit log")
        }
    }

    @Test("/livez and /readyz; 503 while draining; bad HTTP gets a 4xx and the data path goes on")
    func healthAndBadHTTP() throws {
        let lab = try GatewayLab(name: "health")
        let opsPort = Peers.freeTCPPort()
        let dead = UDPClient()
        try lab.startGateway(Self.configuration(lab, opsPort: opsPort, deadPort: dead.localPort))
        let close = "Connection: close\\r\\n\\r\\n"
        #expect(try Peers.http("GET /livez HTTP/1.1\\r\\nHost: x\\r\\n" + close, port: opsPort).status == 200)
        #expect(try Peers.http("GET /readyz HTTP/1.1\\r\\nHost: x\\r\\n" + close, port: opsPort).status == 200)
        #expect(try Peers.http("GARBAGE\\r\\n\\r\\n", port: opsPort).status == 400)
        #expect(try Peers.http("GET /nope HTTP/1.1\\r\\nHost: x\\r\\n" + close, port: opsPort).status == 404)
        #expect(try Peers.http("POST /metrics HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 0\\r\\n" + close, port: opsPort).status == 405)
        let reload = try Peers.http("POST /-/reload HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 0\\r\\n" + close, port: opsPort)
        #expect(reload.status == 200 && reload.body.contains("reloaded"), "\(reload)")
        #expect(try Peers.http("GET /-/reload HTTP/1.1\\r\\nHost: x\\r\\n" + close, port: opsPort).status == 405)
        // The data path after all that.
        #expect(try lab.throughGateway(["1.3.6.1.2.1.1.5.0"]).contains("legacy-switch"))
        // A request pending on the dead back end keeps the gateway draining after SIGTERM.
        let snmpget = try #require(Peers.netSNMP("snmpget"))
        let pending = try PeerProcess(
            snmpget,
            GatewayLab.noc + ["-On", "-r", "0", "-t", "5", "-n", "dead", "udp:127.0.0.1:\(lab.gatewayPort)", "1.3.6.1.2.1.1.5.0"],
            environment: lab.environment
        )
        #expect(dead.receive() != nil, "the request did not reach the dead back end")
        let gateway = try #require(lab.gateway)
        kill(gateway.pid, SIGTERM)
        #expect(gateway.waitForLine(containing: "\"stopping") != nil)
        let draining = try Peers.http("GET /readyz HTTP/1.1\\r\\nHost: x\\r\\n" + close, port: opsPort)
        #expect(draining.status == 503 && draining.body.contains("draining"), "\(draining)")
        #expect(pending.waitUntilExit(timeout: 10))
        let (status, _) = try lab.stopGateway()
        #expect(status == 0)
    }

    @Test("sd_notify: READY=1 once listening, STOPPING=1 on SIGTERM, to $NOTIFY_SOCKET")
    func systemdNotify() throws {
        let lab = try GatewayLab(name: "notify")
        // A datagram socket where systemd would listen.
        let path = lab.directory + "/notify.sock"
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.enumerated() { raw[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        try #require(bound == 0)
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        func next() -> String? {
            var buffer = [UInt8](repeating: 0, count: 4096)
            let count = recv(fd, &buffer, buffer.count, 0)
            return count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self) : nil
        }
        // Only this gateway's environment: other tests' gateways start meanwhile.
        try lab.startGateway(environment: ["NOTIFY_SOCKET": path])
        let ready = try #require(next(), "no notification")
        #expect(ready.split(separator: "\n").contains("READY=1"), "\(ready)")
        let gateway = try #require(lab.gateway)
        kill(gateway.pid, SIGTERM)
        let stopping = try #require(next(), "no notification on SIGTERM")
        #expect(stopping.split(separator: "\n").contains("STOPPING=1"), "\(stopping)")
        #expect(gateway.waitUntilExit(timeout: 15))
    }
}
