//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import Logging
import NIOConcurrencyHelpers
import NIOCore
import SNMPSecurity
import SNMPWire
import WardenForwarder
import WardenPolicy
import WardenSimulator

#if canImport(Glibc)
import Glibc
#endif

/// Who asked, and where the answer goes.
struct ManagerEndpoint {
    var listener: Int
    var remote: SocketAddress
    /// The local address the request arrived on (packet info), for wildcard listeners.
    var local: SocketAddress?
}

/// How the manager's response is secured.
enum ManagerSecurity {
    case usm(USMRequestState)
    case community(version: SNMPVersion, community: ByteBuffer)
}

/// One manager request waiting for a back end. A class: it moves between the loop, the pending
/// table and the timer as one reference, not as a copy of everything it holds (the profile showed
/// a fifth of the gateway's time in retain/release, much of it copying this).
final class PendingRequest {
    var endpoint: ManagerEndpoint
    var security: ManagerSecurity
    /// The request as the manager sent it (GetBulk repetitions clamped).
    var managerRequest: PDU
    /// The request through the route's views and rewrites, across back-end rounds.
    var filtered: FilteredExchange
    /// The current round's back-end request, adapted to the agent's version.
    var exchange: BackendExchange?
    var route: Int
    /// A v1 manager's GetNext that met Counter64s: the answer so far and the positions asked again.
    var skipping: (answer: PDU, positions: [Int], rounds: Int)?

    init(
        endpoint: ManagerEndpoint,
        security: ManagerSecurity,
        managerRequest: PDU,
        filtered: FilteredExchange,
        exchange: BackendExchange?,
        route: Int,
        skipping: (answer: PDU, positions: [Int], rounds: Int)?
    ) {
        self.endpoint = endpoint
        self.security = security
        self.managerRequest = managerRequest
        self.filtered = filtered
        self.exchange = exchange
        self.route = route
        self.skipping = skipping
    }
}

@available(*, unavailable)
extension PendingRequest: Sendable {}

/// Simulated back ends, shared by the loops so that a Set is seen by every later Get. They are
/// demonstration and test devices, not the hot path: a lock is fine here.
final class SimulatedBackends: Sendable {
    private let agents: NIOLockedValueBox<[Int: SimulatedAgent]>

    init(plan: GatewayPlan) {
        var agents: [Int: SimulatedAgent] = [:]
        for (index, backend) in plan.backends.enumerated() {
            if case .simulated(let agent) = backend.kind { agents[index] = agent }
        }
        self.agents = NIOLockedValueBox(agents)
    }

    func respond(backend: Int, to request: PDU) -> PDU? {
        self.agents.withLockedValue { $0[backend]?.respond(to: request) }
    }
}

/// Everything one event loop owns: its listeners' channels, its back-end sockets and pending
/// tables, its USM engine copy and its counters. Used on that loop only (DESIGN.md §3).
final class GatewayLoop {
    let index: Int
    let eventLoop: EventLoop
    let plan: GatewayPlan
    let simulated: SimulatedBackends
    var usm: USMAuthoritativeEngine
    let logger: Logger
    /// snmpEngineTime counts from here.
    let startUptime: UInt64
    var counters = GatewayCounters()
    /// Our engine ID as the scoped PDUs carry it (shared, so pending requests need no copy of it).
    let engineIDBuffer: ByteBuffer

    struct Listener {
        var channel: Channel
        /// Replies go out on the listener's descriptor; on a wildcard listener, with the packet's
        /// destination as source.
        var outbox: DatagramOutbox
        var isWildcard: Bool
    }
    var listeners: [Listener] = []

    /// A back end's socket and settings on this loop. A class: the packet path reads it several
    /// times per request, and a struct copy of it cost a retain per reference it holds.
    final class AgentLink {
        var channel: Channel?
        var outbox: DatagramOutbox?
        let address: SocketAddress
        let version: SNMPVersion
        let community: ByteBuffer
        let timeout: Int64
        let retries: Int
        var timer: Scheduled<Void>?

        init(address: SocketAddress, version: SNMPVersion, community: ByteBuffer, timeout: Int64, retries: Int) {
            self.address = address
            self.version = version
            self.community = community
            self.timeout = timeout
            self.retries = retries
        }
    }
    /// By back-end index; nil for simulated back ends.
    var agents: [AgentLink?]
    /// By back-end index, apart from ``agents`` so that reading a link never shares the table's
    /// storage while the table is mutated in place (which would copy it).
    var pendingTables: [PendingTable<PendingRequest>?]
    /// The bound on requests pending on this loop, over all back ends.
    let pendingCapacity: Int
    var pendingCount = 0

    private var scratch = ByteBuffer()
    private var refusalLog = RateLimitedLog()
    private var draining: EventLoopPromise<Void>?

    init(
        index: Int,
        eventLoop: EventLoop,
        plan: GatewayPlan,
        simulated: SimulatedBackends,
        usm: USMAuthoritativeEngine,
        logger: Logger,
        startUptime: UInt64,
        loopCount: Int
    ) {
        self.index = index
        self.eventLoop = eventLoop
        self.plan = plan
        self.simulated = simulated
        self.usm = usm
        self.engineIDBuffer = ByteBuffer(bytes: usm.identity.engineID)
        self.logger = logger
        self.startUptime = startUptime
        self.pendingCapacity = max(1, plan.limits.maxPending / max(1, loopCount))
        self.agents = plan.backends.map { backend in
            guard case .agent(let address, let version, let community, let timeout, let retries) = backend.kind else {
                return nil
            }
            return AgentLink(
                address: address,
                version: version,
                community: community,
                timeout: timeout,
                retries: retries
            )
        }
        self.pendingTables = plan.backends.map { backend in
            guard case .agent = backend.kind else { return nil }
            return PendingTable(
                capacity: max(1, plan.limits.maxPending),
                firstRequestID: Int32.random(in: 1...Int32.max)
            )
        }
    }

    var now: Int64 { Int64(NIODeadline.now().uptimeNanoseconds) }

    /// snmpEngineTime: seconds since start (RFC 3414 §2.2.1).
    var engineTime: Int32 {
        Int32(clamping: (NIODeadline.now().uptimeNanoseconds - self.startUptime) / 1_000_000_000)
    }

    // MARK: - From managers

    func receiveFromManager(_ envelope: AddressedEnvelope<ByteBuffer>, listener: Int) {
        self.counters.inPackets &+= 1
        let endpoint = ManagerEndpoint(
            listener: listener,
            remote: envelope.remoteAddress,
            local: envelope.metadata?.packetInfo?.destinationAddress
        )
        let message: SNMPMessage
        do {
            message = try SNMPMessage(decoding: envelope.data)
        } catch {
            self.counters.inParseErrors &+= 1
            self.usm.countParseError()
            return
        }
        switch message {
        case .v3(let v3):
            self.receiveV3(v3, datagram: envelope.data, from: endpoint)
        case .community(let community):
            self.receiveCommunity(community, from: endpoint)
        }
    }

    private func receiveV3(_ message: SNMPv3Message, datagram: ByteBuffer, from endpoint: ManagerEndpoint) {
        switch self.usm.receive(message, datagram: datagram, engineTime: self.engineTime) {
        case .drop:
            return
        case .report(let report, _):
            self.send(report, to: endpoint)
        case .accept(let request):
            let pdu = request.scopedPDU.pdu
            let security = ManagerSecurity.usm(request.state)
            // A command responder serves requests; an Inform is for a notification receiver.
            guard pdu.type.isConfirmed && pdu.type != .inform else {
                self.counters.unexpectedPDUs &+= 1
                return
            }
            let remote = endpoint.remote
            let matched = self.plan.routeTable.match(user: request.state.userName, context: request.state.contextName) {
                Self.addressBytes(remote)
            }
            guard let route = matched else {
                let user = String(buffer: request.state.userName)
                let context = String(buffer: request.state.contextName)
                self.counters.noRoute &+= 1
                self.refusalLog.warn(
                    self.logger,
                    key: "\(endpoint.remote.ipAddress ?? "?") \(user)",
                    now: self.now,
                    "no route: request refused with authorizationError",
                    metadata: [
                        "source": "\(Self.describe(endpoint.remote))", "user": "\(user)", "context": "\(context)",
                    ]
                )
                var response = PDU(
                    type: .response,
                    requestID: pdu.requestID,
                    errorStatus: .authorizationError,
                    varbinds: pdu.varbinds
                )
                response.errorIndex = 0
                self.respond(response, security: security, to: endpoint, requestType: pdu.type)
                return
            }
            self.serve(pdu, route: route, security: security, from: endpoint)
        }
    }

    private func receiveCommunity(_ message: CommunityMessage, from endpoint: ManagerEndpoint) {
        guard case .pdu(let pdu) = message.pdu else {
            self.counters.unexpectedPDUs &+= 1
            return
        }
        guard self.plan.routeTable.acceptsCommunities else {
            self.counters.communityFrontEndOff &+= 1
            return
        }
        let community = Array(buffer: message.community)
        let source = Self.addressBytes(endpoint.remote)
        guard let route = self.plan.routeTable.match(community: community, source: source) else {
            if self.plan.routeTable.knows(community: community) {
                self.counters.badCommunityUses &+= 1
            } else {
                self.counters.badCommunityNames &+= 1
            }
            self.refusalLog.warn(
                self.logger,
                key: "\(endpoint.remote.ipAddress ?? "?") community",
                now: self.now,
                "v\(message.version) request with a community no route allows from this source: dropped",
                metadata: ["source": "\(Self.describe(endpoint.remote))"]
            )
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
            route: route,
            security: .community(version: message.version, community: message.community),
            from: endpoint
        )
    }

    /// Applies the route's limits and policy and hands the request to its back end.
    private func serve(_ request: PDU, route routeIndex: Int, security: ManagerSecurity, from endpoint: ManagerEndpoint)
    {
        var security = security
        let route = self.plan.routes[routeIndex]
        var pdu = request
        if pdu.varbinds.count > self.plan.limits.maxVarbinds {
            self.counters.tooManyVarbinds &+= 1
            self.audit(route: routeIndex, reason: "too-many-varbinds", oid: pdu.varbinds.first?.oid, security, endpoint)
            let response = PDU(type: .response, requestID: pdu.requestID, errorStatus: .tooBig, varbinds: [])
            self.respond(response, security: security, to: endpoint, requestType: pdu.type, original: request)
            return
        }
        switch pdu.type {
        case .set:
            if route.policy.writeView == nil { self.counters.refusedSets &+= 1 }
        case .get, .getNext:
            if route.policy.readView == nil { self.counters.refusedReads &+= 1 }
        case .getBulk:
            if route.policy.readView == nil { self.counters.refusedReads &+= 1 }
            if pdu.maxRepetitions > Int32(self.plan.limits.maxRepetitions) {
                self.counters.clampedRepetitions &+= 1
                pdu.maxRepetitions = Int32(self.plan.limits.maxRepetitions)
            }
            if pdu.nonRepeaters < 0 { pdu.nonRepeaters = 0 }
            if pdu.maxRepetitions < 0 { pdu.maxRepetitions = 0 }
        default:
            self.counters.unexpectedPDUs &+= 1
            return
        }
        if self.agents[route.backend] == nil {
            self.counters.simulatedRequests &+= 1
        } else {
            // The request will wait for the agent: copy it out of the receive (or decryption)
            // buffer it was decoded from, so that buffer is free for the next datagram instead of
            // being pinned (and copied) for as long as the request is pending.
            pdu = pdu.compacted()
            if case .usm(var state) = security {
                state.contextEngineID =
                    state.contextEngineID == self.engineIDBuffer
                    ? self.engineIDBuffer : Self.copy(state.contextEngineID)
                state.contextName = state.contextName.readableBytes == 0 ? ByteBuffer() : Self.copy(state.contextName)
                security = .usm(state)
            }
        }
        var filtered = FilteredExchange(
            request: pdu,
            policy: route.policy,
            maximumRounds: self.plan.limits.maxBackendRequests,
            backendVersion: self.agents[route.backend]?.version ?? .v2c
        )
        let outcome = filtered.start()
        let pending = PendingRequest(
            endpoint: endpoint,
            security: security,
            managerRequest: pdu,
            filtered: filtered,
            exchange: nil,
            route: routeIndex,
            skipping: nil
        )
        self.drive(pending, outcome, backend: route.backend)
    }

    /// Carries a filtered exchange forward: a simulated back end answers at once; an agent's
    /// request goes out and the rest happens when its answer arrives.
    private func drive(_ request: PendingRequest, _ outcome: FilteredExchange.Outcome, backend: Int) {
        var outcome = outcome
        while true {
            switch outcome {
            case .respond(let response):
                self.recordRefusals(request.filtered, request: request)
                self.answer(request, with: response, backend: backend)
                return
            case .send(let backendRequest):
                guard let link = self.agents[backend] else {
                    let reply =
                        self.simulated.respond(backend: backend, to: backendRequest)
                        ?? PDU(type: .response, requestID: 0, errorStatus: .genErr, varbinds: backendRequest.varbinds)
                    outcome = request.filtered.receive(reply)
                    continue
                }
                request.exchange = BackendExchange(request: backendRequest, backendVersion: link.version)
                self.forward(request, backend: backend)
                return
            }
        }
    }

    /// Counts and logs (rate-limited) what the route's policy refused in this request.
    private func recordRefusals(_ filtered: FilteredExchange, request: PendingRequest) {
        for (reason, oid) in filtered.refusals {
            self.audit(route: request.route, reason: reason.rawValue, oid: oid, request.security, request.endpoint)
        }
    }

    /// One refusal: counted per route and reason, logged at most once per source, route and reason a
    /// minute, with the user (or "community"), source, context and OID.
    private func audit(route: Int, reason: String, oid: OID?, _ security: ManagerSecurity, _ endpoint: ManagerEndpoint)
    {
        let name = self.plan.routes[route].name
        self.counters.refusals["\(name)/\(reason)", default: 0] &+= 1
        var user = "community"
        var context = ""
        if case .usm(let state) = security {
            user = String(buffer: state.userName)
            context = String(buffer: state.contextName)
        }
        self.refusalLog.warn(
            self.logger,
            key: "\(endpoint.remote.ipAddress ?? "?") \(name) \(reason)",
            now: self.now,
            "refused by the route's policy",
            metadata: [
                "route": "\(name)", "reason": "\(reason)", "user": "\(user)", "context": "\(context)",
                "source": "\(Self.describe(endpoint.remote))", "oid": "\(oid?.description ?? "")",
            ]
        )
    }

    // MARK: - To and from agents

    /// Sends the exchange's next request to its agent, recording it as pending.
    private func forward(_ request: PendingRequest, backend: Int) {
        guard self.pendingCount < self.pendingCapacity, let link = self.agents[backend] else {
            self.counters.pendingOverflows &+= 1
            self.refusalLog.warn(
                self.logger,
                key: "overflow",
                now: self.now,
                "pending table full (limits.max-pending): request handled as a timeout",
                metadata: ["backend": "\(self.plan.backends[backend].name)"]
            )
            self.timedOut(request)
            return
        }
        let community = link.community
        let version = link.version
        let exchange = request.exchange!
        let id = self.pendingTables[backend]!.insert(
            request,
            now: self.now,
            timeout: link.timeout,
            retries: link.retries
        ) {
            requestID in
            var buffer = ByteBuffer()
            buffer.reserveCapacity(256)
            buffer.writeCommunityMessage(
                CommunityMessage(
                    version: version,
                    community: community,
                    pdu: .pdu(exchange.nextRequest(requestID: requestID))
                )
            )
            return buffer
        }
        guard let id, let datagram = self.pendingTables[backend]!.entry(id)?.datagram else {
            self.counters.pendingOverflows &+= 1
            self.timedOut(request)
            return
        }
        self.pendingCount += 1
        self.pendingPeak = max(self.pendingPeak, self.pendingCount)
        self.counters.backendRequests &+= 1
        if let outbox = link.outbox {
            self.enqueue(datagram, to: link.address, in: outbox)
        }
        self.armTimer(backend)
    }

    func receiveFromBackend(_ envelope: AddressedEnvelope<ByteBuffer>, backend: Int) {
        guard let link = self.agents[backend] else { return }
        guard envelope.remoteAddress == link.address else {
            self.counters.backendWrongSource &+= 1
            return
        }
        guard case .community(let message)? = try? SNMPMessage(decoding: envelope.data),
            message.version == link.version, case .pdu(let pdu) = message.pdu, pdu.type == .response
        else {
            self.counters.backendMalformed &+= 1
            return
        }
        guard message.community == link.community else {
            self.counters.backendWrongCommunity &+= 1
            return
        }
        guard let entry = self.pendingTables[backend]!.entry(pdu.requestID),
            entry.context.exchange?.isPlausible(pdu) == true
        else {
            self.counters.backendUnmatched &+= 1
            return
        }
        _ = self.pendingTables[backend]!.remove(pdu.requestID)
        self.pendingCount -= 1
        self.counters.backendResponses &+= 1
        let request = entry.context
        switch request.exchange!.receive(pdu) {
        case .sendAgain:
            self.forward(request, backend: backend)
        case .respond(let response):
            let outcome = request.filtered.receive(response)
            self.drive(request, outcome, backend: backend)
        }
        self.checkDrained()
    }

    /// A complete answer: to the manager, or on to skip Counter64s for a v1 manager.
    private func answer(_ request: PendingRequest, with response: PDU, backend: Int) {
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
                    policy: self.plan.routes[request.route].policy,
                    maximumRounds: self.plan.limits.maxBackendRequests,
                    backendVersion: self.agents[backend]?.version ?? .v2c
                )
                request.skipping = (response, positions, rounds)
                let outcome = request.filtered.start()
                self.drive(request, outcome, backend: backend)
                return
            }
        }
        self.respond(
            response,
            security: request.security,
            to: request.endpoint,
            requestType: request.managerRequest.type,
            original: request.managerRequest
        )
    }

    /// A v1 manager's GetNext asks again past Counter64s at most this often.
    static let maximumSkipRounds = 32

    private func armTimer(_ backend: Int) {
        guard let link = self.agents[backend], link.timer == nil,
            let deadline = self.pendingTables[backend]?.earliestDeadline
        else {
            return
        }
        // Coalesce: wake at most every 5 ms per back end.
        let at = max(deadline, self.now + 5_000_000)
        let bound = NIOLoopBound(self, eventLoop: self.eventLoop)
        let timer = self.eventLoop.scheduleTask(deadline: .uptimeNanoseconds(UInt64(at))) {
            bound.value.agents[backend]?.timer = nil
            bound.value.expire(backend)
        }
        self.agents[backend]?.timer = timer
    }

    private func expire(_ backend: Int) {
        guard let link = self.agents[backend] else { return }
        let decisions = self.pendingTables[backend]!.expire(now: self.now)
        for decision in decisions {
            switch decision {
            case .retransmit(_, let datagram):
                self.counters.backendRetransmissions &+= 1
                if let outbox = link.outbox {
                    self.enqueue(datagram, to: link.address, in: outbox)
                }
            case .timedOut(_, let request):
                self.pendingCount -= 1
                self.counters.backendTimeouts &+= 1
                self.timedOut(request)
            }
        }
        self.armTimer(backend)
        self.flushWrites()
        self.checkDrained()
    }

    /// No answer: the route's `on-timeout` (genErr by default, so the manager fails fast).
    private func timedOut(_ request: PendingRequest) {
        if self.plan.routes[request.route].dropOnTimeout {
            self.counters.droppedOnTimeout &+= 1
            return
        }
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
            original: original
        )
    }

    // MARK: - Answers

    /// Encodes `response` for the manager (USM or community, v1 translation) and sends it.
    private func respond(
        _ response: PDU,
        security: ManagerSecurity,
        to endpoint: ManagerEndpoint,
        requestType: PDUType,
        original: PDU? = nil
    ) {
        // Take the scratch buffer out so that it is uniquely referenced: clear() then reuses its
        // storage instead of copying it (the previous datagram was written out synchronously).
        var buffer = self.scratch
        self.scratch = ByteBuffer()
        buffer.clear()
        switch security {
        case .usm(let state):
            let fits = self.usm.encodeResponse(
                response,
                to: state,
                engineTime: self.engineTime,
                into: &buffer,
                trimToFit: requestType == .getBulk
            )
            guard fits else { return }
        case .community(let version, let community):
            var pdu = response
            if version == .v1 {
                pdu = ManagerTranslation.v1Response(response, request: original ?? response)
            }
            let start = buffer.writerIndex
            buffer.writeCommunityMessage(CommunityMessage(version: version, community: community, pdu: .pdu(pdu)))
            if buffer.readableBytes - start > Self.maximumCommunityResponse {
                // Too large for one UDP datagram: a GetBulk loses varbinds from the end until it fits
                // (never tooBig, RFC 3416 §4.2.3); anything else is tooBig (§4.2.1).
                if requestType == .getBulk {
                    let all = pdu.varbinds
                    var fits = 0
                    var tooLarge = all.count
                    while tooLarge - fits > 1 {
                        let middle = (fits + tooLarge) / 2
                        pdu.varbinds = Array(all[0..<middle])
                        buffer.moveWriterIndex(to: start)
                        buffer.writeCommunityMessage(
                            CommunityMessage(version: version, community: community, pdu: .pdu(pdu))
                        )
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
        }
        self.send(buffer, to: endpoint)
        self.scratch = buffer
    }

    /// Over IPv4 a UDP payload holds at most 65,507 octets.
    static let maximumCommunityResponse = 65_507

    private func send(_ datagram: ByteBuffer, to endpoint: ManagerEndpoint) {
        guard endpoint.listener < self.listeners.count else { return }
        let listener = self.listeners[endpoint.listener]
        self.counters.outResponses &+= 1
        self.enqueue(
            datagram,
            to: endpoint.remote,
            from: listener.isWildcard ? endpoint.local : nil,
            in: listener.outbox
        )
    }

    // MARK: - Batched writes

    /// Outboxes written to since the last flush. They are sent once per read batch (and after each
    /// timer tick), so the kernel gets several datagrams per sendmmsg.
    private var unflushed: [DatagramOutbox] = []

    private func enqueue(
        _ datagram: ByteBuffer,
        to destination: SocketAddress,
        from source: SocketAddress? = nil,
        in outbox: DatagramOutbox
    ) {
        if !outbox.isScheduled {
            outbox.isScheduled = true
            self.unflushed.append(outbox)
        }
        self.counters.sendFailures &+= UInt64(outbox.enqueue(datagram, to: destination, from: source))
    }

    /// Called when a channel's read batch is done, and after timers: sends what was queued.
    func flushWrites() {
        guard !self.unflushed.isEmpty else { return }
        for outbox in self.unflushed {
            outbox.isScheduled = false
            self.counters.sendFailures &+= UInt64(outbox.flush())
        }
        self.unflushed.removeAll(keepingCapacity: true)
    }

    // MARK: - Stop

    /// Stops reading from managers; the future completes when nothing is pending any more.
    func drain() -> EventLoopFuture<Void> {
        for listener in self.listeners {
            listener.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
        }
        let promise = self.eventLoop.makePromise(of: Void.self)
        self.draining = promise
        self.checkDrained()
        return promise.futureResult
    }

    private func checkDrained() {
        guard self.pendingCount == 0 else { return }
        if self.pendingPeak >= 1000 {
            // A burst is over (10,000 requests on a dead back end, say): give the memory back, so
            // that the process returns to its resting size instead of keeping its peak.
            self.pendingPeak = 0
            for index in self.pendingTables.indices { self.pendingTables[index]?.releaseStorageIfEmpty() }
            _ = Self.mallocTrim?(0)
        }
        if let promise = self.draining {
            self.draining = nil
            promise.succeed()
        }
    }

    /// glibc's malloc_trim (not in the Glibc module's headers): returns free heap pages to the system.
    static let mallocTrim = glibcFunction("malloc_trim", as: (@convention(c) (Int) -> Int32).self)

    /// The most requests pending at once since the table last emptied.
    private var pendingPeak = 0

    static func copy(_ bytes: ByteBuffer) -> ByteBuffer {
        var copy = ByteBuffer()
        copy.writeImmutableBuffer(bytes)
        return copy
    }

    /// `192.0.2.1:1234` or `[2001:db8::1]:1234`, for logs.
    static func describe(_ address: SocketAddress) -> String {
        guard let host = address.ipAddress, let port = address.port else { return "\(address)" }
        return address.protocol == .inet6 ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// The source address as routes compare it (4 or 16 octets).
    static func addressBytes(_ address: SocketAddress) -> [UInt8] {
        switch address {
        case .v4(let v4):
            return withUnsafeBytes(of: v4.address.sin_addr) { Array($0) }
        case .v6(let v6):
            return RouteTable.canonical(withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) })
        default:
            return []
        }
    }
}

/// Warnings that a flood could repeat: at most one per key and minute, and a bounded key set.
struct RateLimitedLog {
    private var lastLogged: [String: Int64] = [:]
    private var lastPruned: Int64 = .min
    static let interval: Int64 = 60_000_000_000
    static let maximumKeys = 10_000

    mutating func warn(_ logger: Logger, key: String, now: Int64, _ message: Logger.Message, metadata: Logger.Metadata)
    {
        if let last = self.lastLogged[key], now - last < Self.interval { return }
        if self.lastLogged.count >= Self.maximumKeys {
            // Full: prune at most once per interval, so a flood of new keys costs O(1) each.
            guard now - self.lastPruned >= Self.interval else { return }
            self.lastPruned = now
            self.lastLogged = self.lastLogged.filter { now - $0.value < Self.interval }
            if self.lastLogged.count >= Self.maximumKeys { return }
        }
        self.lastLogged[key] = now
        logger.warning(message, metadata: metadata)
    }
}
