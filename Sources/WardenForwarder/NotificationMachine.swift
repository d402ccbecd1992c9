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

/// What the notification machine asks its event loop to do.
public enum NotificationAction {
    /// Send `datagram` to a receiver, from the relay's socket of that address family.
    case send(ByteBuffer, to: SocketAddress)
    /// Answer a device (an inform's acknowledgement, a discovery or time Report) from the
    /// listener it sent to.
    case reply(ByteBuffer, to: ManagerEndpoint)
    /// Call ``NotificationMachine/timerFired(now:into:)`` at `deadline`; replaces an earlier one.
    case armTimer(deadline: Int64)
}

public protocol NotificationActionSink {
    mutating func perform(_ action: NotificationAction)
}

/// Why a notification (or a datagram on a notification listener) was not forwarded.
public enum NotificationDropReason: Int, CaseIterable, Sendable {
    case malformed, unknownSource, wrongCommunity, authentication, unexpectedPDU, noRoute, view, rateLimited, loop

    /// The label in metrics and docs.
    public var name: String {
        switch self {
        case .malformed: return "malformed"
        case .unknownSource: return "unknown-source"
        case .wrongCommunity: return "wrong-community"
        case .authentication: return "authentication"
        case .unexpectedPDU: return "unexpected-pdu"
        case .noRoute: return "no-route"
        case .view: return "view"
        case .rateLimited: return "rate-limited"
        case .loop: return "loop"
        }
    }
}

/// The relay's counters (monotonic).
public struct NotificationCounters: Sendable {
    /// Datagrams on the notification listeners.
    public var inPackets: UInt64 = 0
    /// Accepted notifications by kind: v1 Trap, v2c Trap, v2c Inform, v3 Trap, v3 Inform.
    public var receivedV1Traps: UInt64 = 0
    public var receivedV2cTraps: UInt64 = 0
    public var receivedV2cInforms: UInt64 = 0
    public var receivedV3Traps: UInt64 = 0
    public var receivedV3Informs: UInt64 = 0
    /// RFC 3584 §3.1 (v1 in) and §3.2 (v1 out) translations.
    public var translatedV1ToV2: UInt64 = 0
    public var translatedV2ToV1: UInt64 = 0
    /// By ``NotificationDropReason``.
    public var dropped = [UInt64](repeating: 0, count: NotificationDropReason.allCases.count)
    /// Varbinds a route's view removed.
    public var varbindsRemoved: UInt64 = 0
    /// A target skipped because it is where the notification came from.
    public var skippedSource: UInt64 = 0
    /// Informs acknowledged to devices: after a target's acknowledgement, or locally.
    public var acknowledgedForwarded: UInt64 = 0
    public var acknowledgedLocally: UInt64 = 0
    /// A device's retransmission of an inform already in hand (not forwarded again).
    public var duplicateInforms: UInt64 = 0
    /// Discovery and time Reports sent to v3 inform senders.
    public var reportsSent: UInt64 = 0
    /// Informs from devices for which no target acknowledged in time (the device will retry).
    public var unacknowledgedInforms: UInt64 = 0

    public init() {}

    public subscript(reason: NotificationDropReason) -> UInt64 {
        get { self.dropped[reason.rawValue] }
        set { self.dropped[reason.rawValue] = newValue }
    }
}

/// One receiver's counters.
public struct NotificationTargetCounters: Sendable {
    public var traps: UInt64 = 0
    public var informs: UInt64 = 0
    public var acknowledged: UInt64 = 0
    public var retransmissions: UInt64 = 0
    public var timeouts: UInt64 = 0
    /// Informs not sent because `max-pending` were waiting for this receiver.
    public var overflows: UInt64 = 0
    /// Notifications with a Counter64 not sent to this SNMPv1 receiver (RFC 3584 §3.2).
    public var counter64Dropped: UInt64 = 0
    /// usmStats Reports from the receiver other than discovery and time (wrong user, key, level).
    public var reports: UInt64 = 0
    /// Answers that did not authenticate or match.
    public var invalidAnswers: UInt64 = 0
    public var discoveries: UInt64 = 0

    public init() {}
}

/// The notification relay as a pure machine (DESIGN.md §2, "Notifications"): datagrams from devices
/// and from receivers, and the timer, come in with `now` (monotonic nanoseconds); actions go out
/// through a sink. One instance serves every notification listener, on one event loop.
///
/// - Devices: a source is allowed by address prefix, then by community (v1/v2c) or USM (v3 traps:
///   the sender's engine ID and user; v3 informs: our own engine). Everything else is dropped and
///   counted, never forwarded and never acknowledged.
/// - Each notification is put in SNMPv2 form (RFC 3584 §3.1), attributed to its real source, passed
///   through every matching route's rewrite and view, marked, and sent once to each target.
/// - Informs to receivers are retried; an inform from a device is acknowledged when the first
///   target acknowledges (or at once for `ack: local`).
public final class NotificationMachine {
    public private(set) var snapshot: NotificationSnapshot
    /// Our engine: serves v3 informs (we are authoritative for them) and their discovery.
    private var engine: USMAuthoritativeEngine
    private let engineIDBuffer: ByteBuffer
    /// v3 traps (their senders are authoritative).
    private var trapReceiver: USMNotificationReceiver
    private var engineTimeOrigin: Int64
    public private(set) var counters = NotificationCounters()
    private var now: Int64 = 0

    /// A device's inform waiting for a target's acknowledgement.
    final class IncomingInform {
        enum Reply {
            case community(ByteBuffer)
            case usm(USMRequestState, USMLocalizedUser)
        }
        let key: InformKey
        let endpoint: ManagerEndpoint
        let reply: Reply
        let requestID: Int32
        let varbinds: [VarBind]
        var outstanding = 0
        var acknowledged = false

        init(key: InformKey, endpoint: ManagerEndpoint, reply: Reply, requestID: Int32, varbinds: [VarBind]) {
            self.key = key
            self.endpoint = endpoint
            self.reply = reply
            self.requestID = requestID
            self.varbinds = varbinds
        }
    }

    struct InformKey: Hashable {
        var source: SocketAddress
        var requestID: Int32
    }

    /// A target's USM state, shared by the informs sent under it: a reload that changes the
    /// receiver gives the target a new one, and informs in flight keep theirs.
    final class Session {
        var client: USMClient
        init(_ client: USMClient) { self.client = client }
    }

    struct PendingInform {
        var target: NotificationSnapshot.Target
        var session: Session?
        var datagram: ByteBuffer
        var varbinds: [VarBind]
        var deadline: Int64
        var sentAt: Int64
        var retriesLeft: Int
        /// Sends again after a discovery or time Report (bounded).
        var resends = 0
        var origin: IncomingInform?
    }

    final class TargetState {
        var target: NotificationSnapshot.Target
        var session: Session?
        var pending: [Int32: PendingInform] = [:]
        var counters = NotificationTargetCounters()

        init(target: NotificationSnapshot.Target) {
            self.target = target
            self.session = Self.session(for: target)
        }

        static func session(for target: NotificationSnapshot.Target) -> Session? {
            target.user.flatMap { try? USMClient(user: $0) }.map(Session.init)
        }
    }

    /// By target name; a slot is never reused, so timer entries stay valid across reloads.
    private var states: [TargetState] = []
    private var slots: [String: Int] = [:]
    /// The current snapshot's targets, as slots.
    private var targetSlots: [Int] = []
    /// Which slot an inform id is pending at (ids are unique across the machine).
    private var pendingByID: [Int32: Int] = [:]
    private var nextID: Int32 = 0
    private var heap = DeadlineHeap()
    private var armed: Int64?
    private var informsInFlight: [InformKey: IncomingInform] = [:]
    /// Informs acknowledged lately, to answer a retransmission whose acknowledgement was lost.
    private var recentlyAcknowledged: [InformKey: (expiry: Int64, varbinds: Int)] = [:]
    static let recentCapacity = 4096
    static let recentLifetime: Int64 = 120_000_000_000
    /// Resends after Reports, per inform.
    static let maximumResends = 3

    private struct Bucket {
        var tokens: Double
        var updated: Int64
    }
    private var buckets: [IPAddressBits: Bucket] = [:]
    static let bucketCapacity = 65_536
    /// The key new sources share while the table is full (not an address: the IPv6 flag with IPv4 bits).
    static let overflowBucket = IPAddressBits(high: UInt64.max, low: UInt64.max, isIPv4: false)

    public init(
        snapshot: NotificationSnapshot,
        engine: USMAuthoritativeEngine,
        trapReceiver: USMNotificationReceiver,
        engineTimeOrigin: Int64
    ) {
        self.snapshot = snapshot
        self.engine = engine
        self.engineIDBuffer = ByteBuffer(bytes: engine.identity.engineID)
        self.trapReceiver = trapReceiver
        self.engineTimeOrigin = engineTimeOrigin
        self.nextID = Int32.random(in: 1...0x3FFF_FFFF)
        self.adopt(snapshot)
    }

    /// A reload: new sources, targets and routes, and the users they name. Informs in flight go on
    /// to the receivers they were sent to.
    public func replace(
        snapshot: NotificationSnapshot,
        engine: USMAuthoritativeEngine,
        trapReceiver: USMNotificationReceiver
    ) {
        self.snapshot = snapshot
        self.engine = self.engine.replacingUsers(with: engine)
        // The senders' clocks go on (RFC 3414 §3.2 step 7b): a reload must not reopen the window
        // for replayed traps.
        self.trapReceiver = trapReceiver.keepingClocks(of: self.trapReceiver)
        self.adopt(snapshot)
    }

    private func adopt(_ snapshot: NotificationSnapshot) {
        self.targetSlots = snapshot.targets.map { target in
            if let slot = self.slots[target.name] {
                let state = self.states[slot]
                if !state.target.isSameReceiver(as: target) {
                    state.session = TargetState.session(for: target)
                }
                state.target = target
                return slot
            }
            let slot = self.states.count
            self.states.append(TargetState(target: target))
            self.slots[target.name] = slot
            return slot
        }
    }

    /// Moves the instant engineTime counts from earlier, never later (as ``RequestMachine``).
    public func advanceEngineTime(origin: Int64) {
        self.engineTimeOrigin = min(self.engineTimeOrigin, origin)
    }

    private func engineTime() -> Int32 {
        Int32(clamping: max(0, self.now - self.engineTimeOrigin) / 1_000_000_000)
    }

    private var seconds: Int64 { self.now / 1_000_000_000 }

    /// Each target's counters, by name.
    public func targetCounters() -> [(name: String, counters: NotificationTargetCounters)] {
        self.states.map { ($0.target.name, $0.counters) }
    }

    /// Informs waiting for receivers' acknowledgements.
    public var pendingCount: Int { self.pendingByID.count }

    /// Devices' informs waiting for an acknowledgement.
    public var informsWaiting: Int { self.informsInFlight.count }

    /// usmStats of our engine as inform receiver, and of the trap receiver.
    public var usmStatistics: (informs: USMStatistics, traps: USMStatistics) {
        (self.engine.statistics, self.trapReceiver.statistics)
    }

    // MARK: - From devices

    /// A datagram on a notification listener.
    public func receive<Sink: NotificationActionSink>(
        _ datagram: ByteBuffer,
        from endpoint: ManagerEndpoint,
        now: Int64,
        into sink: inout Sink
    ) {
        self.now = now
        self.counters.inPackets &+= 1
        let address = RequestMachine.addressBits(endpoint.remote)
        // Strangers cost nothing: no bucket, no decoding, no cryptography, no Report.
        var candidates: [Int] = []
        for (index, source) in self.snapshot.sources.enumerated() where source.contains(address) {
            candidates.append(index)
        }
        guard !candidates.isEmpty else {
            self.counters[.unknownSource] &+= 1
            return
        }
        guard self.allow(address) else {
            self.counters[.rateLimited] &+= 1
            return
        }
        let message: SNMPMessage
        do {
            message = try SNMPMessage(decoding: datagram)
        } catch {
            self.counters[.malformed] &+= 1
            return
        }
        switch message {
        case .community(let community):
            self.receiveCommunity(community, candidates: candidates, from: endpoint, into: &sink)
        case .v3(let v3):
            self.receiveV3(v3, datagram: datagram, candidates: candidates, from: endpoint, into: &sink)
        }
    }

    private func receiveCommunity<Sink: NotificationActionSink>(
        _ message: CommunityMessage,
        candidates: [Int],
        from endpoint: ManagerEndpoint,
        into sink: inout Sink
    ) {
        let sources = Set(candidates.filter { self.snapshot.sources[$0].communities.contains(message.community) })
        guard !sources.isEmpty else {
            self.counters[.wrongCommunity] &+= 1
            return
        }
        switch (message.version, message.pdu) {
        case (.v1, .trapV1(let trap)):
            guard let varbinds = NotificationTranslation.v2Varbinds(from: trap, community: nil) else {
                // generic-trap outside 0…6, or an enterprise too long for its specific-trap.
                self.counters[.malformed] &+= 1
                return
            }
            self.counters.receivedV1Traps &+= 1
            self.counters.translatedV1ToV2 &+= 1
            self.dispatch(
                varbinds,
                v1Trap: (trap, message.community),
                sources: sources,
                inform: nil,
                from: endpoint,
                into: &sink
            )
        case (.v2c, .pdu(let pdu)) where pdu.type == .trapV2 || pdu.type == .inform:
            guard NotificationTranslation.isV2Form(pdu.varbinds) else {
                self.counters[.malformed] &+= 1
                return
            }
            var inform: IncomingInform?
            if pdu.type == .inform {
                self.counters.receivedV2cInforms &+= 1
                let key = InformKey(source: endpoint.remote, requestID: pdu.requestID)
                inform = IncomingInform(
                    key: key,
                    endpoint: endpoint,
                    reply: .community(message.community),
                    requestID: pdu.requestID,
                    varbinds: pdu.varbinds
                )
                if self.isRepeat(inform!, into: &sink) { return }
            } else {
                self.counters.receivedV2cTraps &+= 1
            }
            self.dispatch(pdu.varbinds, v1Trap: nil, sources: sources, inform: inform, from: endpoint, into: &sink)
        default:
            self.counters[.unexpectedPDU] &+= 1
        }
    }

    private func receiveV3<Sink: NotificationActionSink>(
        _ message: SNMPv3Message,
        datagram: ByteBuffer,
        candidates: [Int],
        from endpoint: ManagerEndpoint,
        into sink: inout Sink
    ) {
        let v3Candidates = candidates.filter { !self.snapshot.sources[$0].users.isEmpty }
        guard !v3Candidates.isEmpty, let usm = message.usm else {
            self.counters[.unknownSource] &+= 1
            return
        }
        if self.trapReceiver.knows(engineID: usm.authoritativeEngineID) {
            // A trap: its sender is authoritative.
            switch self.trapReceiver.receive(message, datagram: datagram, now: self.seconds) {
            case .drop:
                self.counters[.authentication] &+= 1
            case .accept(let scoped, let user, let engineID, _):
                let sources = Set(
                    v3Candidates.filter {
                        self.snapshot.sources[$0].users.contains(user)
                            && self.snapshot.sources[$0].engineIDs.contains(engineID)
                    }
                )
                guard !sources.isEmpty else {
                    self.counters[.authentication] &+= 1
                    return
                }
                guard scoped.pdu.type == .trapV2 else {
                    self.counters[.unexpectedPDU] &+= 1
                    return
                }
                guard NotificationTranslation.isV2Form(scoped.pdu.varbinds) else {
                    self.counters[.malformed] &+= 1
                    return
                }
                self.counters.receivedV3Traps &+= 1
                self.dispatch(scoped.pdu.varbinds, v1Trap: nil, sources: sources, inform: nil, from: endpoint, into: &sink)
            }
            return
        }
        // An inform (or its discovery): we are authoritative.
        switch self.engine.receive(message, datagram: datagram, engineTime: self.engineTime()) {
        case .drop:
            self.counters[.authentication] &+= 1
        case .report(let report, let kind):
            if kind != .unknownEngineIDs && kind != .notInTimeWindows {
                self.counters[.authentication] &+= 1
            }
            self.counters.reportsSent &+= 1
            sink.perform(.reply(report, to: endpoint))
        case .accept(let request):
            let user = request.user.name
            let sources = Set(v3Candidates.filter { self.snapshot.sources[$0].users.contains(user) })
            guard !sources.isEmpty else {
                self.counters[.authentication] &+= 1
                return
            }
            let pdu = request.scopedPDU.pdu
            guard pdu.type == .inform else {
                self.counters[.unexpectedPDU] &+= 1
                return
            }
            guard NotificationTranslation.isV2Form(pdu.varbinds) else {
                self.counters[.malformed] &+= 1
                return
            }
            self.counters.receivedV3Informs &+= 1
            let inform = IncomingInform(
                key: InformKey(source: endpoint.remote, requestID: pdu.requestID),
                endpoint: endpoint,
                reply: .usm(request.state, request.user),
                requestID: pdu.requestID,
                varbinds: pdu.varbinds
            )
            if self.isRepeat(inform, into: &sink) { return }
            self.dispatch(pdu.varbinds, v1Trap: nil, sources: sources, inform: inform, from: endpoint, into: &sink)
        }
    }

    /// A device's retransmission of an inform in hand: acknowledged again if it was, else ignored.
    private func isRepeat<Sink: NotificationActionSink>(_ inform: IncomingInform, into sink: inout Sink) -> Bool {
        // The same source, request-id and varbinds: a retransmission. Another inform that reuses
        // the request-id (a device that restarted its counter) is a new one.
        if let current = self.informsInFlight[inform.key], current.varbinds == inform.varbinds {
            self.counters.duplicateInforms &+= 1
            if current.acknowledged { self.answer(inform, into: &sink) }
            return true
        }
        if let (expiry, digest) = self.recentlyAcknowledged[inform.key] {
            if expiry > self.now && digest == inform.varbinds.hashValue {
                // Acknowledged before, and the acknowledgement was lost: answer this copy again
                // (its own msgID), without counting a second acknowledgement.
                self.counters.duplicateInforms &+= 1
                self.answer(inform, into: &sink)
                return true
            }
            self.recentlyAcknowledged[inform.key] = nil
        }
        return false
    }

    // MARK: - Forwarding

    /// One accepted notification in SNMPv2 form, from `sources`.
    private func dispatch<Sink: NotificationActionSink>(
        _ received: [VarBind],
        v1Trap: (trap: TrapV1PDU, community: ByteBuffer)?,
        sources: Set<Int>,
        inform: IncomingInform?,
        from endpoint: ManagerEndpoint,
        into sink: inout Sink
    ) {
        if self.snapshot.loopMarker && NotificationTranslation.carriesMarker(received, engineID: self.engineIDBuffer) {
            // We sent it: it came back through a loop. An inform is acknowledged (it did arrive).
            self.counters[.loop] &+= 1
            if let inform { self.acknowledge(inform, locally: true, into: &sink) }
            return
        }
        var transportSource: IPv4Address?
        if case .v4(let v4) = endpoint.remote {
            transportSource = IPv4Address(rawValue: UInt32(bigEndian: v4.address.sin_addr.s_addr))
        }
        var base = received
        NotificationTranslation.attribute(&base, transportSource: transportSource)

        // Every matching route forwards; a target gets the notification once, as the first route
        // naming it shaped it.
        var chosen: [(target: Int, varbinds: [VarBind])] = []
        var taken = Set<Int>()
        var matched = false
        var passed = false
        var local = false
        for route in self.snapshot.routes where !route.sources.isDisjoint(with: sources) {
            matched = true
            var input = base
            if route.communityVarbind, let v1Trap,
                var withCommunity = NotificationTranslation.v2Varbinds(from: v1Trap.trap, community: v1Trap.community)
            {
                NotificationTranslation.attribute(&withCommunity, transportSource: transportSource)
                input = withCommunity
            }
            guard let filtered = NotificationTranslation.filter(input, view: route.view, rewrites: route.rewrites)
            else { continue }
            var varbinds = filtered.varbinds
            let removed = filtered.removed
            passed = true
            local = local || route.acknowledgeLocally
            self.counters.varbindsRemoved &+= UInt64(removed)
            if self.snapshot.loopMarker {
                NotificationTranslation.mark(&varbinds, engineID: self.engineIDBuffer)
            }
            for target in route.targets where taken.insert(target).inserted {
                if self.snapshot.targets[target].address == endpoint.remote {
                    self.counters.skippedSource &+= 1
                    continue
                }
                chosen.append((target, varbinds))
            }
        }
        guard matched else {
            self.counters[.noRoute] &+= 1
            return
        }
        guard passed else {
            self.counters[.view] &+= 1
            return
        }
        if let inform {
            self.informsInFlight[inform.key] = inform
        }
        var trapsSent = 0
        var informTargets = 0
        for (target, varbinds) in chosen {
            let slot = self.targetSlots[target]
            if self.states[slot].target.kind == .inform { informTargets += 1 }
            switch self.send(varbinds, to: slot, origin: inform, into: &sink) {
            case .inform: break
            case .trap: trapsSent += 1
            case .notSent: break
            }
        }
        self.rearm(into: &sink)
        guard let inform else { return }
        if local || (informTargets == 0 && trapsSent > 0) {
            // `ack: local`, or the routes name only trap targets and the traps went out: nothing
            // downstream can acknowledge. An inform that went nowhere (every inform target full,
            // the only target its own sender) is not acknowledged: the device will try again.
            self.acknowledge(inform, locally: true, into: &sink)
        }
        if inform.outstanding == 0 {
            self.informsInFlight[inform.key] = nil
        }
    }

    enum Sent {
        case trap, inform, notSent
    }

    /// Sends to one target: a trap, an inform (whose acknowledgement will count), or nothing.
    private func send<Sink: NotificationActionSink>(
        _ varbinds: [VarBind],
        to slot: Int,
        origin: IncomingInform?,
        into sink: inout Sink
    ) -> Sent {
        let state = self.states[slot]
        let target = state.target
        switch (target.version, target.kind) {
        case (.v1, _):
            guard let trap = NotificationTranslation.v1Trap(from: varbinds) else {
                state.counters.counter64Dropped &+= 1
                return .notSent
            }
            self.counters.translatedV2ToV1 &+= 1
            var buffer = ByteBuffer()
            buffer.writeCommunityMessage(CommunityMessage(version: .v1, community: target.community, pdu: .trapV1(trap)))
            state.counters.traps &+= 1
            sink.perform(.send(buffer, to: target.address))
            return .trap
        case (_, .trap):
            let id = self.allocateID()
            let pdu = PDU(type: .trapV2, requestID: id, varbinds: varbinds)
            var buffer = ByteBuffer()
            if target.version == .v3 {
                // In place: the session (its keys, its salt sequence) is not copied per trap.
                guard let session = state.session else { return .notSent }
                do {
                    try session.client.synchronise(
                        engineID: self.engine.identity.engineID,
                        boots: self.engine.identity.boots,
                        time: self.engineTime(),
                        now: self.seconds
                    )
                } catch {
                    return .notSent
                }
                buffer.reserveCapacity(256 + 16 * varbinds.count)
                session.client.encodeRequest(pdu, messageID: id, now: self.seconds, into: &buffer)
            } else {
                buffer.writeCommunityMessage(CommunityMessage(version: .v2c, community: target.community, pdu: .pdu(pdu)))
            }
            state.counters.traps &+= 1
            sink.perform(.send(buffer, to: target.address))
            return .trap
        case (_, .inform):
            guard state.pending.count < target.maxPending else {
                state.counters.overflows &+= 1
                return .notSent
            }
            guard target.version != .v3 || state.session != nil else { return .notSent }
            let id = self.allocateID()
            var pending = PendingInform(
                target: target,
                session: state.session,
                datagram: ByteBuffer(),
                varbinds: varbinds,
                deadline: self.now + target.timeout,
                sentAt: self.now,
                retriesLeft: target.retries,
                origin: origin
            )
            pending.datagram = self.encodeInform(pending, id: id, counters: &state.counters)
            state.pending[id] = pending
            self.pendingByID[id] = slot
            origin?.outstanding += 1
            state.counters.informs &+= 1
            sink.perform(.send(pending.datagram, to: target.address))
            self.heap.push(DeadlineHeap.Entry(deadline: pending.deadline, socket: Int32(slot), requestID: id))
            return .inform
        }
    }

    /// The inform as it goes out now: for SNMPv3, a discovery probe until the receiver's engine is known.
    private func encodeInform(_ pending: PendingInform, id: Int32, counters: inout NotificationTargetCounters) -> ByteBuffer {
        let pdu = PDU(type: .inform, requestID: id, varbinds: pending.varbinds)
        var buffer = ByteBuffer()
        guard pending.target.version == .v3 else {
            buffer.writeCommunityMessage(CommunityMessage(version: .v2c, community: pending.target.community, pdu: .pdu(pdu)))
            return buffer
        }
        guard let session = pending.session else { return buffer }
        if session.client.engineID == nil, let known = pending.target.engineID {
            // Known beforehand: boots and time come from the receiver's notInTimeWindow Report.
            try? session.client.synchronise(engineID: known, boots: 0, time: 0, now: self.seconds)
        }
        if session.client.engineID == nil {
            counters.discoveries &+= 1
            return USMClient.discoveryRequest(messageID: id, requestID: id)
        }
        buffer.reserveCapacity(256 + 16 * pending.varbinds.count)
        session.client.encodeRequest(pdu, messageID: id, now: self.seconds, into: &buffer)
        return buffer
    }

    /// A request-id (and msgID) not pending: random, so that a spoofer off the path cannot guess
    /// the one an acknowledgement or a Report must carry.
    private func allocateID() -> Int32 {
        var id: Int32
        repeat {
            id = Int32.random(in: 1...Int32.max)
        } while self.pendingByID[id] != nil
        return id
    }

    // MARK: - From receivers

    /// A datagram on the relay's sending socket: a receiver's acknowledgement or Report.
    public func receiveFromTarget<Sink: NotificationActionSink>(
        _ datagram: ByteBuffer,
        from source: SocketAddress,
        now: Int64,
        into sink: inout Sink
    ) {
        self.now = now
        guard let message = try? SNMPMessage(decoding: datagram) else { return }
        switch message {
        case .community(let community):
            guard case .pdu(let pdu) = community.pdu, pdu.type == .response, community.version == .v2c,
                let slot = self.pendingByID[pdu.requestID]
            else { return }
            let state = self.states[slot]
            guard let pending = state.pending[pdu.requestID], pending.target.address == source,
                pending.target.version == .v2c, community.community == pending.target.community
            else {
                state.counters.invalidAnswers &+= 1
                return
            }
            self.finish(slot: slot, id: pdu.requestID, acknowledged: true, into: &sink)
        case .v3(let v3):
            guard let slot = self.pendingByID[v3.messageID] else { return }
            let state = self.states[slot]
            guard var pending = state.pending[v3.messageID], pending.target.address == source,
                pending.target.version == .v3, let session = pending.session
            else {
                state.counters.invalidAnswers &+= 1
                return
            }
            let id = v3.messageID
            let known = session.client.engineID
            let authenticated = v3.flags.contains(.authenticated)
            let event = session.client.receive(datagram, now: self.seconds)
            switch event {
            case .invalid:
                state.counters.invalidAnswers &+= 1
            case .response(_, let scoped):
                guard scoped.pdu.type == .response, scoped.pdu.requestID == id else {
                    state.counters.invalidAnswers &+= 1
                    return
                }
                self.finish(slot: slot, id: id, acknowledged: true, into: &sink)
            case .report(_, let kind, _)
            where kind == .unknownEngineIDs || kind == .notInTimeWindows:
                // Discovered, resynchronised, or the receiver's engine changed. An unauthenticated
                // Report is believed only for discovery; one that names another engine than the
                // one known makes us discover again (a fresh probe, not the Report's word), unless
                // the engine ID is configured.
                if kind == .unknownEngineIDs, let known, v3.usm?.authoritativeEngineID != ByteBuffer(bytes: known) {
                    guard pending.target.engineID == nil else {
                        state.counters.reports &+= 1
                        self.finish(slot: slot, id: id, acknowledged: false, into: &sink)
                        return
                    }
                    if let fresh = TargetState.session(for: pending.target) {
                        pending.session = fresh
                        if state.session === session { state.session = fresh }
                    }
                } else if kind == .notInTimeWindows && !authenticated && known != nil {
                    // Not from the receiver's keys: a resend would not change anything.
                    state.counters.invalidAnswers &+= 1
                    return
                }
                guard pending.resends < Self.maximumResends else {
                    state.counters.reports &+= 1
                    self.finish(slot: slot, id: id, acknowledged: false, into: &sink)
                    return
                }
                pending.resends += 1
                pending.datagram = self.encodeInform(pending, id: id, counters: &state.counters)
                pending.retriesLeft = pending.target.retries
                pending.deadline = self.now + pending.target.timeout
                pending.sentAt = self.now
                state.pending[id] = pending
                sink.perform(.send(pending.datagram, to: pending.target.address))
                self.heap.push(DeadlineHeap.Entry(deadline: pending.deadline, socket: Int32(slot), requestID: id))
                self.rearm(into: &sink)
            case .report:
                // wrongDigests, unknownUserNames… (unauthenticated by nature, RFC 3412 §7.1):
                // counted, so that an operator sees the wrong key; the inform ends by its timeout,
                // not on a Report anyone on the path could forge.
                state.counters.reports &+= 1
                if authenticated || known == nil {
                    self.finish(slot: slot, id: id, acknowledged: false, into: &sink)
                }
            }
        }
    }

    /// An inform to a receiver is over: acknowledged, refused or timed out.
    private func finish<Sink: NotificationActionSink>(slot: Int, id: Int32, acknowledged: Bool, into sink: inout Sink) {
        let state = self.states[slot]
        guard let pending = state.pending.removeValue(forKey: id) else { return }
        self.pendingByID[id] = nil
        if acknowledged { state.counters.acknowledged &+= 1 }
        guard let origin = pending.origin else { return }
        origin.outstanding -= 1
        if acknowledged && !origin.acknowledged {
            self.acknowledge(origin, into: &sink)
        }
        if origin.outstanding == 0 {
            if !origin.acknowledged { self.counters.unacknowledgedInforms &+= 1 }
            if self.informsInFlight[origin.key] === origin { self.informsInFlight[origin.key] = nil }
        }
    }

    /// Answers a device's inform: a Response with its request-id and varbinds (RFC 3416 §4.2.7).
    private func acknowledge<Sink: NotificationActionSink>(
        _ inform: IncomingInform,
        locally: Bool = false,
        into sink: inout Sink
    ) {
        if !inform.acknowledged {
            inform.acknowledged = true
            if locally {
                self.counters.acknowledgedLocally &+= 1
            } else {
                self.counters.acknowledgedForwarded &+= 1
            }
            self.remember(inform)
        }
        self.answer(inform, into: &sink)
    }

    /// Sends the Response to a device's inform (or to its retransmission), counting nothing.
    private func answer<Sink: NotificationActionSink>(_ inform: IncomingInform, into sink: inout Sink) {
        let response = PDU(type: .response, requestID: inform.requestID, varbinds: inform.varbinds)
        var buffer = ByteBuffer()
        switch inform.reply {
        case .community(let community):
            buffer.writeCommunityMessage(CommunityMessage(version: .v2c, community: community, pdu: .pdu(response)))
        case .usm(let state, let user):
            guard self.engine.encodeResponse(response, to: state, user: user, engineTime: self.engineTime(), into: &buffer)
            else { return }
        }
        sink.perform(.reply(buffer, to: inform.endpoint))
    }

    private func remember(_ inform: IncomingInform) {
        if self.recentlyAcknowledged.count >= Self.recentCapacity {
            let now = self.now
            self.recentlyAcknowledged = self.recentlyAcknowledged.filter { $0.value.expiry > now }
            if self.recentlyAcknowledged.count >= Self.recentCapacity { self.recentlyAcknowledged.removeAll() }
        }
        self.recentlyAcknowledged[inform.key] = (self.now + Self.recentLifetime, inform.varbinds.hashValue)
    }

    // MARK: - Time

    public func timerFired<Sink: NotificationActionSink>(now: Int64, into sink: inout Sink) {
        self.now = now
        self.armed = nil
        while let entry = self.heap.popDue(now: now) {
            let slot = Int(entry.socket)
            let state = self.states[slot]
            guard var pending = state.pending[entry.requestID], pending.deadline == entry.deadline else { continue }
            if pending.retriesLeft > 0 {
                pending.retriesLeft -= 1
                pending.deadline = now + pending.target.timeout
                pending.sentAt = now
                state.pending[entry.requestID] = pending
                state.counters.retransmissions &+= 1
                sink.perform(.send(pending.datagram, to: pending.target.address))
                self.heap.push(DeadlineHeap.Entry(deadline: pending.deadline, socket: entry.socket, requestID: entry.requestID))
            } else {
                state.counters.timeouts &+= 1
                self.finish(slot: slot, id: entry.requestID, acknowledged: false, into: &sink)
            }
        }
        if self.heap.count > 64 && self.heap.count > 2 * self.pendingByID.count {
            var live: [DeadlineHeap.Entry] = []
            for (id, slot) in self.pendingByID {
                if let pending = self.states[slot].pending[id] {
                    live.append(DeadlineHeap.Entry(deadline: pending.deadline, socket: Int32(slot), requestID: id))
                }
            }
            self.heap.rebuild(live)
        }
        self.rearm(into: &sink)
    }

    private func rearm<Sink: NotificationActionSink>(into sink: inout Sink) {
        guard let earliest = self.heap.earliest?.deadline else { return }
        if let armed = self.armed, armed <= earliest, armed > self.now { return }
        self.armed = earliest
        sink.perform(.armTimer(deadline: earliest))
    }

    // MARK: - Storms

    /// A token bucket per allowed source (an IPv4 address, an IPv6 /64). The table is bounded: when
    /// it is full of sources that are not idle, a new source shares one overflow bucket, so that no
    /// flood of addresses can refill a storming device's bucket.
    private func allow(_ source: IPAddressBits) -> Bool {
        let rate = Double(self.snapshot.sourceRate)
        let burst = Double(self.snapshot.sourceBurst)
        var address = source
        if !address.isIPv4 { address.low = 0 }
        if self.buckets[address] == nil && self.buckets.count >= Self.bucketCapacity {
            let now = self.now
            // Forget the sources whose bucket has refilled (they have been quiet).
            self.buckets = self.buckets.filter { Double(now - $0.value.updated) / 1e9 * rate + $0.value.tokens < burst }
            if self.buckets.count >= Self.bucketCapacity { address = Self.overflowBucket }
        }
        var bucket = self.buckets[address] ?? Bucket(tokens: burst, updated: self.now)
        let elapsed = Double(max(0, self.now - bucket.updated)) / 1e9
        bucket.tokens = min(burst, bucket.tokens + elapsed * rate)
        bucket.updated = self.now
        let allowed = bucket.tokens >= 1
        if allowed { bucket.tokens -= 1 }
        self.buckets[address] = bucket
        return allowed
    }
}

@available(*, unavailable)
extension NotificationMachine: Sendable {}
