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

/// A real Net-SNMP snmpd as the legacy back end and the real snmpwarden executable in front of it,
/// on loopback ports of their own; Net-SNMP's tools as managers. Everything is stopped by pid when
/// the lab is released.
final class GatewayLab {
    let directory: String
    let backendPort: UInt16
    let gatewayPort: UInt16
    let snmpd: PeerProcess
    private(set) var gateway: PeerProcess?
    let configPath: String

    /// The back end's community (read-write, so that a refused Set proves the gateway refused it).
    static let community = "backpub"

    /// The users of the gateway: noc (SHA-256/AES) reads only; admin (SHA-512/AES-256) may write.
    static let noc = [
        "-v3", "-l", "authPriv", "-u", "noc", "-a", "SHA-256", "-A", "noc-auth-pass", "-x", "AES",
        "-X", "noc-priv-pass",
    ]
    static let admin = [
        "-v3", "-l", "authPriv", "-u", "admin", "-a", "SHA-512", "-A", "admin-auth-pass", "-x",
        "AES-256", "-X", "admin-priv-pass",
    ]

    /// Starts snmpd, with `agentConfiguration(port)` appended to its snmpd.conf (`createUser` lines,
    /// say; `port` is snmpd's); the gateway starts with ``startGateway(_:threads:fileLimit:environment:)``.
    init(name: String, agentConfiguration: (_ port: UInt16) -> String = { _ in "" }) throws {
        self.directory = Peers.temporaryDirectory(name)
        self.backendPort = Peers.freeUDPPort()
        self.gatewayPort = Peers.freeUDPPort()
        self.configPath = self.directory + "/snmpwarden.yaml"
        self.snmpd = try Self.startAgent(
            directory: self.directory + "/snmpd",
            listen: ["udp:127.0.0.1:\(self.backendPort)"],
            sysName: "legacy-switch",
            extraConfiguration: agentConfiguration(self.backendPort)
        )
        // The tools create their state directory on first use and say so once: not in a test's output.
        _ = try? self.direct(["1.3.6.1.2.1.1.5.0"])
    }

    /// Starts a real snmpd on `listen` (Net-SNMP transport addresses) with its own files in
    /// `directory`, read-write community ``community``, and waits until it answers on the first.
    /// The community is accepted only from `allowedSource`. `extraConfiguration` is appended to
    /// snmpd.conf.
    static func startAgent(
        directory: String,
        listen: [String],
        sysName: String,
        allowedSource: String = "127.0.0.1",
        extraConfiguration: String = ""
    ) throws -> PeerProcess {
        let snmpd = try #require(Peers.netSNMP("snmpd"), "Net-SNMP's snmpd is not installed (apt-get install snmpd)")
        try FileManager.default.createDirectory(atPath: directory + "/state", withIntermediateDirectories: true)
        let config = """
            [snmp] persistentDir \(directory)/state
            rwcommunity \(Self.community) \(allowedSource)
            sysLocation Lab rack 1
            sysName \(sysName)
            \(extraConfiguration)

            """
        try config.write(toFile: directory + "/snmpd.conf", atomically: true, encoding: .utf8)
        let process = try PeerProcess(
            snmpd,
            [
                "-f", "-C", "-c", directory + "/snmpd.conf", "-Lf", directory + "/snmpd.log",
                listen.joined(separator: ","),
            ],
            environment: Self.environment(directory)
        )
        // Bounded wait until snmpd answers.
        let first = listen[0]
        for _ in 0..<100 {
            let output = try? Peers.run(
                try #require(Peers.netSNMP("snmpget")),
                [
                    "-v2c", "-c", Self.community, "-On", "-r", "0", "-t", "1", "--clientaddr=\(allowedSource)", first,
                    "1.3.6.1.2.1.1.5.0",
                ],
                environment: Self.environment(directory),
                timeout: 10
            ).output
            if output?.contains(sysName) == true { return process }
            usleep(50_000)
        }
        throw PeerProcess.PeerError(description: "snmpd did not answer on \(first)")
    }

    deinit {
        self.gateway?.stop()
        self.snmpd.stop()
        try? FileManager.default.removeItem(atPath: self.directory)
    }

    /// Environment for Net-SNMP's programs: their own state, no MIBs (numeric OIDs everywhere).
    var environment: [String: String] { Self.environment(self.directory) }

    static func environment(_ directory: String) -> [String: String] {
        ["SNMP_PERSISTENT_DIR": directory, "HOME": directory, "MIBS": "", "SNMPCONFPATH": directory]
    }

    /// The standard configuration: routes for noc and admin to snmpd (v2c), a v1 route (context
    /// "v1"), and `extra` YAML appended to the routes and backends.
    func configuration(
        listen: [String]? = nil,
        extraBackends: String = "",
        extraRoutes: String = "",
        communityRoutes: String = "",
        extraViews: String = ""
    ) -> String {
        let listen = listen ?? ["udp:127.0.0.1:\(self.gatewayPort)", "udp6:[::1]:\(self.gatewayPort)"]
        return """
            engine:
              state-dir: state
            listen: [ \(listen.map { "\"\($0)\"" }.joined(separator: ", ")) ]
            users:
              - { name: noc, auth: SHA-256, auth-key: noc-auth-pass, priv: AES, priv-key: noc-priv-pass }
              - { name: admin, auth: SHA-512, auth-key: admin-auth-pass, priv: AES-256, priv-key: admin-priv-pass }
            backends:
              - { name: legacy, address: "udp:127.0.0.1:\(self.backendPort)", version: 2c, community: \(Self.community), timeout: 1s, retries: 1 }
              - { name: legacy-v1, address: "udp:127.0.0.1:\(self.backendPort)", version: 1, community: \(Self.community), timeout: 1s, retries: 1 }
            \(extraBackends)
            views:
              - { name: all, include: [ 1.3.6.1 ] }
            \(extraViews)
            routes:
              - { name: v1, users: [ admin ], context: v1, backend: legacy-v1, read-view: all, write-view: all }
              - { name: v1-read, users: [ noc ], context: v1, backend: legacy-v1, read-view: all }
            \(extraRoutes)
              - { name: admin, users: [ admin ], backend: legacy, read-view: all, write-view: all }
              - { name: noc, users: [ noc ], backend: legacy, read-view: all }
            \(communityRoutes)
            limits: { max-repetitions: 50, max-varbinds: 200, max-pending: 1000 }

            """
    }

    /// Writes `configuration` and starts the gateway on it; waits for its readiness line.
    /// With `fileLimit`, the gateway runs under that soft limit of open files (`ulimit -n`).
    func startGateway(
        _ configuration: String? = nil,
        threads: Int = 2,
        fileLimit: Int? = nil,
        environment: [String: String] = [:]
    ) throws {
        try (configuration ?? self.configuration()).write(toFile: self.configPath, atomically: true, encoding: .utf8)
        let arguments = ["run", "--config", self.configPath, "--log-format", "json", "--threads", "\(threads)"]
        let gateway: PeerProcess
        if let fileLimit {
            gateway = try PeerProcess(
                "/bin/sh",
                ["-c", "ulimit -S -n \(fileLimit) && exec \"$0\" \"$@\"", Peers.builtProduct("snmpwarden")] + arguments,
                environment: environment
            )
        } else {
            gateway = try PeerProcess(Peers.builtProduct("snmpwarden"), arguments, environment: environment)
        }
        self.gateway = gateway
        try #require(
            gateway.waitForLine(containing: "\"listening\"") != nil,
            "gateway did not start: \(gateway.output)"
        )
    }

    /// Runs a Net-SNMP tool against the gateway (`-On`, numeric OIDs) and returns its output.
    func throughGateway(
        _ arguments: [String],
        user: [String] = GatewayLab.noc,
        tool: String = "snmpget",
        address: String? = nil,
        timeout: Int = 3
    ) throws -> String {
        let path = try #require(Peers.netSNMP(tool), "Net-SNMP's \(tool) is not installed (apt-get install snmp)")
        let target = address ?? "udp:127.0.0.1:\(self.gatewayPort)"
        let result = try Peers.run(
            path,
            user + ["-On", "-r", "0", "-t", "\(timeout)"] + [target] + arguments,
            environment: self.environment,
            timeout: 60
        )
        return result.output
    }

    /// Runs a Net-SNMP tool directly against snmpd over v2c.
    func direct(_ arguments: [String], tool: String = "snmpget") throws -> String {
        let path = try #require(Peers.netSNMP(tool), "Net-SNMP's \(tool) is not installed (apt-get install snmp)")
        return try Peers.run(
            path,
            ["-v2c", "-c", Self.community, "-On", "-r", "1", "-t", "2", "udp:127.0.0.1:\(self.backendPort)"]
                + arguments,
            environment: self.environment,
            timeout: 60
        ).output
    }

    /// snmpd's snmpInPkts.0 (read directly; the reading request counts itself).
    func backendInPackets() throws -> Int {
        let output = try self.direct(["1.3.6.1.2.1.11.1.0"])
        let value = try #require(
            output.split(separator: ":").last.flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) },
            "\(output)"
        )
        return value
    }

    /// Stops the gateway with SIGTERM and returns its exit status and the JSON fields of its "stopped" line.
    func stopGateway() throws -> (status: Int32, counters: [String: String]) {
        let gateway = try #require(self.gateway)
        kill(gateway.pid, SIGTERM)
        try #require(gateway.waitUntilExit(timeout: 15), "the gateway did not stop on SIGTERM")
        let line = try #require(
            gateway.output.split(separator: "\n").last { $0.contains("\"stopped\"") },
            "\(gateway.output)"
        )
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String],
            "not a JSON object of strings: \(line)"
        )
        self.gateway = nil
        return (gateway.terminationStatus ?? -1, object)
    }
}

/// One line of `snmpwalk -On` output: OID, type and value.
struct WalkLine: Hashable {
    var oid: String
    var value: String

    /// Parses `snmpwalk -On` output (values may span lines: continuation lines join the previous one).
    /// The line snmpwalk prints for an endOfMibView inside the walked subtree ("No more variables
    /// left in this MIB View", which a view that ends there gives) is not an object: left out.
    static func parse(_ output: String) -> [WalkLine] {
        Self.parseAll(output).filter { !$0.value.hasPrefix("No more variables left") }
    }

    static func parseAll(_ output: String) -> [WalkLine] {
        var lines: [WalkLine] = []
        for raw in output.split(separator: "\n", omittingEmptySubsequences: false) {
            if raw.hasPrefix("."), let range = raw.range(of: " = ") {
                lines.append(WalkLine(oid: String(raw[..<range.lowerBound]), value: String(raw[range.upperBound...])))
            } else if !lines.isEmpty && !raw.isEmpty {
                lines[lines.count - 1].value += "\n" + raw
            }
        }
        return lines
    }
}
