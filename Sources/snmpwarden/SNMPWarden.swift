//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import ArgumentParser
import Logging
import NIOCore
import NIOPosix
import SNMPWire
import ServiceLifecycle
import WardenConfig
import WardenServer

#if canImport(Glibc)
import Glibc
#endif

@main
struct SNMPWarden: AsyncParsableCommand {
    static let version = "0.1.0-dev"

    static let configuration = CommandConfiguration(
        commandName: "snmpwarden",
        abstract: "SNMPv3 proxy forwarder and application-layer firewall for SNMPv1/v2c agents.",
        discussion: """
            `snmpwarden run --config FILE` runs the gateway in the foreground (SIGTERM or SIGINT stop it \
            gracefully); `snmpwarden check --config FILE` validates a configuration file; \
            `snmpwarden decode` decodes a captured datagram.
            """,
        version: version,
        subcommands: [Run.self, Check.self, Decode.self]
    )
}

/// Runs the gateway in the foreground until SIGTERM or SIGINT.
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the gateway in the foreground; SIGTERM or SIGINT stop it gracefully (exit status 0)."
    )

    @Option(name: .long, help: "The configuration file (YAML).")
    var config: String

    @Option(name: .long, help: "Log format: text (default) or json (one object per line).")
    var logFormat: WardenLogHandler.Format = .text

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error or critical.")
    var logLevel: Logger.Level = .info

    @Option(
        name: .long,
        help: "Event loops (threads) on the data path; default: the CPUs the process may use (affinity, cgroup quota)."
    )
    var threads: Int = DatagramLoopGroup.defaultLoopCount

    func validate() throws {
        guard (1...64).contains(self.threads) else { throw ValidationError("--threads must be 1 to 64") }
    }

    func run() async throws {
        // A parent may have started us with signals blocked (a test runner's thread, for one):
        // graceful stop needs SIGTERM and SIGINT delivered.
        var signals = sigset_t()
        sigemptyset(&signals)
        for signal in [SIGTERM, SIGINT, SIGHUP] { sigaddset(&signals, signal) }
        pthread_sigmask(SIG_UNBLOCK, &signals, nil)

        let format = self.logFormat
        let level = self.logLevel
        LoggingSystem.bootstrap { label in WardenLogHandler(label: label, format: format, level: level) }
        let logger = Logger(label: "snmpwarden")

        let plan: GatewayPlan
        do {
            plan = try GatewayPlan(try ConfigurationLoader.load(path: self.config))
        } catch let errors as ConfigurationErrors {
            for problem in errors.errors { printToStandardError(problem.description) }
            throw ExitCode.failure
        } catch {
            printToStandardError("\(self.config): \(error)")
            throw ExitCode.failure
        }
        let service = GatewayService(
            plan: plan,
            threads: self.threads,
            logger: logger,
            version: SNMPWarden.version,
            configPath: self.config
        )
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [.init(service: service)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        do {
            try await group.run()
        } catch {
            logger.critical("cannot run", metadata: ["error": "\(Self.reason(error))"])
            throw ExitCode.failure
        }
    }

    /// The innermost error's text (the service group wraps what a service throws).
    static func reason(_ error: Error) -> String {
        if let wrapped = error as? ServiceGroupError {
            return "\(wrapped)"
        }
        return "\(error)"
    }
}

extension WardenLogHandler.Format: ExpressibleByArgument {}
extension Logger.Level: @retroactive ExpressibleByArgument {}

/// Validates a configuration file and prints every error as `file:line:column: message`.
struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Validate a configuration file: every error is printed as file:line:column: message; exit status 1 on any."
    )

    @Option(name: .long, help: "The configuration file (YAML).")
    var config: String

    func run() throws {
        let configuration: WardenConfiguration
        do {
            configuration = try ConfigurationLoader.load(path: self.config)
        } catch {
            for problem in error.errors { printToStandardError(problem.description) }
            throw ExitCode.failure
        }
        // What `run` resolves beyond the file itself (the snmprec files of simulated back ends).
        do {
            _ = try GatewayPlan(configuration)
        } catch {
            printToStandardError("\(self.config): \(error)")
            throw ExitCode.failure
        }
        print(
            "\(self.config): OK: \(configuration.listen.count) listeners, \(configuration.users.count) users, "
                + "\(configuration.backends.count) backends\(Self.inventorySummary(configuration)), "
                + "\(configuration.views.count) views, \(configuration.routes.count) routes"
                + (configuration.notifications.map {
                    "; notifications: \($0.listen.count) listeners, \($0.sources.count) sources, "
                        + "\($0.targets.count) targets, \($0.routes.count) routes"
                } ?? "")
        )
    }

    /// ` (10000 from 1 inventory)`, or nothing when no back end comes from an inventory file.
    static func inventorySummary(_ configuration: WardenConfiguration) -> String {
        let inventories = configuration.inventories.count
        guard inventories > 0 else { return "" }
        let devices = configuration.inventories.reduce(0) { $0 + $1.backends.count }
        return " (\(devices) from \(inventories) \(inventories == 1 ? "inventory" : "inventories"))"
    }
}

/// Decodes one SNMP datagram given in hex and prints its structure.
struct Decode: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decode an SNMP message given as hex (spaces, colons and a 0x prefix are ignored)."
    )

    @Argument(help: "The datagram in hex, or '-' to read it from standard input.")
    var hex: String

    func run() throws {
        let text = self.hex == "-" ? (readAllStandardInput()) : self.hex
        guard let bytes = Self.parseHex(text) else {
            throw ValidationError("not hex: expected pairs of hexadecimal digits")
        }
        do {
            let message = try SNMPMessage(decoding: ByteBuffer(bytes: bytes))
            print(MessagePrinter.render(message))
        } catch {
            throw DecodeFailure(description: "not an SNMP message: \(error)")
        }
    }

    static func parseHex(_ text: String) -> [UInt8]? {
        var cleaned = text.lowercased()
        if cleaned.hasPrefix("0x") { cleaned.removeFirst(2) }
        let digits = cleaned.unicodeScalars.filter { !" \n\t:\r".unicodeScalars.contains($0) }
        guard digits.count % 2 == 0, !digits.isEmpty else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var iterator = digits.makeIterator()
        while let high = iterator.next(), let low = iterator.next() {
            guard let h = hexValue(high), let l = hexValue(low) else { return nil }
            bytes.append(h << 4 | l)
        }
        return bytes
    }

    private static func hexValue(_ scalar: Unicode.Scalar) -> UInt8? {
        switch scalar {
        case "0"..."9": return UInt8(scalar.value - 48)
        case "a"..."f": return UInt8(scalar.value - 87)
        default: return nil
        }
    }
}

/// The input was hex but not an SNMP message: reported without the usage text, exit status 1.
struct DecodeFailure: Error, CustomStringConvertible {
    var description: String
}

private func printToStandardError(_ line: String) {
    var stream = StandardError()
    print(line, to: &stream)
}

private struct StandardError: TextOutputStream {
    mutating func write(_ string: String) {
        var bytes = Array(string.utf8)
        _ = bytes.withUnsafeMutableBytes { SNMPWardenIO.writeToStandardError($0) }
    }
}

private func readAllStandardInput() -> String {
    var text = ""
    while let line = readLine(strippingNewline: false) { text += line }
    return text
}

/// Renders a decoded message as indented text.
enum MessagePrinter {
    static func render(_ message: SNMPMessage) -> String {
        var lines: [String] = []
        switch message {
        case .community(let m):
            lines.append("SNMPv\(m.version) community \(SNMPValue.octetString(m.community))")
            lines.append(contentsOf: self.render(m.pdu))
        case .v3(let m):
            lines.append(
                "SNMPv3 msgID \(m.messageID) msgMaxSize \(m.maxSize) flags 0x\(String(m.flags.rawValue, radix: 16)) securityModel \(m.securityModel)"
            )
            if let usm = m.usm {
                lines.append(
                    "  USM engineID \(SNMPValue.opaque(usm.authoritativeEngineID)) boots \(usm.authoritativeEngineBoots) time \(usm.authoritativeEngineTime) user \(SNMPValue.octetString(usm.userName))"
                )
                lines.append(
                    "  authParams \(usm.authenticationParameters.readableBytes) octets, privParams \(usm.privacyParameters.readableBytes) octets"
                )
            }
            switch m.data {
            case .plaintext(let scoped):
                lines.append(
                    "  contextEngineID \(SNMPValue.opaque(scoped.contextEngineID)) contextName \(SNMPValue.octetString(scoped.contextName))"
                )
                lines.append(contentsOf: self.render(.pdu(scoped.pdu)))
            case .encrypted(let bytes):
                lines.append("  encryptedPDU \(bytes.readableBytes) octets")
            }
        }
        return lines.joined(separator: "\n")
    }

    static func render(_ pdu: AnyPDU) -> [String] {
        var lines: [String] = []
        switch pdu {
        case .pdu(let p):
            if p.type == .getBulk {
                lines.append(
                    "  \(p.type) request-id \(p.requestID) non-repeaters \(p.nonRepeaters) max-repetitions \(p.maxRepetitions)"
                )
            } else {
                lines.append(
                    "  \(p.type) request-id \(p.requestID) error-status \(p.errorStatus) error-index \(p.errorIndex)"
                )
            }
        case .trapV1(let t):
            lines.append(
                "  trapV1 enterprise \(t.enterprise) agent-addr \(t.agentAddress) generic \(t.genericTrap) specific \(t.specificTrap) time-stamp \(t.timeStamp)"
            )
        }
        for varbind in pdu.varbinds {
            lines.append("    \(varbind)")
        }
        return lines
    }
}
