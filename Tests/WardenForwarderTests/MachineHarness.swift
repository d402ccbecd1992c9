//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOCore
import SNMPSecurity
import SNMPWire
import Testing
import WardenForwarder
import WardenPolicy
import WardenSimulator

/// Collects the machine's actions.
struct CollectingSink: GatewayActionSink {
    var actions: [GatewayAction] = []

    mutating func perform(_ action: GatewayAction) {
        // The machine reuses a reply's buffer after the call: keep a copy, as the event loop does.
        switch action {
        case .reply(let datagram, let endpoint):
            self.actions.append(.reply(ByteBuffer(buffer: datagram), to: endpoint))
        case .sendToBackend(let datagram, let socket, let address):
            self.actions.append(.sendToBackend(ByteBuffer(buffer: datagram), socket: socket, to: address))
        default:
            self.actions.append(action)
        }
    }
}

extension ByteBuffer {
    /// A copy with storage of its own.
    init(buffer: ByteBuffer) {
        self.init()
        self.writeImmutableBuffer(buffer)
    }
}

/// The shipped ``RequestMachine`` with nothing but datagrams around it: managers on the v2c front
/// end (community `public`) and agents played in-process by closures. The machine's own encoding,
/// decoding, request-ids, sockets and timers are all exercised; only the network is missing.
final class MachineHarness {
    struct Agent {
        var version: SNMPVersion
        var community: String
        var respond: (PDU) -> PDU?
    }

    let machine: RequestMachine
    var agents: [SocketAddress: Agent] = [:]
    var now: Int64 = 1_000_000_000
    /// Back-end datagrams the machine sent (first tries and retransmissions).
    var backendPackets = 0
    /// The timer deadline last armed.
    var armed: Int64?
    var audits: [AuditEvent] = []
    /// Back-end requests an agent did not answer (its `respond` gave nil), in the order sent: what
    /// ``answerHeld(_:)`` can answer later.
    var held: [(pdu: PDU, socket: Int, address: SocketAddress)] = []
    var observations: [Observation] = []
    static let manager = try! SocketAddress(ipAddress: "192.0.2.99", port: 40_000)

    static let engineID: [UInt8] = [0x80, 0, 0x1F, 0x88, 0x04, 1, 2, 3]
    /// A v3 manager, user `noc` at noAuthNoPriv (USM itself is tested in SNMPSecurityTests).
    var client: USMClient

    init(snapshot: ForwardingSnapshot, loopCount: Int = 1) {
        let usm = try! USMAuthoritativeEngine(
            identity: EngineIdentity(engineID: Self.engineID, boots: 1),
            users: [USMUserConfiguration(name: "noc")]
        )
        self.machine = RequestMachine(snapshot: snapshot, usm: usm, loopCount: loopCount, engineTimeOrigin: 0)
        self.client = try! USMClient(user: USMUserConfiguration(name: "noc"))
        try! self.client.synchronise(engineID: Self.engineID, boots: 1, time: 1, now: 1)
    }

    /// Sends `request` as the v3 user `noc` with `context`; returns the decoded answers.
    func askV3(_ request: PDU, context: String) -> [PDU] {
        var buffer = ByteBuffer()
        self.client.encodeRequest(
            request,
            messageID: request.requestID,
            contextName: ByteBuffer(string: context),
            now: 1,
            into: &buffer
        )
        return self.fromManager(buffer)
    }

    /// One route for community `public` to one agent at 192.0.2.1:161 speaking `version`.
    convenience init(
        policy: RoutePolicy,
        version: SNMPVersion,
        rounds: Int = 32,
        timeout: Int64 = 1_000_000_000,
        retries: Int = 1,
        maxInFlight: Int = 0,
        loopCount: Int = 1,
        respond: @escaping (PDU) -> PDU?
    ) {
        let snapshot = Self.oneAgent(
            policy: policy,
            version: version,
            rounds: rounds,
            timeout: timeout,
            retries: retries,
            maxInFlight: maxInFlight
        )
        self.init(snapshot: snapshot, loopCount: loopCount)
        self.agents[Self.agentAddress] = Agent(version: version, community: "agentcomm", respond: respond)
    }

    static let agentAddress = try! SocketAddress(ipAddress: "192.0.2.1", port: 161)

    /// The snapshot of ``init(policy:version:rounds:timeout:retries:maxInFlight:loopCount:respond:)``:
    /// one pool of 2 sockets, for a reload to replace it with another of the same shape.
    static func oneAgent(
        policy: RoutePolicy,
        version: SNMPVersion,
        rounds: Int = 32,
        timeout: Int64 = 1_000_000_000,
        retries: Int = 1,
        maxInFlight: Int = 0
    ) -> ForwardingSnapshot {
        let backend = BackendTarget(
            name: "agent",
            index: 0,
            kind: .agent(
                BackendTarget.Agent(
                    address: Self.agentAddress,
                    version: version,
                    community: ByteBuffer(string: "agentcomm"),
                    timeout: timeout,
                    retries: retries,
                    pool: 0,
                    maxInFlight: maxInFlight
                )
            )
        )
        return ForwardingSnapshot(
            routes: [RouteTarget(name: "r", index: 0, backend: .fixed(backend), policy: policy, dropOnTimeout: false)],
            routeTable: RouteTable(rules: [RouteTable.Rule(users: [], communities: [Array("public".utf8)], context: nil, sources: [])]),
            backends: [backend],
            limits: ForwardingLimits(maxBackendRequests: rounds),
            pools: [try! SocketAddress(ipAddress: "0.0.0.0", port: 0)],
            socketsPerPool: 2
        )
    }

    /// Sends `request` from a v2c manager and plays the agents until the machine replies (or stops
    /// acting); returns the decoded replies.
    func ask(_ request: PDU, community: String = "public", version: SNMPVersion = .v2c) -> [PDU] {
        var buffer = ByteBuffer()
        buffer.writeCommunityMessage(CommunityMessage(version: version, community: ByteBuffer(string: community), pdu: .pdu(request)))
        return self.fromManager(buffer)
    }

    /// A datagram from the manager, and the agents played until the machine stops acting.
    func fromManager(_ datagram: ByteBuffer) -> [PDU] {
        var sink = CollectingSink()
        self.machine.receiveFromManager(
            datagram,
            from: ManagerEndpoint(listener: 0, remote: Self.manager),
            now: self.now,
            into: &sink
        )
        return self.play(sink.actions)
    }

    /// Performs actions: agents answer back-end datagrams at once; replies are decoded and returned.
    func play(_ actions: [GatewayAction]) -> [PDU] {
        var queue = actions
        var replies: [PDU] = []
        while !queue.isEmpty {
            let action = queue.removeFirst()
            switch action {
            case .reply(let datagram, _):
                switch try! SNMPMessage(decoding: datagram) {
                case .community(let message):
                    guard case .pdu(let pdu) = message.pdu else {
                        Issue.record("not a PDU")
                        continue
                    }
                    replies.append(pdu)
                case .v3:
                    guard case .response(_, let scoped) = self.client.receive(datagram, now: 1) else {
                        Issue.record("not a v3 response")
                        continue
                    }
                    replies.append(scoped.pdu)
                }
            case .sendToBackend(let datagram, let socket, let address):
                self.backendPackets += 1
                guard let agent = self.agents[address],
                    case .community(let message) = try! SNMPMessage(decoding: datagram),
                    case .pdu(let pdu) = message.pdu
                else { continue }
                #expect(message.version == agent.version && message.community == ByteBuffer(string: agent.community))
                guard let answer = agent.respond(pdu) else {
                    self.held.append((pdu, socket, address))
                    continue
                }
                var reply = ByteBuffer()
                var response = answer
                response.requestID = pdu.requestID
                reply.writeCommunityMessage(
                    CommunityMessage(version: agent.version, community: ByteBuffer(string: agent.community), pdu: .pdu(response))
                )
                var sink = CollectingSink()
                self.machine.receiveFromBackend(reply, socket: socket, from: address, now: self.now, into: &sink)
                queue += sink.actions
            case .armTimer(let deadline):
                self.armed = deadline
            case .audit(let event):
                self.audits.append(event)
            case .observe(let observation):
                self.observations.append(observation)
            }
        }
        return replies
    }

    /// The agent answers the held request at `index` (removed from ``held``) with `answer` (the
    /// request's own varbinds by default); returns the manager's replies that follow.
    func answerHeld(_ index: Int, with answer: PDU? = nil) -> [PDU] {
        let (request, socket, address) = self.held.remove(at: index)
        let agent = self.agents[address]!
        var response = answer ?? PDU(type: .response, requestID: 0, varbinds: request.varbinds)
        response.requestID = request.requestID
        var reply = ByteBuffer()
        reply.writeCommunityMessage(
            CommunityMessage(version: agent.version, community: ByteBuffer(string: agent.community), pdu: .pdu(response))
        )
        var sink = CollectingSink()
        self.machine.receiveFromBackend(reply, socket: socket, from: address, now: self.now, into: &sink)
        return self.play(sink.actions)
    }

    /// Moves the clock to the armed deadline and fires the timer.
    func fireTimer() -> [PDU] {
        guard let armed = self.armed else { return [] }
        self.armed = nil
        self.now = max(self.now, armed)
        var sink = CollectingSink()
        self.machine.timerFired(now: self.now, into: &sink)
        return self.play(sink.actions)
    }
}
