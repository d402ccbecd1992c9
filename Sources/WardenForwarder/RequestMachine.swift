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

/// Who asked, and where the answer goes.
public struct ManagerEndpoint: Sendable {
    /// The listener (by index) the request arrived on; the answer leaves from it.
    public var listener: Int
    public var remote: SocketAddress
    /// The local address the request arrived on (packet info), for wildcard listeners.
    public var local: SocketAddress?

    public init(listener: Int, remote: SocketAddress, local: SocketAddress? = nil) {
        self.listener = listener
        self.remote = remote
        self.local = local
    }
}

/// How the manager's response is secured.
public enum ManagerSecurity {
    /// USM: the request's state, and the user's keys it was accepted with (which a reload does not
    /// change for a request in flight).
    case usm(USMRequestState, USMLocalizedUser)
    case community(version: SNMPVersion, community: ByteBuffer)
}

/// What the request machine asks its event loop to do.
public enum GatewayAction {
    /// Send `datagram` on back-end socket `socket` (an index into the loop's pools: pool ×
    /// sockets-per-pool + socket) to `address`.
    case sendToBackend(ByteBuffer, socket: Int, to: SocketAddress)
    /// Send `datagram` to the manager from the listener it asked.
    case reply(ByteBuffer, to: ManagerEndpoint)
    /// Call ``RequestMachine/timerFired(now:into:)`` at `deadline` (monotonic nanoseconds); replaces
    /// any earlier request to arm.
    case armTimer(deadline: Int64)
    /// Something an operator should read (already rate-limited).
    case audit(AuditEvent)
    /// A latency to record in a histogram.
    case observe(Observation)
}

/// Latencies the machine measures, for histograms.
public enum Observation: Sendable {
    /// A manager's request, from its arrival to its answer (or its end without one).
    case request(RequestKind, nanoseconds: Int64)
    /// One back-end round trip, from the (re)transmission to the answer.
    case backendRoundTrip(nanoseconds: Int64)
}

/// The receiver of a machine's actions. The event loop performs each at once (the datagram's
/// buffer is reused after the call returns); tests collect them.
public protocol GatewayActionSink {
    mutating func perform(_ action: GatewayAction)
}

/// Refusals and troubles worth a log line, at most one per source, route and reason a minute.
public enum AuditEvent: Sendable {
    /// An authenticated v3 request that no route matched (answered authorizationError).
    case noRoute(source: SocketAddress, user: String, context: String)
    /// A `backend: "{context}"` route and a context that names no device (answered like no route).
    case noDevice(route: String, source: SocketAddress, user: String, context: String)
    /// A v1/v2c request with a community no route allows from this source (dropped).
    case communityRefused(source: SocketAddress, version: SNMPVersion)
    /// A route's policy refused (part of) a request.
    case refused(route: String, reason: String, user: String, context: String, source: SocketAddress, oid: OID?)
    /// The pending table was full: the request was handled as a timeout.
    case pendingOverflow(backend: String)
    /// A v3 message that failed USM's checks (RFC 3414 §3.2): unknown user, wrong digest, a level
    /// other than the user's, undecryptable.
    case authenticationFailure(source: SocketAddress, user: String, kind: USMReportKind)
    /// Repeated authentication failures of one (source, user): no Reports to it for `seconds`.
    case authenticationBackoff(source: SocketAddress, user: String, seconds: Int)
    /// An SNMPv3 agent ended a request with a Report: `reason` is the usmStats counter it named
    /// (`unknownUserNames`, `wrongDigests`, `unsupportedSecLevels`, `decryptionErrors`; or
    /// `unknownEngineIDs` and `notInTimeWindows` past the re-send bound, or from an engine other
    /// than the configured `engine-id`), or the OID of another Report (snmpUnknownContexts, say).
    case backendReport(backend: String, user: String, reason: String)
}

/// One manager request waiting for a back end. A class: it moves between the machine, the pending
/// table and the timer heap as one reference, not as a copy of everything it holds.
///
/// The machine reuses these (``RequestMachine`` keeps finished ones in a pool): with the object go
/// the buffers it owns, the copy of the manager's varbinds and the back-end datagram, so that a
/// request in the steady state allocates nothing.
final class PendingRequest {
    private(set) var endpoint: ManagerEndpoint
    private(set) var security = PendingRequest.noSecurity
    /// The request as the manager sent it (GetBulk repetitions clamped).
    private(set) var managerRequest = PendingRequest.emptyPDU
    /// The route and back end, from the snapshot the request started under.
    private(set) var route: RouteTarget
    private(set) var backend: BackendTarget
    /// The request through the route's views and rewrites, across back-end rounds (nil while the
    /// object waits in the pool: an optional is let go of without copying a placeholder in).
    var filtered: FilteredExchange?
    /// The current round's back-end request, adapted to the agent's version.
    var exchange: BackendExchange?
    /// A v1 manager's GetNext that met Counter64s: the answer so far and the positions asked again.
    var skipping: (answer: PDU, positions: [Int], rounds: Int)?
    /// An SNMPv3 agent's session, from the request's first back-end round on.
    var session: AgentSession?
    /// Re-sends after discovery and time Reports since the agent last answered this request
    /// (bounded by ``RequestMachine/maximumUSMResends``).
    var usmResends = 0
    /// When the manager's request arrived.
    private(set) var startedAt: Int64 = 0
    /// The loop's sockets for each pool of the snapshot the request started under (a reload may
    /// number the pools of the next snapshot differently).
    private(set) var poolSockets: [[Int]] = []
    /// Whether the request has ended (answered, timed out or dropped); the machine recycles it once
    /// the event that ended it is over.
    var isFinished = false
    /// While it waits for its agent's `max-in-flight`: when it stops waiting and is answered as a
    /// timeout.
    var waitDeadline: Int64 = 0

    /// The manager's OIDs and values (and context name), copied out of the datagram they were
    /// decoded from (``PDU/compacted(into:varbinds:alongWith:)``); reused by the next request.
    var storage = ByteBuffer()
    var varbindStorage: [VarBind] = []
    /// The back-end request as last sent, for retransmissions; the next round or request encodes
    /// into it again.
    var datagram = ByteBuffer()

    /// An empty request for the pool, made the first request it serves by ``start(endpoint:security:managerRequest:route:backend:filtered:startedAt:poolSockets:)``
    /// (a route and a back end have no empty value).
    init(endpoint: ManagerEndpoint, route: RouteTarget, backend: BackendTarget) {
        self.endpoint = endpoint
        self.route = route
        self.backend = backend
    }

    /// Makes this object the given request (a new one, or a recycled one after ``clear()``).
    func start(
        endpoint: ManagerEndpoint,
        security: consuming ManagerSecurity,
        managerRequest: PDU,
        route: RouteTarget,
        backend: BackendTarget,
        filtered: consuming FilteredExchange,
        startedAt: Int64,
        poolSockets: [[Int]]
    ) {
        self.endpoint = endpoint
        self.security = security
        self.managerRequest = managerRequest
        self.route = route
        self.backend = backend
        self.filtered = filtered
        self.startedAt = startedAt
        self.poolSockets = poolSockets
        self.exchange = nil
        self.skipping = nil
        self.session = nil
        self.usmResends = 0
        self.isFinished = false
    }

    /// Lets go of everything the finished request referred to (its varbinds, which are slices of
    /// ``storage``, first), keeping the buffers for the next one.
    func clear() {
        self.security = Self.noSecurity
        self.managerRequest = Self.emptyPDU
        self.filtered = nil
        self.exchange = nil
        self.skipping = nil
        self.session = nil
        self.varbindStorage.removeAll(keepingCapacity: true)
        // A request much larger than usual does not pin its memory in the pool.
        if self.storage.capacity > Self.keptStorage { self.storage = ByteBuffer() }
        if self.datagram.capacity > Self.keptStorage { self.datagram = ByteBuffer() }
        if self.varbindStorage.capacity > 64 { self.varbindStorage = [] }
    }

    /// Buffers up to this size stay with a recycled request.
    static let keptStorage = 4096
    private static let emptyPDU = PDU(type: .get, requestID: 0, varbinds: [])
    /// What a cleared request holds instead of the manager's keys (no allocation: an empty buffer).
    private static var noSecurity: ManagerSecurity { .community(version: .v2c, community: ByteBuffer()) }
}

/// The gateway's protocol logic for one event loop, as a machine with no I/O and no clock
/// (DESIGN.md §2, "the request machine").
///
/// Events go in with the time (`now`, monotonic nanoseconds): a datagram from a manager, a datagram
/// on a back-end socket, the timer. Actions come out through a ``GatewayActionSink``: send this
/// datagram to that agent on that socket, reply to the manager, arm the timer, audit. Between the
/// two the machine does everything a request needs: SNMP decoding, USM, routing, the limits, the
/// route's policy (``FilteredExchange``), RFC 3584 translation (``BackendExchange``), the v1
/// manager's Counter64 re-ask, request-ids per socket, retransmissions and timeouts, and the
/// encoded, secured answer. The event loop only moves datagrams and timers.
///
/// Back-end sockets are a fixed pool shared by every back end: request-ids are unique per socket
/// while pending, and an answer is accepted only on the socket the request left from, from the
/// agent's exact address and port, as a Response of the agent's version with its community and a
/// pending request-id. Towards an SNMPv3 agent the request-id is the msgID too, the machine keeps
/// a USM session per agent (``AgentSession``: discovery, time synchronisation, the user's keys) and
/// an answer must pass USM's checks instead of carrying a community.
///
/// One per event loop; not thread-safe.
public final class RequestMachine {
    public private(set) var snapshot: ForwardingSnapshot
    public private(set) var usm: USMAuthoritativeEngine
    public private(set) var counters = GatewayCounters()
    /// Per-route counters, by route index in ``snapshot``.
    public private(set) var routeStatistics: RouteStatistics
    /// Per-back-end requests, retransmissions and timeouts (``RouteStatistics/BackendCounter``), by
    /// back-end index; empty unless the snapshot asks for them.
    public private(set) var backendStatistics: [UInt64]
    /// snmpEngineTime is 0 at this monotonic instant.
    public private(set) var engineTimeOrigin: Int64
    /// The bound on requests pending on this loop, over all back ends.
    public private(set) var pendingCapacity: Int
    /// How many loops share `limits.max-pending`.
    private let loopCount: Int
    /// Requests accepted and not yet ended by a back end: outstanding at an agent, or waiting for
    /// their turn at one (`max-in-flight`).
    public private(set) var pendingCount = 0

    /// Requests outstanding at each agent from this loop, by back-end counter slot.
    private var inFlight: [Int] = []
    /// Requests waiting for their agent's `max-in-flight`, oldest first, by back-end counter slot.
    private var waiting: [WaitQueue] = []
    /// How many requests wait, over all agents.
    public private(set) var waitingCount = 0

    /// Pending requests by back-end socket.
    private var pending: [PendingTable<PendingRequest>]
    /// Round robin over a pool's sockets.
    private var nextSocket: UInt = 0
    /// Each pool's sockets.
    private var poolSockets: [[Int]] = []
    private var deadlines = DeadlineHeap()
    /// The deadline the loop's timer is armed for, if any.
    private var armedDeadline: Int64?
    /// The most requests pending at once since the table last emptied.
    private var pendingPeak = 0
    /// Our engine ID as scoped PDUs carry it (shared, so pending requests need no copy of it).
    private let engineIDBuffer: ByteBuffer
    private var scratch = ByteBuffer()
    /// The varbind arrays of the last manager and back-end datagrams decoded, reused.
    private var managerDecoding = SNMPDecodingScratch()
    private var backendDecoding = SNMPDecodingScratch()
    /// The agent's answer of the event being handled, while its varbind list may go to the manager
    /// as the agent encoded it (``verbatimAnswer(_:of:)``).
    private var agentAnswer: (varbinds: [VarBind], list: ByteBuffer)?
    /// Finished requests, recycled into ``requestPool`` once the event that ended them is over.
    private var finishedRequests: [PendingRequest] = []
    private var requestPool: [PendingRequest] = []
    /// Recycled requests kept at most.
    static let requestPoolLimit = 256
    private var auditLimiter = AuditLimiter()
    /// Per-source limits on Reports, the anti-amplification budget and the brute-force back-off.
    public private(set) var sourceGuard: SourceGuard
    /// The time of the event being handled.
    private var now: Int64 = 0
    /// This loop's index (0 to 63), for the privacy salts of the sessions with SNMPv3 agents.
    private let loopIndex: Int
    /// The USM session with each SNMPv3 agent, by back-end counter slot (stable across reloads).
    private var agentSessions: [Int: AgentSession] = [:]

    /// Requests sent on one back-end socket of a pool before the next socket takes over.
    static let socketRun: UInt = 64
    /// A v1 manager's GetNext asks again past Counter64s at most this often.
    static let maximumSkipRounds = 32
    /// The timer wakes at most this often (nanoseconds): deadlines are coalesced.
    static let timerResolution: Int64 = 5_000_000
    /// Over IPv4 a UDP payload holds at most 65,507 octets.
    static let maximumCommunityResponse = 65_507
    /// An SNMPv3 agent's discovery and time Reports re-send a request at most this often between
    /// two of its answers: discovery, then the time window. A further Report ends the request as a
    /// timeout would, so an agent that answers every request with a Report cannot make us loop.
    public static let maximumUSMResends = 2

    /// - Parameters:
    ///   - loopCount: how many loops share `limits.maxPending`.
    ///   - engineTimeOrigin: the monotonic instant (nanoseconds) at which snmpEngineTime was 0.
    ///   - loopIndex: this event loop's index (0 to 63), as the USM engine's copy for it was given.
    public init(
        snapshot: ForwardingSnapshot,
        usm: USMAuthoritativeEngine,
        loopCount: Int,
        engineTimeOrigin: Int64,
        loopIndex: Int = 0,
        backoff: AuthenticationBackoff? = nil,
        firstRequestID: () -> Int32 = { Int32.random(in: 1...Int32.max) }
    ) {
        precondition(loopIndex >= 0 && loopIndex < 64, "at most 64 event loops")
        self.loopIndex = loopIndex
        self.snapshot = snapshot
        self.usm = usm
        self.engineTimeOrigin = engineTimeOrigin
        self.engineIDBuffer = ByteBuffer(bytes: usm.identity.engineID)
        self.pendingCapacity = max(1, snapshot.limits.maxPending / max(1, loopCount))
        self.loopCount = max(1, loopCount)
        self.pending = (0..<snapshot.socketCount).map { _ in
            PendingTable(capacity: max(1, snapshot.limits.maxPending), firstRequestID: firstRequestID())
        }
        self.sourceGuard = SourceGuard(settings: snapshot.limits.sources, backoff: backoff)
        self.routeStatistics = RouteStatistics(routes: snapshot.routeSlotNames.count)
        self.backendStatistics = Array(
            repeating: 0,
            count: snapshot.countsPerBackend
                ? snapshot.backendSlotNames.count * RouteStatistics.BackendCounter.allCases.count : 0
        )
        self.poolSockets = snapshot.pools.indices.map { pool in
            Array((pool * snapshot.socketsPerPool)..<((pool + 1) * snapshot.socketsPerPool))
        }
    }

    /// A new configuration (a reload): requests from now on are served under `snapshot` and with
    /// `users`' keys; requests in flight finish under the route, back end and keys they started with.
    ///
    /// - Parameters:
    ///   - users: an engine with the new users, localized to this engine's ID (its contexts are
    ///     copied for this loop; users that did not change keep theirs).
    ///   - poolSockets: for each of the snapshot's pools, the loop's sockets (indices) that serve it;
    ///     new sockets are numbered after the existing ones.
    public func replace(snapshot: ForwardingSnapshot, users: USMAuthoritativeEngine, poolSockets: [[Int]]) {
        precondition(poolSockets.count == snapshot.pools.count && poolSockets.allSatisfy { !$0.isEmpty })
        self.snapshot = snapshot
        self.pendingCapacity = max(1, snapshot.limits.maxPending / self.loopCount)
        self.usm = self.usm.replacingUsers(with: users)
        // Recycled requests hold on to the old snapshot's routes and back ends.
        self.requestPool.removeAll()
        self.poolSockets = poolSockets
        let sockets = (poolSockets.flatMap { $0 }.max() ?? -1) + 1
        while self.pending.count < sockets {
            self.pending.append(
                PendingTable(capacity: max(1, snapshot.limits.maxPending), firstRequestID: Int32.random(in: 1...Int32.max))
            )
        }
        self.routeStatistics.grow(toRoutes: snapshot.routeSlotNames.count)
        // Sessions of v3 agents the new snapshot no longer has (or has with another user, address
        // or engine ID) go; requests in flight keep theirs.
        var kept: [Int: AgentSession] = [:]
        for backend in snapshot.backends {
            if let agent = backend.agent, let session = self.agentSessions[backend.slot], session.matches(agent) {
                kept[backend.slot] = session
            }
        }
        self.agentSessions = kept
        let perBackend = RouteStatistics.BackendCounter.allCases.count
        if snapshot.countsPerBackend && self.backendStatistics.count < snapshot.backendSlotNames.count * perBackend {
            self.backendStatistics += Array(
                repeating: 0,
                count: snapshot.backendSlotNames.count * perBackend - self.backendStatistics.count
            )
        }
    }


    /// Moves the instant engineTime counts from earlier, never later: engineTime follows a clock
    /// that was corrected forward, and never goes back (RFC 3414 §2.2.1).
    public func advanceEngineTime(origin: Int64) {
        self.engineTimeOrigin = min(self.engineTimeOrigin, origin)
    }

    /// snmpEngineTime at `now` (RFC 3414 §2.2.1).
    public func engineTime(at now: Int64) -> Int32 {
        Int32(clamping: max(0, now - self.engineTimeOrigin) / 1_000_000_000)
    }

    // MARK: - From managers

    /// A datagram from a manager.
    public func receiveFromManager<Sink: GatewayActionSink>(
        _ datagram: ByteBuffer,
        from endpoint: ManagerEndpoint,
        now: Int64,
        into sink: inout Sink
    ) {
        self.now = now
        self.counters.inPackets &+= 1
        self.decodeFromManager(datagram, from: endpoint, into: &sink)
        self.recycleFinishedRequests()
        self.managerDecoding.release()
    }

    private func decodeFromManager<Sink: GatewayActionSink>(
        _ datagram: ByteBuffer,
        from endpoint: ManagerEndpoint,
        into sink: inout Sink
    ) {
        let message: SNMPMessage
        do {
            message = try SNMPMessage(decoding: datagram, scratch: &self.managerDecoding)
        } catch {
            self.counters.inParseErrors &+= 1
            self.usm.countParseError()
            return
        }
        switch message {
        case .v3(let v3):
            self.receiveV3(v3, datagram: datagram, from: endpoint, into: &sink)
        case .community(let community):
            self.receiveCommunity(community, from: endpoint, into: &sink)
        }
    }

    private func receiveV3<Sink: GatewayActionSink>(
        _ message: SNMPv3Message,
        datagram: ByteBuffer,
        from endpoint: ManagerEndpoint,
        into sink: inout Sink
    ) {
        switch self.usm.receive(message, datagram: datagram, engineTime: self.engineTime(at: self.now)) {
        case .drop(let reason):
            self.sourceGuard.received(unauthenticatedBytes: datagram.readableBytes)
            switch reason {
            case .notReportable(let kind):
                self.auditAuthenticationFailure(kind, message, endpoint, &sink)
            case .scopedPDUParseError where message.flags.contains(.privacy):
                // What a wrong privacy key gives: garbage after decryption (no Report, as Net-SNMP).
                self.auditAuthenticationFailure(.decryptionErrors, message, endpoint, &sink)
            default:
                break
            }
            return
        case .report(let report, let kind):
            let source = Self.addressBits(endpoint.remote)
            if kind == .notInTimeWindows {
                // Sent only after the MAC checked out: the sender has the key.
                self.sourceGuard.authenticated(source, user: { Array(message.usm?.userName.readableBytesView ?? []) }, now: self.now)
            } else {
                self.sourceGuard.received(unauthenticatedBytes: datagram.readableBytes)
                if kind != .unknownEngineIDs {
                    self.auditAuthenticationFailure(kind, message, endpoint, &sink)
                    let user = Array(message.usm?.userName.readableBytesView ?? [])
                    let (withhold, backoff) = self.sourceGuard.authenticationFailed(source, user: user, now: self.now)
                    if let backoff {
                        sink.perform(
                            .audit(
                                .authenticationBackoff(
                                    source: endpoint.remote,
                                    user: String(decoding: user, as: UTF8.self),
                                    seconds: Int(backoff / 1_000_000_000)
                                )
                            )
                        )
                    }
                    if withhold {
                        self.counters.reportsWithheld &+= 1
                        return
                    }
                }
                switch self.sourceGuard.admitReport(to: source, bytes: report.readableBytes, now: self.now) {
                case .sourceRate?:
                    self.counters.reportsRateLimited &+= 1
                    return
                case .amplification?:
                    self.counters.reportsAmplificationLimited &+= 1
                    return
                case nil:
                    break
                }
            }
            self.counters.outResponses &+= 1
            sink.perform(.reply(report, to: endpoint))
        case .accept(let request):
            self.sourceGuard.authenticated(
                Self.addressBits(endpoint.remote),
                user: { Array(request.state.userName.readableBytesView) },
                now: self.now
            )
            let pdu = request.scopedPDU.pdu
            let security = ManagerSecurity.usm(request.state, request.user)
            // A command responder serves requests; an Inform is for a notification receiver.
            guard pdu.type.isConfirmed && pdu.type != .inform else {
                self.counters.unexpectedPDUs &+= 1
                return
            }
            let remote = endpoint.remote
            let snapshot = self.snapshot
            let context = request.state.contextName
            guard
                let index = snapshot.routeTable.match(user: request.state.userName, context: context, source: {
                    Self.addressBits(remote)
                })
            else {
                self.counters.noRoute &+= 1
                if self.auditLimiter.allows(.noRoute, route: -1, source: remote, user: request.state.userName, now: self.now) {
                    sink.perform(
                        .audit(
                            .noRoute(
                                source: remote,
                                user: String(buffer: request.state.userName),
                                context: String(buffer: context)
                            )
                        )
                    )
                }
                self.refuse(pdu, security: security, to: endpoint, into: &sink)
                return
            }
            let route = snapshot.routes[index]
            guard let backend = snapshot.backend(for: route, context: context) else {
                self.counters.noDevice &+= 1
                self.routeStatistics.countRefusal(route: route.slot, reason: .noDevice)
                if self.auditLimiter.allows(.noDevice, route: index, source: remote, user: request.state.userName, now: self.now) {
                    sink.perform(
                        .audit(
                            .noDevice(
                                route: route.name,
                                source: remote,
                                user: String(buffer: request.state.userName),
                                context: String(buffer: context)
                            )
                        )
                    )
                }
                self.refuse(pdu, security: security, to: endpoint, into: &sink)
                return
            }
            self.serve(pdu, route: route, backend: backend, security: consume security, from: endpoint, into: &sink)
        }
    }

    /// An authentication failure (unknown user, wrong digest, wrong level, undecryptable), audited at
    /// most once per source, user and kind a minute. Discovery and time synchronisation (unknown
    /// engine ID, not in time window) are how every manager starts: not failures.
    private func auditAuthenticationFailure<Sink: GatewayActionSink>(
        _ kind: USMReportKind,
        _ message: SNMPv3Message,
        _ endpoint: ManagerEndpoint,
        _ sink: inout Sink
    ) {
        guard kind != .unknownEngineIDs && kind != .notInTimeWindows else { return }
        let user = message.usm?.userName ?? ByteBuffer()
        guard
            self.auditLimiter.allows(.authentication(kind), route: -1, source: endpoint.remote, user: user, now: self.now)
        else { return }
        sink.perform(.audit(.authenticationFailure(source: endpoint.remote, user: String(buffer: user), kind: kind)))
    }

    /// No route (or no device): a Response with authorizationError (RFC 3415's noAccessEntry), so
    /// the manager fails at once instead of timing out.
    private func refuse<Sink: GatewayActionSink>(
        _ pdu: PDU,
        security: ManagerSecurity,
        to endpoint: ManagerEndpoint,
        into sink: inout Sink
    ) {
        let response = PDU(
            type: .response,
            requestID: pdu.requestID,
            errorStatus: .authorizationError,
            errorIndex: 0,
            varbinds: pdu.varbinds
        )
        self.respond(response, security: security, to: endpoint, requestType: pdu.type, into: &sink)
    }

    private func receiveCommunity<Sink: GatewayActionSink>(
        _ message: CommunityMessage,
        from endpoint: ManagerEndpoint,
        into sink: inout Sink
    ) {
        guard case .pdu(let pdu) = message.pdu else {
            self.counters.unexpectedPDUs &+= 1
            return
        }
        let snapshot = self.snapshot
        guard snapshot.routeTable.acceptsCommunities else {
            self.counters.communityFrontEndOff &+= 1
            return
        }
        let remote = endpoint.remote
        guard
            let index = snapshot.routeTable.match(community: message.community, source: { Self.addressBits(remote) }),
            // A community route has no context to pick a device by.
            let backend = snapshot.backend(for: snapshot.routes[index], context: ByteBuffer())
        else {
            if snapshot.routeTable.knows(community: message.community) {
                self.counters.badCommunityUses &+= 1
            } else {
                self.counters.badCommunityNames &+= 1
            }
            if self.auditLimiter.allows(.community, route: -1, source: remote, now: self.now) {
                sink.perform(.audit(.communityRefused(source: remote, version: message.version)))
            }
            return
        }
        // RFC 3416 / RFC 1157: only requests; GetBulk does not exist in v1.
        guard
            pdu.type == .get || pdu.type == .getNext || pdu.type == .set
                || (pdu.type == .getBulk && message.version == .v2c)
        else {
            self.counters.unexpectedPDUs &+= 1
            return
        }
        self.serve(
            pdu,
            route: snapshot.routes[index],
            backend: backend,
            security: .community(version: message.version, community: message.community),
            from: endpoint,
            into: &sink
        )
    }

    /// Applies the limits and the route's policy and hands the request to its back end.
    private func serve<Sink: GatewayActionSink>(
        _ request: PDU,
        route: RouteTarget,
        backend: BackendTarget,
        security: consuming ManagerSecurity,
        from endpoint: ManagerEndpoint,
        into sink: inout Sink
    ) {
        let limits = self.snapshot.limits
        var pdu = request
        if pdu.varbinds.count > limits.maxVarbinds {
            self.counters.tooManyVarbinds &+= 1
            self.audit(route: route, reason: .tooManyVarbinds, oid: pdu.varbinds.first?.oid, security, endpoint, &sink)
            if let kind = RequestKind(pdu.type) {
                self.routeStatistics.countRequest(route: route.slot, kind: kind, outcome: .refused)
                sink.perform(.observe(.request(kind, nanoseconds: 0)))
            }
            let response = PDU(type: .response, requestID: pdu.requestID, errorStatus: .tooBig, varbinds: [])
            self.respond(response, security: security, to: endpoint, requestType: pdu.type, original: request, into: &sink)
            return
        }
        switch pdu.type {
        case .set:
            if route.policy.writeView == nil { self.counters.refusedSets &+= 1 }
        case .get, .getNext:
            if route.policy.readView == nil { self.counters.refusedReads &+= 1 }
        case .getBulk:
            if route.policy.readView == nil { self.counters.refusedReads &+= 1 }
            if pdu.maxRepetitions > Int32(limits.maxRepetitions) {
                self.counters.clampedRepetitions &+= 1
                pdu.maxRepetitions = Int32(limits.maxRepetitions)
            }
            if pdu.nonRepeaters < 0 { pdu.nonRepeaters = 0 }
            if pdu.maxRepetitions < 0 { pdu.maxRepetitions = 0 }
        default:
            self.counters.unexpectedPDUs &+= 1
            return
        }
        let agent = backend.agent
        let pending =
            self.requestPool.popLast()
            ?? PendingRequest(endpoint: endpoint, route: route, backend: backend)
        if agent == nil {
            self.counters.simulatedRequests &+= 1
        } else {
            // The request will wait for the agent: copy it out of the receive (or decryption)
            // buffer it was decoded from, so that buffer is free for the next datagram instead of
            // being pinned (and copied) for as long as the request is pending. The copy goes into
            // the request's own storage, which a recycled request reuses.
            var context = ByteBuffer()
            if case .usm(let state, _) = security { context = state.contextName }
            let compacted = pdu.compacted(
                into: &pending.storage,
                varbinds: &pending.varbindStorage,
                alongWith: context
            )
            pdu = compacted.pdu
            // Taken apart and put back together, not copied (a copy retains every buffer in it).
            switch consume security {
            case .usm(var state, let user):
                state.contextEngineID =
                    state.contextEngineID == self.engineIDBuffer
                    ? self.engineIDBuffer : Self.copy(state.contextEngineID)
                state.contextName = compacted.extra
                security = .usm(state, user)
            case let other:
                security = other
            }
        }
        var filtered = FilteredExchange(
            request: pdu,
            policy: route.policy,
            maximumRounds: limits.maxBackendRequests,
            backendVersion: agent?.version ?? .v2c
        )
        let outcome = filtered.start()
        pending.start(
            endpoint: endpoint,
            security: consume security,
            managerRequest: pdu,
            route: route,
            backend: backend,
            filtered: consume filtered,
            startedAt: self.now,
            poolSockets: self.poolSockets
        )
        self.drive(pending, outcome, into: &sink)
    }

    /// Carries a filtered exchange forward: a simulated back end answers at once; an agent's
    /// request goes out and the rest happens when its answer arrives.
    private func drive<Sink: GatewayActionSink>(
        _ request: PendingRequest,
        _ outcome: FilteredExchange.Outcome,
        into sink: inout Sink
    ) {
        var outcome = outcome
        while true {
            switch outcome {
            case .respond(let response):
                for (reason, oid) in request.filtered!.refusals {
                    self.audit(
                        route: request.route,
                        reason: RefusalReason(reason),
                        oid: oid,
                        request.security,
                        request.endpoint,
                        &sink
                    )
                }
                self.answer(request, with: response, into: &sink)
                return
            case .send(let backendRequest):
                switch request.backend.kind {
                case .simulated(let device):
                    let reply =
                        device.respond(to: backendRequest)
                        ?? PDU(type: .response, requestID: 0, errorStatus: .genErr, varbinds: backendRequest.varbinds)
                    outcome = request.filtered!.receive(Self.overlaid(reply, asked: backendRequest, request.route))
                case .agent(let agent):
                    request.exchange = BackendExchange(request: backendRequest, backendVersion: agent.version)
                    self.forward(request, agent: agent, into: &sink)
                    return
                }
            }
        }
    }

    /// One refusal: counted per route and reason, audited at most once per source, route and
    /// reason a minute.
    private func audit<Sink: GatewayActionSink>(
        route: RouteTarget,
        reason: RefusalReason,
        oid: OID?,
        _ security: ManagerSecurity,
        _ endpoint: ManagerEndpoint,
        _ sink: inout Sink
    ) {
        self.routeStatistics.countRefusal(route: route.slot, reason: reason)
        guard
            self.auditLimiter.allows(
                .refusal(reason),
                route: route.index,
                source: endpoint.remote,
                now: self.now
            )
        else { return }
        var user = "community"
        var context = ""
        if case .usm(let state, _) = security {
            user = String(buffer: state.userName)
            context = String(buffer: state.contextName)
        }
        sink.perform(
            .audit(
                .refused(
                    route: route.name,
                    reason: reason.name,
                    user: user,
                    context: context,
                    source: endpoint.remote,
                    oid: oid
                )
            )
        )
    }

    // MARK: - To and from agents

    /// Sends the exchange's next request to its agent on the next socket of its pool, recording it
    /// as pending there; or, while the agent has its share of `max-in-flight` outstanding or others
    /// wait for it, queues it (`waited`: it comes from that queue, and its turn has come).
    private func forward<Sink: GatewayActionSink>(
        _ request: PendingRequest,
        agent: BackendTarget.Agent,
        waited: Bool = false,
        into sink: inout Sink
    ) {
        guard self.pendingCount < self.pendingCapacity else {
            self.overflow(request, into: &sink)
            return
        }
        let slot = request.backend.slot
        if agent.maxInFlight > 0 {
            if slot >= self.inFlight.count {
                self.inFlight += Array(repeating: 0, count: slot + 1 - self.inFlight.count)
                self.waiting += Array(repeating: WaitQueue(), count: slot + 1 - self.waiting.count)
            }
            // In order: behind those already waiting, even when a place is free this instant.
            if !waited && (self.inFlight[slot] >= self.inFlightShare(agent) || !self.waiting[slot].isEmpty) {
                self.wait(request, slot: slot, agent: agent, into: &sink)
                return
            }
        }
        var retries = agent.retries
        if waited {
            // Its budget, timeout × (retries + 1) from arrival, ran while it waited: it gets the
            // tries that fit in what is left, at least one. A device slow enough to make requests
            // wait is not sent a whole budget more of them, and the manager's answer stays near
            // the budget it was set against (at most one timeout past it).
            let left = max(0, request.waitDeadline - self.now)
            retries = min(agent.retries, max(1, Int(left / max(1, agent.timeout))) - 1)
        }
        let sockets = request.poolSockets[agent.pool]
        // Runs of requests on one socket, then the next: a read burst's requests leave in one
        // sendmmsg and their answers come back in one recvmmsg, and every socket still takes its
        // share (a socket per request cost a system call per socket per burst each way).
        self.nextSocket &+= 1
        let socket = sockets[Int((self.nextSocket / Self.socketRun) % UInt(sockets.count))]
        let exchange = request.exchange!
        var discovery = false
        let id: Int32?
        // The request's datagram buffer: nothing else holds it by now (its table entry is gone), so
        // it is written again in place.
        var buffer = request.datagram
        request.datagram = ByteBuffer()
        buffer.clear(minimumCapacity: 256)
        if let usm = agent.usm {
            // SNMPv3: msgID and request-id are both the id; until the agent's engine is known the
            // datagram is the discovery probe, and its Report sends the request again.
            let session = self.session(for: request, agent: agent)
            let seconds = self.now / 1_000_000_000
            id = self.pending[socket].insert(request, now: self.now, timeout: agent.timeout, retries: retries) {
                requestID in
                guard session.client.engineID != nil else {
                    discovery = true
                    return USMClient.discoveryRequest(messageID: requestID, requestID: requestID)
                }
                session.client.encodeRequest(
                    exchange.nextRequest(requestID: requestID),
                    messageID: requestID,
                    contextName: usm.contextName,
                    now: seconds,
                    into: &buffer
                )
                return buffer
            }
        } else {
            id = self.pending[socket].insert(request, now: self.now, timeout: agent.timeout, retries: retries) {
                requestID in
                buffer.writeCommunityMessage(
                    CommunityMessage(
                        version: agent.version,
                        community: agent.community,
                        pdu: .pdu(exchange.nextRequest(requestID: requestID))
                    )
                )
                return buffer
            }
        }
        request.datagram = buffer
        guard let id, let entry = self.pending[socket].entry(id) else {
            self.overflow(request, into: &sink)
            return
        }
        if discovery { self.counters.backendDiscoveries &+= 1 }
        if agent.maxInFlight > 0 { self.inFlight[slot] += 1 }
        self.pendingCount += 1
        self.pendingPeak = max(self.pendingPeak, self.pendingCount)
        self.counters.backendRequests &+= 1
        self.countBackend(request, .requests)
        sink.perform(.sendToBackend(entry.datagram, socket: socket, to: agent.address))
        self.schedule(entry.deadline, socket: socket, requestID: id, into: &sink)
    }

    /// The request's session with its SNMPv3 agent: the one it started with, or this loop's for the
    /// agent (a new one if the loop has none, or one made for another user, address or engine ID).
    private func session(for request: PendingRequest, agent: BackendTarget.Agent) -> AgentSession {
        if let session = request.session { return session }
        let slot = request.backend.slot
        if let session = self.agentSessions[slot], session.matches(agent) {
            request.session = session
            return session
        }
        let session = AgentSession(
            address: agent.address,
            settings: agent.usm!,
            loopIndex: self.loopIndex,
            now: self.now / 1_000_000_000
        )
        // A request takes its session in its first back-end round, which is always under the
        // current snapshot: the slot's session is the current back end's.
        self.agentSessions[slot] = session
        request.session = session
        return session
    }

    /// This loop's share of the agent's `max-in-flight`: at least one.
    private func inFlightShare(_ agent: BackendTarget.Agent) -> Int {
        max(1, agent.maxInFlight / self.loopCount)
    }

    /// The agent has its share of requests outstanding: `request` waits, at most as long as the
    /// back end would have given it (timeout × (retries + 1)).
    private func wait<Sink: GatewayActionSink>(
        _ request: PendingRequest,
        slot: Int,
        agent: BackendTarget.Agent,
        into sink: inout Sink
    ) {
        request.waitDeadline = self.now + agent.timeout * Int64(agent.retries + 1)
        self.waiting[slot].append(request)
        self.waitingCount += 1
        self.pendingCount += 1
        self.pendingPeak = max(self.pendingPeak, self.pendingCount)
        self.counters.backendWaits &+= 1
        // A heap entry on no socket: the slot's queue is looked at when it is due.
        self.schedule(request.waitDeadline, socket: Self.waitingSocket, requestID: Int32(slot), into: &sink)
    }

    /// A request that was outstanding at an agent ended (answered, timed out, ended by a Report):
    /// the agent's next waiting request, if any, goes.
    private func released<Sink: GatewayActionSink>(_ request: PendingRequest, into sink: inout Sink) {
        guard let agent = request.backend.agent, agent.maxInFlight > 0 else { return }
        let slot = request.backend.slot
        guard slot < self.inFlight.count else { return }
        self.inFlight[slot] -= 1
        self.sendWaiting(slot: slot, into: &sink)
    }

    /// Sends the slot's waiting requests while its agent has room (those whose time ran out are
    /// answered as a timeout instead).
    private func sendWaiting<Sink: GatewayActionSink>(slot: Int, into sink: inout Sink) {
        self.expireWaiting(slot: slot, into: &sink)
        while let next = self.waiting[slot].first, let agent = next.backend.agent,
            self.inFlight[slot] < self.inFlightShare(agent)
        {
            self.takeWaiting(slot: slot)
            self.forward(next, agent: agent, waited: true, into: &sink)
        }
    }

    /// Takes the slot's oldest waiting request out of the queue and out of the counts.
    private func takeWaiting(slot: Int) {
        _ = self.waiting[slot].removeFirst()
        self.waitingCount -= 1
        self.pendingCount -= 1
    }

    /// The slot's waiting requests whose time ran out: answered as a timeout, never sent.
    private func expireWaiting<Sink: GatewayActionSink>(slot: Int, into sink: inout Sink) {
        guard slot >= 0 && slot < self.waiting.count else { return }
        while let first = self.waiting[slot].first, first.waitDeadline <= self.now {
            self.takeWaiting(slot: slot)
            self.counters.backendWaitTimeouts &+= 1
            self.countBackend(first, .timeouts)
            self.timedOut(first, into: &sink)
        }
    }

    /// The socket number of a deadline that belongs to a waiting request (its request-id field is
    /// the back-end slot).
    static let waitingSocket = -1

    private func overflow<Sink: GatewayActionSink>(_ request: PendingRequest, into sink: inout Sink) {
        self.counters.pendingOverflows &+= 1
        if self.auditLimiter.allows(.overflow, route: -1, source: nil, now: self.now) {
            sink.perform(.audit(.pendingOverflow(backend: request.backend.name)))
        }
        self.timedOut(request, into: &sink)
    }

    /// A datagram on back-end socket `socket` from `source`.
    public func receiveFromBackend<Sink: GatewayActionSink>(
        _ datagram: ByteBuffer,
        socket: Int,
        from source: SocketAddress,
        now: Int64,
        into sink: inout Sink
    ) {
        self.now = now
        self.decodeFromBackend(datagram, socket: socket, from: source, into: &sink)
        self.agentAnswer = nil
        self.recycleFinishedRequests()
        self.backendDecoding.release()
    }

    private func decodeFromBackend<Sink: GatewayActionSink>(
        _ datagram: ByteBuffer,
        socket: Int,
        from source: SocketAddress,
        into sink: inout Sink
    ) {
        guard socket >= 0 && socket < self.pending.count,
            let decoded = try? SNMPMessage(decoding: datagram, scratch: &self.backendDecoding)
        else {
            self.counters.backendMalformed &+= 1
            return
        }
        let message: CommunityMessage
        switch decoded {
        case .v3(let v3):
            self.receiveV3FromBackend(v3, datagram: datagram, socket: socket, from: source, into: &sink)
            return
        case .community(let community):
            message = community
        }
        guard case .pdu(let pdu) = message.pdu else {
            self.counters.backendMalformed &+= 1
            return
        }
        guard let entry = self.pending[socket].entry(pdu.requestID), let agent = entry.context.backend.agent else {
            self.counters.backendUnmatched &+= 1
            return
        }
        // Only the agent this request went to may answer it.
        guard source == agent.address else {
            self.counters.backendWrongSource &+= 1
            return
        }
        guard message.version == agent.version, pdu.type == .response else {
            self.counters.backendMalformed &+= 1
            return
        }
        guard message.community == agent.community else {
            self.counters.backendWrongCommunity &+= 1
            return
        }
        guard entry.context.exchange?.isPlausible(pdu) == true else {
            self.counters.backendUnmatched &+= 1
            return
        }
        // A v2c answer in canonical form may reach the manager as the agent encoded it, if nothing
        // changes it on the way (``verbatimAnswer(_:of:)`` decides).
        if agent.version == .v2c, self.backendDecoding.isCanonical,
            let range = self.backendDecoding.varbindListContent
        {
            let list = datagram.getSlice(at: datagram.readerIndex + range.lowerBound, length: range.count)!
            self.agentAnswer = (pdu.varbinds, list)
        }
        self.accept(pdu, of: entry, id: pdu.requestID, socket: socket, agent: agent, into: &sink)
    }

    /// An SNMPv3 message on a back-end socket: matched by msgID (which is the request-id we chose),
    /// from the agent's address, then through the request's USM session. A Response goes on as a
    /// community answer does; discovery and time Reports send the request again (at most
    /// ``maximumUSMResends`` times between answers); other Reports end it as a timeout would.
    private func receiveV3FromBackend<Sink: GatewayActionSink>(
        _ message: SNMPv3Message,
        datagram: ByteBuffer,
        socket: Int,
        from source: SocketAddress,
        into sink: inout Sink
    ) {
        let id = message.messageID
        guard let entry = self.pending[socket].entry(id), let agent = entry.context.backend.agent else {
            self.counters.backendUnmatched &+= 1
            return
        }
        guard source == agent.address else {
            self.counters.backendWrongSource &+= 1
            return
        }
        // A v3 message for a v1/v2c request is of the wrong version.
        guard agent.usm != nil, let session = entry.context.session else {
            self.counters.backendMalformed &+= 1
            return
        }
        let request = entry.context
        let seconds = self.now / 1_000_000_000
        switch session.client.receive(message, datagram: datagram, now: seconds) {
        case .invalid:
            // Not authentic, not timely or not decryptable: the real answer may still come.
            self.counters.backendUSMInvalid &+= 1
        case .response(_, let scoped):
            let pdu = scoped.pdu
            guard pdu.requestID == id, request.exchange?.isPlausible(pdu) == true else {
                self.counters.backendUnmatched &+= 1
                return
            }
            request.usmResends = 0
            self.accept(pdu, of: entry, id: id, socket: socket, agent: agent, into: &sink)
        case .report(_, let kind, let scoped):
            // A genuine notInTimeWindows Report is authNoPriv: an unauthenticated one for an
            // authenticated exchange with a known engine changes nothing, and is not acted on.
            // (wrongDigests, unknownUserNames and the like are unauthenticated by nature, RFC 3412
            // §7.1: they end the request at once, so that a wrong password fails fast.)
            if !message.flags.contains(.authenticated), kind == .notInTimeWindows, session.client.engineID != nil,
                session.client.level != .noAuthNoPriv
            {
                self.counters.backendUSMInvalid &+= 1
                return
            }
            self.countReport(kind)
            _ = self.pending[socket].remove(id)
            self.pendingCount -= 1
            self.released(request, into: &sink)
            let reported = message.usm.map { Array($0.authoritativeEngineID.readableBytesView) }
            let resend: Bool
            switch kind {
            case .unknownEngineIDs?:
                // Discovery answered: the client took the engine ID, boots and time. An engine ID other
                // than the one the session knew is a replaced or re-initialised agent: learn it again,
                // unless the configuration names the agent's engine ID.
                if reported != nil && reported != session.client.engineID {
                    // Not on the Report's word (it is unauthenticated): a fresh session discovers
                    // the agent again with its own probe. Requests in flight keep the session they
                    // were encoded with.
                    if let usm = agent.usm, usm.engineID == nil {
                        let fresh = AgentSession(
                            address: agent.address,
                            settings: usm,
                            loopIndex: self.loopIndex,
                            now: seconds
                        )
                        if self.agentSessions[request.backend.slot] === session {
                            self.agentSessions[request.backend.slot] = fresh
                        }
                        request.session = fresh
                        resend = true
                    } else {
                        resend = false
                    }
                } else {
                    resend = session.client.engineID != nil
                }
            case .notInTimeWindows?:
                // The client resynchronised if the Report was authentic (RFC 3414 §3.2 step 7b).
                resend = true
            default:
                resend = false
            }
            if resend && request.usmResends < Self.maximumUSMResends {
                request.usmResends += 1
                self.forward(request, agent: agent, into: &sink)
            } else {
                let reason = kind.map { "\($0)" } ?? scoped.pdu.varbinds.first.map { $0.oid.description } ?? "report"
                self.failedByReport(request, kind: kind, reason: reason, into: &sink)
            }
            self.afterPendingChange()
        }
    }

    /// An answer that passed the trust rules: the round trip is over; the exchange goes on.
    private func accept<Sink: GatewayActionSink>(
        _ pdu: PDU,
        of entry: PendingTable<PendingRequest>.Entry,
        id: Int32,
        socket: Int,
        agent: BackendTarget.Agent,
        into sink: inout Sink
    ) {
        _ = self.pending[socket].remove(id)
        self.pendingCount -= 1
        self.counters.backendResponses &+= 1
        self.released(entry.context, into: &sink)
        // The round trip since the last (re)transmission.
        sink.perform(.observe(.backendRoundTrip(nanoseconds: self.now - (entry.deadline - entry.timeout))))
        let request = entry.context
        switch request.exchange!.receive(pdu) {
        case .sendAgain:
            self.forward(request, agent: agent, into: &sink)
        case .respond(let response):
            let outcome = request.filtered!.receive(Self.overlaid(response, asked: request.exchange!.request, request.route))
            self.drive(request, outcome, into: &sink)
        }
        self.afterPendingChange()
    }

    private func countReport(_ kind: USMReportKind?) {
        switch kind {
        case .unknownEngineIDs?: self.counters.backendReportsUnknownEngineIDs &+= 1
        case .notInTimeWindows?: self.counters.backendReportsNotInTimeWindows &+= 1
        case .unknownUserNames?: self.counters.backendReportsUnknownUserNames &+= 1
        case .wrongDigests?: self.counters.backendReportsWrongDigests &+= 1
        case .unsupportedSecLevels?: self.counters.backendReportsUnsupportedSecLevels &+= 1
        case .decryptionErrors?: self.counters.backendReportsDecryptionErrors &+= 1
        case nil: self.counters.backendReportsOther &+= 1
        }
    }

    /// An SNMPv3 agent's Report ended the request: counted, audited at most once per back end,
    /// agent address and kind a minute, and answered as the route answers a timeout.
    private func failedByReport<Sink: GatewayActionSink>(
        _ request: PendingRequest,
        kind: USMReportKind?,
        reason: String,
        into sink: inout Sink
    ) {
        self.counters.backendUSMFailures &+= 1
        let backend = request.backend
        if let agent = backend.agent,
            self.auditLimiter.allows(.backendReport(kind), route: backend.slot, source: agent.address, now: self.now)
        {
            sink.perform(
                .audit(.backendReport(backend: backend.name, user: agent.usm?.user.name ?? "", reason: reason))
            )
        }
        self.timedOut(request, into: &sink)
    }

    /// A complete answer: to the manager, or on to skip Counter64s for a v1 manager.
    private func answer<Sink: GatewayActionSink>(_ request: PendingRequest, with response: PDU, into sink: inout Sink) {
        var response = response
        if case .community(.v1, _) = request.security, request.managerRequest.type == .getNext {
            if var skipping = request.skipping {
                // Merge the re-asked positions into the answer so far.
                for (offset, position) in skipping.positions.enumerated() where offset < response.varbinds.count {
                    skipping.answer.varbinds[position] = response.varbinds[offset]
                }
                if response.errorStatus != .noError {
                    // The index counts in the re-asked positions: back to the manager's list.
                    var failed = response
                    let index = Int(response.errorIndex)
                    failed.errorIndex =
                        index >= 1 && index <= skipping.positions.count ? Int32(skipping.positions[index - 1] + 1) : 0
                    failed.varbinds = skipping.answer.varbinds
                    skipping.answer = failed
                }
                response = skipping.answer
                request.skipping = skipping
            }
            let positions = ManagerTranslation.counter64Positions(response)
            let rounds = (request.skipping?.rounds ?? 0) + 1
            if !positions.isEmpty && rounds <= Self.maximumSkipRounds {
                // RFC 3584 §4.2.2.1: ask again from each Counter64, through the same policy.
                let again = PDU(
                    type: .getNext,
                    requestID: response.requestID,
                    varbinds: positions.map { VarBind(oid: response.varbinds[$0].oid) }
                )
                request.filtered = FilteredExchange(
                    request: again,
                    policy: request.route.policy,
                    maximumRounds: self.snapshot.limits.maxBackendRequests,
                    backendVersion: request.backend.agent?.version ?? .v2c
                )
                request.skipping = (response, positions, rounds)
                let outcome = request.filtered!.start()
                self.drive(request, outcome, into: &sink)
                return
            }
        }
        let refused =
            response.errorStatus != .noError
            && request.filtered!.refusals.contains { $0.0 == .writeOutsideView || $0.0 == .writeTransformed }
        self.finished(request, response.errorStatus == .noError ? .ok : (refused ? .refused : .error), into: &sink)
        let varBindList = self.verbatimAnswer(response, of: request)
        if let varBindList {
            self.counters.answersPassedThrough &+= 1
            assert(Self.encodes(response, as: varBindList), "a verbatim varbind list that re-encoding would change")
        }
        self.respond(
            response,
            security: request.security,
            to: request.endpoint,
            requestType: request.managerRequest.type,
            original: request.managerRequest,
            varBindList: varBindList,
            into: &sink
        )
    }

    /// Counts a request that ended, and how long it took.
    private func finished<Sink: GatewayActionSink>(
        _ request: PendingRequest,
        _ outcome: RequestOutcome,
        into sink: inout Sink
    ) {
        if !request.isFinished {
            request.isFinished = true
            self.finishedRequests.append(request)
        }
        guard let kind = RequestKind(request.managerRequest.type) else { return }
        self.routeStatistics.countRequest(route: request.route.slot, kind: kind, outcome: outcome)
        sink.perform(.observe(.request(kind, nanoseconds: self.now - request.startedAt)))
    }

    private func countBackend(_ request: PendingRequest, _ counter: RouteStatistics.BackendCounter) {
        self.routeStatistics.countBackend(route: request.route.slot, counter)
        if !self.backendStatistics.isEmpty {
            self.backendStatistics[
                request.backend.slot * RouteStatistics.BackendCounter.allCases.count + counter.rawValue
            ] &+= 1
        }
    }

    // MARK: - Timers

    private func schedule<Sink: GatewayActionSink>(
        _ deadline: Int64,
        socket: Int,
        requestID: Int32,
        into sink: inout Sink
    ) {
        self.deadlines.push(DeadlineHeap.Entry(deadline: deadline, socket: Int32(socket), requestID: requestID))
        if let armed = self.armedDeadline, armed <= deadline { return }
        self.arm(deadline, into: &sink)
    }

    private func arm<Sink: GatewayActionSink>(_ deadline: Int64, into sink: inout Sink) {
        // Coalesce: wake at most every timerResolution.
        let at = max(deadline, self.now + Self.timerResolution)
        if let armed = self.armedDeadline, armed <= at { return }
        self.armedDeadline = at
        sink.perform(.armTimer(deadline: at))
    }

    /// The timer armed by `.armTimer` fired: retransmissions and timeouts that are due.
    public func timerFired<Sink: GatewayActionSink>(now: Int64, into sink: inout Sink) {
        self.now = now
        self.expireDue(into: &sink)
        self.recycleFinishedRequests()
    }

    private func expireDue<Sink: GatewayActionSink>(into sink: inout Sink) {
        let now = self.now
        self.armedDeadline = nil
        while let due = self.deadlines.popDue(now: now) {
            let socket = Int(due.socket)
            if socket == Self.waitingSocket {
                self.expireWaiting(slot: Int(due.requestID), into: &sink)
                continue
            }
            guard let decision = self.pending[socket].expire(due.requestID, deadline: due.deadline, now: now) else {
                continue
            }
            switch decision {
            case .retransmit(let id, let datagram):
                guard let entry = self.pending[socket].entry(id), let agent = entry.context.backend.agent else { continue }
                self.counters.backendRetransmissions &+= 1
                self.countBackend(entry.context, .retransmissions)
                sink.perform(.sendToBackend(datagram, socket: socket, to: agent.address))
                self.deadlines.push(DeadlineHeap.Entry(deadline: entry.deadline, socket: due.socket, requestID: id))
            case .timedOut(_, let request):
                self.pendingCount -= 1
                self.counters.backendTimeouts &+= 1
                self.countBackend(request, .timeouts)
                self.released(request, into: &sink)
                self.timedOut(request, into: &sink)
            }
        }
        self.afterPendingChange()
        if let next = self.deadlines.earliest {
            self.arm(next.deadline, into: &sink)
        }
    }

    /// Keeps the timer heap small: empty when nothing is pending, rebuilt from the live requests
    /// when answered ones (which stay in the heap until their deadline) outnumber them.
    private func afterPendingChange() {
        if self.pendingCount == 0 {
            self.deadlines.removeAll()
            if self.pendingPeak >= 1000 {
                // A burst is over (10,000 requests on a dead back end, say): give the memory back.
                self.pendingPeak = 0
                for index in self.pending.indices { self.pending[index].releaseStorageIfEmpty() }
                self.burstEnded = true
            }
        } else if self.deadlines.count > 4 * self.pendingCount + 4096 {
            var live: [DeadlineHeap.Entry] = []
            live.reserveCapacity(self.pendingCount)
            for (socket, table) in self.pending.enumerated() {
                for (id, deadline) in table.deadlines {
                    live.append(DeadlineHeap.Entry(deadline: deadline, socket: Int32(socket), requestID: id))
                }
            }
            for (slot, queue) in self.waiting.enumerated() {
                for request in queue.requests {
                    live.append(
                        DeadlineHeap.Entry(
                            deadline: request.waitDeadline,
                            socket: Int32(Self.waitingSocket),
                            requestID: Int32(slot)
                        )
                    )
                }
            }
            self.deadlines.rebuild(live)
        }
    }

    /// Whether a burst of pending requests ended since the last call (the loop then returns free
    /// heap pages to the system).
    public func takeBurstEnded() -> Bool {
        defer { self.burstEnded = false }
        return self.burstEnded
    }
    private var burstEnded = false

    /// No answer: the route's `on-timeout` (genErr by default, so the manager fails fast).
    private func timedOut<Sink: GatewayActionSink>(_ request: PendingRequest, into sink: inout Sink) {
        if request.route.dropOnTimeout {
            self.counters.droppedOnTimeout &+= 1
            self.finished(request, .dropped, into: &sink)
            return
        }
        self.finished(request, .timeout, into: &sink)
        let original = request.managerRequest
        let response = PDU(
            type: .response,
            requestID: original.requestID,
            errorStatus: .genErr,
            errorIndex: 0,
            varbinds: original.varbinds
        )
        self.respond(
            response,
            security: request.security,
            to: request.endpoint,
            requestType: original.type,
            original: original,
            into: &sink
        )
    }

    // MARK: - Answers

    /// Encodes `response` for the manager (USM or community, v1 translation) and sends it.
    private func respond<Sink: GatewayActionSink>(
        _ response: PDU,
        security: ManagerSecurity,
        to endpoint: ManagerEndpoint,
        requestType: PDUType,
        original: PDU? = nil,
        varBindList: ByteBuffer? = nil,
        into sink: inout Sink
    ) {
        // Take the scratch buffer out so that it is uniquely referenced: clear() then reuses its
        // storage instead of copying it (the sink copied the previous datagram out synchronously).
        var buffer = self.scratch
        self.scratch = ByteBuffer()
        buffer.clear()
        defer { self.scratch = buffer }
        switch security {
        case .usm(let state, let user):
            let fits = self.usm.encodeResponse(
                response,
                to: state,
                user: user,
                engineTime: self.engineTime(at: self.now),
                into: &buffer,
                trimToFit: requestType == .getBulk,
                varBindList: varBindList
            )
            guard fits else { return }
        case .community(let version, let community):
            var pdu = response
            if version == .v1 {
                pdu = ManagerTranslation.v1Response(response, request: original ?? response)
            }
            Self.writeCommunityResponse(
                pdu,
                version: version,
                community: community,
                requestType: requestType,
                original: original,
                varBindList: version == .v1 ? nil : varBindList,
                into: &buffer
            )
        }
        self.counters.outResponses &+= 1
        sink.perform(.reply(buffer, to: endpoint))
    }

    /// A v1/v2c response, made to fit one UDP datagram: a GetBulk loses varbinds from the end until
    /// it fits (never tooBig, RFC 3416 §4.2.3); anything else too large is tooBig (§4.2.1).
    static func writeCommunityResponse(
        _ response: PDU,
        version: SNMPVersion,
        community: ByteBuffer,
        requestType: PDUType,
        original: PDU?,
        varBindList: ByteBuffer? = nil,
        into buffer: inout ByteBuffer
    ) {
        var pdu = response
        let start = buffer.writerIndex
        buffer.writeCommunityMessage(
            CommunityMessage(version: version, community: community, pdu: .pdu(pdu)),
            varBindList: varBindList
        )
        guard buffer.readableBytes - start > Self.maximumCommunityResponse else { return }
        if requestType == .getBulk {
            let all = pdu.varbinds
            var fits = 0
            var tooLarge = all.count
            while tooLarge - fits > 1 {
                let middle = (fits + tooLarge) / 2
                pdu.varbinds = Array(all[0..<middle])
                buffer.moveWriterIndex(to: start)
                buffer.writeCommunityMessage(CommunityMessage(version: version, community: community, pdu: .pdu(pdu)))
                if buffer.readableBytes - start <= Self.maximumCommunityResponse {
                    fits = middle
                } else {
                    tooLarge = middle
                }
            }
            pdu.varbinds = Array(all[0..<fits])
        } else {
            pdu.errorStatus = .tooBig
            pdu.errorIndex = 0
            pdu.varbinds = version == .v1 ? (original?.varbinds ?? []) : []
        }
        buffer.moveWriterIndex(to: start)
        buffer.writeCommunityMessage(CommunityMessage(version: version, community: community, pdu: .pdu(pdu)))
    }

    // MARK: - Recycling and pass-through

    /// Puts the requests that ended during the event into the pool, each once nothing else refers
    /// to it (otherwise it is simply let go).
    private func recycleFinishedRequests() {
        while var request = self.finishedRequests.popLast() {
            guard isKnownUniquelyReferenced(&request) else { continue }
            request.clear()
            if self.requestPool.count < Self.requestPoolLimit { self.requestPool.append(request) }
        }
    }

    /// The agent's varbind list as it sent it, when the manager's answer is exactly the agent's
    /// varbinds: a Get, GetNext or GetBulk through a route with no rewrite or value transform, from
    /// a v2c agent to an SNMPv3 or SNMPv2c manager, with no view filtering or trimming on the way
    /// (which would have changed the varbinds) and in canonical form (so that the octets are the
    /// ones re-encoding would write). Bytes to a back end are always re-encoded (DESIGN.md §1).
    private func verbatimAnswer(_ response: PDU, of request: PendingRequest) -> ByteBuffer? {
        // The agent is a v2c one: ``agentAnswer`` is set for no other.
        guard let answer = self.agentAnswer, request.skipping == nil,
            request.route.policy.rewrites.isEmpty, request.route.policy.transforms == nil
        else { return nil }
        switch request.managerRequest.type {
        case .get, .getNext, .getBulk: break
        default: return nil
        }
        switch request.security {
        case .usm: break
        case .community(let version, _): guard version == .v2c else { return nil }
        }
        guard response.varbinds == answer.varbinds else { return nil }
        return answer.list
    }

    /// Whether writing `pdu` with `varBindList` gives what encoding its varbinds gives (a debug check).
    static func encodes(_ pdu: PDU, as varBindList: ByteBuffer) -> Bool {
        var encoded = ByteBuffer()
        encoded.writePDU(pdu)
        var patched = ByteBuffer()
        patched.writePDU(pdu, varBindList: varBindList)
        return encoded == patched
    }

    // MARK: - Helpers

    /// The agent's answer with the route's value transforms and synthesized objects laid over it.
    static func overlaid(_ response: PDU, asked: PDU, _ route: RouteTarget) -> PDU {
        guard let transforms = route.policy.transforms else { return response }
        return AnswerOverlay.apply(request: asked, response: response, transforms: transforms)
    }

    static func copy(_ bytes: ByteBuffer) -> ByteBuffer {
        var copy = ByteBuffer()
        copy.writeImmutableBuffer(bytes)
        return copy
    }

    /// The source address as routes compare it.
    public static func addressBits(_ address: SocketAddress) -> IPAddressBits {
        switch address {
        case .v4(let v4):
            return IPAddressBits(high: UInt64(UInt32(bigEndian: v4.address.sin_addr.s_addr)) << 32, low: 0, isIPv4: true)
        case .v6(let v6):
            return withUnsafeBytes(of: v6.address.sin6_addr) { IPAddressBits(exactly: $0)! }.canonical
        default:
            return IPAddressBits(high: 0, low: 0, isIPv4: false)
        }
    }
}

@available(*, unavailable)
extension RequestMachine: Sendable {}

/// Audit events that a flood could repeat: at most one per kind, route, source address (and user,
/// for no route and no device) a minute, and a bounded key set. The key is built without strings, so a flood costs a hash lookup per datagram.
struct AuditLimiter {
    enum Kind: Hashable {
        case noRoute, noDevice, community, overflow
        case refusal(RefusalReason)
        case authentication(USMReportKind)
        /// An SNMPv3 agent's Report that ended a request (nil: not a usmStats Report).
        case backendReport(USMReportKind?)
    }

    private struct Key: Hashable {
        var kind: Kind
        var route: Int
        var source: IPAddressBits?
        /// The user name, for refusals that concern a user (no route, no device).
        var user: ByteBuffer?
    }

    private var lastLogged: [Key: Int64] = [:]
    private var lastPruned: Int64 = .min
    static let interval: Int64 = 60_000_000_000
    static let maximumKeys = 10_000

    mutating func allows(_ kind: Kind, route: Int, source: SocketAddress?, user: ByteBuffer? = nil, now: Int64) -> Bool {
        let key = Key(kind: kind, route: route, source: source.map(RequestMachine.addressBits), user: user)
        if let last = self.lastLogged[key], now - last < Self.interval { return false }
        if self.lastLogged.count >= Self.maximumKeys {
            // Full: prune at most once per interval, so a flood of new keys costs O(1) each.
            guard now - self.lastPruned >= Self.interval else { return false }
            self.lastPruned = now
            self.lastLogged = self.lastLogged.filter { now - $0.value < Self.interval }
            if self.lastLogged.count >= Self.maximumKeys { return false }
        }
        // The user name is a slice of the datagram: a key of its own, or the key would keep the
        // whole receive buffer alive for a minute.
        var stored = key
        stored.user = key.user.map { ByteBuffer(bytes: $0.readableBytesView) }
        self.lastLogged[stored] = now
        return true
    }
}

/// The requests waiting for one agent's `max-in-flight`, oldest first: an array read from a moving
/// head, compacted once the consumed part is the larger.
struct WaitQueue {
    private var storage: [PendingRequest] = []
    private var head = 0

    var isEmpty: Bool { self.head == self.storage.count }
    var first: PendingRequest? { self.isEmpty ? nil : self.storage[self.head] }
    /// The waiting requests, oldest first.
    var requests: ArraySlice<PendingRequest> { self.storage[self.head...] }

    mutating func append(_ request: PendingRequest) {
        self.storage.append(request)
    }

    mutating func removeFirst() -> PendingRequest {
        let request = self.storage[self.head]
        self.head += 1
        if self.head == self.storage.count {
            self.storage.removeAll(keepingCapacity: self.storage.count <= 1024)
            self.head = 0
        } else if self.head >= 64 && self.head * 2 >= self.storage.count {
            self.storage.removeFirst(self.head)
            self.head = 0
        }
        return request
    }
}
