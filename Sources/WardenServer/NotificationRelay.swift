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
import WardenForwarder

#if canImport(Glibc)
import Glibc
#endif

/// The notification relay's sockets and timer on one event loop: the listeners devices send to, one
/// sending socket per address family (receivers' acknowledgements come back to it), and the
/// ``NotificationMachine``. It decides nothing: it hands datagrams and timer ticks to the machine
/// and performs its actions.
final class NotificationLoop: DatagramHandler {
    let eventLoop: DatagramLoop
    let machine: NotificationMachine
    let logger: Logger

    struct Listener {
        var outbox: DatagramOutbox
        var isWildcard: Bool
    }
    var listeners: [Int: Listener] = [:]
    /// Sending sockets: IPv4, IPv6 (nil where the family is unavailable).
    var senders: [DatagramOutbox?] = [nil, nil]
    fileprivate var batch = WriteBatch()
    var sendFailures: UInt64 { self.batch.sendFailures }
    private var timer: Scheduled<Void>?

    init(eventLoop: DatagramLoop, machine: NotificationMachine, logger: Logger) {
        self.eventLoop = eventLoop
        self.machine = machine
        self.logger = logger
    }

    var now: Int64 { Int64(NIODeadline.now().uptimeNanoseconds) }

    /// The sending sockets' tag (listeners are tagged with their id).
    static let senderTag = -1

    func receive(_ datagram: ByteBuffer, from source: SocketAddress, to destination: SocketAddress?, tag: Int) {
        // The machine keeps a notification's varbinds (slices of the datagram) while its informs
        // wait for acknowledgements: a copy the datagram's size, so that they do not pin the
        // loop's whole receive buffer.
        var datagram = datagram
        if tag != Self.senderTag {
            var copy = ByteBufferAllocator().buffer(capacity: datagram.readableBytes)
            copy.writeBuffer(&datagram)
            datagram = copy
        }
        var sink = Performer(loop: self)
        if tag == Self.senderTag {
            self.machine.receiveFromTarget(datagram, from: source, now: self.now, into: &sink)
        } else {
            self.machine.receive(
                datagram,
                from: ManagerEndpoint(listener: tag, remote: source, local: destination),
                now: self.now,
                into: &sink
            )
        }
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
    }

    struct Performer: NotificationActionSink {
        unowned let loop: NotificationLoop

        mutating func perform(_ action: NotificationAction) {
            switch action {
            case .send(let datagram, let address):
                guard let outbox = self.loop.senders[address.protocol == .inet6 ? 1 : 0] else {
                    self.loop.batch.countFailure()
                    return
                }
                self.loop.batch.enqueue(datagram, to: address, in: outbox)
            case .reply(let datagram, let endpoint):
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
                self.loop.timer?.cancel()
                let bound = NIOLoopBound(self.loop, eventLoop: self.loop.eventLoop)
                self.loop.timer = self.loop.eventLoop.scheduleTask(
                    deadline: .uptimeNanoseconds(UInt64(max(0, deadline)))
                ) {
                    bound.value.timerFired()
                }
            }
        }
    }

    func flushWrites() {
        self.batch.flush()
    }
}

@available(*, unavailable)
extension NotificationLoop: Sendable {}

/// What the relay counted, read on its loop.
public struct NotificationStatistics: Sendable {
    public var counters: NotificationCounters
    public var targets: [(name: String, counters: NotificationTargetCounters)]
    public var pending: Int
    public var informsWaiting: Int
    public var sendFailures: UInt64
    public var usm: USMStatistics
}

/// The running notification relay: one event loop (notifications are few next to requests, and one
/// loop keeps each inform and its acknowledgement on one thread).
public final class NotificationRelay: Sendable {
    private let loop: NIOLoopBound<NotificationLoop>
    /// The sockets' tokens on the loop.
    private let sockets: [Int]
    public let plan: NotificationPlan

    private init(loop: NIOLoopBound<NotificationLoop>, sockets: [Int], plan: NotificationPlan) {
        self.loop = loop
        self.sockets = sockets
        self.plan = plan
    }

    static let receiveCapacity = 16_384

    static func start(
        plan: NotificationPlan,
        identity: EngineIdentity,
        eventLoop: DatagramLoop,
        logger: Logger,
        engineTimeOrigin: Int64
    ) async throws -> NotificationRelay {
        let (engine, traps) = try plan.security(identity: identity)
        nonisolated(unsafe) let engineCopy = engine
        nonisolated(unsafe) let trapsCopy = traps
        let bound = try await eventLoop.submit {
            NIOLoopBound(
                NotificationLoop(
                    eventLoop: eventLoop,
                    machine: NotificationMachine(
                        snapshot: plan.snapshot,
                        engine: engineCopy,
                        trapReceiver: trapsCopy,
                        engineTimeOrigin: engineTimeOrigin
                    ),
                    logger: logger
                ),
                eventLoop: eventLoop
            )
        }.get()
        var sockets: [Int] = []
        /// Registers `fd` on the loop with `tag`; `listener`: as that listener's outbox.
        func register(_ fd: CInt, tag: Int, wildcard: Bool, capacity: Int, sender family: Int?) async throws -> Int {
            try await eventLoop.submit {
                let relay = bound.value
                let token = eventLoop.register(fd: fd, capacity: capacity, packetInfo: wildcard, tag: tag, handler: relay)
                let outbox = eventLoop.outbox(for: token) { [unowned relay] in relay.countSendFailures($0) }
                if let family {
                    relay.senders[family] = outbox
                    eventLoop.setReading(token, true)
                } else {
                    relay.listeners[tag] = NotificationLoop.Listener(outbox: outbox, isWildcard: wildcard)
                }
                return token
            }.get()
        }
        do {
            var listeners: [Int] = []
            for (id, address) in plan.listeners.enumerated() {
                let fd = try UDPSocket.bound(to: address, reusePort: false)
                let token = try await register(
                    fd,
                    tag: id,
                    wildcard: UDPSocket.isWildcard(address),
                    capacity: Self.receiveCapacity,
                    sender: nil
                )
                sockets.append(token)
                listeners.append(token)
            }
            for (family, host) in ["0.0.0.0", "::"].enumerated() {
                let fd: CInt
                do {
                    fd = try UDPSocket.bound(to: try SocketAddress(ipAddress: host, port: 0), reusePort: false)
                } catch {
                    if family == 0 || plan.snapshot.targets.contains(where: { $0.address.protocol == .inet6 }) {
                        throw error
                    }
                    continue
                }
                sockets.append(
                    try await register(
                        fd,
                        tag: NotificationLoop.senderTag,
                        wildcard: false,
                        capacity: DatagramReceiver.slotSize,
                        sender: family
                    )
                )
            }
            try await eventLoop.submit { [listeners] in
                for token in listeners { eventLoop.setReading(token, true) }
            }.get()
        } catch {
            try? await eventLoop.submit { [sockets] in
                for token in sockets { eventLoop.close(token) }
            }.get()
            throw error
        }
        return NotificationRelay(loop: bound, sockets: sockets, plan: plan)
    }

    /// Takes new sources, targets and routes (the listeners stay: a reload refuses to change them).
    public func reload(plan: NotificationPlan, identity: EngineIdentity) async throws {
        let (engine, traps) = try plan.security(identity: identity)
        nonisolated(unsafe) let engineCopy = engine
        nonisolated(unsafe) let trapsCopy = traps
        let loop = self.loop
        try await loop.eventLoop.submit {
            loop.value.machine.replace(snapshot: plan.snapshot, engine: engineCopy, trapReceiver: trapsCopy)
        }.get()
    }

    public func statistics() async -> NotificationStatistics? {
        let loop = self.loop
        return try? await loop.eventLoop.submit {
            let machine = loop.value.machine
            return NotificationStatistics(
                counters: machine.counters,
                targets: machine.targetCounters(),
                pending: machine.pendingCount,
                informsWaiting: machine.informsWaiting,
                sendFailures: loop.value.sendFailures,
                usm: machine.usmStatistics.informs + machine.usmStatistics.traps
            )
        }.get()
    }

    public func advanceEngineTime(origin: Int64) async {
        let loop = self.loop
        try? await loop.eventLoop.submit { loop.value.machine.advanceEngineTime(origin: origin) }.get()
    }

    public func close() async {
        let loop = self.loop
        let sockets = self.sockets
        try? await loop.eventLoop.submit {
            for token in sockets { loop.value.eventLoop.close(token) }
        }.get()
    }
}
