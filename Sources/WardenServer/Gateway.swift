//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import Dispatch
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SNMPSecurity
import WardenForwarder

#if canImport(Glibc)
import Glibc
#endif

/// Datagrams from managers, handed to the loop's gateway.
final class FrontendHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let gateway: GatewayLoop
    private let listener: Int

    init(gateway: GatewayLoop, listener: Int) {
        self.gateway = gateway
        self.listener = listener
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.gateway.receiveFromManager(self.unwrapInboundIn(data), listener: self.listener)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.gateway.flushWrites()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // UDP errors (an ICMP port unreachable reported on a later read) do not close the listener.
        self.gateway.logger.debug("listener error", metadata: ["error": "\(error)"])
    }
}

@available(*, unavailable)
extension FrontendHandler: Sendable {}

/// Datagrams from one back-end socket of the loop's pool, handed to the loop's gateway.
final class BackendHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let gateway: GatewayLoop
    private let socket: Int

    init(gateway: GatewayLoop, socket: Int) {
        self.gateway = gateway
        self.socket = socket
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.gateway.receiveFromBackend(self.unwrapInboundIn(data), socket: self.socket)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.gateway.flushWrites()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // An agent that is down answers with ICMP port unreachable: the request times out as usual.
        self.gateway.logger.debug("backend socket error", metadata: ["error": "\(error)"])
    }
}

@available(*, unavailable)
extension BackendHandler: Sendable {}

/// The running data path: one ``GatewayLoop`` per event loop, each with its own listener sockets
/// (SO_REUSEPORT), its pool of back-end sockets shared by every back end, its request machine
/// (pending requests, timers) and USM engine copy. Nothing is shared between loops on the
/// per-packet path (DESIGN.md §3). The number of descriptors is loops × (listeners + pools ×
/// backend-sockets), whatever the number of back ends.
public final class Gateway: Sendable {
    private let loops: [NIOLoopBound<GatewayLoop>]
    private let channels: [Channel]
    public let logger: Logger
    /// snmpEngineTime counts from this monotonic instant.
    public let startUptime: UInt64

    private init(loops: [NIOLoopBound<GatewayLoop>], channels: [Channel], logger: Logger, startUptime: UInt64) {
        self.loops = loops
        self.channels = channels
        self.logger = logger
        self.startUptime = startUptime
    }

    /// The largest request a listener reads whole: far above what managers send (RFC 3417 asks for
    /// 484 octets; Net-SNMP sends at most its 1472-octet MTU-sized messages), and small enough that
    /// a vector read of 8 needs no huge buffer. A larger datagram arrives truncated and is counted
    /// as a parse error. Back-end sockets read up to 65,536 octets (large GetBulk answers).
    static let listenerReceiveCapacity = 16_384

    /// Datagrams per read call (recvmmsg); NIO pools the receive buffers, so the slots are reused.
    static let vectorReadCount = 8

    /// Binds every listener on every loop of `group` and opens the back-end sockets.
    public static func start(
        plan: GatewayPlan,
        engine: USMAuthoritativeEngine,
        group: MultiThreadedEventLoopGroup,
        logger: Logger,
        metrics: GatewayMetrics? = nil
    ) async throws -> Gateway {
        let eventLoops = Array(group.makeIterator())
        let startUptime = NIODeadline.now().uptimeNanoseconds
        var loops: [NIOLoopBound<GatewayLoop>] = []
        var channels: [Channel] = []
        var listenerChannels: [Channel] = []
        // SO_REUSEPORT would let the loops share a port with another process of the same user: make
        // sure the port is free first (a plain bind fails if anyone holds it).
        for address in plan.listeners {
            Glibc.close(try UDPSocket.bound(to: address, reusePort: false))
        }
        do {
            for (index, eventLoop) in eventLoops.enumerated() {
                // Handed over to that loop, which alone uses it from now on.
                nonisolated(unsafe) let engineCopy = index == 0 ? engine : engine.copy(loopIndex: index)
                let bound = try await eventLoop.submit {
                    NIOLoopBound(
                        GatewayLoop(
                            index: index,
                            eventLoop: eventLoop,
                            machine: RequestMachine(
                                snapshot: plan.snapshot,
                                usm: engineCopy,
                                loopCount: eventLoops.count,
                                engineTimeOrigin: Int64(startUptime)
                            ),
                            logger: logger,
                            metrics: metrics
                        ),
                        eventLoop: eventLoop
                    )
                }.get()
                loops.append(bound)
                for (listenerIndex, address) in plan.listeners.enumerated() {
                    let fd = try UDPSocket.bound(to: address, reusePort: eventLoops.count > 1)
                    let wildcard = UDPSocket.isWildcard(address)
                    let channel = try await DatagramBootstrap(group: eventLoop)
                        .channelInitializer { channel in
                            channel.eventLoop.makeCompletedFuture {
                                try channel.pipeline.syncOperations.addHandler(
                                    FrontendHandler(gateway: bound.value, listener: listenerIndex)
                                )
                            }
                        }
                        // A vector read splits one buffer into equal slots: capacity is slots × datagram size.
                        .channelOption(
                            .recvAllocator,
                            value: FixedSizeRecvByteBufferAllocator(
                                capacity: Self.vectorReadCount * Self.listenerReceiveCapacity
                            )
                        )
                        // Nothing is read until every loop is wired up (see the end of this function).
                        .channelOption(.autoRead, value: false)
                        .channelOption(.receivePacketInfo, value: wildcard)
                        // Several datagrams per read call (recvmmsg).
                        .channelOption(.datagramVectorReadMessageCount, value: Self.vectorReadCount)
                        .withBoundSocket(fd)
                        .get()
                    channels.append(channel)
                    listenerChannels.append(channel)
                    try await eventLoop.submit {
                        bound.value.listeners.append(
                            GatewayLoop.Listener(
                                channel: channel,
                                // NIO's writes cannot choose the source address a wildcard listener needs.
                                outbox: DatagramOutbox(fd: fd, channel: wildcard ? nil : channel),
                                isWildcard: wildcard
                            )
                        )
                    }.get()
                }
                let snapshot = plan.snapshot
                for (poolIndex, local) in snapshot.pools.enumerated() {
                    for slot in 0..<snapshot.socketsPerPool {
                        let socket = poolIndex * snapshot.socketsPerPool + slot
                        let fd = try UDPSocket.bound(to: local, reusePort: false)
                        let channel = try await DatagramBootstrap(group: eventLoop)
                            .channelInitializer { channel in
                                channel.eventLoop.makeCompletedFuture {
                                    try channel.pipeline.syncOperations.addHandler(
                                        BackendHandler(gateway: bound.value, socket: socket)
                                    )
                                }
                            }
                            .channelOption(
                                .recvAllocator,
                                value: FixedSizeRecvByteBufferAllocator(capacity: Self.vectorReadCount * 65_536)
                            )
                            .channelOption(.datagramVectorReadMessageCount, value: Self.vectorReadCount)
                            .withBoundSocket(fd)
                            .get()
                        channels.append(channel)
                        try await eventLoop.submit {
                            precondition(bound.value.backendSockets.count == socket)
                            bound.value.backendSockets.append(
                                GatewayLoop.BackendSocket(channel: channel, outbox: DatagramOutbox(fd: fd, channel: channel))
                            )
                        }.get()
                    }
                }
            }
            for channel in listenerChannels {
                try await channel.setOption(.autoRead, value: true).get()
            }
        } catch {
            for channel in channels { try? await channel.close() }
            throw error
        }
        return Gateway(loops: loops, channels: channels, logger: logger, startUptime: startUptime)
    }

    /// Stops reading from managers and waits until every pending request is answered or timed out.
    public func drain() async {
        // Every loop stops reading first; then the pending requests are awaited.
        let drained = self.loops.map { loop in loop.eventLoop.flatSubmit { loop.value.drain() } }
        for future in drained { _ = try? await future.get() }
    }

    /// Closes every socket.
    public func close() async {
        for channel in self.channels { try? await channel.close() }
    }

    /// Everything every loop counted, summed.
    public func statistics() async -> GatewayStatistics {
        var sum: GatewayStatistics?
        for loop in self.loops {
            let one = try? await loop.eventLoop.submit {
                let machine = loop.value.machine
                return GatewayStatistics(
                    counters: loop.value.counters,
                    usm: machine.usm.statistics,
                    routes: machine.routeStatistics,
                    backends: machine.backendStatistics,
                    pending: machine.pendingCount
                )
            }.get()
            guard let one else { continue }
            if var total = sum {
                total.counters = total.counters + one.counters
                total.usm = total.usm + one.usm
                total.routes = total.routes + one.routes
                for index in total.backends.indices where index < one.backends.count {
                    total.backends[index] &+= one.backends[index]
                }
                total.pending += one.pending
                sum = total
            } else {
                sum = one
            }
        }
        return sum ?? GatewayStatistics(routes: RouteStatistics(routes: 0), backends: [])
    }

    /// Whether every event loop runs a task within `milliseconds` (liveness): a loop stuck in a
    /// busy loop or a deadlock would not.
    public func loopsAnswer(withinMilliseconds milliseconds: Int) async -> Bool {
        let pings = self.loops.map { loop in loop.eventLoop.submit { () } }
        return await withCheckedContinuation { continuation in
            let pending = NIOLockedValueBox(pings.count)
            let done = NIOLockedValueBox(false)
            let resume: @Sendable (Bool) -> Void = { value in
                let first = done.withLockedValue { done in
                    defer { done = true }
                    return !done
                }
                if first { continuation.resume(returning: value) }
            }
            for ping in pings {
                ping.whenComplete { _ in
                    if pending.withLockedValue({ count in
                        count -= 1
                        return count == 0
                    }) {
                        resume(true)
                    }
                }
            }
            if pings.isEmpty { resume(true) }
            // Not on a data-path loop: that may be the one that is stuck.
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(milliseconds)) { resume(false) }
        }
    }
}
