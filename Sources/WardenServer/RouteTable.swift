//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOCore
import WardenConfig

/// The configured routes in order, and the first-match decision for one request (DESIGN.md §5).
///
/// A value with no I/O. A v3 request matches a route by user, context name and source address; a
/// v1/v2c request by community and source address. The first route that matches wins.
public struct RouteTable: Sendable {
    public let routes: [Route]
    /// Per route, its users' names and its context name (nil: any) as octets, compared with what
    /// the message carries without making strings (and byte for byte, as USM compares user names).
    private let userNames: [[ByteBuffer]]
    private let contextNames: [ByteBuffer?]

    public init(routes: [Route]) {
        self.routes = routes
        self.userNames = routes.map { $0.users.map { ByteBuffer(string: $0) } }
        self.contextNames = routes.map { route in
            switch route.context {
            case .any: return nil
            case .exactly(let name): return ByteBuffer(string: name)
            }
        }
    }

    /// Whether any route accepts community-based (v1/v2c) requests: the v1/v2c front end is off otherwise.
    public var acceptsCommunities: Bool {
        self.routes.contains { !$0.communities.isEmpty }
    }

    /// The index of the first route for an authenticated v3 request, or nil.
    ///
    /// - Parameters:
    ///   - source: the manager's IP address, 4 or 16 octets (an IPv4-mapped IPv6 address given as 4).
    public func match(user: String, context: String, source: [UInt8]) -> Int? {
        self.match(user: ByteBuffer(string: user), context: ByteBuffer(string: context)) { source }
    }

    /// The same, on the octets the message carried; `source` is computed only if a route needs it.
    public func match(user: ByteBuffer, context: ByteBuffer, source: () -> [UInt8]) -> Int? {
        var address: [UInt8]? = nil
        for index in self.routes.indices {
            guard self.userNames[index].contains(user) else { continue }
            if let name = self.contextNames[index], name != context { continue }
            let prefixes = self.routes[index].sources
            if !prefixes.isEmpty {
                if address == nil { address = source() }
                guard Self.matches(prefixes, address!) else { continue }
            }
            return index
        }
        return nil
    }

    /// The index of the first route for a v1/v2c request with `community`, or nil.
    public func match(community: [UInt8], source: [UInt8]) -> Int? {
        self.routes.firstIndex { route in
            route.communities.contains(community) && Self.matches(route.sources, source)
        }
    }

    /// Whether some route names `community` (for the v1/v2c counters: a known community from a
    /// source no route allows is snmpInBadCommunityUses, an unknown one snmpInBadCommunityNames).
    public func knows(community: [UInt8]) -> Bool {
        self.routes.contains { $0.communities.contains(community) }
    }

    static func matches(_ pattern: Route.ContextMatch, _ context: String) -> Bool {
        switch pattern {
        case .any: return true
        case .exactly(let name): return name == context
        }
    }

    static func matches(_ prefixes: [AddressPrefix], _ source: [UInt8]) -> Bool {
        prefixes.isEmpty || prefixes.contains { $0.contains(source) }
    }

    /// An address as a route compares it: IPv4-mapped IPv6 (`::ffff:a.b.c.d`) becomes its 4 IPv4 octets.
    public static func canonical(_ address: [UInt8]) -> [UInt8] {
        if address.count == 16 && address[0..<10].allSatisfy({ $0 == 0 }) && address[10] == 0xFF && address[11] == 0xFF
        {
            return Array(address[12..<16])
        }
        return address
    }
}
