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

/// The notification relay's configuration as the ``NotificationMachine`` uses it. Immutable; an
/// inform in flight holds its target by reference, so a reload never changes what it talks to.
public final class NotificationSnapshot: Sendable {
    /// Who may send.
    public struct Source: Sendable {
        public var name: String
        public var prefixes: [AddressPrefix]
        public var communities: [ByteBuffer]
        public var users: Set<String>
        public var engineIDs: Set<[UInt8]>

        public init(
            name: String,
            prefixes: [AddressPrefix],
            communities: [ByteBuffer],
            users: Set<String>,
            engineIDs: Set<[UInt8]>
        ) {
            self.name = name
            self.prefixes = prefixes
            self.communities = communities
            self.users = users
            self.engineIDs = engineIDs
        }

        func contains(_ address: IPAddressBits) -> Bool {
            self.prefixes.contains { $0.contains(address) }
        }
    }

    /// A receiver.
    public final class Target: Sendable {
        public enum Kind: Sendable {
            case trap, inform
        }

        public let name: String
        public let address: SocketAddress
        public let version: SNMPVersion
        public let community: ByteBuffer
        /// SNMPv3: the user (keys localized per engine at run time).
        public let user: USMUserConfiguration?
        public let kind: Kind
        /// Nanoseconds before the first retransmission of an inform.
        public let timeout: Int64
        public let retries: Int
        public let maxPending: Int
        /// SNMPv3 informs: the receiver's engine ID, known beforehand.
        public let engineID: [UInt8]?

        public init(
            name: String,
            address: SocketAddress,
            version: SNMPVersion,
            community: ByteBuffer,
            user: USMUserConfiguration?,
            kind: Kind,
            timeout: Int64,
            retries: Int,
            maxPending: Int,
            engineID: [UInt8]?
        ) {
            precondition(version != .v3 || user != nil, "an SNMPv3 target needs a user")
            self.name = name
            self.address = address
            self.version = version
            self.community = community
            self.user = user
            self.kind = version == .v1 ? .trap : kind
            self.timeout = timeout
            self.retries = retries
            self.maxPending = maxPending
            self.engineID = engineID
        }

        /// Whether `other` talks to the same receiver the same way (its session can be kept).
        func isSameReceiver(as other: Target) -> Bool {
            self.address == other.address && self.version == other.version && self.user == other.user
                && self.engineID == other.engineID && self.community == other.community && self.kind == other.kind
        }
    }

    public struct Route: Sendable {
        public var name: String
        /// Indexes into ``sources``.
        public var sources: Set<Int>
        /// Indexes into ``targets``, in configuration order.
        public var targets: [Int]
        public var view: ViewPolicy?
        public var rewrites: [RoutePolicy.Rewrite]
        public var acknowledgeLocally: Bool
        public var communityVarbind: Bool

        public init(
            name: String,
            sources: Set<Int>,
            targets: [Int],
            view: ViewPolicy?,
            rewrites: [RoutePolicy.Rewrite],
            acknowledgeLocally: Bool,
            communityVarbind: Bool
        ) {
            self.name = name
            self.sources = sources
            self.targets = targets
            self.view = view
            self.rewrites = rewrites
            self.acknowledgeLocally = acknowledgeLocally
            self.communityVarbind = communityVarbind
        }
    }

    public let sources: [Source]
    public let targets: [Target]
    public let routes: [Route]
    /// Notifications per second and burst accepted from one source address.
    public let sourceRate: Int
    public let sourceBurst: Int
    public let loopMarker: Bool

    public init(
        sources: [Source],
        targets: [Target],
        routes: [Route],
        sourceRate: Int = 200,
        sourceBurst: Int = 400,
        loopMarker: Bool = true
    ) {
        self.sources = sources
        self.targets = targets
        self.routes = routes
        self.sourceRate = sourceRate
        self.sourceBurst = sourceBurst
        self.loopMarker = loopMarker
    }
}
