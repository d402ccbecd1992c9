//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import ArgumentParser
import Foundation
import NIOCore
import SNMPWire
import Testing
import WardenConfig

@testable import snmpwarden

@Suite("snmpwarden decode")
struct DecodeCommandTests {
    static let getSysDescr = "302902010104067075626c6963a01c02041f5c6ac8020100020100300e300c06082b060102010101000500"

    @Test(
        "hex is read in the forms people paste",
        arguments: [
            getSysDescr, "0x" + getSysDescr, getSysDescr.uppercased(),
            stride(from: 0, to: getSysDescr.count, by: 2).map { i -> String in
                let start = getSysDescr.index(getSysDescr.startIndex, offsetBy: i)
                return String(getSysDescr[start..<getSysDescr.index(start, offsetBy: 2)])
            }.joined(separator: " "),
            stride(from: 0, to: getSysDescr.count, by: 2).map { i -> String in
                let start = getSysDescr.index(getSysDescr.startIndex, offsetBy: i)
                return String(getSysDescr[start..<getSysDescr.index(start, offsetBy: 2)])
            }.joined(separator: ":"),
        ]
    )
    func hexForms(text: String) throws {
        let bytes = try #require(Decode.parseHex(text))
        #expect(bytes.count == 43)
        #expect(bytes.first == 0x30 && bytes.last == 0x00)
    }

    @Test("what is not hex is refused", arguments: ["", "3", "30z1", "0x", "30 0"])
    func notHex(text: String) {
        #expect(Decode.parseHex(text) == nil)
    }

    @Test func rendersACommunityGet() throws {
        let message = try SNMPMessage(decoding: ByteBuffer(bytes: try #require(Decode.parseHex(Self.getSysDescr))))
        #expect(
            MessagePrinter.render(message) == """
                SNMPv2c community STRING: "public"
                  get request-id 526150344 error-status noError error-index 0
                    1.3.6.1.2.1.1.1.0 = NULL
                """
        )
    }

    @Test func rendersGetBulkFieldsByTheirNames() {
        let pdu = PDU.getBulk(
            requestID: 9,
            nonRepeaters: 1,
            maxRepetitions: 25,
            varbinds: [VarBind(oid: "1.3.6.1.2.1.2.2.1.2")]
        )
        let text = MessagePrinter.render(.community(CommunityMessage(version: .v2c, community: "c", pdu: pdu)))
        #expect(text.contains("getBulk request-id 9 non-repeaters 1 max-repetitions 25"))
    }

    @Test func rendersAnEncryptedV3Message() {
        let usm = USMSecurityParameters(
            authoritativeEngineID: ByteBuffer(bytes: [0x80, 0x00, 0x1F, 0x88, 0x04, 0x61]),
            authoritativeEngineBoots: 3,
            authoritativeEngineTime: 99,
            userName: ByteBuffer(string: "noc"),
            authenticationParameters: ByteBuffer(repeating: 0, count: 24),
            privacyParameters: ByteBuffer(repeating: 1, count: 8)
        )
        let message = SNMPv3Message(
            messageID: 5,
            maxSize: 65507,
            flags: [.authenticated, .privacy, .reportable],
            securityParameters: .usm(usm),
            data: .encrypted(ByteBuffer(repeating: 7, count: 54))
        )
        let text = MessagePrinter.render(.v3(message))
        #expect(text.contains("SNMPv3 msgID 5 msgMaxSize 65507 flags 0x7 securityModel 3"))
        #expect(text.contains("boots 3 time 99 user STRING: \"noc\""))
        #expect(text.contains("authParams 24 octets, privParams 8 octets"))
        #expect(text.contains("encryptedPDU 54 octets"))
    }

    @Test func rendersAV1Trap() {
        let trap = TrapV1PDU(
            enterprise: "1.3.6.1.4.1.8072.2.3",
            agentAddress: IPv4Address(127, 0, 0, 1),
            genericTrap: 6,
            specificTrap: 17,
            timeStamp: 35942,
            varbinds: [VarBind(oid: "1.3.6.1.2.1.1.5.0", value: .string("trap-test"))]
        )
        let text = MessagePrinter.render(
            .community(CommunityMessage(version: .v1, community: ByteBuffer(string: "public"), pdu: .trapV1(trap)))
        )
        #expect(
            text.contains(
                "trapV1 enterprise 1.3.6.1.4.1.8072.2.3 agent-addr 127.0.0.1 generic 6 specific 17 time-stamp 35942"
            )
        )
        #expect(text.contains("1.3.6.1.2.1.1.5.0 = STRING: \"trap-test\""))
    }

    @Test("a datagram that is not SNMP fails with the offset, not with usage text")
    func failureNamesTheOffset() throws {
        let command = try Decode.parse([
            "302902010104067075626c6963a91c02041f5c6ac8020100020100300e300c06082b060102010101000500"
        ])
        #expect(throws: DecodeFailure.self) { try command.run() }
        do {
            try command.run()
        } catch {
            #expect("\(error)" == "not an SNMP message: offset 13: tag 0xa9 is not allowed here")
        }
    }

    @Test func versionIsPrinted() {
        #expect(SNMPWarden.configuration.version == SNMPWarden.version)
        #expect(!SNMPWarden.version.isEmpty)
    }
}

@Suite("snmpwarden check")
struct CheckCommandTests {
    @Test func refusesABrokenFileAndAcceptsAGoodOne() throws {
        let directory = NSTemporaryDirectory() + "snmpwarden-check-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "listen: [\"udp:127.0.0.1:1161\"]\nroutes: [{ name: r, users: [], backend: nowhere }]\n"
            .write(toFile: directory + "/bad.yaml", atomically: true, encoding: .utf8)
        let bad = try Check.parse(["--config", directory + "/bad.yaml"])
        #expect(throws: ExitCode.failure) { try bad.run() }
        try
            "listen: [\"udp:127.0.0.1:1161\"]\nbackends: [{ name: b, address: \"udp:127.0.0.1:161\", community: public }]\nroutes: [{ name: r, users: [], backend: b }]\n"
            .write(toFile: directory + "/good.yaml", atomically: true, encoding: .utf8)
        try Check.parse(["--config", directory + "/good.yaml"]).run()
    }
}

@Suite("shipped configurations")
struct ShippedConfigurationTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// The secrets the examples take from the environment.
    static let secrets = [
        "NOC_AUTH", "NOC_PRIV", "CORE_SWITCH_COMMUNITY", "VENDOR_AUTH", "VENDOR_PRIV", "FIREWALL_COMMUNITY",
        "OPS_AUTH", "OPS_PRIV", "UPS_COMMUNITY", "FLEET_COMMUNITY", "VENDOR_HASH_KEY", "NMS_TRAP_AUTH",
        "NMS_TRAP_PRIV", "NMS_INFORM_AUTH", "NMS_INFORM_PRIV", "AGENT_TRAP_AUTH", "AGENT_TRAP_PRIV",
        "TRAP_COMMUNITY", "NMS_COMMUNITY",
    ]

    @Test(
        "snmpwarden check passes on the shipped configuration and every example",
        arguments: [
            "conf/snmpwarden.yaml", "conf/examples/v2c-switch-behind-v3.yaml",
            "conf/examples/vendor-restricted-subtrees.yaml", "conf/examples/ipv6-managers-ipv4-agent.yaml",
            "conf/examples/fleet-by-context.yaml", "conf/examples/vendor-value-rewriting.yaml",
            "conf/examples/traps-to-v3.yaml",
        ]
    )
    func checkPasses(file: String) throws {
        for name in Self.secrets { setenv(name, "example-secret-\(name.lowercased())", 1) }
        let path = Self.repository + "/" + file
        #expect(FileManager.default.fileExists(atPath: path))
        try Check.parse(["--config", path]).run()
    }

    @Test("check's OK line counts the back ends that came from inventories")
    func inventorySummary() throws {
        let configuration = try ConfigurationLoader.load(
            path: Self.repository + "/conf/examples/fleet-by-context.yaml",
            environment: ["NOC_AUTH": "noc-auth-secret", "NOC_PRIV": "noc-priv-secret", "FLEET_COMMUNITY": "c"]
        )
        #expect(configuration.backends.count == 5)
        #expect(Check.inventorySummary(configuration) == " (5 from 1 inventory)")
        #expect(configuration.backends.allSatisfy { $0.group == "access-switches" && $0.source == "192.0.2.5" })
        #expect(configuration.routes.map(\.backend) == [.byContext(group: "access-switches")])
        let warehouse = try #require(configuration.backends.last)
        guard case .agent(_, _, _, let timeout, let retries) = warehouse.kind else {
            Issue.record("not an agent")
            return
        }
        #expect(warehouse.name == "sw-warehouse" && timeout == 3000 && retries == 1)
        let good = try ConfigurationLoader.parse(
            yaml: "listen: [\"udp:127.0.0.1:1161\"]\nroutes: []\n",
            file: "x.yaml",
            environment: [:]
        )
        #expect(Check.inventorySummary(good) == "")
    }

    @Test("an example without its secrets in the environment is refused, naming the variable")
    func missingSecretIsNamed() throws {
        let path = Self.repository + "/conf/examples/ipv6-managers-ipv4-agent.yaml"
        let text = try String(contentsOfFile: path, encoding: .utf8).replacingOccurrences(
            of: "${OPS_AUTH}",
            with: "${SNMPWARDEN_TEST_UNSET}"
        )
        #expect(throws: ConfigurationErrors.self) {
            try ConfigurationLoader.parse(
                yaml: text,
                file: "ipv6.yaml",
                environment: ["OPS_PRIV": "x-long-enough", "UPS_COMMUNITY": "c"]
            )
        }
        do {
            _ = try ConfigurationLoader.parse(
                yaml: text,
                file: "ipv6.yaml",
                environment: ["OPS_PRIV": "x-long-enough", "UPS_COMMUNITY": "c"]
            )
        } catch {
            #expect(
                error.errors.map(\.message).contains { $0.contains("SNMPWARDEN_TEST_UNSET is not set") },
                "\(error)"
            )
        }
    }
}

@Suite("README examples")
struct ReadmeExampleTests {
    /// The views-and-rewrites example in the README is a valid configuration (given the users and
    /// back ends it refers to), so that a network engineer can copy it.
    @Test func viewsExampleIsValid() throws {
        let readme = try String(contentsOfFile: ShippedConfigurationTests.repository + "/README.md", encoding: .utf8)
        let section = try #require(readme.range(of: "## Views, wildcards and rewrites"))
        let afterHeading = readme[section.upperBound...]
        let start = try #require(afterHeading.range(of: "```yaml\n"))
        let end = try #require(afterHeading[start.upperBound...].range(of: "```"))
        let example = afterHeading[start.upperBound..<end.lowerBound]
        let yaml = """
            listen: [ "udp:127.0.0.1:1161" ]
            users:
              - { name: vendor, auth: SHA, auth-key: vendor-pass-1 }
              - { name: noc, auth: SHA, auth-key: noc-pass-12 }
            backends:
              - { name: core-switch, address: "udp:192.0.2.1:161", community: c }
              - { name: ups, address: "udp:192.0.2.2:161", community: c, version: 1 }

            """ + example
        let configuration = try ConfigurationLoader.parse(yaml: yaml, file: "README.md", environment: [:])
        #expect(configuration.views.count == 4 && configuration.routes.count == 2)
        #expect(configuration.routes[1].rewrite.count == 1)
    }
}
