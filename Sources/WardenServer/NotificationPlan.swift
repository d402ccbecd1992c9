//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOCore
import SNMPSecurity
import SNMPWire
import WardenConfig
import WardenForwarder
import WardenPolicy

/// `notifications:` resolved for running: listener addresses, the machine's snapshot, and the USM
/// users it receives with (localized once the engine's identity is known).
public struct NotificationPlan: Sendable {
    public var listeners: [SocketAddress]
    public var snapshot: NotificationSnapshot
    /// Users named by sources: v3 informs are authenticated against our own engine.
    public var informUsers: [USMUserConfiguration]
    /// (sender engine ID, user) pairs v3 traps are accepted from.
    public var trapSenders: [(engineID: [UInt8], user: USMUserConfiguration)]

    public init(_ settings: NotificationSettings, configuration: WardenConfiguration) throws(GatewayPlan.PlanError) {
        self.listeners = []
        for listen in settings.listen {
            self.listeners.append(try GatewayPlan.socketAddress(listen))
        }
        let users = Dictionary(configuration.users.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var views: [String: ViewPolicy] = [:]
        for view in configuration.views {
            views[view.name] = ViewPolicy(include: view.include.map(\.arcs), exclude: view.exclude.map(\.arcs))
        }
        var sourceIndex: [String: Int] = [:]
        var sources: [NotificationSnapshot.Source] = []
        var informUsers: [String: USMUserConfiguration] = [:]
        var trapSenders: [(engineID: [UInt8], user: USMUserConfiguration)] = []
        for source in settings.sources {
            sourceIndex[source.name] = sources.count
            sources.append(
                NotificationSnapshot.Source(
                    name: source.name,
                    prefixes: source.prefixes,
                    communities: source.communities.map { ByteBuffer(bytes: $0) },
                    users: Set(source.users),
                    engineIDs: Set(source.engineIDs)
                )
            )
            for name in source.users {
                guard let user = users[name] else {
                    throw GatewayPlan.PlanError(description: "notification source '\(source.name)': no user named '\(name)'")
                }
                informUsers[name] = user
                for engineID in source.engineIDs
                where !trapSenders.contains(where: { $0.engineID == engineID && $0.user.name == name }) {
                    trapSenders.append((engineID, user))
                }
            }
        }
        var targetIndex: [String: Int] = [:]
        var targets: [NotificationSnapshot.Target] = []
        for target in settings.targets {
            var user: USMUserConfiguration?
            if let name = target.user {
                guard let found = users[name] else {
                    throw GatewayPlan.PlanError(description: "notification target '\(target.name)': no user named '\(name)'")
                }
                user = found
            }
            targetIndex[target.name] = targets.count
            targets.append(
                NotificationSnapshot.Target(
                    name: target.name,
                    address: try GatewayPlan.socketAddress(target.address),
                    version: target.version,
                    community: ByteBuffer(bytes: target.community),
                    user: user,
                    kind: target.kind == .inform ? .inform : .trap,
                    timeout: Int64(target.timeoutMilliseconds) * 1_000_000,
                    retries: target.retries,
                    maxPending: target.maxPending,
                    engineID: target.engineID
                )
            )
        }
        var routes: [NotificationSnapshot.Route] = []
        for route in settings.routes {
            var view: ViewPolicy?
            if let name = route.view {
                guard let found = views[name] else {
                    throw GatewayPlan.PlanError(description: "notification route '\(route.name)': no view named '\(name)'")
                }
                view = found
            }
            routes.append(
                NotificationSnapshot.Route(
                    name: route.name,
                    sources: Set(route.sources.compactMap { sourceIndex[$0] }),
                    targets: route.targets.compactMap { targetIndex[$0] },
                    view: view,
                    rewrites: route.rewrite.map {
                        RoutePolicy.Rewrite(backend: Array($0.backend.arcs), manager: Array($0.manager.arcs))
                    },
                    acknowledgeLocally: route.ack == .local,
                    communityVarbind: route.communityVarbind
                )
            )
        }
        self.snapshot = NotificationSnapshot(
            sources: sources,
            targets: targets,
            routes: routes,
            sourceRate: settings.sourceRate,
            sourceBurst: settings.sourceBurst,
            loopMarker: settings.loopMarker
        )
        self.informUsers = informUsers.keys.sorted().map { informUsers[$0]! }
        self.trapSenders = trapSenders
    }

    /// The USM parts for our engine: the inform receiver (our identity) and the trap receiver.
    public func security(identity: EngineIdentity) throws(USMUserError) -> (
        engine: USMAuthoritativeEngine, traps: USMNotificationReceiver
    ) {
        (
            try USMAuthoritativeEngine(identity: identity, users: self.informUsers),
            try USMNotificationReceiver(senders: self.trapSenders)
        )
    }
}
