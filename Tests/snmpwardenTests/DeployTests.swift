//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import Foundation
import Testing

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
}
