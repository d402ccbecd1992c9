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
final class NotificationLoop {
    let eventLoop: EventLoop
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

    init(eventLoop: EventLoop, machine: NotificationMachine, logger: Logger) {
        self.eventLoop = eventLoop
        self.machine = machine
        self.logger = logger
    }

    var now: Int64 { Int64(NIODeadline.now().uptimeNanoseconds) }

    func receive(_ envelope: AddressedEnvelope<ByteBuffer>, listener: Int) {
        var sink = Performer(loop: self)
        self.machine.receive(
            envelope.data,
            from: ManagerEndpoint(
                listener: listener,
                remote: envelope.remoteAddress,
                local: envelope.metadata?.packetInfo?.destinationAddress
            ),
            now: self.now,
            into: &sink
        )
    }

    func receiveFromTarget(_ envelope: AddressedEnvelope<ByteBuffer>) {
        var sink = Performer(loop: self)
        self.machine.receiveFromTarget(envelope.data, from: envelope.remoteAddress, now: self.now, into: &sink)
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

final class NotificationListenerHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    private let loop: NotificationLoop
    private let listener: Int

    init(loop: NotificationLoop, listener: Int) {
        self.loop = loop
        self.listener = listener
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.loop.receive(self.unwrapInboundIn(data), listener: self.listener)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.loop.flushWrites()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        self.loop.logger.debug("notification listener error", metadata: ["error": "\(error)"])
    }
}

@available(*, unavailable)
extension NotificationListenerHandler: Sendable {}

final class NotificationSenderHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    private let loop: NotificationLoop

    init(loop: NotificationLoop) {
        self.loop = loop
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.loop.receiveFromTarget(self.unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.loop.flushWrites()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // A receiver that is down answers with ICMP port unreachable: its informs time out as usual.
        self.loop.logger.debug("notification sender error", metadata: ["error": "\(error)"])
    }
}

@available(*, unavailable)
extension NotificationSenderHandler: Sendable {}

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
    private let channels: [Channel]
    public let plan: NotificationPlan

    private init(loop: NIOLoopBound<NotificationLoop>, channels: [Channel], plan: NotificationPlan) {
        self.loop = loop
        self.channels = channels
        self.plan = plan
    }

    static let receiveCapacity = 16_384

    public static func start(
        plan: NotificationPlan,
        identity: EngineIdentity,
        eventLoop: EventLoop,
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
        var channels: [Channel] = []
        do {
            for (id, address) in plan.listeners.enumerated() {
                let fd = try UDPSocket.bound(to: address, reusePort: false)
                let wildcard = UDPSocket.isWildcard(address)
                let channel = try await DatagramBootstrap(group: eventLoop)
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(
                                NotificationListenerHandler(loop: bound.value, listener: id)
                            )
                        }
                    }
                    .channelOption(
                        .recvAllocator,
                        value: FixedSizeRecvByteBufferAllocator(capacity: Gateway.vectorReadCount * Self.receiveCapacity)
                    )
                    .channelOption(.autoRead, value: false)
                    .channelOption(.receivePacketInfo, value: wildcard)
                    .channelOption(.datagramVectorReadMessageCount, value: Gateway.vectorReadCount)
                    .withBoundSocket(fd)
                    .get()
                channels.append(channel)
                try await eventLoop.submit {
                    bound.value.listeners[id] = NotificationLoop.Listener(
                        outbox: DatagramOutbox(fd: fd, channel: wildcard ? nil : channel),
                        isWildcard: wildcard
                    )
                }.get()
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
                let channel = try await DatagramBootstrap(group: eventLoop)
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(NotificationSenderHandler(loop: bound.value))
                        }
                    }
                    .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 65_536))
                    .withBoundSocket(fd)
                    .get()
                channels.append(channel)
                try await eventLoop.submit {
                    bound.value.senders[family] = DatagramOutbox(fd: fd, channel: channel)
                }.get()
            }
            for channel in channels { try await channel.setOption(.autoRead, value: true).get() }
        } catch {
            for channel in channels { try? await channel.close() }
            throw error
        }
        return NotificationRelay(loop: bound, channels: channels, plan: plan)
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
        for channel in self.channels { try? await channel.close() }
    }
}
