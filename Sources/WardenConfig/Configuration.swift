//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import SNMPSecurity
import SNMPWire
@_exported import enum WardenPolicy.ValueType
import WardenPolicy

/// A validated configuration (DESIGN.md §5). Built only by ``ConfigurationLoader``.
public struct WardenConfiguration: Sendable {
    public var engine: EngineSettings
    public var listen: [TransportAddress]
    public var users: [USMUserConfiguration]
    /// Inline back ends and every inventory's devices, in the order the file lists them.
    public var backends: [Backend]
    /// `backend-sockets:`: UDP sockets per event loop and per source address that all back ends share (1...1024).
    public var backendSockets: Int
    /// The inventory files the back ends came from, in the order the file lists them.
    public var inventories: [Inventory]
    public var views: [View]
    public var routes: [Route]
    public var limits: Limits
    /// `ops:`; nil: no HTTP operations listener.
    public var ops: OpsSettings?
    /// `audit.file`: where audit events go as JSON lines (`-`: standard error); nil: in the main log.
    public var auditFile: String?
    /// `notifications:`; nil: no notification listener.
    public var notifications: NotificationSettings? = nil
}

/// `ops:`: the HTTP listener for /metrics, /livez, /readyz and POST /-/reload.
public struct OpsSettings: Hashable, Sendable {
    /// `tcp:HOST:PORT` or `tcp6:[HOST]:PORT`.
    public struct Endpoint: Hashable, Sendable, CustomStringConvertible {
        /// The address literal, without brackets.
        public var host: String
        public var port: Int

        public var description: String { self.host.contains(":") ? "tcp6:[\(self.host)]:\(self.port)" : "tcp:\(self.host):\(self.port)" }

        init?(parsing text: String) {
            if text.hasPrefix("tcp6:[") {
                let rest = text.dropFirst(6)
                guard let close = rest.firstIndex(of: "]"), rest[rest.index(after: close)...].hasPrefix(":"),
                    let port = Int(rest[rest.index(close, offsetBy: 2)...]), (0...65535).contains(port),
                    AddressLiteral.ipv6(String(rest[..<close])) != nil
                else { return nil }
                self.init(host: String(rest[..<close]), port: port)
            } else if text.hasPrefix("tcp:") {
                let parts = text.dropFirst(4).split(separator: ":", omittingEmptySubsequences: false)
                guard parts.count == 2, AddressLiteral.ipv4(String(parts[0])) != nil, let port = Int(parts[1]),
                    (0...65535).contains(port)
                else { return nil }
                self.init(host: String(parts[0]), port: port)
            } else {
                return nil
            }
        }

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
    }

    public var listen: Endpoint
    /// Back-end metrics per back end as well as per route (one series per device: off by default).
    public var perBackendMetrics = false

    public init(listen: Endpoint, perBackendMetrics: Bool = false) {
        self.listen = listen
        self.perBackendMetrics = perBackendMetrics
    }
}

/// One `- inventory: FILE` item of `backends:`: a CSV or YAML file of devices.
public struct Inventory: Hashable, Sendable {
    /// The file as it was read (relative paths resolved from the configuration file's directory).
    public var path: String
    /// The `group:` every device of the file belongs to.
    public var group: String?
    /// Where its devices are in ``WardenConfiguration/backends`` (in file order, one after another).
    public var backends: Range<Int>

    public init(path: String, group: String?, backends: Range<Int>) {
        self.path = path
        self.group = group
        self.backends = backends
    }
}

/// `engine:`.
public struct EngineSettings: Hashable, Sendable {
    /// Where engineBoots and engineTime come from.
    public enum Time: Hashable, Sendable {
        /// engineBoots counted in ``EngineSettings/stateDirectory`` (one more per start), engineTime
        /// seconds since the start.
        case local
        /// engineTime is the seconds since this instant (Unix seconds) and engineBoots 1 (one more
        /// each 2^31-1 seconds): every replica with the same ID and epoch is one engine.
        case epoch(unixSeconds: Int64)
    }

    /// Configured snmpEngineID; nil: generated once and kept in ``stateDirectory``.
    public var engineID: [UInt8]?
    public var stateDirectory: String
    public var time: Time = .local
}

/// A UDP endpoint in Net-SNMP's transport syntax: `udp:192.0.2.1:161`, `udp6:[2001:db8::1]:161`.
public struct TransportAddress: Hashable, Sendable, CustomStringConvertible {
    public enum Family: String, Hashable, Sendable {
        case udp, udp6
    }

    public var family: Family
    /// The address literal, without brackets.
    public var host: String
    public var port: UInt16

    public var description: String {
        self.family == .udp ? "udp:\(self.host):\(self.port)" : "udp6:[\(self.host)]:\(self.port)"
    }
}

/// `backends:`: an agent that speaks SNMPv1, SNMPv2c or SNMPv3, or a simulated one; inline or from
/// an inventory.
public struct Backend: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        /// `community` is empty for `version: 3`, whose user, context and engine ID are in
        /// ``Backend/usm``.
        case agent(
            address: TransportAddress,
            version: SNMPVersion,
            community: [UInt8],
            timeoutMilliseconds: Int,
            retries: Int
        )
        /// Answers from an snmprec file (snmpsim's `OID|TAG|VALUE`).
        case simulated(path: String)
    }

    /// `version: 3`: how the gateway speaks USM to the agent.
    public struct USM: Hashable, Sendable {
        /// `user:`, a name from `users:`.
        public var user: String
        /// `context:`, the contextName of every request (empty by default).
        public var context: String
        /// `engine-id:`, the agent's snmpEngineID when known beforehand (no discovery).
        public var engineID: [UInt8]?

        public init(user: String, context: String = "", engineID: [UInt8]? = nil) {
            self.user = user
            self.context = context
            self.engineID = engineID
        }
    }

    public var name: String
    public var kind: Kind
    /// The local IP address literal the gateway sends to this agent from (a management VLAN
    /// address), of the same family as the agent's address; nil: the system chooses. Agents only.
    public var source: String?
    /// The group the back end belongs to: its inventory's `group:`, or an inline back end's own.
    public var group: String?
    /// An SNMPv3 agent's user, context and engine ID; nil for v1, v2c and simulated back ends.
    public var usm: USM?
    /// `max-in-flight:`, the most requests outstanding at the agent at once (0: no bound); more wait
    /// in the gateway, in order, for one to end. Agents only.
    public var maxInFlight: Int

    /// The bound on requests outstanding at one agent when its back end names none: enough for any
    /// manager's burst, and fewer datagrams than a Net-SNMP agent's default receive buffer holds.
    public static let defaultMaxInFlight = 64
    /// What `max-in-flight:` may be, wherever it is given (a backend, an inventory's defaults or device).
    public static let maxInFlightRange = 0...65_535

    public init(
        name: String,
        kind: Kind,
        source: String? = nil,
        group: String? = nil,
        usm: USM? = nil,
        maxInFlight: Int = Backend.defaultMaxInFlight
    ) {
        self.name = name
        self.kind = kind
        self.source = source
        self.group = group
        self.usm = usm
        self.maxInFlight = maxInFlight
    }
}

/// One `include:` or `exclude:` entry: an OID whose `*` arcs match any one arc.
public struct SubtreePattern: Hashable, Sendable, CustomStringConvertible {
    /// nil is `*`.
    public var arcs: [UInt32?]

    public var description: String {
        self.arcs.map { $0.map(String.init) ?? "*" }.joined(separator: ".")
    }
}

/// `views:`.
public struct View: Hashable, Sendable {
    public var name: String
    public var include: [SubtreePattern]
    public var exclude: [SubtreePattern]
}

/// An IPv4 or IPv6 prefix (`sources:`), defined with the routing decision in WardenPolicy.
public typealias AddressPrefix = WardenPolicy.AddressPrefix

/// A route's `backend:`: one back end by name, or the device the manager names in its contextName.
public enum BackendChoice: Hashable, Sendable {
    /// `backend: some-name`.
    case named(String)
    /// `backend: "{context}"`: the back end named like the request's contextName; with the route's
    /// `backend-group:`, only a back end of that group.
    case byContext(group: String?)
}

/// `routes:`: which users, contexts and sources reach which back end, through which views.
public struct Route: Hashable, Sendable {
    public enum ContextMatch: Hashable, Sendable {
        case exactly(String)
        case any
    }

    public enum TimeoutAction: String, Hashable, Sendable {
        case genErr
        case drop
    }

    /// The same as the top-level ``WardenConfig/BackendChoice``, spelled either way.
    public typealias BackendChoice = WardenConfig.BackendChoice

    public var name: String
    /// v3 users this route serves (USM user names).
    public var users: [String]
    /// Communities this route serves to v1/v2c managers (the optional v1/v2c front end); never logged.
    public var communities: [[UInt8]]
    public var context: ContextMatch
    /// Empty: any source.
    public var sources: [AddressPrefix]
    public var backend: BackendChoice
    /// nil: nothing may be read.
    public var readView: String?
    /// nil: Set is refused.
    public var writeView: String?
    public var rewrite: [(backend: OID, manager: OID)]
    public var onTimeout: TimeoutAction
    /// `transform:`: value rewriting, in the agent's names.
    public var transforms: [TransformEntry] = []
    /// `hash-key:`: the key of `redact: hash` (a secret); nil when no transform hashes.
    public var hashKey: [UInt8]? = nil

    public static func == (lhs: Route, rhs: Route) -> Bool {
        lhs.name == rhs.name && lhs.users == rhs.users && lhs.communities == rhs.communities
            && lhs.context == rhs.context && lhs.sources == rhs.sources
            && lhs.backend == rhs.backend && lhs.readView == rhs.readView && lhs.writeView == rhs.writeView
            && lhs.rewrite.map(\.backend) == rhs.rewrite.map(\.backend)
            && lhs.rewrite.map(\.manager) == rhs.rewrite.map(\.manager)
            && lhs.onTimeout == rhs.onTimeout && lhs.transforms == rhs.transforms && lhs.hashKey == rhs.hashKey
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.name)
    }
}

/// One entry of a route's `transform:` list.
public struct TransformEntry: Hashable, Sendable {
    public enum Action: Hashable, Sendable {
        /// `redact: zero`.
        case zero
        /// `redact: hash`.
        case hash
        /// `replace: TEXT` (with an optional `type:`).
        case replace(text: String, type: ValueType?)
        /// `match: REGEX, with: TEXT`.
        case match(pattern: String, with: String)
        /// `synthesize: { type: T, value: V }`.
        case synthesize(type: ValueType, value: String)
    }

    /// The agent's OID (or subtree, with `*` arcs) it applies to.
    public var oid: SubtreePattern
    public var action: Action
}

/// `limits:`.
public struct Limits: Hashable, Sendable {
    public var maxRepetitions = 50
    public var maxVarbinds = 200
    public var maxPending = 10_000
    /// Back-end requests one manager request may cause (walk continuation rounds; DESIGN.md §4).
    public var maxBackendRequests = 16
    /// Reports a second to one source before the first authenticated message, and the burst.
    public var reportsPerSecond = 10
    public var reportsBurst = 20
    /// Sources are counted by prefix.
    public var sourcePrefixV4 = 32
    public var sourcePrefixV6 = 64
    /// Entries in each per-source table (fixed memory under a flood of spoofed sources).
    public var sourceTableSize = 65_536
    /// Authentication failures of one (source, user) before its Reports stop, and the back-off.
    public var failuresBeforeBackoff = 5
    public var firstBackoffMilliseconds = 10_000
    public var maxBackoffMilliseconds = 3_600_000

    public init() {}
}

/// One configuration error, with where it is.
public struct ConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    public var message: String

    /// `file:line:column: message`, as compilers print them.
    public var description: String { "\(self.file):\(self.line):\(self.column): \(self.message)" }
}

/// Every error found in one file.
public struct ConfigurationErrors: Error, Sendable, CustomStringConvertible {
    public var errors: [ConfigurationError]
    public var description: String { self.errors.map(\.description).joined(separator: "\n") }
}
