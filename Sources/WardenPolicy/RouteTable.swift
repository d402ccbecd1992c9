//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOCore

/// The configured routes in order, and the first-match decision for one request (DESIGN.md §5),
/// indexed so that its cost does not grow with the number of routes.
///
/// A v3 request matches a route by user, context name and source address; a v1/v2c request by
/// community and source address. The first route in configuration order that matches wins. The
/// index maps (user, context name), user alone (for `context: "*"` routes) and community to the
/// routes that can match, each list in configuration order; a lookup merges the two v3 lists in
/// order and checks source prefixes only among those candidates. So a table of ten thousand
/// routes, one per device context, costs one hash lookup per request, and `"*"` routes keep their
/// place in the order.
public struct RouteTable: Sendable {
    /// What one route matches on.
    public struct Rule: Hashable, Sendable {
        /// v3 users (USM user names).
        public var users: [String]
        /// Communities for v1/v2c managers.
        public var communities: [[UInt8]]
        /// The contextName, exactly; nil: any.
        public var context: String?
        /// Empty: any source.
        public var sources: [AddressPrefix]

        public init(users: [String], communities: [[UInt8]], context: String?, sources: [AddressPrefix]) {
            self.users = users
            self.communities = communities
            self.context = context
            self.sources = sources
        }
    }

    private struct UserContext: Hashable {
        var user: ByteBuffer
        var context: ByteBuffer
    }

    public let rules: [Rule]
    /// Route indices by (user, exact context), ascending.
    private let exact: [UserContext: [Int]]
    /// Route indices of `context: "*"` routes by user, ascending.
    private let anyContext: [ByteBuffer: [Int]]
    /// Route indices by community, ascending.
    private let byCommunity: [ByteBuffer: [Int]]
    private let sources: [[AddressPrefix]]

    public init(rules: [Rule]) {
        self.rules = rules
        var exact: [UserContext: [Int]] = [:]
        var anyContext: [ByteBuffer: [Int]] = [:]
        var byCommunity: [ByteBuffer: [Int]] = [:]
        for (index, rule) in rules.enumerated() {
            // A route that names a user twice is still one candidate.
            for user in Set(rule.users) {
                let name = ByteBuffer(string: user)
                if let context = rule.context {
                    exact[UserContext(user: name, context: ByteBuffer(string: context)), default: []].append(index)
                } else {
                    anyContext[name, default: []].append(index)
                }
            }
            for community in Set(rule.communities) {
                byCommunity[ByteBuffer(bytes: community), default: []].append(index)
            }
        }
        self.exact = exact
        self.anyContext = anyContext
        self.byCommunity = byCommunity
        self.sources = rules.map(\.sources)
    }

    /// Whether any route accepts community-based (v1/v2c) requests: the v1/v2c front end is off otherwise.
    public var acceptsCommunities: Bool { !self.byCommunity.isEmpty }

    /// The index of the first route for an authenticated v3 request, or nil; `source` is the
    /// manager's address, read only if a candidate route restricts sources.
    public func match(user: ByteBuffer, context: ByteBuffer, source: () -> IPAddressBits) -> Int? {
        let exact = self.exact[UserContext(user: user, context: context)]
        let wildcard = self.anyContext[user]
        var address: IPAddressBits? = nil
        switch (exact, wildcard) {
        case (nil, nil):
            return nil
        case (let list?, nil), (nil, let list?):
            for index in list where self.allows(index, &address, source) { return index }
            return nil
        case (let first?, let second?):
            // Merge two ascending lists: configuration order across exact and "*" routes.
            var i = 0
            var j = 0
            while i < first.count || j < second.count {
                let index: Int
                if j >= second.count || (i < first.count && first[i] < second[j]) {
                    index = first[i]
                    i += 1
                } else {
                    index = second[j]
                    j += 1
                }
                if self.allows(index, &address, source) { return index }
            }
            return nil
        }
    }

    /// The same for strings (tests, tools).
    public func match(user: String, context: String, source: IPAddressBits) -> Int? {
        self.match(user: ByteBuffer(string: user), context: ByteBuffer(string: context)) { source }
    }

    /// The index of the first route for a v1/v2c request with `community`, or nil.
    public func match(community: ByteBuffer, source: () -> IPAddressBits) -> Int? {
        guard let list = self.byCommunity[community] else { return nil }
        var address: IPAddressBits? = nil
        for index in list where self.allows(index, &address, source) { return index }
        return nil
    }

    /// Whether some route names `community` (for the v1/v2c counters: a known community from a
    /// source no route allows is snmpInBadCommunityUses, an unknown one snmpInBadCommunityNames).
    public func knows(community: ByteBuffer) -> Bool {
        self.byCommunity[community] != nil
    }

    private func allows(_ index: Int, _ address: inout IPAddressBits?, _ source: () -> IPAddressBits) -> Bool {
        let prefixes = self.sources[index]
        if prefixes.isEmpty { return true }
        if address == nil { address = source().canonical }
        return prefixes.contains { $0.contains(address!) }
    }
}
