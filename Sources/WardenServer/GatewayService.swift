//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import Logging
import NIOCore
import NIOPosix
import SNMPSecurity
import ServiceLifecycle
import UnixSignals
import WardenConfig
import WardenForwarder

#if canImport(Glibc)
import Glibc
#endif

/// The gateway as a swift-service-lifecycle `Service`: starts the data path, runs until a graceful
/// shutdown (SIGTERM/SIGINT), then stops reading, lets pending requests finish or time out, and
/// closes its sockets.
public struct GatewayService: Service {
    public let plan: GatewayPlan
    public let threads: Int
    public let logger: Logger

    public init(plan: GatewayPlan, threads: Int, logger: Logger) {
        self.plan = plan
        self.threads = threads
        self.logger = logger
    }

    public func run() async throws {
        let configuration = self.plan.configuration
        // engineBoots is written before anything is served (RFC 3414 §2.2.2).
        let identity = try EngineStateStore.start(
            stateDirectory: configuration.engine.stateDirectory,
            configuredEngineID: configuration.engine.engineID
        )
        let engine = try USMAuthoritativeEngine(identity: identity, users: configuration.users)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: self.threads)
        let gateway: Gateway
        do {
            gateway = try await Gateway.start(plan: self.plan, engine: engine, group: group, logger: self.logger)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        // Loading a large configuration (ten thousand routes of YAML) leaves freed heap behind:
        // return it to the system before serving, so the resting size is what the gateway holds.
        _ = GatewayLoop.mallocTrim?(0)
        // "listening" is the readiness line that supervisors and tests wait for: say it only once a
        // SIGTERM would stop us gracefully rather than kill us.
        // SIGHUP would end the process by default; reloading is not built yet, so say so instead.
        let logger = self.logger
        let hangups = Task {
            for await _ in await UnixSignalsSequence(trapping: .sighup) {
                logger.warning(
                    "SIGHUP: configuration reload is not supported yet; restart the gateway to apply changes"
                )
            }
        }
        defer { hangups.cancel() }
        await Self.waitForSignalHandler(SIGTERM)
        await Self.waitForSignalHandler(SIGHUP)
        self.logger.info(
            "listening",
            metadata: [
                "listen": "\(configuration.listen.map(\.description).joined(separator: ","))",
                "engine_id": "\(identity.engineID.map { String(format: "%02x", $0) }.joined())",
                "engine_boots": "\(identity.boots)",
                "threads": "\(self.threads)",
                "backends": "\(self.plan.snapshot.backends.count)",
                "routes": "\(self.plan.snapshot.routes.count)",
                "backend_sockets": "\(self.plan.snapshot.socketCount * self.threads)",
                "community_front_end": "\(self.plan.snapshot.routeTable.acceptsCommunities ? "on" : "off")",
            ]
        )
        // Runs until SIGTERM/SIGINT (or cancellation).
        try? await gracefulShutdown()
        self.logger.info("stopping: no new requests; waiting for pending ones to finish or time out")
        await gateway.drain()
        let counters = await gateway.counters()
        let usm = await gateway.usmStatistics()
        await gateway.close()
        try? await group.shutdownGracefully()
        var metadata: Logger.Metadata = [:]
        for (name, value) in counters.fields + usm.fields { metadata[name] = "\(value)" }
        self.logger.info("stopped", metadata: metadata)
    }

    /// Waits (at most a second) until `signal` has a handler: the service group installs its signal
    /// handlers while services start, and a SIGTERM before that would end the process at once.
    static func waitForSignalHandler(_ signal: Int32) async {
        for _ in 0..<1000 {
            var action = sigaction()
            sigaction(signal, nil, &action)
            // The handler as a number: 0 is SIG_DFL, 1 is SIG_IGN.
            let handler = unsafeBitCast(action.__sigaction_handler, to: Int.self)
            if handler != 0 && handler != 1 { return }
            try? await Task.sleep(for: .milliseconds(1))
        }
    }
}
