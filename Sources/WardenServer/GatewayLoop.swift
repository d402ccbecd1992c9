//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import Logging
import NIOCore
import SNMPWire
import WardenForwarder

#if canImport(Glibc)
import Glibc
#endif

/// One event loop's share of the data path: its listeners, its pool of back-end sockets, its timer
/// and its ``RequestMachine``. It decides nothing: it hands datagrams and timer ticks to the
/// machine and performs the actions it returns (DESIGN.md §2). Used on that loop only (§3).
final class GatewayLoop: DatagramHandler {
    let index: Int
    let eventLoop: DatagramLoop
    let machine: RequestMachine
    let logger: Logger
    /// Latency histograms (nil: no ops listener, nothing recorded).
    let metrics: GatewayMetrics?
    /// Where audit events go (nil: the main log, as warnings).
    let audit: AuditLog?

    struct Listener {
        /// The socket's token on the loop.
        var token: Int
        /// Replies go out on the listener's descriptor; on a wildcard listener, with the packet's
        /// destination as source.
        var outbox: DatagramOutbox
        var isWildcard: Bool
    }
    /// By listener id (stable across reloads, the same on every loop).
    var listeners: [Int: Listener] = [:]

    /// The back-end socket pool, as the machine numbers it (pool × sockets-per-pool + socket).
    struct BackendSocket {
        var token: Int
        var outbox: DatagramOutbox
    }
    var backendSockets: [BackendSocket] = []

    /// Replies and back-end datagrams queued since the last flush.
    fileprivate var batch = WriteBatch()
    /// Datagrams the kernel refused to send (an I/O matter: the machine does not see it).
    var sendFailures: UInt64 { self.batch.sendFailures }
    private var timer: Scheduled<Void>?
    private var draining: EventLoopPromise<Void>?

    init(
        index: Int,
        eventLoop: DatagramLoop,
        machine: RequestMachine,
        logger: Logger,
        metrics: GatewayMetrics?,
        audit: AuditLog?
    ) {
        self.index = index
        self.eventLoop = eventLoop
        self.machine = machine
        self.logger = logger
        self.metrics = metrics
        self.audit = audit
    }

    var now: Int64 { Int64(NIODeadline.now().uptimeNanoseconds) }

    /// The machine's counters with this loop's I/O counters.
    var counters: GatewayCounters {
        var counters = self.machine.counters
        counters.sendFailures = self.sendFailures
        return counters
    }

    // MARK: - Events

    /// Listener sockets are tagged with their listener id; back-end sockets with `-1 - socket`.
    static func backendTag(_ socket: Int) -> Int { -1 - socket }

    func receive(_ datagram: ByteBuffer, from source: SocketAddress, to destination: SocketAddress?, tag: Int) {
        var sink = Performer(loop: self)
        if tag >= 0 {
            self.machine.receiveFromManager(
                datagram,
                from: ManagerEndpoint(listener: tag, remote: source, local: destination),
                now: self.now,
                into: &sink
            )
        } else {
            self.machine.receiveFromBackend(datagram, socket: -1 - tag, from: source, now: self.now, into: &sink)
        }
        self.afterEvent()
    }

    func readsEnded() {
        self.flushWrites()
    }

    /// Datagrams a blocked outbox could not send once its socket was writable again.
    func countSendFailures(_ count: Int) {
        self.batch.countFailure(count)
    }

    private func timerFired() {
        self.timer = nil
        var sink = Performer(loop: self)
        self.machine.timerFired(now: self.now, into: &sink)
        self.flushWrites()
        self.afterEvent()
    }

    private func afterEvent() {
        guard self.machine.pendingCount == 0 else { return }
        if self.machine.takeBurstEnded() {
            // A burst is over: return free heap pages, so the process goes back to its resting size.
            _ = Self.mallocTrim?(0)
        }
        if let promise = self.draining {
            self.draining = nil
            promise.succeed()
        }
    }

    // MARK: - Actions

    /// Performs the machine's actions at once, on this loop.
    struct Performer: GatewayActionSink {
        unowned let loop: GatewayLoop

        mutating func perform(_ action: GatewayAction) {
            switch action {
            case .sendToBackend(let datagram, let socket, let address):
                self.loop.batch.enqueue(datagram, to: address, in: self.loop.backendSockets[socket].outbox)
            case .reply(let datagram, let endpoint):
                // A listener a reload removed while the request was pending: the answer cannot go.
                guard let listener = self.loop.listeners[endpoint.listener] else {
                    self.loop.batch.countFailure()
                    return
                }
                self.loop.batch.enqueue(
                    datagram,
                    to: endpoint.remote,
                    from: listener.isWildcard ? endpoint.local : nil,
                    in: listener.outbox
                )
            case .armTimer(let deadline):
                self.loop.armTimer(deadline)
            case .audit(let event):
                self.loop.log(event)
            case .observe(let observation):
                self.loop.metrics?.record(observation)
            }
        }
    }

    private func armTimer(_ deadline: Int64) {
        self.timer?.cancel()
        let bound = NIOLoopBound(self, eventLoop: self.eventLoop)
        self.timer = self.eventLoop.scheduleTask(deadline: .uptimeNanoseconds(UInt64(max(0, deadline)))) {
            bound.value.timerFired()
        }
    }

    private func log(_ event: AuditEvent) {
        if let audit = self.audit {
            audit.write(event)
            return
        }
        switch event {
        case .noRoute(let source, let user, let context):
            self.logger.warning(
                "no route: request refused with authorizationError",
                metadata: ["source": "\(Self.describe(source))", "user": "\(user)", "context": "\(context)"]
            )
        case .noDevice(let route, let source, let user, let context):
            self.logger.warning(
                "no device named like the context: request refused with authorizationError",
                metadata: [
                    "route": "\(route)", "source": "\(Self.describe(source))", "user": "\(user)",
                    "context": "\(context)",
                ]
            )
        case .communityRefused(let source, let version):
            self.logger.warning(
                "v\(version) request with a community no route allows from this source: dropped",
                metadata: ["source": "\(Self.describe(source))"]
            )
        case .refused(let route, let reason, let user, let context, let source, let oid):
            self.logger.warning(
                "refused by the route's policy",
                metadata: [
                    "route": "\(route)", "reason": "\(reason)", "user": "\(user)", "context": "\(context)",
                    "source": "\(Self.describe(source))", "oid": "\(oid?.description ?? "")",
                ]
            )
        case .pendingOverflow(let backend):
            self.logger.warning(
                "pending table full (limits.max-pending): request handled as a timeout",
                metadata: ["backend": "\(backend)"]
            )
        case .authenticationFailure(let source, let user, let kind):
            self.logger.warning(
                "authentication failure",
                metadata: ["source": "\(Self.describe(source))", "user": "\(user)", "reason": "\(kind)"]
            )
        case .authenticationBackoff(let source, let user, let seconds):
            self.logger.warning(
                "repeated authentication failures: no Reports to this source and user for a while",
                metadata: ["source": "\(Self.describe(source))", "user": "\(user)", "seconds": "\(seconds)"]
            )
        case .backendReport(let backend, let user, let reason):
            self.logger.warning(
                "SNMPv3 agent answered with a Report: request answered as a timeout",
                metadata: ["backend": "\(backend)", "user": "\(user)", "reason": "\(reason)"]
            )
        }
    }

    // MARK: - Batched writes

    /// Called when a channel's read batch is done, and after timers: sends what was queued.
    func flushWrites() {
        self.batch.flush()
    }

    // MARK: - Stop

    /// Stops reading from managers; the future completes when nothing is pending any more.
    func drain() -> EventLoopFuture<Void> {
        for listener in self.listeners.values {
            self.eventLoop.setReading(listener.token, false)
        }
        let promise = self.eventLoop.makePromise(of: Void.self)
        self.draining = promise
        self.afterEvent()
        return promise.futureResult
    }

    /// glibc's malloc_trim (not in the Glibc module's headers): returns free heap pages to the system.
    static let mallocTrim = glibcFunction("malloc_trim", as: (@convention(c) (Int) -> Int32).self)

    /// `192.0.2.1:1234` or `[2001:db8::1]:1234`, for logs.
    static func describe(_ address: SocketAddress) -> String {
        guard let host = address.ipAddress, let port = address.port else { return "\(address)" }
        return address.protocol == .inet6 ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

@available(*, unavailable)
extension GatewayLoop: Sendable {}
