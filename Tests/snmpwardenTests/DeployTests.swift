//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import Foundation
import Testing

@testable import snmpwarden

/// deploy/ holds no Swift: the systemd unit, the container files, the Kubernetes manifests and the
/// Grafana dashboard. `scripts/validate-deploy.sh` checks them with the tools that know their
/// formats (systemd-analyze, kubernetes-validate, a JSON parser) and cross-checks them against each
/// other; this test runs it on every `swift test`, so that CI proves them.
@Suite("deploy/: the unit, the manifests, the dashboard")
struct DeployTests {
    /// The repository root: the nearest directory above this file that holds Package.swift (the
    /// same `#filePath` anchor as `ShippedConfigurationTests.repository`, without counting levels).
    static let repository: String = {
        var directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while directory.path != "/" {
            if FileManager.default.fileExists(atPath: directory.appendingPathComponent("Package.swift").path) {
                return directory.path
            }
            directory = directory.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
    }()

    /// systemd-analyze exists only on Linux; elsewhere the script cannot run.
    static let onLinux: Bool = {
        #if os(Linux)
        return true
        #else
        return false
        #endif
    }()

    @Test(
        "scripts/validate-deploy.sh passes: systemd-analyze security (≤ 2.9) and verify, kubernetes-validate --strict, the dashboard",
        .enabled(if: DeployTests.onLinux, "needs systemd-analyze")
    )
    func validateDeploy() throws {
        // The output goes to a file, not a pipe: a peer that another test starts meanwhile could
        // inherit a pipe's write end and keep it open long after the script has finished.
        let log = FileManager.default.temporaryDirectory
            .appendingPathComponent("snmpwarden-validate-deploy-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString).log")
        #expect(FileManager.default.createFile(atPath: log.path, contents: nil))
        defer { try? FileManager.default.removeItem(at: log) }
        let handle = try FileHandle(forWritingTo: log)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["bash", "scripts/validate-deploy.sh"]
        process.currentDirectoryURL = URL(fileURLWithPath: Self.repository)
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        // Bounded: the first run may pip-install kubernetes-validate.
        let deadline = Date().addingTimeInterval(600)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        let timedOut = process.isRunning
        if timedOut { process.terminate() }
        process.waitUntilExit()
        try handle.close()

        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        #expect(!timedOut, "scripts/validate-deploy.sh did not finish within 600 s:\n\(output)")
        #expect(process.terminationStatus == 0, "scripts/validate-deploy.sh failed:\n\(output)")
        #expect(output.contains("Overall exposure level"), "no systemd-analyze exposure line:\n\(output)")
    }

    /// The deploy configurations as their places give them: the systemd one, the container's, and
    /// the one in the Kubernetes ConfigMap, with their `file:` secrets pointed at files of the test's.
    static func deployConfigurations() throws -> [(name: String, yaml: String)] {
        let systemd = try String(contentsOfFile: Self.repository + "/deploy/systemd/snmpwarden.yaml", encoding: .utf8)
        let container = try String(contentsOfFile: Self.repository + "/deploy/container/snmpwarden.yaml", encoding: .utf8)
        // The ConfigMap's `snmpwarden.yaml: |` block, by its indentation.
        let configMap = try String(contentsOfFile: Self.repository + "/deploy/kubernetes/configmap.yaml", encoding: .utf8)
        var block: [Substring] = []
        var inside = false
        var indent = 0
        for line in configMap.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.trimmingCharacters(in: .whitespaces) == "snmpwarden.yaml: |" {
                inside = true
                indent = 0
                continue
            }
            guard inside else { continue }
            let leading = line.prefix { $0 == " " }.count
            if !line.trimmingCharacters(in: .whitespaces).isEmpty {
                if indent == 0 { indent = leading }
                if leading < indent { break }
            }
            block.append(line.count >= indent ? line.dropFirst(indent) : "")
        }
        return [("systemd", systemd), ("container", container), ("kubernetes", block.joined(separator: "\n"))]
    }

    @Test("snmpwarden check passes on the systemd, container and Kubernetes configurations")
    func deployConfigurationsCheck() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("snmpwarden-deploy-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory + "/keys", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for (name, yaml) in try Self.deployConfigurations() {
            // Every `file:` secret (credentials, Secret mounts) becomes a file here, holding a test value.
            var text = yaml
            for prefix in ["file:/run/credentials/snmpwarden.service/", "file:/etc/snmpwarden/keys/"] {
                text = text.replacingOccurrences(of: prefix, with: "file:\(directory)/keys/")
            }
            for line in text.split(separator: "\n") {
                guard let range = line.range(of: "file:\(directory)/keys/") else { continue }
                let file = line[range.upperBound...].prefix { !$0.isWhitespace && $0 != "}" && $0 != "," }
                try "deploy-test-secret\n".write(toFile: "\(directory)/keys/\(file)", atomically: true, encoding: .utf8)
            }
            // State goes to the test's directory, not /var/lib.
            text = text.replacingOccurrences(of: "/var/lib/snmpwarden", with: directory + "/state-\(name)")
            let path = "\(directory)/\(name).yaml"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            #expect(throws: Never.self, "\(name)") { try Check.parse(["--config", path]).run() }
        }
    }
}
