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

/// A real snmptrapd as a notification receiver on a loopback port of its own: every notification
/// it accepts is written as one line (`format1`/`format2`) that ``received`` parses.
final class TrapReceiver {
    let directory: String
    let port: UInt16
    let process: PeerProcess

    /// One notification as snmptrapd logged it.
    struct Line: CustomStringConvertible {
        /// `%s`: 0 (v1), 1 (v2c), 3 (v3).
        var version: String
        /// `%P`: PDU type and community or user.
        var security: String
        /// v1 only: agent-addr, enterprise, generic, specific.
        var agent = ""
        var enterprise = ""
        var generic = ""
        var specific = ""
        /// `OID = TYPE: value`, in order.
        var varbinds: [(oid: String, value: String)]
        var raw: String

        var description: String { self.raw }

        func value(_ oid: String) -> String? {
            self.varbinds.first { $0.oid == oid }?.value
        }

        var trapOID: String? { self.value(".1.3.6.1.6.3.1.1.4.1.0") }
    }

    /// Starts snmptrapd with `configuration` lines (createUser, authUser, authCommunity…).
    init(name: String, configuration: [String], port: UInt16? = nil) throws {
        let snmptrapd = try #require(
            Peers.netSNMP("snmptrapd"),
            "Net-SNMP's snmptrapd is not installed (apt-get install snmptrapd)"
        )
        self.directory = Peers.temporaryDirectory(name)
        self.port = port ?? Peers.freeUDPPort()
        try FileManager.default.createDirectory(atPath: self.directory + "/state", withIntermediateDirectories: true)
        let formats = [
            "format1 NOTE|%s|%P|%a|%N|%w|%q|%v\\n",
            "format2 NOTE|%s|%P|||||%v\\n",
        ]
        try (configuration + formats).joined(separator: "\n").write(
            toFile: self.directory + "/snmptrapd.conf",
            atomically: true,
            encoding: .utf8
        )
        self.process = try PeerProcess(
            snmptrapd,
            [
                "-f", "-Lo", "-C", "-c", self.directory + "/snmptrapd.conf", "-n", "-On",
                "udp:127.0.0.1:\(self.port)",
            ],
            environment: GatewayLab.environment(self.directory + "/state")
        )
        try #require(
            self.process.waitForLine(containing: "NET-SNMP version", timeout: 10) != nil,
            "snmptrapd did not start: \(self.process.output)"
        )
    }

    deinit {
        self.process.stop()
        try? FileManager.default.removeItem(atPath: self.directory)
    }

    /// Every notification logged so far.
    var received: [Line] {
        self.process.output.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            guard fields.count >= 8, fields[0].hasSuffix("NOTE") else { return nil }
            let varbinds = fields[7...].joined(separator: "|").split(separator: "\t").compactMap { item -> (String, String)? in
                guard let range = item.range(of: " = ") else { return nil }
                return (String(item[..<range.lowerBound]), String(item[range.upperBound...]))
            }
            return Line(
                version: fields[1],
                security: fields[2],
                agent: fields[3],
                enterprise: fields[4],
                generic: fields[5],
                // snmptrapd prints an enterprise-specific trap number as ".17".
                specific: fields[6].hasPrefix(".") ? String(fields[6].dropFirst()) : fields[6],
                varbinds: varbinds,
                raw: String(line)
            )
        }
    }

    /// Waits (bounded) until `count` notifications were logged, and returns them.
    func await(_ count: Int, timeout: TimeInterval = 10) -> [Line] {
        let deadline = Date().addingTimeInterval(timeout)
        var lines = self.received
        while lines.count < count && Date() < deadline {
            usleep(20_000)
            lines = self.received
        }
        return lines
    }
}

/// The real snmpwarden executable with a `notifications:` section (and a simulated back end for
/// its request path), and Net-SNMP's snmptrap and snmpinform as devices.
final class NotificationLab {
    static let engineID = "80001f8804736e6d7077617264656e"
    let directory: String
    let gatewayPort: UInt16
    let notificationPort: UInt16
    let opsPort: UInt16
    private(set) var gateway: PeerProcess?

    init(name: String) {
        self.directory = Peers.temporaryDirectory(name)
        self.gatewayPort = Peers.freeUDPPort()
        self.notificationPort = Peers.freeUDPPort()
        self.opsPort = Peers.freeTCPPort()
    }

    deinit {
        self.gateway?.stop()
        try? FileManager.default.removeItem(atPath: self.directory)
    }

    var environment: [String: String] { GatewayLab.environment(self.directory) }

    /// A configuration: `users` and `views` YAML list items, and the `notifications:` body (indented
    /// by two spaces) after its `listen:`.
    func configuration(
        users: String = "",
        views: String = "",
        notifications: String,
        engineID: String = NotificationLab.engineID,
        extraListen: String = ""
    ) -> String {
        """
        engine: { id: \(engineID), state-dir: state }
        listen: [ "udp:127.0.0.1:\(self.gatewayPort)" ]
        ops: { listen: "tcp:127.0.0.1:\(self.opsPort)" }
        users:
          - { name: reader, auth: SHA, auth-key: reader-pass, priv: AES, priv-key: reader-pass }
        \(users)
        backends:
          - { name: demo, simulate: \(Self.demoRecording) }
        views:
          - { name: all, include: [ 1.3 ] }
        \(views)
        routes:
          - { name: demo, users: [ reader ], backend: demo, read-view: all }
        notifications:
          listen: [ "udp:127.0.0.1:\(self.notificationPort)"\(extraListen) ]
        \(notifications)

        """
    }

    static var demoRecording: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("conf/demo.snmprec").path
    }

    var configPath: String { self.directory + "/snmpwarden.yaml" }

    /// Writes a new configuration and asks for a reload (POST /-/reload): the status and body.
    func reload(_ configuration: String) throws -> (status: Int, body: String) {
        try configuration.write(toFile: self.configPath, atomically: true, encoding: .utf8)
        return try Peers.http("POST /-/reload HTTP/1.0\r\nContent-Length: 0\r\n\r\n", port: self.opsPort)
    }

    func start(_ configuration: String) throws {
        try FileManager.default.createDirectory(atPath: self.directory, withIntermediateDirectories: true)
        let path = self.directory + "/snmpwarden.yaml"
        try configuration.write(toFile: path, atomically: true, encoding: .utf8)
        let gateway = try PeerProcess(
            Peers.builtProduct("snmpwarden"),
            ["run", "--config", path, "--log-format", "json", "--threads", "1"]
        )
        self.gateway = gateway
        try #require(gateway.waitForLine(containing: "\"listening\"") != nil, "gateway did not start: \(gateway.output)")
    }

    /// Runs snmptrap or snmpinform (Net-SNMP) against the gateway's notification listener.
    @discardableResult
    func device(_ tool: String, _ arguments: [String], to port: UInt16? = nil, timeout: TimeInterval = 20) throws -> (
        status: Int32, output: String
    ) {
        let path = try #require(Peers.netSNMP(tool), "Net-SNMP's \(tool) is not installed (apt-get install snmp)")
        let address = "udp:127.0.0.1:\(port ?? self.notificationPort)"
        // The destination goes after the options, before the trap's own arguments.
        var options: [String] = []
        var rest = arguments
        while let first = rest.first, first.hasPrefix("-") {
            options.append(first)
            rest.removeFirst()
            if !["-Ci"].contains(first), let value = rest.first {
                options.append(value)
                rest.removeFirst()
            }
        }
        return try Peers.run(path, options + [address] + rest, environment: self.environment, timeout: timeout)
    }

    /// The value of one metric series from /metrics (0 when absent).
    func metric(_ name: String, _ labels: [String: String] = [:]) throws -> Double {
        let (status, body) = try Peers.http("GET /metrics HTTP/1.0\r\n\r\n", port: self.opsPort)
        try #require(status == 200)
        for line in body.split(separator: "\n") where line.hasPrefix(name) {
            let head = line.split(separator: " ").first.map(String.init) ?? ""
            let matches = labels.allSatisfy { head.contains("\($0.key)=\"\($0.value)\"") }
            let bare = labels.isEmpty && (head == name)
            if (labels.isEmpty ? bare : matches), let value = line.split(separator: " ").last.flatMap({ Double($0) }) {
                return value
            }
        }
        return 0
    }

    /// Waits (bounded) until a metric reaches `value`.
    func awaitMetric(_ name: String, _ labels: [String: String] = [:], atLeast value: Double, timeout: TimeInterval = 10)
        throws -> Double
    {
        let deadline = Date().addingTimeInterval(timeout)
        var current = try self.metric(name, labels)
        while current < value && Date() < deadline {
            usleep(20_000)
            current = try self.metric(name, labels)
        }
        return current
    }
}
