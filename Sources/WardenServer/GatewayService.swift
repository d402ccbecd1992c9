//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import Logging
import NIOConcurrencyHelpers
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

/// The gateway as a swift-service-lifecycle `Service`: starts the data path (and the ops listener
/// when `ops.listen` is set), runs until a graceful shutdown (SIGTERM/SIGINT), then stops reading,
/// lets pending requests finish or time out, and closes its sockets.
public struct GatewayService: Service {
    public let plan: GatewayPlan
    public let threads: Int
    public let logger: Logger
    public let version: String
    /// The file the plan came from, read again on reload (SIGHUP, POST /-/reload); nil: no reload.
    public let configPath: String?

    public init(plan: GatewayPlan, threads: Int, logger: Logger, version: String = "dev", configPath: String? = nil) {
        self.plan = plan
        self.threads = threads
        self.logger = logger
        self.version = version
        self.configPath = configPath
    }

    public func run() async throws {
        let configuration = self.plan.configuration
        let identity: EngineIdentity
        let engineTimeOrigin: Int64
        switch configuration.engine.time {
        case .local:
            // engineBoots is written before anything is served (RFC 3414 §2.2.2).
            identity = try EngineStateStore.start(
                stateDirectory: configuration.engine.stateDirectory,
                configuredEngineID: configuration.engine.engineID
            )
            engineTimeOrigin = Int64(NIODeadline.now().uptimeNanoseconds)
        case .epoch(let epoch):
            // Replicas as one engine: boots and time from the wall clock since the shared epoch.
            let (monotonic, wall) = Self.clocks()
            guard let engineID = configuration.engine.engineID,
                let (boots, _) = EpochEngineTime.at(unixNanoseconds: wall, epochSeconds: epoch),
                let origin = EpochEngineTime.origin(
                    monotonicNanoseconds: monotonic,
                    unixNanoseconds: wall,
                    epochSeconds: epoch
                )
            else {
                throw EngineClockError(description: "engine.epoch is in the future: check the clock (NTP) or the epoch")
            }
            identity = EngineIdentity(engineID: engineID, boots: boots)
            engineTimeOrigin = origin
        }
        let engine = try USMAuthoritativeEngine(identity: identity, users: configuration.users)
        let metrics = configuration.ops.map { _ in GatewayMetrics(version: self.version) }
        let audit = try configuration.auditFile.map { path throws(AuditLogError) in try AuditLog(path: path) }
        // The data path's own loops (recvmmsg on epoll, one thread each).
        let group = try DatagramLoopGroup(loops: self.threads)
        let gateway: Gateway
        do {
            gateway = try await Gateway.start(
                plan: self.plan,
                engine: engine,
                group: group.loops,
                logger: self.logger,
                metrics: metrics,
                audit: audit,
                engineTimeOrigin: engineTimeOrigin
            )
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        // The notification relay: on one data-path loop (it is one machine, on one thread).
        let relay: NotificationRelay?
        if let notifications = self.plan.notifications {
            do {
                relay = try await NotificationRelay.start(
                    plan: notifications,
                    identity: identity,
                    eventLoop: group.loops[0],
                    logger: self.logger,
                    engineTimeOrigin: engineTimeOrigin
                )
            } catch {
                await gateway.close()
                try? await group.shutdownGracefully()
                throw error
            }
        } else {
            relay = nil
        }
        let state = ServiceState()
        let reloader = Reloader(
            plan: self.plan,
            gateway: gateway,
            relay: relay,
            identity: identity,
            configPath: self.configPath,
            metrics: metrics,
            audit: audit,
            logger: self.logger
        )
        // The control plane's own loop: the ops listener never runs on the data path.
        let control = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var ops: OpsServer?
        if let settings = configuration.ops, let metrics {
            let endpoints = GatewayOpsEndpoints(
                gateway: gateway,
                relay: relay,
                metrics: metrics,
                reloader: reloader,
                state: state,
                identity: identity
            )
            do {
                ops = try await OpsServer.start(
                    host: settings.listen.host,
                    port: settings.listen.port,
                    group: control,
                    endpoints: endpoints
                )
            } catch {
                await gateway.close()
                await relay?.close()
                try? await group.shutdownGracefully()
                try? await control.shutdownGracefully()
                throw OpsBindError(description: "cannot bind ops.listen \(settings.listen): \(error)")
            }
        }
        // Loading a large configuration (ten thousand routes of YAML) leaves freed heap behind:
        // return it to the system before serving, so the resting size is what the gateway holds.
        _ = GatewayLoop.mallocTrim?(0)
        // SIGHUP reloads the configuration (as POST /-/reload does).
        let hangups = Task {
            for await _ in await UnixSignalsSequence(trapping: .sighup) {
                _ = await reloader.reload(trigger: "SIGHUP")
            }
        }
        defer { hangups.cancel() }
        // With time: epoch, engineTime follows the wall clock: a clock corrected forward moves it
        // forward (never back), so replicas stay together.
        let clockFollower: Task<Void, Never>? = {
            guard case .epoch(let epoch) = configuration.engine.time else { return nil }
            return Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(5))
                    let (monotonic, wall) = Self.clocks()
                    if let origin = EpochEngineTime.origin(
                        monotonicNanoseconds: monotonic,
                        unixNanoseconds: wall,
                        epochSeconds: epoch
                    ) {
                        await gateway.advanceEngineTime(origin: origin)
                        await relay?.advanceEngineTime(origin: origin)
                    }
                }
            }
        }()
        defer { clockFollower?.cancel() }
        await Self.waitForSignalHandler(SIGTERM)
        await Self.waitForSignalHandler(SIGHUP)
        // "listening" is the readiness line that supervisors and tests wait for: say it only once a
        // SIGTERM would stop us gracefully rather than kill us.
        state.ready()
        await reloader.started()
        var metadata: Logger.Metadata = [
            "listen": "\(configuration.listen.map(\.description).joined(separator: ","))",
            "engine_id": "\(identity.engineID.map { String(format: "%02x", $0) }.joined())",
            "engine_boots": "\(identity.boots)",
            "threads": "\(self.threads)",
            "backends": "\(self.plan.snapshot.backends.count)",
            "routes": "\(self.plan.snapshot.routes.count)",
            "backend_sockets": "\(self.plan.snapshot.socketCount * self.threads)",
            "community_front_end": "\(self.plan.snapshot.routeTable.acceptsCommunities ? "on" : "off")",
        ]
        if let notifications = configuration.notifications {
            metadata["notifications"] = "\(notifications.listen.map(\.description).joined(separator: ","))"
        }
        if let address = ops?.localAddress, let port = address.port {
            metadata["ops"] = "\(GatewayLoop.describe(address).dropLast("\(port)".count + 1)):\(port)"
        }
        self.logger.info("listening", metadata: metadata)
        audit?.write(
            "start",
            [
                ("version", self.version), ("engine_id", metadata["engine_id"]?.description ?? ""),
                ("engine_boots", "\(identity.boots)"), ("listen", metadata["listen"]?.description ?? ""),
            ]
        )
        SystemdNotifier.notify("READY=1\nSTATUS=listening")
        // Runs until SIGTERM/SIGINT (or cancellation).
        try? await gracefulShutdown()
        state.drain()
        SystemdNotifier.notify("STOPPING=1\nSTATUS=draining")
        self.logger.info("stopping: no new requests; waiting for pending ones to finish or time out")
        await gateway.drain()
        let notificationStatistics = await relay?.statistics()
        await relay?.close()
        let statistics = await gateway.statistics()
        let plan = await reloader.plan
        await ops?.close()
        await gateway.close()
        try? await group.shutdownGracefully()
        try? await control.shutdownGracefully()
        var stopped: Logger.Metadata = [:]
        for (name, value) in statistics.counters.fields + statistics.usm.fields { stopped[name] = "\(value)" }
        for (slot, route) in plan.snapshot.routeSlotNames.enumerated() where slot < statistics.routes.routes {
            for reason in RefusalReason.allCases {
                let count = statistics.routes.refusals(route: slot, reason: reason)
                if count > 0 { stopped["refused/\(route)/\(reason.name)"] = "\(count)" }
            }
        }
        if let notificationStatistics {
            let counters = notificationStatistics.counters
            stopped["notifications/received"] = "\(counters.receivedV1Traps + counters.receivedV2cTraps + counters.receivedV2cInforms + counters.receivedV3Traps + counters.receivedV3Informs)"
            for reason in NotificationDropReason.allCases where counters[reason] > 0 {
                stopped["notifications/dropped/\(reason.name)"] = "\(counters[reason])"
            }
            for (name, target) in notificationStatistics.targets {
                stopped["notifications/\(name)/sent"] = "\(target.traps + target.informs)"
                if target.timeouts > 0 { stopped["notifications/\(name)/timeouts"] = "\(target.timeouts)" }
            }
        }
        self.logger.info("stopped", metadata: stopped)
        audit?.write(
            "stop",
            [("in_packets", "\(statistics.counters.inPackets)"), ("out_packets", "\(statistics.counters.outResponses)")]
        )
    }

    /// The monotonic and the wall clock (nanoseconds), read together.
    static func clocks() -> (monotonic: Int64, unix: Int64) {
        var wall = timespec()
        clock_gettime(CLOCK_REALTIME, &wall)
        let monotonic = Int64(NIODeadline.now().uptimeNanoseconds)
        return (monotonic, Int64(wall.tv_sec) * 1_000_000_000 + Int64(wall.tv_nsec))
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

/// engineTime cannot be derived from the clock.
struct EngineClockError: Error, CustomStringConvertible {
    var description: String
}

/// The ops port could not be bound.
struct OpsBindError: Error, CustomStringConvertible {
    var description: String
}

/// Starting, serving or draining: what /readyz reports.
final class ServiceState: Sendable {
    private enum Phase { case starting, serving, draining }
    private let phase = NIOLockedValueBox(Phase.starting)

    func ready() { self.phase.withLockedValue { $0 = .serving } }
    func drain() { self.phase.withLockedValue { $0 = .draining } }

    /// nil when serving.
    var notReadyReason: String? {
        switch self.phase.withLockedValue({ $0 }) {
        case .starting: return "starting"
        case .serving: return nil
        case .draining: return "draining: stopping, pending requests finishing"
        }
    }
}

/// The ops listener's answers, from the running gateway.
struct GatewayOpsEndpoints: OpsEndpoints {
    let gateway: Gateway
    let relay: NotificationRelay?
    let metrics: GatewayMetrics
    let reloader: Reloader
    let state: ServiceState
    let identity: EngineIdentity

    func metrics() async -> [UInt8] {
        let statistics = await self.gateway.statistics()
        let snapshot = await self.reloader.plan.snapshot
        self.metrics.set("snmpwarden_engine_boots", to: Double(self.identity.boots))
        let origin = await self.gateway.advanceEngineTime(origin: .max)
        let engineTime = (Int64(NIODeadline.now().uptimeNanoseconds) - origin) / 1_000_000_000
        self.metrics.set("snmpwarden_engine_time_seconds", to: Double(engineTime))
        if let notifications = await self.relay?.statistics() {
            self.metrics.record(notifications)
        }
        return self.metrics.exposition(
            statistics,
            routes: snapshot.routeSlotNames,
            backends: snapshot.countsPerBackend ? snapshot.backendSlotNames : []
        )
    }

    func live() async -> Bool {
        await self.gateway.loopsAnswer(withinMilliseconds: 1000)
    }

    func notReadyReason() async -> String? {
        self.state.notReadyReason
    }

    func reload() async -> ReloadOutcome {
        await self.reloader.reload(trigger: "POST /-/reload")
    }
}

/// systemd's readiness protocol (sd_notify(3)) without libsystemd: one datagram of `KEY=value`
/// lines to the AF_UNIX socket named by `$NOTIFY_SOCKET` (a leading `@` is an abstract socket).
/// Nothing happens when the variable is not set.
enum SystemdNotifier {
    static func notify(_ message: String) {
        guard let path = getenv("NOTIFY_SOCKET").map({ String(cString: $0) }), !path.isEmpty else { return }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity else { return }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (bytes.first == 0 ? 0 : 1))
        let payload = Array(message.utf8)
        _ = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                payload.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, socketAddress, length) }
            }
        }
    }
}

/// Reloads the configuration: validates the whole new file first, refuses what cannot change while
/// running, then swaps the snapshot on every loop. One reload at a time. engineBoots is not touched
/// (a reload is no re-initialisation of the engine; Net-SNMP counts one, and its users complain:
/// net-snmp #220).
actor Reloader {
    private(set) var plan: GatewayPlan
    private let gateway: Gateway
    private let relay: NotificationRelay?
    private let identity: EngineIdentity
    private let configPath: String?
    private let metrics: GatewayMetrics?
    private let audit: AuditLog?
    private let logger: Logger
    private var results: [String: UInt64] = [:]

    init(
        plan: GatewayPlan,
        gateway: Gateway,
        relay: NotificationRelay?,
        identity: EngineIdentity,
        configPath: String?,
        metrics: GatewayMetrics?,
        audit: AuditLog?,
        logger: Logger
    ) {
        self.audit = audit
        self.plan = plan
        self.gateway = gateway
        self.relay = relay
        self.identity = identity
        self.configPath = configPath
        self.metrics = metrics
        self.logger = logger
    }

    /// The configuration loaded at start counts as a successful load.
    func started() {
        self.recordResult(success: true)
    }

    /// The reload in progress, which the next one waits for (an actor lets another call in while
    /// one awaits the gateway: this keeps reloads one at a time).
    private var last: Task<ReloadOutcome, Never>?

    func reload(trigger: String) async -> ReloadOutcome {
        let previous = self.last
        let task = Task { () -> ReloadOutcome in
            _ = await previous?.value
            return await self.perform(trigger: trigger)
        }
        self.last = task
        return await task.value
    }

    private func perform(trigger: String) async -> ReloadOutcome {
        guard let path = self.configPath else {
            return .unsupported("this gateway was not started from a file: nothing to reload")
        }
        SystemdNotifier.notify("RELOADING=1\nMONOTONIC_USEC=\(NIODeadline.now().uptimeNanoseconds / 1000)")
        defer { SystemdNotifier.notify("READY=1\nSTATUS=listening") }
        self.logger.info("reloading the configuration", metadata: ["trigger": "\(trigger)", "file": "\(path)"])
        let errors: [String]
        do {
            let configuration = try ConfigurationLoader.load(path: path)
            try self.checkUnchanged(configuration, path: path)
            let plan = try GatewayPlan(configuration, previous: self.plan)
            let users = try USMAuthoritativeEngine(identity: self.identity, users: configuration.users)
            // Everything that can fail is built before anything is swapped.
            let notificationSecurity = try plan.notifications?.security(identity: self.identity)
            _ = notificationSecurity
            try await self.gateway.reload(plan: plan, users: users)
            if let relay = self.relay, let notifications = plan.notifications {
                try await relay.reload(plan: notifications, identity: self.identity)
            }
            self.plan = plan
            self.recordResult(success: true)
            self.audit?.write("reload", [("result", "success"), ("trigger", trigger), ("file", path)])
            self.logger.info(
                "reloaded",
                metadata: [
                    "trigger": "\(trigger)", "users": "\(configuration.users.count)",
                    "backends": "\(plan.snapshot.backends.count)", "routes": "\(plan.snapshot.routes.count)",
                    "listen": "\(configuration.listen.map(\.description).joined(separator: ","))",
                ]
            )
            return .reloaded
        } catch let problems as ConfigurationErrors {
            errors = problems.errors.map(\.description)
        } catch let refusal as ReloadRefusal {
            errors = refusal.problems
        } catch {
            errors = ["\(path): \(error)"]
        }
        for error in errors {
            self.logger.error("reload: \(error)")
        }
        self.logger.error(
            "reload refused: the configuration that was running keeps serving",
            metadata: ["trigger": "\(trigger)", "errors": "\(errors.count)"]
        )
        self.recordResult(success: false)
        self.audit?.write(
            "reload",
            [("result", "failure"), ("trigger", trigger), ("file", path), ("errors", errors.joined(separator: "\n"))]
        )
        return .refused(errors.joined(separator: "\n"))
    }

    /// What a running gateway cannot take over: its engine, its ops listener, its socket pools' size.
    private func checkUnchanged(_ configuration: WardenConfiguration, path: String) throws(ReloadRefusal) {
        let running = self.plan.configuration
        var problems: [String] = []
        if configuration.engine != running.engine {
            problems.append("engine: the engine's identity and state cannot change on reload; restart to apply")
        }
        if configuration.ops != running.ops {
            problems.append("ops: the ops listener cannot change on reload; restart to apply")
        }
        if configuration.backendSockets != running.backendSockets {
            problems.append("backend-sockets cannot change on reload; restart to apply")
        }
        let sourceLimits: [KeyPath<Limits, Int>] = [
            \.reportsPerSecond, \.reportsBurst, \.sourcePrefixV4, \.sourcePrefixV6, \.sourceTableSize,
            \.failuresBeforeBackoff, \.firstBackoffMilliseconds, \.maxBackoffMilliseconds,
        ]
        if sourceLimits.contains(where: { configuration.limits[keyPath: $0] != running.limits[keyPath: $0] }) {
            problems.append(
                "limits: the limits for unauthenticated traffic (reports-*, source-*, *-backoff) cannot change on reload; restart to apply"
            )
        }
        if configuration.notifications?.listen != running.notifications?.listen {
            problems.append(
                "notifications.listen: the notification listeners cannot be added, removed or changed on reload; restart to apply"
            )
        }
        if configuration.auditFile != running.auditFile {
            problems.append("audit: the audit file cannot change on reload; restart to apply")
        }
        if !problems.isEmpty {
            throw ReloadRefusal(problems: problems.map { "\(path): \($0)" })
        }
    }

    private func recordResult(success: Bool) {
        let result = success ? "success" : "failure"
        self.results[result, default: 0] += 1
        guard let metrics = self.metrics else { return }
        metrics.advance("snmpwarden_config_reloads_total", [("result", result)], to: self.results[result]!)
        metrics.set("snmpwarden_config_last_reload_successful", to: success ? 1 : 0)
        if success {
            var now = timespec()
            clock_gettime(CLOCK_REALTIME, &now)
            metrics.set(
                "snmpwarden_config_last_reload_success_timestamp_seconds",
                to: Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
            )
        }
    }
}

/// A reload that would change what cannot change while running.
struct ReloadRefusal: Error, CustomStringConvertible {
    var problems: [String]
    var description: String { self.problems.joined(separator: "\n") }
}
