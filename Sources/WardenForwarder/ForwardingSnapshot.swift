//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOCore
import SNMPSecurity
import SNMPWire
import WardenPolicy

/// A device that answers in-process (a simulated back end): called on the event loop, so it must be
/// safe to share between loops.
public protocol SimulatedResponder: Sendable {
    /// The device's response to a v2c request, or nil for a PDU it does not answer.
    func respond(to request: PDU) -> PDU?
}

/// One back end as the request machine uses it. Immutable; a pending request holds it by reference,
/// so a reload that replaces the snapshot never changes what a request in flight talks to.
public final class BackendTarget: Sendable {
    /// An agent reached over UDP.
    public struct Agent: Sendable {
        /// SNMPv3 towards the agent (`version: 3`): the gateway is a non-authoritative engine, a
        /// manager, to it.
        public struct USM: Sendable, Equatable {
            /// The user the gateway is towards the agent (one of `users:`).
            public var user: USMUserConfiguration
            /// The contextName sent with every request (empty by default).
            public var contextName: ByteBuffer
            /// The agent's snmpEngineID when it is known beforehand: no discovery, only the time
            /// synchronisation (the first request's usmStatsNotInTimeWindows Report).
            public var engineID: [UInt8]?

            public init(user: USMUserConfiguration, contextName: ByteBuffer = ByteBuffer(), engineID: [UInt8]? = nil) {
                self.user = user
                self.contextName = contextName
                self.engineID = engineID
            }
        }

        public var address: SocketAddress
        public var version: SNMPVersion
        /// Empty for an SNMPv3 agent.
        public var community: ByteBuffer
        /// The user, context and engine ID of an SNMPv3 agent; nil for v1 and v2c.
        public var usm: USM?
        /// Nanoseconds before the first retransmission.
        public var timeout: Int64
        public var retries: Int
        /// The socket pool it is reached through (``ForwardingSnapshot/pools``).
        public var pool: Int
        /// The most requests outstanding at the agent at once, over all loops (0: no bound); each
        /// loop takes its share, at least one.
        public var maxInFlight: Int

        /// An SNMPv1 or SNMPv2c agent.
        public init(
            address: SocketAddress,
            version: SNMPVersion,
            community: ByteBuffer,
            timeout: Int64,
            retries: Int,
            pool: Int,
            maxInFlight: Int = 0
        ) {
            precondition(version != .v3, "an SNMPv3 agent is made with init(address:usm:timeout:retries:pool:)")
            self.address = address
            self.version = version
            self.community = community
            self.usm = nil
            self.timeout = timeout
            self.retries = retries
            self.pool = pool
            self.maxInFlight = maxInFlight
        }

        /// An SNMPv3 agent, reached as `usm.user`.
        public init(address: SocketAddress, usm: USM, timeout: Int64, retries: Int, pool: Int, maxInFlight: Int = 0) {
            self.address = address
            self.version = .v3
            self.community = ByteBuffer()
            self.usm = usm
            self.timeout = timeout
            self.retries = retries
            self.pool = pool
            self.maxInFlight = maxInFlight
        }
    }

    public enum Kind: Sendable {
        case agent(Agent)
        case simulated(any SimulatedResponder)
    }

    public let name: String
    /// Its position in ``ForwardingSnapshot/backends``.
    public let index: Int
    /// Its counters' place in ``ForwardingSnapshot/backendSlotNames`` (stable across reloads).
    public let slot: Int
    /// Its group (an inventory's `group:`), for `backend: "{context}"` routes restricted to one.
    public let group: String?
    public let kind: Kind

    public init(name: String, index: Int, slot: Int? = nil, group: String? = nil, kind: Kind) {
        self.name = name
        self.index = index
        self.slot = slot ?? index
        self.group = group
        self.kind = kind
    }

    /// The agent's settings; nil for a simulated device.
    public var agent: Agent? {
        if case .agent(let agent) = self.kind { return agent }
        return nil
    }
}

/// One route as the request machine uses it. Immutable and held by reference, like ``BackendTarget``.
public final class RouteTarget: Sendable {
    public enum Backend: Sendable {
        /// Always this back end.
        case fixed(BackendTarget)
        /// The back end named like the manager's contextName (`backend: "{context}"`), in `group`
        /// when one is given.
        case byContext(group: String?)
    }

    public let name: String
    /// Its position in the configuration (and in ``RouteTable``).
    public let index: Int
    /// Its counters' place in ``ForwardingSnapshot/routeSlotNames`` (stable across reloads).
    public let slot: Int
    public let backend: Backend
    /// Views (compiled) and rewrites.
    public let policy: RoutePolicy
    /// `on-timeout: drop`: say nothing to the manager when the agent never answers.
    public let dropOnTimeout: Bool

    public init(
        name: String,
        index: Int,
        slot: Int? = nil,
        backend: Backend,
        policy: RoutePolicy,
        dropOnTimeout: Bool
    ) {
        self.name = name
        self.index = index
        self.slot = slot ?? index
        self.backend = backend
        self.policy = policy
        self.dropOnTimeout = dropOnTimeout
    }
}

/// The limits one request is held to (`limits:`).
public struct ForwardingLimits: Hashable, Sendable {
    public var maxRepetitions: Int
    public var maxVarbinds: Int
    /// Requests pending at once over the whole gateway (shared out among event loops).
    public var maxPending: Int
    /// Back-end requests one manager request may cause.
    public var maxBackendRequests: Int
    /// Per-source limits for unauthenticated work (Reports), and the brute-force back-off.
    public var sources = SourceGuard.Settings()

    public init(maxRepetitions: Int = 50, maxVarbinds: Int = 200, maxPending: Int = 10_000, maxBackendRequests: Int = 16)
    {
        self.maxRepetitions = maxRepetitions
        self.maxVarbinds = maxVarbinds
        self.maxPending = maxPending
        self.maxBackendRequests = maxBackendRequests
    }
}

/// Everything the request machine decides with: routes, back ends, limits and the socket pools.
/// Immutable and shared by every event loop (DESIGN.md §3: the configuration snapshot); a request
/// keeps references to the route and back end it started with.
public final class ForwardingSnapshot: Sendable {
    public let routes: [RouteTarget]
    public let routeTable: RouteTable
    public let backends: [BackendTarget]
    /// Back ends by name, as octets (a contextName is compared with them byte for byte).
    private let backendsByName: [ByteBuffer: BackendTarget]
    public let limits: ForwardingLimits
    /// The local addresses back-end sockets are bound to, one pool each: the wildcard of each
    /// family in use, and each `source:` address.
    public let pools: [SocketAddress]
    /// Sockets per pool on each event loop.
    public let socketsPerPool: Int
    /// Whether back-end requests, retransmissions and timeouts are also counted per back end.
    public let countsPerBackend: Bool
    /// The route and back-end names by counter slot: this snapshot's, and those of earlier
    /// snapshots (their counters go on being exported after a reload removed them).
    public let routeSlotNames: [String]
    public let backendSlotNames: [String]

    /// - Precondition: `routes[i].index == i`, and every agent's pool is an index into `pools`.
    public init(
        routes: [RouteTarget],
        routeTable: RouteTable,
        backends: [BackendTarget],
        limits: ForwardingLimits,
        pools: [SocketAddress],
        socketsPerPool: Int,
        countsPerBackend: Bool = false,
        routeSlotNames: [String]? = nil,
        backendSlotNames: [String]? = nil
    ) {
        precondition(routes.indices.allSatisfy { routes[$0].index == $0 })
        precondition(backends.indices.allSatisfy { backends[$0].index == $0 })
        precondition(routes.count == routeTable.rules.count)
        precondition(socketsPerPool > 0)
        precondition(backends.allSatisfy { $0.agent.map { $0.pool < pools.count } ?? true })
        self.routes = routes
        self.routeTable = routeTable
        self.backends = backends
        var byName: [ByteBuffer: BackendTarget] = [:]
        byName.reserveCapacity(backends.count)
        for backend in backends { byName[ByteBuffer(string: backend.name)] = backend }
        self.backendsByName = byName
        self.limits = limits
        self.pools = pools
        self.socketsPerPool = socketsPerPool
        self.countsPerBackend = countsPerBackend
        self.routeSlotNames = routeSlotNames ?? routes.map(\.name)
        self.backendSlotNames = backendSlotNames ?? backends.map(\.name)
        precondition(routes.allSatisfy { $0.slot < self.routeSlotNames.count })
        precondition(backends.allSatisfy { $0.slot < self.backendSlotNames.count })
    }

    /// The back end a request on `route` goes to: its fixed one, or the one named like `context`
    /// (in the route's group); nil when there is no such device.
    public func backend(for route: RouteTarget, context: ByteBuffer) -> BackendTarget? {
        switch route.backend {
        case .fixed(let backend):
            return backend
        case .byContext(let group):
            guard let backend = self.backendsByName[context] else { return nil }
            if let group, backend.group != group { return nil }
            return backend
        }
    }

    /// Back-end sockets on each event loop.
    public var socketCount: Int { self.pools.count * self.socketsPerPool }
}
