//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import Foundation
import NIOCore
import PeerSupport
import SNMPSecurity
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Hostile networks against the real gateway: a flood of discovery requests from many spoofed
/// sources, and password guessing, while a real manager is served.
@Suite("Floods and guessing: no amplification, per-source limits, back-off", .serialized)
struct FloodTests {
    @Test("50,000 discovery datagrams from 500 sources: bytes out ≤ bytes in, and a real snmpget meanwhile succeeds")
    func discoveryFlood() throws {
        let lab = try GatewayLab(name: "flood")
        try lab.startGateway(lab.configuration(), threads: 1)
        // The real manager, started first and running through the flood.
        let snmpget = try #require(Peers.netSNMP("snmpget"))
        let manager = try PeerProcess(
            snmpget,
            GatewayLab.noc + ["-On", "-r", "3", "-t", "2", "udp:127.0.0.1:\(lab.gatewayPort)", "1.3.6.1.2.1.1.5.0"],
            environment: lab.environment
        )
        let discovery = USMClient.discoveryRequest(messageID: 1, requestID: 1)
        var bytesIn = 0
        var bytesOut = 0
        for source in 0..<500 {
            let attacker = UDPClient(timeoutMilliseconds: 1, host: "127.1.\(source / 250).\(source % 250 + 1)")
            for _ in 0..<100 {
                attacker.send(discovery, to: lab.gatewayPort)
                bytesIn += discovery.readableBytes
            }
            // What the gateway sent back to this source.
            while let reply = attacker.receive() { bytesOut += reply.readableBytes }
            if source % 50 == 0 { usleep(1000) }  // keep the kernel's queues from dropping the flood
        }
        #expect(bytesOut <= bytesIn, "\(bytesOut) octets out for \(bytesIn) in")
        #expect(manager.waitUntilExit(timeout: 30))
        #expect(manager.output.contains("STRING: \"legacy-switch\""), "\(manager.output)")
        let (status, counters) = try lab.stopGateway()
        #expect(status == 0)
        let limited = (Int(counters["reports_rate_limited"] ?? "0") ?? 0) + (Int(counters["reports_amplification_limited"] ?? "0") ?? 0)
        let received = Int(counters["in_packets"] ?? "0") ?? 0
        // A loaded host drops part of the flood in the kernel's queues: what is asserted is relative
        // to what reached the gateway, with a floor so that the flood was one.
        #expect(received > 10_000, "the flood reached the gateway: \(counters)")
        #expect(limited * 10 > received * 6, "most Reports were refused: \(counters)")
    }

    @Test("password guessing from one source: Reports stop after the threshold; the right key from another source is served throughout")
    func guessing() throws {
        let lab = try GatewayLab(name: "guessing")
        try lab.startGateway(lab.configuration() + "audit: { file: audit.jsonl }\n")
        var wrong = GatewayLab.noc
        wrong[8] = "guessed-pass-1"
        var answers: [String] = []
        for round in 0..<12 {
            let guess = try lab.throughGateway(["--clientaddr=127.0.0.5", "1.3.6.1.2.1.1.5.0"], user: wrong, timeout: 1)
            answers.append(guess.contains("Authentication failure") ? "report" : (guess.contains("Timeout") ? "silence" : guess))
            // The real user, from its own address, every round.
            let real = try lab.throughGateway(["1.3.6.1.2.1.1.5.0"])
            #expect(real.contains("STRING: \"legacy-switch\""), "round \(round): \(real)")
        }
        #expect(Array(answers.prefix(4)) == Array(repeating: "report", count: 4), "\(answers)")
        #expect(Array(answers.dropFirst(4)) == Array(repeating: "silence", count: 8), "\(answers)")
        let (status, counters) = try lab.stopGateway()
        #expect(status == 0)
        #expect(counters["reports_withheld"] == "8", "\(counters)")
        let audit = try String(contentsOfFile: lab.directory + "/audit.jsonl", encoding: .utf8)
        let backoffs = audit.split(separator: "\n").filter { $0.contains("\"authentication-backoff\"") }
        #expect(backoffs.count == 1 && backoffs[0].contains("127.0.0.5"), "\(audit)")
    }
}
