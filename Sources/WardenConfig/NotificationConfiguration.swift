//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import SNMPSecurity
import SNMPWire
import WardenPolicy
import Yams

/// `notifications:`: traps and informs received from devices and forwarded to receivers.
public struct NotificationSettings: Hashable, Sendable {
    /// Where devices send their notifications (udp:HOST:PORT, udp6:[HOST]:PORT).
    public var listen: [TransportAddress]
    public var sources: [NotificationSource]
    public var targets: [NotificationTarget]
    public var routes: [NotificationRoute]
    /// Notifications accepted per second from one source address (a trap storm is cut here).
    public var sourceRate = 200
    public var sourceBurst = 400
    /// Append the forwarded-marker varbind (our engine ID) and drop notifications that carry it.
    public var loopMarker = true

    public init(
        listen: [TransportAddress],
        sources: [NotificationSource],
        targets: [NotificationTarget],
        routes: [NotificationRoute]
    ) {
        self.listen = listen
        self.sources = sources
        self.targets = targets
        self.routes = routes
    }
}

/// Who may send: devices by address prefix, with their communities (v1/v2c) or USM users (v3).
public struct NotificationSource: Hashable, Sendable {
    public var name: String
    public var prefixes: [AddressPrefix]
    public var communities: [[UInt8]]
    /// Names from the top-level `users:`.
    public var users: [String]
    /// The engine IDs of SNMPv3 agents whose traps are accepted (a trap's sender is authoritative).
    public var engineIDs: [[UInt8]]

    public init(name: String, prefixes: [AddressPrefix], communities: [[UInt8]], users: [String], engineIDs: [[UInt8]]) {
        self.name = name
        self.prefixes = prefixes
        self.communities = communities
        self.users = users
        self.engineIDs = engineIDs
    }
}

/// A receiver notifications are sent to.
public struct NotificationTarget: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable {
        case trap, inform
    }

    public var name: String
    public var address: TransportAddress
    public var version: SNMPVersion
    /// v1/v2c.
    public var community: [UInt8]
    /// v3: a name from the top-level `users:`.
    public var user: String?
    public var kind: Kind
    /// Informs: before the first retransmission, and how many.
    public var timeoutMilliseconds = 1000
    public var retries = 2
    /// Informs waiting for this receiver's acknowledgement; more are dropped and counted.
    public var maxPending = 1000
    /// v3 informs: the receiver's engine ID known beforehand (discovery is then skipped).
    public var engineID: [UInt8]?

    public init(name: String, address: TransportAddress, version: SNMPVersion, community: [UInt8], user: String?, kind: Kind) {
        self.name = name
        self.address = address
        self.version = version
        self.community = community
        self.user = user
        self.kind = kind
    }
}

/// Which sources' notifications go to which targets, through which view and rewrite.
public struct NotificationRoute: Hashable, Sendable {
    public enum Acknowledgement: String, Hashable, Sendable {
        /// A device's inform is acknowledged once a target acknowledged the forwarded inform.
        case forwarded
        /// Acknowledged when accepted, as snmptrapd does.
        case local
    }

    public var name: String
    public var sources: [String]
    public var targets: [String]
    /// nil: every notification and varbind passes.
    public var view: String?
    public var rewrite: [(backend: OID, manager: OID)]
    public var ack: Acknowledgement = .forwarded
    /// Add snmpTrapCommunity.0 (the device's community) when translating a v1 trap.
    public var communityVarbind = false

    public init(name: String, sources: [String], targets: [String], view: String?, rewrite: [(backend: OID, manager: OID)]) {
        self.name = name
        self.sources = sources
        self.targets = targets
        self.view = view
        self.rewrite = rewrite
    }

    public static func == (lhs: NotificationRoute, rhs: NotificationRoute) -> Bool {
        lhs.name == rhs.name && lhs.sources == rhs.sources && lhs.targets == rhs.targets && lhs.view == rhs.view
            && lhs.rewrite.map(\.backend) == rhs.rewrite.map(\.backend)
            && lhs.rewrite.map(\.manager) == rhs.rewrite.map(\.manager) && lhs.ack == rhs.ack
            && lhs.communityVarbind == rhs.communityVarbind
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.name)
        hasher.combine(self.targets)
    }
}

extension Walker {
    /// `notifications:`; user and view names are checked against the ones defined.
    mutating func notifications(_ node: Node, users: Set<String>, views: Set<String>) -> NotificationSettings? {
        guard
            let fields = self.fields(
                node,
                "notifications",
                allowed: ["listen", "sources", "targets", "routes", "source-rate", "source-burst", "loop-marker"]
            )
        else { return nil }
        var listen: [TransportAddress] = []
        if let listenNode = self.required(fields, "listen", in: "notifications", at: node),
            let items = self.sequence(listenNode, "notifications.listen")
        {
            listen = items.compactMap { self.transport($0, "notifications.listen") }
            if items.isEmpty { self.error(listenNode, "notifications.listen needs at least one address") }
        }

        // Sources.
        var sources: [NotificationSource] = []
        var sourceNames: Set<String> = []
        if let sourcesNode = self.required(fields, "sources", in: "notifications", at: node),
            let items = self.sequence(sourcesNode, "notifications.sources")
        {
            for item in items {
                guard
                    let source = self.fields(
                        item,
                        "a notification source",
                        allowed: ["name", "prefixes", "communities", "users", "engine-ids"]
                    ),
                    let nameNode = self.required(source, "name", in: "a notification source", at: item),
                    let name = self.string(nameNode, "notifications.sources.name")
                else { continue }
                if !sourceNames.insert(name).inserted {
                    self.error(nameNode, "notification source '\(name)' is defined twice")
                }
                var prefixes: [AddressPrefix] = []
                if let prefixesNode = self.required(source, "prefixes", in: "source '\(name)'", at: item),
                    let list = self.sequence(prefixesNode, "source '\(name)': prefixes")
                {
                    prefixes = list.compactMap { self.prefix($0, "source '\(name)': prefixes") }
                    if list.isEmpty { self.error(prefixesNode, "source '\(name)': prefixes is empty") }
                }
                let communities =
                    source["communities"].flatMap { self.sequence($0.value, "source '\(name)': communities") }?
                    .compactMap { self.secret($0, "source '\(name)': communities") } ?? []
                var sourceUsers: [String] = []
                if let usersNode = source["users"]?.value {
                    for (user, userNode) in self.names(usersNode, "source '\(name)': users") {
                        if users.contains(user) {
                            sourceUsers.append(user)
                        } else {
                            self.error(userNode, "source '\(name)': no user named '\(user)'")
                        }
                    }
                }
                var engineIDs: [[UInt8]] = []
                if let idsNode = source["engine-ids"]?.value {
                    for (text, idNode) in self.names(idsNode, "source '\(name)': engine-ids") {
                        let hex = text.hasPrefix("0x") ? String(text.dropFirst(2)) : text
                        if let bytes = EngineStateStore.unhex(Substring(hex)), EngineIdentity.isValid(engineID: bytes) {
                            engineIDs.append(bytes)
                        } else {
                            self.error(idNode, "source '\(name)': engine ID '\(text)' must be 5 to 32 octets in hex")
                        }
                    }
                    if source["users"] == nil {
                        self.error(idsNode, "source '\(name)': engine-ids go with users (the v3 agents' trap users)")
                    }
                }
                if source["communities"] == nil && source["users"] == nil {
                    self.error(item, "source '\(name)' needs 'communities' (v1/v2c) or 'users' (v3)")
                }
                sources.append(
                    NotificationSource(
                        name: name,
                        prefixes: prefixes,
                        communities: communities,
                        users: sourceUsers,
                        engineIDs: engineIDs
                    )
                )
            }
        }

        // Targets.
        var targets: [NotificationTarget] = []
        var targetNames: Set<String> = []
        if let targetsNode = self.required(fields, "targets", in: "notifications", at: node),
            let items = self.sequence(targetsNode, "notifications.targets")
        {
            for item in items {
                guard
                    let target = self.fields(
                        item,
                        "a notification target",
                        allowed: [
                            "name", "address", "version", "community", "user", "kind", "timeout", "retries",
                            "max-pending", "engine-id",
                        ]
                    ),
                    let nameNode = self.required(target, "name", in: "a notification target", at: item),
                    let name = self.string(nameNode, "notifications.targets.name")
                else { continue }
                if !targetNames.insert(name).inserted {
                    self.error(nameNode, "notification target '\(name)' is defined twice")
                }
                let address = self.required(target, "address", in: "target '\(name)'", at: item).flatMap {
                    self.transport($0, "target '\(name)': address")
                }
                var version = SNMPVersion.v2c
                if let versionNode = target["version"]?.value,
                    let text = self.string(versionNode, "target '\(name)': version")
                {
                    switch text {
                    case "1": version = .v1
                    case "2c", "2": version = .v2c
                    case "3": version = .v3
                    default: self.error(versionNode, "target '\(name)': version must be 1, 2c or 3")
                    }
                }
                var kind = NotificationTarget.Kind.trap
                if let kindNode = target["kind"]?.value, let text = self.string(kindNode, "target '\(name)': kind") {
                    if let value = NotificationTarget.Kind(rawValue: text) {
                        kind = value
                        if value == .inform && version == .v1 {
                            self.error(kindNode, "target '\(name)': SNMPv1 has no inform; use version 2c or 3")
                        }
                    } else {
                        self.error(kindNode, "target '\(name)': kind must be trap or inform")
                    }
                }
                var community: [UInt8] = []
                var user: String?
                if version == .v3 {
                    if let communityField = target["community"] {
                        self.error(communityField.key, "target '\(name)': community is for versions 1 and 2c")
                    }
                    if let userNode = self.required(target, "user", in: "target '\(name)' (version 3)", at: item),
                        let text = self.string(userNode, "target '\(name)': user")
                    {
                        if users.contains(text) {
                            user = text
                        } else {
                            self.error(userNode, "target '\(name)': no user named '\(text)'")
                        }
                    }
                } else {
                    if let userField = target["user"] {
                        self.error(userField.key, "target '\(name)': user is for version 3")
                    }
                    if let communityNode = self.required(target, "community", in: "target '\(name)'", at: item) {
                        community = self.secret(communityNode, "target '\(name)': community") ?? []
                    }
                }
                guard let address else { continue }
                var entry = NotificationTarget(
                    name: name,
                    address: address,
                    version: version,
                    community: community,
                    user: user,
                    kind: kind
                )
                if let value = target["timeout"].flatMap({ self.duration($0.value, "target '\(name)': timeout") }) {
                    entry.timeoutMilliseconds = max(10, value)
                }
                if let value = target["retries"].flatMap({
                    self.integer($0.value, "target '\(name)': retries", range: 0...20)
                }) {
                    entry.retries = value
                }
                if let value = target["max-pending"].flatMap({
                    self.integer($0.value, "target '\(name)': max-pending", range: 1...1_000_000)
                }) {
                    entry.maxPending = value
                }
                if let idNode = target["engine-id"]?.value, let text = self.string(idNode, "target '\(name)': engine-id") {
                    let hex = text.hasPrefix("0x") ? String(text.dropFirst(2)) : text
                    if let bytes = EngineStateStore.unhex(Substring(hex)), EngineIdentity.isValid(engineID: bytes) {
                        entry.engineID = bytes
                    } else {
                        self.error(idNode, "target '\(name)': engine-id must be 5 to 32 octets in hex")
                    }
                    if version != .v3 || kind != .inform {
                        self.error(idNode, "target '\(name)': engine-id is for version 3 informs (traps use ours)")
                    }
                }
                if kind == .trap {
                    for key in ["timeout", "retries", "max-pending"] {
                        if let field = target[key] {
                            self.error(field.key, "target '\(name)': \(key) is for informs (traps get no answer)")
                        }
                    }
                }
                // Never send to ourselves: a target that is one of our notification listeners.
                for own in listen where Self.reaches(entry.address, own) {
                    self.error(item, "target '\(name)': \(entry.address) is one of our own notification listeners (a loop)")
                }
                targets.append(entry)
            }
        }

        // Routes.
        var routes: [NotificationRoute] = []
        var routeNames: Set<String> = []
        if let routesNode = self.required(fields, "routes", in: "notifications", at: node),
            let items = self.sequence(routesNode, "notifications.routes")
        {
            for item in items {
                guard
                    let route = self.fields(
                        item,
                        "a notification route",
                        allowed: ["name", "sources", "targets", "view", "rewrite", "ack", "community-varbind"]
                    ),
                    let nameNode = self.required(route, "name", in: "a notification route", at: item),
                    let name = self.string(nameNode, "notifications.routes.name")
                else { continue }
                if !routeNames.insert(name).inserted {
                    self.error(nameNode, "notification route '\(name)' is defined twice")
                }
                var routeSources: [String] = []
                if let sourcesNode = self.required(route, "sources", in: "notification route '\(name)'", at: item) {
                    for (source, sourceNode) in self.names(sourcesNode, "notification route '\(name)': sources") {
                        if sourceNames.contains(source) {
                            routeSources.append(source)
                        } else {
                            self.error(sourceNode, "notification route '\(name)': no source named '\(source)'")
                        }
                    }
                }
                var routeTargets: [String] = []
                if let targetsNode = self.required(route, "targets", in: "notification route '\(name)'", at: item) {
                    for (target, targetNode) in self.names(targetsNode, "notification route '\(name)': targets") {
                        if targetNames.contains(target) {
                            routeTargets.append(target)
                        } else {
                            self.error(targetNode, "notification route '\(name)': no target named '\(target)'")
                        }
                    }
                }
                var view: String?
                if let viewNode = route["view"]?.value, let text = self.string(viewNode, "notification route '\(name)': view") {
                    if views.contains(text) {
                        view = text
                    } else {
                        self.error(viewNode, "notification route '\(name)': no view named '\(text)'")
                    }
                }
                let rewrite = route["rewrite"].map { self.rewrites($0.value, of: "notification route '\(name)'") } ?? []
                var entry = NotificationRoute(name: name, sources: routeSources, targets: routeTargets, view: view, rewrite: rewrite)
                if let ackNode = route["ack"]?.value, let text = self.string(ackNode, "notification route '\(name)': ack") {
                    if let value = NotificationRoute.Acknowledgement(rawValue: text) {
                        entry.ack = value
                    } else {
                        self.error(ackNode, "notification route '\(name)': ack must be forwarded or local")
                    }
                }
                if let flagNode = route["community-varbind"]?.value,
                    let text = self.string(flagNode, "notification route '\(name)': community-varbind")
                {
                    switch text {
                    case "true": entry.communityVarbind = true
                    case "false": entry.communityVarbind = false
                    default: self.error(flagNode, "notification route '\(name)': community-varbind must be true or false")
                    }
                }
                routes.append(entry)
            }
        }

        var settings = NotificationSettings(listen: listen, sources: sources, targets: targets, routes: routes)
        if let value = fields["source-rate"].flatMap({
            self.integer($0.value, "notifications.source-rate", range: 1...1_000_000)
        }) {
            settings.sourceRate = value
        }
        if let value = fields["source-burst"].flatMap({
            self.integer($0.value, "notifications.source-burst", range: 1...1_000_000)
        }) {
            settings.sourceBurst = value
        }
        if let flagNode = fields["loop-marker"]?.value, let text = self.string(flagNode, "notifications.loop-marker") {
            switch text {
            case "true": settings.loopMarker = true
            case "false": settings.loopMarker = false
            default: self.error(flagNode, "notifications.loop-marker must be true or false")
            }
        }
        return settings
    }

    /// Whether datagrams sent to `target` arrive at the listener bound to `listener`: the same port
    /// and family, and the same host, or a wildcard listener and a loopback or wildcard target.
    static func reaches(_ target: TransportAddress, _ listener: TransportAddress) -> Bool {
        guard target.family == listener.family, target.port == listener.port else { return false }
        let bytes: (String) -> [UInt8] = { host in
            (target.family == .udp ? AddressLiteral.ipv4(host) : AddressLiteral.ipv6(host)) ?? []
        }
        let targetBytes = bytes(target.host)
        let listenerBytes = bytes(listener.host)
        if targetBytes == listenerBytes { return true }
        let wildcard: ([UInt8]) -> Bool = { $0.allSatisfy { $0 == 0 } }
        let loopback = targetBytes.first == 127 || targetBytes == [UInt8](repeating: 0, count: 15) + [1]
        return wildcard(listenerBytes) && (loopback || wildcard(targetBytes))
    }
}
