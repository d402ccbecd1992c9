//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import SNMPWire

/// OID arithmetic on arc arrays, in the order of RFC 3416 (lexicographic on arcs, a prefix first).
public enum Arcs {
    /// -1, 0 or 1.
    public static func compare(_ a: [UInt32], _ b: [UInt32]) -> Int {
        for index in 0..<min(a.count, b.count) where a[index] != b[index] {
            return a[index] < b[index] ? -1 : 1
        }
        return a.count == b.count ? 0 : (a.count < b.count ? -1 : 1)
    }

    public static func hasPrefix(_ a: [UInt32], _ prefix: [UInt32]) -> Bool {
        prefix.count <= a.count && a[0..<prefix.count].elementsEqual(prefix)
    }

    /// The first OID after the whole subtree of `prefix` (its last arc plus one, carrying); nil if
    /// nothing follows it.
    public static func end(of prefix: [UInt32]) -> [UInt32]? {
        var arcs = prefix
        while let last = arcs.last {
            if last < UInt32.max {
                arcs[arcs.count - 1] = last + 1
                return arcs
            }
            arcs.removeLast()
        }
        return nil
    }

    /// A GetNext query whose answer is the first object at or after `point`: GetNext returns the first
    /// object strictly after its argument, so ask from just before `point`.
    ///
    /// Not exact: objects under `P.(b-1).4294967295` lie between the query and `P.b`; the walk
    /// treats an answer there as a reason to ask again from it (``RoutePolicy/Judgement/retry(query:)``).
    public static func queryBefore(_ point: [UInt32]) -> [UInt32] {
        guard let last = point.last else { return [0, 0] }
        if point.count == 2 && last == 0 {
            // x.0 is the first OID under x: ask from the end of x-1's space.
            return point[0] == 0 ? [0, 0] : [point[0] - 1, 39, UInt32.max]
        }
        var arcs = Array(point.dropLast())
        if last > 0 {
            arcs.append(last - 1)
            arcs.append(UInt32.max)
        }
        // An OID has at least two arcs.
        while arcs.count < 2 { arcs.append(0) }
        return arcs
    }

    /// `arcs` as a GetNext query that an OID can carry, asking for the same successor: at most 128
    /// arcs (nothing lies between a 128-arc prefix and a longer point), first arcs within RFC 2578's
    /// rules. nil: nothing can follow (a first arc above 2).
    public static func normalizedQuery(_ arcs: [UInt32]) -> [UInt32]? {
        var query =
            arcs.count > SNMPWireLimits.maximumOIDArcs ? Array(arcs.prefix(SNMPWireLimits.maximumOIDArcs)) : arcs
        while query.count < 2 { query.append(0) }
        switch query[0] {
        case 0, 1:
            // x.40 and above do not exist under 0 and 1: ask from the last possible OID under x.
            if query[1] >= 40 { query = [query[0], 39, UInt32.max] }
        case 2:
            // 2.y is encoded as 80 + y in one sub-identifier.
            if query[1] > UInt32.max - 80 { return nil }
        default:
            return nil
        }
        return query
    }
}

/// A subtree pattern: fixed arcs, and `nil` for a `*` that matches any one arc.
public typealias SubtreePatternArcs = [UInt32?]

extension Array where Element == UInt32? {
    /// Whether the pattern's subtree contains `arcs`.
    func matches(_ arcs: [UInt32]) -> Bool {
        guard self.count <= arcs.count else { return false }
        for index in self.indices {
            if let fixed = self[index], fixed != arcs[index] { return false }
        }
        return true
    }

    /// The arcs before the first `*`.
    var fixedPrefix: [UInt32] {
        var prefix: [UInt32] = []
        for arc in self {
            guard let arc else { break }
            prefix.append(arc)
        }
        return prefix
    }

    var hasWildcard: Bool { self.contains(nil) }

    /// The smallest root `q` of an instance of this pattern (a concrete prefix of the pattern's
    /// length that it matches) with `q > x`; nil if there is none.
    func firstInstanceRoot(after x: [UInt32]) -> [UInt32]? {
        let n = self.count
        // How many leading arcs of x the pattern accepts.
        var matching = 0
        while matching < Swift.min(n, x.count) {
            if let fixed = self[matching], fixed != x[matching] { break }
            matching += 1
        }
        func fill(from start: Int, into prefix: [UInt32]) -> [UInt32] {
            var q = prefix
            for index in start..<n { q.append(self[index] ?? 0) }
            return q
        }
        // x is a proper prefix of some instance: the smallest such instance extends x.
        if matching == x.count && x.count < n {
            return fill(from: x.count, into: x)
        }
        // Otherwise be greater than x at the last position possible.
        var position = Swift.min(matching, n - 1)
        while position >= 0 {
            if position < x.count {
                let arc = x[position]
                if let fixed = self[position] {
                    if fixed > arc { return fill(from: position + 1, into: [UInt32](x[0..<position]) + [fixed]) }
                } else if arc < UInt32.max {
                    return fill(from: position + 1, into: [UInt32](x[0..<position]) + [arc + 1])
                }
            }
            position -= 1
        }
        return nil
    }
}
