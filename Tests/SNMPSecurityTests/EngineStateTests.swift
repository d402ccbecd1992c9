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

@Suite("Engine identity and boots", .serialized)
struct EngineStateTests {
    @Test func bootsGrowAndTheEngineIDStays() throws {
        let directory = Peers.temporaryDirectory("state")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try EngineStateStore.start(stateDirectory: directory, configuredEngineID: nil)
        #expect(first.boots == 1)
        #expect(first.engineID.count == 17 && first.engineID.prefix(5) == [0x80, 0x00, 0x1F, 0x88, 0x80])
        let second = try EngineStateStore.start(stateDirectory: directory, configuredEngineID: nil)
        #expect(second == EngineIdentity(engineID: first.engineID, boots: 2))
        let text = try String(contentsOfFile: directory + "/engine.state", encoding: .utf8)
        #expect(text == "engineID \(hexString(first.engineID))\nengineBoots 2\n")
        #expect(!FileManager.default.fileExists(atPath: directory + "/engine.state.tmp"))
    }

    @Test func generatedEngineIDsDiffer() {
        #expect(EngineIdentity.generateEngineID() != EngineIdentity.generateEngineID())
    }

    @Test("a configured engine ID is kept; changing it restarts boots")
    func configuredEngineID() throws {
        let directory = Peers.temporaryDirectory("state")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let id = [0x80, 0x00, 0x1F, 0x88, 0x04] + Array("warden".utf8)
        #expect(
            try EngineStateStore.start(stateDirectory: directory, configuredEngineID: id)
                == EngineIdentity(engineID: id, boots: 1)
        )
        #expect(try EngineStateStore.start(stateDirectory: directory, configuredEngineID: id).boots == 2)
        #expect(
            try EngineStateStore.start(stateDirectory: directory, configuredEngineID: nil)
                == EngineIdentity(engineID: id, boots: 3)
        )
        let other = [0x80, 0x00, 0x1F, 0x88, 0x04] + Array("other".utf8)
        #expect(
            try EngineStateStore.start(stateDirectory: directory, configuredEngineID: other)
                == EngineIdentity(engineID: other, boots: 1)
        )
    }

    static let corrupt: [(String, String)] = [
        ("empty", ""),
        ("no boots", "engineID 80001f880477617264656e\n"),
        ("boots zero", "engineID 80001f880477617264656e\nengineBoots 0\n"),
        ("boots not a number", "engineID 80001f880477617264656e\nengineBoots lots\n"),
        ("engine id not hex", "engineID zz\nengineBoots 3\n"),
        ("engine id too short", "engineID 8000\nengineBoots 3\n"),
        ("unknown key", "engineID 80001f880477617264656e\nengineBoots 3\ncolour blue\n"),
        ("binary", "\u{FFFE}\u{0}\u{1}"),
    ]

    @Test("a corrupt state file is a start-up error, never a reset of boots", arguments: corrupt)
    func corruptStateFile(label: String, content: String) throws {
        let directory = Peers.temporaryDirectory("state")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try content.write(toFile: directory + "/engine.state", atomically: true, encoding: .utf8)
        #expect(throws: EngineStateStore.StateError.self, "\(label)") {
            try EngineStateStore.start(stateDirectory: directory, configuredEngineID: nil)
        }
        #expect(try String(contentsOfFile: directory + "/engine.state", encoding: .utf8) == content, "left as it was")
    }

    @Test func latchedBootsRefuseToStart() throws {
        let directory = Peers.temporaryDirectory("state")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "engineID 80001f880477617264656e\nengineBoots 2147483647\n".write(
            toFile: directory + "/engine.state",
            atomically: true,
            encoding: .utf8
        )
        do {
            _ = try EngineStateStore.start(stateDirectory: directory, configuredEngineID: nil)
            Issue.record("started with latched boots")
        } catch {
            #expect(error.description.contains("latched"))
        }
    }

    @Test("an unusable state directory is a start-up error")
    func unusableDirectory() throws {
        let directory = Peers.temporaryDirectory("state")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "not a directory".write(toFile: directory + "/file", atomically: true, encoding: .utf8)
        #expect(throws: EngineStateStore.StateError.self) {
            try EngineStateStore.start(stateDirectory: directory + "/file", configuredEngineID: nil)
        }
        #expect(throws: EngineStateStore.StateError.self) {
            try EngineStateStore.start(stateDirectory: directory + "/file/below", configuredEngineID: nil)
        }
        #expect(throws: EngineStateStore.StateError.self) {
            try EngineStateStore.start(stateDirectory: directory, configuredEngineID: [0, 0, 0, 0, 0])
        }
    }

    /// Asks an agent for its boots with a discovery probe.
    func discoverBoots(port: UInt16) -> (engineID: [UInt8], boots: Int32)? {
        let socket = UDPClient(timeoutMilliseconds: 500)
        for attempt in 0..<10 {
            socket.send(USMClient.discoveryRequest(messageID: Int32(attempt + 1), requestID: 1), to: port)
            if let reply = socket.receive(), case .v3(let message) = try? SNMPMessage(decoding: reply),
                let usm = message.usm
            {
                return (Array(usm.authoritativeEngineID.readableBytesView), usm.authoritativeEngineBoots)
            }
        }
        return nil
    }

    @Test("engineBoots survives kill -9: the restarted engine announces boots + 1")
    func bootsSurviveKillNine() throws {
        let directory = Peers.temporaryDirectory("killnine")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var seen: [(engineID: [UInt8], boots: Int32)] = []
        for _ in 0..<3 {
            let responder = try PeerProcess(
                Peers.builtProduct("SNMPTestResponder"),
                ["--state-dir", directory, "--user", "bob:SHA-256:authpass123:AES:privpass123"]
            )
            let line = try #require(responder.waitForLine(containing: "listening"), "\(responder.output)")
            let port = try #require(UInt16(line.split(separator: " ")[1].split(separator: ":")[1]))
            let answer = try #require(self.discoverBoots(port: port))
            #expect(line.hasSuffix("boots \(answer.boots)"))
            seen.append(answer)
            responder.stop(signal: SIGKILL)
        }
        #expect(seen.map(\.boots) == [1, 2, 3])
        #expect(Set(seen.map(\.engineID)).count == 1)
    }
}
