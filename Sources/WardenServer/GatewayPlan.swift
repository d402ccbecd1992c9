//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import Foundation
import NIOConcurrencyHelpers
import NIOCore
import SNMPSecurity
import SNMPWire
import WardenConfig
import WardenForwarder
import WardenPolicy
import WardenSimulator

/// A configuration resolved for running: socket addresses, the request machine's snapshot (routes
/// and back ends as shared objects, views compiled, the socket pools), simulated devices loaded.
/// Immutable and shared by every event loop (DESIGN.md §3).
public struct GatewayPlan: Sendable {
    public var configuration: WardenConfiguration
    public var listeners: [SocketAddress]
    public var snapshot: ForwardingSnapshot
    /// `notifications:`; nil: no notification relay.
    public var notifications: NotificationPlan?

    /// A start-up problem that is not in the configuration's syntax (a listener that is not an
    /// address, an snmprec file that does not parse).
    public struct PlanError: Error, CustomStringConvertible {
        public var description: String
    }

    /// - Parameter previous: the plan this one replaces (a reload): routes and back ends keep their
    ///   counter slots by name, so their counters go on across the reload.
    public init(_ configuration: WardenConfiguration, previous: GatewayPlan? = nil) throws(PlanError) {
        self.configuration = configuration
        var routeSlotNames = previous?.snapshot.routeSlotNames ?? []
        var routeSlots = Dictionary(routeSlotNames.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        var backendSlotNames = previous?.snapshot.backendSlotNames ?? []
        var backendSlots = Dictionary(backendSlotNames.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        func slot(_ name: String, _ names: inout [String], _ slots: inout [String: Int]) -> Int {
            if let slot = slots[name] { return slot }
            slots[name] = names.count
            names.append(name)
            return names.count - 1
        }
        self.notifications = nil
        if let settings = configuration.notifications {
            self.notifications = try NotificationPlan(settings, configuration: configuration)
        }
        self.listeners = []
        for listen in configuration.listen {
            self.listeners.append(try Self.socketAddress(listen))
        }
        // Pools: the wildcard of each family in use, and each `source:` address.
        var pools: [SocketAddress] = []
        var poolIndex: [String: Int] = [:]
        func pool(_ key: String, _ make: () throws(PlanError) -> SocketAddress) throws(PlanError) -> Int {
            if let index = poolIndex[key] { return index }
            let address = try make()
            poolIndex[key] = pools.count
            pools.append(address)
            return pools.count - 1
        }
        // Equal communities share one buffer: ten thousand devices with the group's community hold
        // one copy of it.
        var communities: [[UInt8]: ByteBuffer] = [:]
        // SNMPv3 back ends name their user from `users:`, the list the managers' users come from.
        let usersByName = Dictionary(configuration.users.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var backends: [BackendTarget] = []
        backends.reserveCapacity(configuration.backends.count)
        var byName: [String: BackendTarget] = [:]
        byName.reserveCapacity(configuration.backends.count)
        for backend in configuration.backends {
            let target: BackendTarget
            switch backend.kind {
            case .agent(let address, let version, let community, let timeout, let retries):
                let socketAddress = try Self.socketAddress(address)
                let family = address.family == .udp6 ? "::" : "0.0.0.0"
                let host = backend.source ?? family
                let index = try pool(host) { () throws(PlanError) -> SocketAddress in
                    do {
                        return try SocketAddress(ipAddress: host, port: 0)
                    } catch {
                        throw PlanError(description: "backend '\(backend.name)': source \(host) is not an IP address")
                    }
                }
                let agent: BackendTarget.Agent
                if let usm = backend.usm {
                    guard let user = usersByName[usm.user] else {
                        throw PlanError(description: "backend '\(backend.name)': no user named '\(usm.user)'")
                    }
                    agent = BackendTarget.Agent(
                        address: socketAddress,
                        usm: BackendTarget.Agent.USM(
                            user: user,
                            contextName: ByteBuffer(string: usm.context),
                            engineID: usm.engineID
                        ),
                        timeout: Int64(timeout) * 1_000_000,
                        retries: retries,
                        pool: index,
                        maxInFlight: backend.maxInFlight
                    )
                } else {
                    let shared: ByteBuffer
                    if let existing = communities[community] {
                        shared = existing
                    } else {
                        shared = ByteBuffer(bytes: community)
                        communities[community] = shared
                    }
                    agent = BackendTarget.Agent(
                        address: socketAddress,
                        version: version,
                        community: shared,
                        timeout: Int64(timeout) * 1_000_000,
                        retries: retries,
                        pool: index,
                        maxInFlight: backend.maxInFlight
                    )
                }
                target = BackendTarget(
                    name: backend.name,
                    index: backends.count,
                    slot: slot(backend.name, &backendSlotNames, &backendSlots),
                    group: backend.group,
                    kind: .agent(agent)
                )
            case .simulated(let path):
                guard let data = FileManager.default.contents(atPath: path) else {
                    throw PlanError(description: "backend '\(backend.name)': cannot read \(path)")
                }
                do {
                    let objects = try SNMPRec.parse(String(decoding: data, as: UTF8.self))
                    target = BackendTarget(
                        name: backend.name,
                        index: backends.count,
                        slot: slot(backend.name, &backendSlotNames, &backendSlots),
                        group: backend.group,
                        kind: .simulated(SharedSimulatedAgent(SimulatedAgent(objects: objects)))
                    )
                } catch {
                    throw PlanError(description: "backend '\(backend.name)': \(path): \(error)")
                }
            }
            backends.append(target)
            byName[backend.name] = target
        }
        // Each view compiled once, shared by the routes that name it.
        var views: [String: ViewPolicy] = [:]
        for view in configuration.views {
            views[view.name] = ViewPolicy(include: view.include.map(\.arcs), exclude: view.exclude.map(\.arcs))
        }
        var routes: [RouteTarget] = []
        for (index, route) in configuration.routes.enumerated() {
            let backend: RouteTarget.Backend
            switch route.backend {
            case .named(let name):
                guard let target = byName[name] else {
                    throw PlanError(description: "route '\(route.name)': no backend named '\(name)'")
                }
                backend = .fixed(target)
            case .byContext(let group):
                backend = .byContext(group: group)
            }
            routes.append(
                RouteTarget(
                    name: route.name,
                    index: index,
                    slot: slot(route.name, &routeSlotNames, &routeSlots),
                    backend: backend,
                    policy: RoutePolicy(
                        readView: route.readView.flatMap { views[$0] },
                        writeView: route.writeView.flatMap { views[$0] },
                        rewrites: route.rewrite.map {
                            RoutePolicy.Rewrite(backend: Array($0.backend.arcs), manager: Array($0.manager.arcs))
                        },
                        transforms: try Self.transforms(route)
                    ),
                    dropOnTimeout: route.onTimeout == .drop
                )
            )
        }
        let rules = configuration.routes.map { route in
            RouteTable.Rule(
                users: route.users,
                communities: route.communities,
                context: {
                    switch route.context {
                    case .any: return nil
                    case .exactly(let name): return name
                    }
                }(),
                sources: route.sources
            )
        }
        let limits = configuration.limits
        var forwarding = ForwardingLimits(
            maxRepetitions: limits.maxRepetitions,
            maxVarbinds: limits.maxVarbinds,
            maxPending: limits.maxPending,
            maxBackendRequests: limits.maxBackendRequests
        )
        forwarding.sources.reportsPerSecond = Double(limits.reportsPerSecond)
        forwarding.sources.burst = Double(limits.reportsBurst)
        forwarding.sources.ipv4PrefixLength = limits.sourcePrefixV4
        forwarding.sources.ipv6PrefixLength = limits.sourcePrefixV6
        forwarding.sources.tableSize = limits.sourceTableSize
        forwarding.sources.failuresBeforeBackoff = limits.failuresBeforeBackoff
        forwarding.sources.firstBackoff = Int64(limits.firstBackoffMilliseconds) * 1_000_000
        forwarding.sources.maximumBackoff = Int64(max(limits.maxBackoffMilliseconds, limits.firstBackoffMilliseconds)) * 1_000_000
        self.snapshot = ForwardingSnapshot(
            routes: routes,
            routeTable: RouteTable(rules: rules),
            backends: backends,
            limits: forwarding,
            pools: pools,
            socketsPerPool: configuration.backendSockets,
            countsPerBackend: configuration.ops?.perBackendMetrics ?? false,
            routeSlotNames: routeSlotNames,
            backendSlotNames: backendSlotNames
        )
    }

    /// A route's `transform:` compiled once (regular expressions included); nil without one.
    static func transforms(_ route: Route) throws(PlanError) -> ValueTransforms? {
        guard !route.transforms.isEmpty else { return nil }
        var rules: [ValueTransforms.Rule] = []
        var synthesized: [VarBind] = []
        for entry in route.transforms {
            switch entry.action {
            case .zero:
                rules.append(ValueTransforms.Rule(pattern: entry.oid.arcs, action: .zero))
            case .hash:
                rules.append(ValueTransforms.Rule(pattern: entry.oid.arcs, action: .hash))
            case .replace(let text, let type):
                rules.append(ValueTransforms.Rule(pattern: entry.oid.arcs, action: .replace(text: text, value: type?.value(text))))
            case .match(let pattern, let replacement):
                do {
                    let compiled = try ValueTransforms.CompiledPattern(pattern)
                    rules.append(ValueTransforms.Rule(pattern: entry.oid.arcs, action: .match(compiled, with: replacement)))
                } catch {
                    throw PlanError(description: "route '\(route.name)': '\(pattern)' is not a regular expression")
                }
            case .synthesize(let type, let text):
                guard let oid = OID(arcs: entry.oid.arcs.compactMap { $0 }), let value = type.value(text) else {
                    throw PlanError(description: "route '\(route.name)': synthesized \(entry.oid) is not an object")
                }
                synthesized.append(VarBind(oid: oid, value: value))
            }
        }
        let keyedHash: (@Sendable ([UInt8]) -> [UInt8])? = route.hashKey.map { key in
            let hash = KeyedHash(key: key)
            return { hash($0) }
        }
        return ValueTransforms(rules: rules, synthesized: synthesized, keyedHash: keyedHash)
    }

    static func socketAddress(_ transport: TransportAddress) throws(PlanError) -> SocketAddress {
        do {
            return try SocketAddress(ipAddress: transport.host, port: Int(transport.port))
        } catch {
            throw PlanError(description: "\(transport): not an IP address")
        }
    }
}

/// A simulated device shared by every event loop, so that a Set is seen by every later Get. It is a
/// demonstration and test device, not the hot path: a lock is fine here.
final class SharedSimulatedAgent: SimulatedResponder {
    private let agent: NIOLockedValueBox<SimulatedAgent>

    init(_ agent: SimulatedAgent) {
        self.agent = NIOLockedValueBox(agent)
    }

    func respond(to request: PDU) -> PDU? {
        self.agent.withLockedValue { $0.respond(to: request) }
    }
}
