//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import SNMPWire

/// How a manager's request ended, for the requests counter.
public enum RequestOutcome: Int, CaseIterable, Sendable {
    /// Answered with noError.
    case ok
    /// Answered with an error-status the agent (or the RFC 3584 translation) gave.
    case error
    /// Refused by the route's policy or limits (noAccess for a Set outside the write view, tooBig for
    /// too many varbinds).
    case refused
    /// The agent never answered: genErr to the manager (or the pending table was full).
    case timeout
    /// The agent never answered and the route says `on-timeout: drop`.
    case dropped

    public var name: String {
        switch self {
        case .ok: return "ok"
        case .error: return "error"
        case .refused: return "refused"
        case .timeout: return "timeout"
        case .dropped: return "dropped"
        }
    }
}

/// Why a route refused (part of) a request.
public enum RefusalReason: Int, CaseIterable, Sendable {
    case readOutsideView
    case writeOutsideView
    case walkBound
    case tooManyVarbinds
    /// A `backend: "{context}"` route and a context that names no device (of its group).
    case noDevice
    /// A Set of an object the route transforms or synthesizes.
    case writeTransformed

    public var name: String {
        switch self {
        case .readOutsideView: return "read-outside-view"
        case .writeOutsideView: return "write-outside-view"
        case .walkBound: return "walk-bound"
        case .tooManyVarbinds: return "too-many-varbinds"
        case .noDevice: return "no-device"
        case .writeTransformed: return "write-transformed"
        }
    }

    init(_ refusal: FilteredExchange.Refusal) {
        switch refusal {
        case .readOutsideView: self = .readOutsideView
        case .writeOutsideView: self = .writeOutsideView
        case .walkBound: self = .walkBound
        case .writeTransformed: self = .writeTransformed
        }
    }
}

/// The request kinds a route serves, for the requests counter.
public enum RequestKind: Int, CaseIterable, Sendable {
    case get, getNext, getBulk, set

    public var name: String {
        switch self {
        case .get: return "get"
        case .getNext: return "getnext"
        case .getBulk: return "getbulk"
        case .set: return "set"
        }
    }

    init?(_ type: PDUType) {
        switch type {
        case .get: self = .get
        case .getNext: self = .getNext
        case .getBulk: self = .getBulk
        case .set: self = .set
        default: return nil
        }
    }
}

/// Per-route counters of one event loop, in one flat array (no allocation per route or per
/// request): requests by kind and outcome, refusals by reason, and the back-end requests,
/// retransmissions and timeouts the route's requests caused. Summed over loops when scraped.
public struct RouteStatistics: Hashable, Sendable {
    public enum BackendCounter: Int, CaseIterable, Sendable {
        case requests, retransmissions, timeouts

        public var name: String {
            switch self {
            case .requests: return "requests"
            case .retransmissions: return "retransmissions"
            case .timeouts: return "timeouts"
            }
        }
    }

    static let requestSlots = RequestKind.allCases.count * RequestOutcome.allCases.count
    static let stride = Self.requestSlots + RefusalReason.allCases.count + BackendCounter.allCases.count

    public private(set) var routes: Int
    public private(set) var values: [UInt64]

    public init(routes: Int) {
        self.routes = routes
        self.values = Array(repeating: 0, count: routes * Self.stride)
    }

    public func requests(route: Int, kind: RequestKind, outcome: RequestOutcome) -> UInt64 {
        self.values[route * Self.stride + kind.rawValue * RequestOutcome.allCases.count + outcome.rawValue]
    }

    public func refusals(route: Int, reason: RefusalReason) -> UInt64 {
        self.values[route * Self.stride + Self.requestSlots + reason.rawValue]
    }

    public func backend(route: Int, _ counter: BackendCounter) -> UInt64 {
        self.values[route * Self.stride + Self.requestSlots + RefusalReason.allCases.count + counter.rawValue]
    }

    mutating func countRequest(route: Int, kind: RequestKind, outcome: RequestOutcome) {
        self.values[route * Self.stride + kind.rawValue * RequestOutcome.allCases.count + outcome.rawValue] &+= 1
    }

    mutating func countRefusal(route: Int, reason: RefusalReason) {
        self.values[route * Self.stride + Self.requestSlots + reason.rawValue] &+= 1
    }

    mutating func countBackend(route: Int, _ counter: BackendCounter) {
        self.values[route * Self.stride + Self.requestSlots + RefusalReason.allCases.count + counter.rawValue] &+= 1
    }

    /// Room for `routes` routes (a reload added some); counts so far are kept.
    mutating func grow(toRoutes routes: Int) {
        guard routes > self.routes else { return }
        self.values += Array(repeating: 0, count: (routes - self.routes) * Self.stride)
        self.routes = routes
    }

    /// The sum of two loops' statistics (route slots are the same on every loop; one loop may have
    /// grown first during a reload).
    public static func + (lhs: RouteStatistics, rhs: RouteStatistics) -> RouteStatistics {
        var sum = lhs
        sum.grow(toRoutes: rhs.routes)
        for index in rhs.values.indices { sum.values[index] &+= rhs.values[index] }
        return sum
    }
}
