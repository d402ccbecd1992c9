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

@testable import SNMPSecurity

/// The auth × priv combinations Net-SNMP 5.9.3 offers, by Net-SNMP's names (priv nil: authNoPriv).
let netSNMPCombinations: [(auth: String, priv: String?)] = ["MD5", "SHA", "SHA-224", "SHA-256", "SHA-384", "SHA-512"]
    .flatMap { auth in [nil, "DES", "AES", "AES-192", "AES-256", "AES-192-C", "AES-256-C"].map { (auth, $0) } }

func userName(_ auth: String, _ priv: String?) -> String {
    "\(auth)-\(priv ?? "nopriv")".lowercased()
}

/// Environment for Net-SNMP's tools that keeps them away from the machine's own state and MIBs.
func netSNMPEnvironment(_ directory: String) -> [String: String] {
    ["SNMP_PERSISTENT_DIR": directory, "HOME": directory, "MIBS": "", "SNMPCONFPATH": directory]
}

@Suite("Interop with Net-SNMP 5.9.3", .serialized)
struct NetSNMPInteropTests {
    /// (a) Net-SNMP's snmpget as the manager, our USM (in SNMPTestResponder) as the agent.
    @Test("snmpget -v3 against SNMPWire + SNMPSecurity, every auth × priv")
    func snmpgetAgainstUs() throws {
        let snmpget = try #require(
            Peers.netSNMP("snmpget"),
            "Net-SNMP's snmpget is not installed (apt-get install snmp)"
        )
        let directory = Peers.temporaryDirectory("responder")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var arguments = ["--state-dir", directory + "/state", "--user", "plain"]
        for (auth, priv) in netSNMPCombinations {
            let name = userName(auth, priv)
            var spec = "\(name):\(auth):auth-\(name)"
            if let priv { spec += ":\(priv):priv-\(name)" }
            arguments += ["--user", spec]
        }
        let responder = try PeerProcess(Peers.builtProduct("SNMPTestResponder"), arguments)
        defer { responder.stop() }
        let line = try #require(
            responder.waitForLine(containing: "listening"),
            "responder did not start: \(responder.output)"
        )
        let port = String(line.split(separator: " ")[1].split(separator: ":")[1])

        var failures: [String] = []
        for (auth, priv) in netSNMPCombinations + [("none", nil)] {
            let name = auth == "none" ? "plain" : userName(auth, priv)
            var command = ["-v3", "-u", name, "-On", "-r", "1", "-t", "3"]
            if auth == "none" {
                command += ["-l", "noAuthNoPriv"]
            } else if let priv {
                command += ["-l", "authPriv", "-a", auth, "-A", "auth-\(name)", "-x", priv, "-X", "priv-\(name)"]
            } else {
                command += ["-l", "authNoPriv", "-a", auth, "-A", "auth-\(name)"]
            }
            command += ["udp:127.0.0.1:\(port)", "1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.5.0"]
            let result = try Peers.run(snmpget, command, environment: netSNMPEnvironment(directory))
            let ok =
                result.status == 0
                && result.output.contains(#".1.3.6.1.2.1.1.1.0 = STRING: "snmpwarden test responder""#)
                && result.output.contains(#".1.3.6.1.2.1.1.5.0 = STRING: "responder""#)
            if !ok { failures.append("\(name): \(result.output)") }
        }
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")

        // Wrong keys get the RFC's answers through the real tool, and no data.
        let wrongAuth = try Peers.run(
            snmpget,
            [
                "-v3", "-u", "sha-256-aes", "-l", "authPriv", "-a", "SHA-256", "-A", "not-the-key", "-x", "AES", "-X",
                "priv-sha-256-aes",
                "-r", "0", "-t", "2", "udp:127.0.0.1:\(port)", "1.3.6.1.2.1.1.1.0",
            ],
            environment: netSNMPEnvironment(directory)
        )
        #expect(wrongAuth.status != 0 && wrongAuth.output.contains("Authentication failure"), "\(wrongAuth.output)")
        #expect(!wrongAuth.output.contains("snmpwarden test responder"))
        let unknownUser = try Peers.run(
            snmpget,
            [
                "-v3", "-u", "nobody", "-l", "noAuthNoPriv", "-r", "0", "-t", "2", "udp:127.0.0.1:\(port)",
                "1.3.6.1.2.1.1.1.0",
            ],
            environment: netSNMPEnvironment(directory)
        )
        #expect(unknownUser.status != 0 && unknownUser.output.contains("Unknown user name"), "\(unknownUser.output)")
        let wrongPriv = try Peers.run(
            snmpget,
            [
                "-v3", "-u", "sha-256-aes", "-l", "authPriv", "-a", "SHA-256", "-A", "auth-sha-256-aes", "-x", "AES",
                "-X", "wrong-privacy",
                "-r", "0", "-t", "1", "udp:127.0.0.1:\(port)", "1.3.6.1.2.1.1.1.0",
            ],
            environment: netSNMPEnvironment(directory)
        )
        #expect(
            wrongPriv.status != 0 && wrongPriv.output.contains("Timeout"),
            "a wrong AES key is dropped silently: \(wrongPriv.output)"
        )
        // A level the user is not configured for is refused with usmStatsUnsupportedSecLevels.
        let lowerLevel = try Peers.run(
            snmpget,
            [
                "-v3", "-u", "sha-256-aes", "-l", "authNoPriv", "-a", "SHA-256", "-A", "auth-sha-256-aes",
                "-r", "0", "-t", "2", "udp:127.0.0.1:\(port)", "1.3.6.1.2.1.1.1.0",
            ],
            environment: netSNMPEnvironment(directory)
        )
        #expect(
            lowerLevel.status != 0 && lowerLevel.output.contains("Unsupported security level"),
            "\(lowerLevel.output)"
        )
    }

    /// (b) Our manager-side USM against Net-SNMP's snmpd configured with createUser.
    @Test("USMClient against snmpd, every auth × priv snmpd accepts")
    func usAgainstSnmpd() throws {
        let snmpd = try #require(Peers.netSNMP("snmpd"), "Net-SNMP's snmpd is not installed (apt-get install snmpd)")
        let directory = Peers.temporaryDirectory("snmpd")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let port = Peers.freeUDPPort()
        var config = """
            [snmp] persistentDir \(directory)/persist
            engineID snmpwardeninterop
            sysDescr snmpwarden interop agent
            view all included .1
            rouser -s usm plain noauth -V all

            """
        for (auth, priv) in netSNMPCombinations {
            let name = userName(auth, priv)
            if let priv {
                config +=
                    "createUser \(name) \(auth) auth-\(name) \(priv) priv-\(name)\nrouser -s usm \(name) priv -V all\n"
            } else {
                config += "createUser \(name) \(auth) auth-\(name)\nrouser -s usm \(name) auth -V all\n"
            }
        }
        config += "createUser plain\n"
        // 3DES: Net-SNMP 5.9.3 has no 3DES-EDE (its tools refuse `-x 3DES`); the line is here to prove snmpd refuses it too.
        config += "createUser tripledes SHA-256 auth-tripledes 3DES priv-tripledes\n"
        try config.write(toFile: directory + "/snmpd.conf", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: directory + "/persist", withIntermediateDirectories: true)
        let agent = try PeerProcess(
            snmpd,
            ["-f", "-C", "-c", directory + "/snmpd.conf", "-Lf", directory + "/snmpd.log", "udp:127.0.0.1:\(port)"],
            environment: netSNMPEnvironment(directory)
        )
        defer { agent.stop() }

        let socket = UDPClient(timeoutMilliseconds: 500)
        // Wait (bounded) until snmpd answers discovery.
        var discovered: ByteBuffer? = nil
        let deadline = Date().addingTimeInterval(15)
        while discovered == nil && Date() < deadline && agent.isRunning {
            socket.send(USMClient.discoveryRequest(messageID: 1, requestID: 1), to: port)
            discovered = socket.receive()
        }
        try #require(
            discovered != nil,
            "snmpd did not answer: \((try? String(contentsOfFile: directory + "/snmpd.log", encoding: .utf8)) ?? "")"
        )

        var failures: [String] = []
        var messageID: Int32 = 10
        for (auth, priv) in netSNMPCombinations + [("none", nil)] {
            let name = auth == "none" ? "plain" : userName(auth, priv)
            let user = USMUserConfiguration(
                name: name,
                auth: USMAuthProtocol(name: auth).map { ($0, .passphrase("auth-\(name)")) },
                privacy: priv.flatMap(USMPrivacyProtocol.init(name:)).map { ($0, .passphrase("priv-\(name)")) }
            )
            var client = try USMClient(user: user)
            let now = Int64(Date().timeIntervalSince1970)
            messageID += 1
            socket.send(USMClient.discoveryRequest(messageID: messageID, requestID: messageID), to: port)
            guard let report = socket.receive(),
                case .report(_, .unknownEngineIDs, _) = client.receive(report, now: now)
            else {
                failures.append("\(name): no discovery")
                continue
            }
            // snmpd.conf's `engineID TEXT` becomes 80001F88 (enterprise 8072), format 04 (text), then the text.
            #expect(client.engineID == [0x80, 0x00, 0x1F, 0x88, 0x04] + Array("snmpwardeninterop".utf8))
            // Authenticated users first meet the time window (boots/time 0 in discovery are fine for snmpd).
            var answer: ScopedPDU? = nil
            for _ in 0..<3 where answer == nil {
                messageID += 1
                var out = ByteBuffer()
                client.encodeRequest(
                    PDU(type: .get, requestID: messageID, varbinds: [VarBind(oid: "1.3.6.1.2.1.1.1.0")]),
                    messageID: messageID,
                    now: now,
                    into: &out
                )
                socket.send(out, to: port)
                guard let reply = socket.receive() else { continue }
                switch client.receive(reply, now: now) {
                case .response(let id, let scoped) where id == messageID:
                    answer = scoped
                case .report(_, let kind, _):
                    if kind != .notInTimeWindows { failures.append("\(name): report \(String(describing: kind))") }
                case let other:
                    failures.append("\(name): \(other)")
                }
            }
            if answer?.pdu.varbinds.first?.value != .string("snmpwarden interop agent") {
                failures.append("\(name): \(String(describing: answer))")
            }
        }
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
        let log = (try? String(contentsOfFile: directory + "/snmpd.log", encoding: .utf8)) ?? ""
        // The 3DES createUser line is the last one: snmpd refuses it.
        #expect(log.contains("line \(config.split(separator: "\n").count): Error: unknown privProtocol"), "\(log)")
    }
}
