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

/// The running data path: one ``GatewayLoop`` per event loop, each with its own listener sockets
/// (SO_REUSEPORT), its pool of back-end sockets shared by every back end, its request machine
/// (pending requests, timers) and USM engine copy. Nothing is shared between loops on the
/// per-packet path (DESIGN.md §3). The number of descriptors is loops × (listeners + pools ×
/// backend-sockets), whatever the number of back ends.
public final class Gateway: Sendable {
    private let loops: [NIOLoopBound<GatewayLoop>]
    /// The same loops, as their own type.
    private let eventLoops: [DatagramLoop]
    public let logger: Logger
    /// snmpEngineTime counts from this monotonic instant (as the loops had it at start).
    public let engineTimeOrigin: Int64

    /// A socket registered on one of the loops.
    struct OpenSocket: Sendable {
        var loop: Int
        var token: Int
    }

    /// What a reload changes besides the loops: the sockets, and the ids of listeners and pools.
    private struct Sockets {
        /// Every open socket, by the listener id or pool it serves (for closing).
        var listenerSockets: [Int: [OpenSocket]] = [:]
        var openedPools: [OpenSocket] = []
        /// Listener ids by address (the same id on every loop).
        var listenerIDs: [String: Int] = [:]
        var nextListenerID = 0
        /// Pool addresses already open (their sockets, by index, are the same on every loop).
        var pools: [String: [Int]] = [:]
        var socketCount = 0
    }
    private let sockets: NIOLockedValueBox<Sockets>

    private init(
        loops: [NIOLoopBound<GatewayLoop>],
        eventLoops: [DatagramLoop],
        sockets: Sockets,
        logger: Logger,
        engineTimeOrigin: Int64
    ) {
        self.loops = loops
        self.eventLoops = eventLoops
        self.sockets = NIOLockedValueBox(sockets)
        self.logger = logger
        self.engineTimeOrigin = engineTimeOrigin
    }

    /// The largest request a listener reads whole: far above what managers send (RFC 3417 asks for
    /// 484 octets; Net-SNMP sends at most its 1472-octet MTU-sized messages), and small enough that
    /// a vector read of 8 needs no huge buffer. A larger datagram arrives truncated and is counted
    /// as a parse error. Back-end sockets read up to 65,536 octets (large GetBulk answers).
    static let listenerReceiveCapacity = 16_384

    static func key(_ address: SocketAddress) -> String { GatewayLoop.describe(address) }

    /// Binds every listener on every loop of `group` and opens the back-end sockets.
    static func start(
        plan: GatewayPlan,
        engine: USMAuthoritativeEngine,
        group: [DatagramLoop],
        logger: Logger,
        metrics: GatewayMetrics? = nil,
        audit: AuditLog? = nil,
        engineTimeOrigin: Int64? = nil
    ) async throws -> Gateway {
        let eventLoops = group
        let origin = engineTimeOrigin ?? Int64(NIODeadline.now().uptimeNanoseconds)
        var loops: [NIOLoopBound<GatewayLoop>] = []
        var sockets = Sockets()
        for address in plan.listeners {
            sockets.listenerIDs[Self.key(address)] = sockets.nextListenerID
            sockets.nextListenerID += 1
        }
        for (pool, address) in plan.snapshot.pools.enumerated() {
            sockets.pools[Self.key(address)] = Array(
                (pool * plan.snapshot.socketsPerPool)..<((pool + 1) * plan.snapshot.socketsPerPool)
            )
        }
        sockets.socketCount = plan.snapshot.socketCount
        // SO_REUSEPORT would let the loops share a port with another process of the same user: make
        // sure the port is free first (a plain bind fails if anyone holds it).
        for address in plan.listeners {
            Glibc.close(try UDPSocket.bound(to: address, reusePort: false))
        }
        var opened: [OpenSocket] = []
        // One brute-force back-off for every loop: guesses land on any of them.
        let backoff = AuthenticationBackoff(settings: plan.snapshot.limits.sources)
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
                                engineTimeOrigin: origin,
                                loopIndex: index,
                                backoff: backoff
                            ),
                            logger: logger,
                            metrics: metrics,
                            audit: audit
                        ),
                        eventLoop: eventLoop
                    )
                }.get()
                loops.append(bound)
                for address in plan.listeners {
                    let id = sockets.listenerIDs[Self.key(address)]!
                    let socket = try await Self.openListener(
                        address,
                        id: id,
                        on: bound,
                        reusePort: eventLoops.count > 1
                    )
                    opened.append(socket)
                    sockets.listenerSockets[id, default: []].append(socket)
                }
                for (pool, local) in plan.snapshot.pools.enumerated() {
                    let first = pool * plan.snapshot.socketsPerPool
                    let pool = try await Self.openPool(
                        local,
                        sockets: first..<(first + plan.snapshot.socketsPerPool),
                        on: bound
                    )
                    opened += pool
                    sockets.openedPools += pool
                }
            }
            for sockets in sockets.listenerSockets.values {
                await Self.startReading(sockets, loops: eventLoops)
            }
        } catch {
            await Self.close(opened, loops: eventLoops)
            throw error
        }
        return Gateway(loops: loops, eventLoops: eventLoops, sockets: sockets, logger: logger, engineTimeOrigin: origin)
    }

    /// Binds one listener on one loop, registered under `id`; it reads nothing until told to.
    private static func openListener(
        _ address: SocketAddress,
        id: Int,
        on bound: NIOLoopBound<GatewayLoop>,
        reusePort: Bool
    ) async throws -> OpenSocket {
        let eventLoop = bound.eventLoop
        let fd = try UDPSocket.bound(to: address, reusePort: reusePort)
        let wildcard = UDPSocket.isWildcard(address)
        return try await eventLoop.submit {
            let gateway = bound.value
            let token = gateway.eventLoop.register(
                fd: fd,
                capacity: Self.listenerReceiveCapacity,
                packetInfo: wildcard,
                tag: id,
                handler: gateway
            )
            let outbox = gateway.eventLoop.outbox(for: token) { [unowned gateway] in gateway.countSendFailures($0) }
            gateway.listeners[id] = GatewayLoop.Listener(token: token, outbox: outbox, isWildcard: wildcard)
            return OpenSocket(loop: gateway.index, token: token)
        }.get()
    }

    /// Opens one pool's sockets on one loop, numbered `sockets` in the loop's socket list.
    private static func openPool(
        _ local: SocketAddress,
        sockets: Range<Int>,
        on bound: NIOLoopBound<GatewayLoop>
    ) async throws -> [OpenSocket] {
        let eventLoop = bound.eventLoop
        var opened: [OpenSocket] = []
        do {
            for socket in sockets {
                let fd = try UDPSocket.bound(to: local, reusePort: false)
                let registered = try await eventLoop.submit {
                    let gateway = bound.value
                    precondition(gateway.backendSockets.count == socket)
                    let token = gateway.eventLoop.register(
                        fd: fd,
                        capacity: DatagramReceiver.slotSize,
                        packetInfo: false,
                        tag: GatewayLoop.backendTag(socket),
                        handler: gateway
                    )
                    gateway.eventLoop.setReading(token, true)
                    let outbox = gateway.eventLoop.outbox(for: token) { [unowned gateway] in
                        gateway.countSendFailures($0)
                    }
                    gateway.backendSockets.append(GatewayLoop.BackendSocket(token: token, outbox: outbox))
                    return OpenSocket(loop: gateway.index, token: token)
                }.get()
                opened.append(registered)
            }
        } catch {
            for socket in opened {
                try? await bound.eventLoop.submit { bound.value.eventLoop.close(socket.token) }.get()
            }
            throw error
        }
        return opened
    }

    private static func startReading(_ sockets: [OpenSocket], loops: [DatagramLoop]) async {
        for socket in sockets {
            let loop = loops[socket.loop]
            try? await loop.submit { loop.setReading(socket.token, true) }.get()
        }
    }

    private static func close(_ sockets: [OpenSocket], loops: [DatagramLoop]) async {
        for socket in sockets where socket.loop < loops.count {
            let loop = loops[socket.loop]
            try? await loop.submit { loop.close(socket.token) }.get()
        }
    }

    /// Serves `plan` from now on (a reload): new listeners are bound and removed ones closed, new
    /// source addresses get their pools, and every loop's machine takes the new snapshot and users.
    /// Requests in flight finish under what they started with. On any error nothing has changed.
    public func reload(plan: GatewayPlan, users: USMAuthoritativeEngine) async throws {
        let current = self.sockets.withLockedValue { $0 }
        let wanted = Set(plan.listeners.map(Self.key))
        let added = plan.listeners.filter { current.listenerIDs[Self.key($0)] == nil }
        let removed = current.listenerIDs.filter { !wanted.contains($0.key) }
        for address in added {
            Glibc.close(try UDPSocket.bound(to: address, reusePort: false))
        }
        var next = current
        for address in added {
            next.listenerIDs[Self.key(address)] = next.nextListenerID
            next.nextListenerID += 1
        }
        let newPools = plan.snapshot.pools.filter { current.pools[Self.key($0)] == nil }
        for local in newPools {
            next.pools[Self.key(local)] = Array(next.socketCount..<(next.socketCount + plan.snapshot.socketsPerPool))
            next.socketCount += plan.snapshot.socketsPerPool
        }
        let poolSockets = plan.snapshot.pools.map { next.pools[Self.key($0)]! }
        // Open everything new on every loop first: a bind that fails leaves the old configuration
        // serving, untouched.
        var opened: [OpenSocket] = []
        var newListeners: [OpenSocket] = []
        do {
            for bound in self.loops {
                for address in added {
                    let id = next.listenerIDs[Self.key(address)]!
                    let socket = try await Self.openListener(address, id: id, on: bound, reusePort: self.loops.count > 1)
                    opened.append(socket)
                    newListeners.append(socket)
                    next.listenerSockets[id, default: []].append(socket)
                }
                for local in newPools {
                    let sockets = next.pools[Self.key(local)]!
                    let pool = try await Self.openPool(local, sockets: sockets.first!..<(sockets.last! + 1), on: bound)
                    opened += pool
                    next.openedPools += pool
                }
            }
        } catch {
            await Self.close(opened, loops: self.eventLoops)
            // Listeners registered on loops for the failed sockets go with them: unregister.
            for bound in self.loops {
                try? await bound.eventLoop.submit { [next] in
                    for address in added {
                        if let id = next.listenerIDs[Self.key(address)] { bound.value.listeners[id] = nil }
                    }
                }.get()
            }
            throw error
        }
        // Swap, loop by loop.
        nonisolated(unsafe) let users = users
        for bound in self.loops {
            try await bound.eventLoop.submit {
                bound.value.machine.replace(snapshot: plan.snapshot, users: users, poolSockets: poolSockets)
                for (_, id) in removed {
                    bound.value.listeners[id] = nil
                }
            }.get()
        }
        for (_, id) in removed {
            await Self.close(next.listenerSockets[id] ?? [], loops: self.eventLoops)
            next.listenerSockets[id] = nil
            next.listenerIDs = next.listenerIDs.filter { $0.value != id }
        }
        await Self.startReading(newListeners, loops: self.eventLoops)
        self.sockets.withLockedValue { $0 = next }
    }

    /// Stops reading from managers and waits until every pending request is answered or timed out.
    public func drain() async {
        // Every loop stops reading first; then the pending requests are awaited.
        let drained = self.loops.map { loop in loop.eventLoop.flatSubmit { loop.value.drain() } }
        for future in drained { _ = try? await future.get() }
    }

    /// Closes every socket.
    public func close() async {
        let sockets = self.sockets.withLockedValue { $0 }
        await Self.close(sockets.listenerSockets.values.flatMap({ $0 }) + sockets.openedPools, loops: self.eventLoops)
    }

    /// Moves every loop's engineTime origin earlier if `origin` is (see
    /// ``RequestMachine/advanceEngineTime(origin:)``); returns the earliest origin in use.
    @discardableResult
    public func advanceEngineTime(origin: Int64) async -> Int64 {
        var earliest = origin
        for loop in self.loops {
            if let used = try? await loop.eventLoop.submit({
                loop.value.machine.advanceEngineTime(origin: origin)
                return loop.value.machine.engineTimeOrigin
            }).get() {
                earliest = min(earliest, used)
            }
        }
        return earliest
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
                    pending: machine.pendingCount,
                    queued: machine.waitingCount
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
                total.queued += one.queued
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
