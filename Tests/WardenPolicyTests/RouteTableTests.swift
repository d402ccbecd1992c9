//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOCore
import PeerSupport
import Testing
import WardenPolicy

/// The first-match decision as DESIGN.md §5 states it, route by route: the reference the index is
/// checked against.
func firstMatchByScan(_ rules: [RouteTable.Rule], user: String, context: String, source: [UInt8]) -> Int? {
    rules.firstIndex { rule in
        rule.users.contains(user) && (rule.context == nil || rule.context == context)
            && (rule.sources.isEmpty || rule.sources.contains { $0.contains(source) })
    }
}

func firstMatchByScan(_ rules: [RouteTable.Rule], community: [UInt8], source: [UInt8]) -> Int? {
    rules.firstIndex { rule in
        rule.communities.contains(community) && (rule.sources.isEmpty || rule.sources.contains { $0.contains(source) })
    }
}

@Suite("Routes: the indexed first-match decision")
struct RouteTableTests {
    static func rule(
        _ users: [String],
        context: String? = "",
        sources: [AddressPrefix] = [],
        communities: [String] = []
    ) -> RouteTable.Rule {
        RouteTable.Rule(users: users, communities: communities.map { Array($0.utf8) }, context: context, sources: sources)
    }

    static let lab16 = AddressPrefix(address: [10, 1, 0, 0], length: 16)
    static let doc32 = AddressPrefix(address: [0x20, 0x01, 0x0D, 0xB8] + [UInt8](repeating: 0, count: 12), length: 32)
    static let rules = [
        rule(["noc"], context: "lab", sources: [lab16]),  // 0 lab-only
        rule(["noc", "ops"], context: "lab"),  // 1 lab
        rule(["noc"]),  // 2 default
        rule(["ops"], context: nil, sources: [doc32]),  // 3 any-context
        rule([], context: "", sources: [AddressPrefix(address: [192, 0, 2, 0], length: 24)], communities: ["public"]),  // 4
    ]
    static let table = RouteTable(rules: rules)
    static let v6: [UInt8] = [0x20, 0x01, 0x0D, 0xB8] + [UInt8](repeating: 0, count: 11) + [1]

    static func bits(_ octets: [UInt8]) -> IPAddressBits { IPAddressBits(exactly: octets)! }

    @Test("first match by user, context and source; '*' routes keep their place")
    func firstMatch() {
        let t = Self.table
        #expect(t.match(user: "noc", context: "lab", source: Self.bits([10, 1, 2, 3])) == 0)
        #expect(t.match(user: "noc", context: "lab", source: Self.bits([10, 2, 2, 3])) == 1)
        #expect(t.match(user: "noc", context: "", source: Self.bits([10, 2, 2, 3])) == 2)
        #expect(t.match(user: "ops", context: "", source: Self.bits([10, 2, 2, 3])) == nil)
        #expect(t.match(user: "ops", context: "anything", source: Self.bits(Self.v6)) == 3)
        // "lab" (route 1) comes before the "*" route 3.
        #expect(t.match(user: "ops", context: "lab", source: Self.bits(Self.v6)) == 1)
        #expect(t.match(user: "nobody", context: "", source: Self.bits(Self.v6)) == nil)
        // A context is matched exactly: no prefixes, no case folding.
        #expect(t.match(user: "noc", context: "Lab", source: Self.bits([10, 1, 2, 3])) == nil)
    }

    @Test("communities, sources, and IPv4-mapped IPv6 sources")
    func communities() {
        let t = Self.table
        #expect(t.acceptsCommunities)
        #expect(t.match(community: ByteBuffer(string: "public"), source: { Self.bits([192, 0, 2, 9]) }) == 4)
        #expect(t.match(community: ByteBuffer(string: "public"), source: { Self.bits([198, 51, 100, 1]) }) == nil)
        let mapped: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 192, 0, 2, 9]
        #expect(t.match(community: ByteBuffer(string: "public"), source: { Self.bits(mapped) }) == 4)
        #expect(Self.bits(mapped).canonical == Self.bits([192, 0, 2, 9]))
        #expect(Self.bits(Self.v6).canonical == Self.bits(Self.v6))
        #expect(t.knows(community: ByteBuffer(string: "public")))
        #expect(!t.knows(community: ByteBuffer(string: "noc")))
        #expect(!RouteTable(rules: Array(Self.rules.prefix(4))).acceptsCommunities)
    }

    @Test("prefix arithmetic at every length, IPv4 and IPv6")
    func prefixes() {
        var random = SeededGenerator(state: 42)
        for _ in 0..<2000 {
            let octets = Bool.random(using: &random) ? 4 : 16
            let address = (0..<octets).map { _ in UInt8.random(in: 0...255, using: &random) }
            let length = Int.random(in: 0...(octets * 8), using: &random)
            var candidate = address
            // Flip one bit: inside the prefix when the bit is past its length.
            let bit = Int.random(in: 0..<(octets * 8), using: &random)
            candidate[bit / 8] ^= UInt8(0x80) >> UInt8(bit % 8)
            let prefix = AddressPrefix(address: address, length: length)
            #expect(prefix.contains(address))
            #expect(prefix.contains(candidate) == (bit >= length), "\(address)/\(length) bit \(bit)")
            // Never across families, not even a /0.
            let other: [UInt8] = octets == 4 ? candidate + [UInt8](repeating: 0, count: 12) : Array(candidate.prefix(4))
            #expect(!prefix.contains(other) && !prefix.contains(Self.bits(other)))
        }
    }

    @Test("the index decides exactly as the plain first-match scan, on 3,000 random tables", arguments: 0..<30)
    func indexEqualsScan(batch: Int) {
        var random = SeededGenerator(state: UInt64(batch) &* 0x9E37_79B9 &+ 7)
        let users = ["a", "b", "c", "d"]
        let contexts = ["", "x", "y", "dev0", "dev1"]
        let communities = ["p", "q", "r"]
        func address() -> [UInt8] {
            Bool.random(using: &random)
                ? [10, UInt8.random(in: 0...3, using: &random), UInt8.random(in: 0...3, using: &random), 1]
                : [0x20, 0x01, 0x0D, 0xB8, UInt8.random(in: 0...3, using: &random)] + [UInt8](repeating: 0, count: 10)
                    + [UInt8.random(in: 0...3, using: &random)]
        }
        for _ in 0..<100 {
            let rules = (0..<Int.random(in: 0...40, using: &random)).map { _ in
                let sourceCount = Int.random(in: 0...3, using: &random) == 0 ? Int.random(in: 1...2, using: &random) : 0
                let sources = (0..<sourceCount).map { _ in
                    let a = address()
                    return AddressPrefix(address: a, length: Int.random(in: (a.count == 4 ? 8 : 32)...(a.count * 8), using: &random))
                }
                return RouteTable.Rule(
                    users: (0..<Int.random(in: 0...2, using: &random)).map { _ in users.randomElement(using: &random)! },
                    communities: (0..<Int.random(in: 0...1, using: &random)).map { _ in
                        Array(communities.randomElement(using: &random)!.utf8)
                    },
                    context: Int.random(in: 0...3, using: &random) == 0 ? nil : contexts.randomElement(using: &random)!,
                    sources: sources
                )
            }
            let table = RouteTable(rules: rules)
            #expect(table.acceptsCommunities == rules.contains { !$0.communities.isEmpty })
            for _ in 0..<30 {
                let user = users.randomElement(using: &random)!
                let context = contexts.randomElement(using: &random)!
                let source = address()
                #expect(
                    table.match(user: user, context: context, source: Self.bits(source))
                        == firstMatchByScan(rules, user: user, context: context, source: source),
                    "\(rules) \(user) \(context) \(source)"
                )
                let community = communities.randomElement(using: &random)!
                #expect(
                    table.match(community: ByteBuffer(string: community), source: { Self.bits(source) })
                        == firstMatchByScan(rules, community: Array(community.utf8), source: source)
                )
            }
        }
    }
}
