//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import Foundation
import NIOCore
import PeerSupport
import Testing

@testable import WardenServer

/// Without `--threads`, the gateway runs one data-path loop per CPU it may use: pinned to one CPU
/// (taskset, systemd's CPUAffinity=) it runs one, and it answers through it.
@Suite("Event loops by default")
struct DefaultLoopsTests {
    @Test("without --threads: one loop per CPU the process may use; taskset -c 0 gives one, and it serves")
    func followsAffinity() throws {
        let lab = try GatewayLab(name: "default-loops")
        try lab.configuration().write(toFile: lab.configPath, atomically: true, encoding: .utf8)
        let online = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        let everyCPU = "0-\(max(0, online - 1))"
        for (cpus, expected) in [("0", 1), (everyCPU, min(online, System.coreCount))] {
            let gateway = try PeerProcess(
                "/usr/bin/taskset",
                ["-c", cpus, Peers.builtProduct("snmpwarden"), "run", "--config", lab.configPath, "--log-format", "json"],
                environment: GatewayLab.environment(lab.directory)
            )
            defer { gateway.stop(signal: SIGTERM) }
            let line = try #require(gateway.waitForLine(containing: "\"listening\""), "\(gateway.output)")
            #expect(line.contains("\"threads\":\"\(expected)\""), "taskset -c \(cpus): \(line)")
            let answer = try lab.throughGateway(["1.3.6.1.2.1.1.5.0"])
            #expect(answer.contains("legacy-switch"), "\(answer)")
            gateway.stop(signal: SIGTERM)
            _ = gateway.waitForLine(containing: "\"stopped\"")
        }
    }
}
