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

/// An SNMPv3 agent played in-process by ``USMAuthoritativeEngine`` (the engine the gateway serves
/// its own managers with), so that its Reports and Responses are real USM.
final class PlayedV3Agent {
    private(set) var engine: USMAuthoritativeEngine
    private var users: [USMUserConfiguration]
    /// snmpEngineTime is this many seconds when the lab's clock is 0.
    var timeOffset: Int64 = 5_000
    /// The agent's answer to a request it accepted; nil: no answer.
    var respond: (PDU) -> PDU?
    /// The PDUs it accepted and the Reports it sent.
    private(set) var accepted: [ScopedPDU] = []
    private(set) var reports: [USMReportKind] = []
    /// Each datagram as the machine sent it.
    private(set) var received: [SNMPv3Message] = []

    init(engineID: [UInt8], boots: Int32 = 7, users: [USMUserConfiguration], respond: @escaping (PDU) -> PDU?) {
        self.users = users
        self.engine = try! USMAuthoritativeEngine(
            identity: EngineIdentity(engineID: engineID, boots: boots),
            users: users
        )
        self.respond = respond
    }

    /// A restart: the same engine ID with engineBoots one more, and engineTime from 0 again.
    func reboot(now: Int64) {
        self.replaceEngine(engineID: self.engine.identity.engineID, boots: self.engine.identity.boots + 1, now: now)
    }

    /// Another engine (a replaced device, or a re-initialised one).
    func replaceEngine(engineID: [UInt8], boots: Int32 = 1, now: Int64, users: [USMUserConfiguration]? = nil) {
        self.users = users ?? self.users
        self.engine = try! USMAuthoritativeEngine(
            identity: EngineIdentity(engineID: engineID, boots: boots),
            users: self.users
        )
        self.timeOffset = -now / 1_000_000_000
    }

    /// The agent's answer to one datagram (a Response, a Report or nothing).
    func answer(_ datagram: ByteBuffer, now: Int64) -> ByteBuffer? {
        guard case .v3(let message) = try! SNMPMessage(decoding: datagram) else {
            Issue.record("a v3 agent got a community message")
            return nil
        }
        self.received.append(message)
        let time = Int32(self.timeOffset + now / 1_000_000_000)
        switch self.engine.receive(message, datagram: datagram, engineTime: time) {
        case .accept(let request):
            self.accepted.append(request.scopedPDU)
            guard var response = self.respond(request.scopedPDU.pdu) else { return nil }
            response.type = .response
            response.requestID = request.scopedPDU.pdu.requestID
            var out = ByteBuffer()
            self.engine.encodeResponse(response, to: request.state, user: request.user, engineTime: time, into: &out)
            return out
        case .report(let report, let kind):
            self.reports.append(kind)
            return report
        case .drop:
            return nil
        }
    }
}

/// The shipped machine with one SNMPv3 agent behind it, reached as user `agentuser`; managers on
/// the v2c front end (community `public`).
final class V3BackendLab {
    static let agentAddress = try! SocketAddress(ipAddress: "192.0.2.1", port: 161)
    static let agentEngineID: [UInt8] = [0x80, 0, 0x1F, 0x88, 0x04] + Array("played-agent".utf8)
    static let user = USMUserConfiguration(
        name: "agentuser",
        auth: (.sha256, .passphrase("agent-auth-pass")),
        privacy: (.aes128, .passphrase("agent-priv-pass"))
    )

    let machine: RequestMachine
    let agent: PlayedV3Agent
    var now: Int64 = 1_000_000_000_000
    var armed: Int64?
    var audits: [AuditEvent] = []
    /// Back-end datagrams the machine sent (first tries, re-sends and retransmissions).
    var backendPackets = 0
    /// Between the machine and the agent: what reaches the machine for each of the agent's
    /// answers, and from where (by default the answer itself, from the agent's address).
    var network: (ByteBuffer) -> [(ByteBuffer, SocketAddress)] = { [($0, V3BackendLab.agentAddress)] }

    init(
        user: USMUserConfiguration = V3BackendLab.user,
        agentUsers: [USMUserConfiguration] = [V3BackendLab.user],
        contextName: String = "",
        engineID: [UInt8]? = nil,
        policy: RoutePolicy = RoutePolicy(
            readView: ViewPolicy(include: [[1, 3, 6, 1]], exclude: []),
            writeView: nil,
            rewrites: []
        ),
        dropOnTimeout: Bool = false,
        respond: @escaping (PDU) -> PDU? = V3BackendLab.sysName
    ) {
        self.agent = PlayedV3Agent(engineID: Self.agentEngineID, users: agentUsers, respond: respond)
        let usm = try! USMAuthoritativeEngine(
            identity: EngineIdentity(engineID: [0x80, 0, 0x1F, 0x88, 0x04] + Array("gateway".utf8), boots: 1),
            users: []
        )
        self.machine = RequestMachine(
            snapshot: Self.snapshot(
                user: user,
                contextName: contextName,
                engineID: engineID,
                policy: policy,
                dropOnTimeout: dropOnTimeout
            ),
            usm: usm,
            loopCount: 1,
            engineTimeOrigin: 0
        )
    }

    static func snapshot(
        user: USMUserConfiguration,
        contextName: String = "",
        engineID: [UInt8]? = nil,
        policy: RoutePolicy = RoutePolicy(
            readView: ViewPolicy(include: [[1, 3, 6, 1]], exclude: []),
            writeView: nil,
            rewrites: []
        ),
        dropOnTimeout: Bool = false
    ) -> ForwardingSnapshot {
        let backend = BackendTarget(
            name: "v3-agent",
            index: 0,
            kind: .agent(
                BackendTarget.Agent(
                    address: Self.agentAddress,
                    usm: BackendTarget.Agent.USM(
                        user: user,
                        contextName: ByteBuffer(string: contextName),
                        engineID: engineID
                    ),
                    timeout: 1_000_000_000,
                    retries: 1,
                    pool: 0
                )
            )
        )
        return ForwardingSnapshot(
            routes: [
                RouteTarget(name: "r", index: 0, backend: .fixed(backend), policy: policy, dropOnTimeout: dropOnTimeout)
            ],
            routeTable: RouteTable(rules: [
                RouteTable.Rule(users: [], communities: [Array("public".utf8)], context: nil, sources: [])
            ]),
            backends: [backend],
            limits: ForwardingLimits(),
            pools: [try! SocketAddress(ipAddress: "0.0.0.0", port: 0)],
            socketsPerPool: 2
        )
    }

    /// sysName.0 = "played", and the agent's Get answer for anything.
    static func sysName(_ request: PDU) -> PDU? {
        PDU(
            type: .response,
            requestID: request.requestID,
            varbinds: request.varbinds.map { VarBind(oid: $0.oid, value: .string("played")) }
        )
    }

    /// Sends `request` from a v2c manager and plays the agent until the machine stops acting.
    func ask(_ request: PDU = sysNameGet) -> [PDU] {
        var buffer = ByteBuffer()
        buffer.writeCommunityMessage(
            CommunityMessage(version: .v2c, community: ByteBuffer(string: "public"), pdu: .pdu(request))
        )
        var sink = CollectingSink()
        self.machine.receiveFromManager(
            buffer,
            from: ManagerEndpoint(listener: 0, remote: MachineHarness.manager),
            now: self.now,
            into: &sink
        )
        return self.play(sink.actions)
    }

    /// Performs actions: the agent answers back-end datagrams at once (through ``network``).
    func play(_ actions: [GatewayAction]) -> [PDU] {
        var queue = actions
        var replies: [PDU] = []
        while !queue.isEmpty {
            switch queue.removeFirst() {
            case .reply(let datagram, _):
                guard case .community(let message) = try! SNMPMessage(decoding: datagram),
                    case .pdu(let pdu) = message.pdu
                else {
                    Issue.record("not a community answer")
                    continue
                }
                replies.append(pdu)
            case .sendToBackend(let datagram, let socket, let address):
                self.backendPackets += 1
                #expect(address == Self.agentAddress)
                guard let answer = self.agent.answer(datagram, now: self.now) else { continue }
                for (delivered, source) in self.network(answer) {
                    var sink = CollectingSink()
                    self.machine.receiveFromBackend(delivered, socket: socket, from: source, now: self.now, into: &sink)
                    queue += sink.actions
                }
            case .armTimer(let deadline):
                self.armed = deadline
            case .audit(let event):
                self.audits.append(event)
            case .observe:
                break
            }
        }
        return replies
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

    /// The audited reasons of back-end Reports.
    var reportAudits: [String] {
        self.audits.compactMap {
            if case .backendReport(let backend, let user, let reason) = $0, backend == "v3-agent" {
                #expect(user == "agentuser")
                return reason
            }
            return nil
        }
    }
}

let sysNameGet = PDU(type: .get, requestID: 42, varbinds: [VarBind(oid: "1.3.6.1.2.1.1.5.0")])

extension SNMPv3Message {
    var isDiscoveryProbe: Bool {
        self.usm?.authoritativeEngineID.readableBytes == 0 && self.usm?.userName.readableBytes == 0
    }
}

@Suite("SNMPv3 back ends through the shipped machine, against a played agent")
struct V3BackendTests {
    @Test("the first request discovers the agent's engine, then goes authPriv; later requests need no discovery")
    func discoveryThenRequest() throws {
        let lab = V3BackendLab()
        let replies = lab.ask()
        #expect(replies.count == 1 && replies.first?.varbinds.first?.value == .string("played"), "\(replies)")
        #expect(replies.first?.requestID == 42)
        let sent = lab.agent.received
        try #require(sent.count == 2)
        #expect(sent[0].isDiscoveryProbe && sent[0].flags == .reportable)
        #expect(sent[1].flags == [.authenticated, .privacy, .reportable])
        #expect(sent[1].usm?.authoritativeEngineID == ByteBuffer(bytes: V3BackendLab.agentEngineID))
        #expect(sent[1].usm?.userName == ByteBuffer(string: "agentuser"))
        // The boots and time the discovery Report carried: no time-window Report.
        #expect(sent[1].usm?.authoritativeEngineBoots == 7)
        #expect(lab.agent.reports == [.unknownEngineIDs])
        // msgID and request-id are the id the machine chose.
        #expect(lab.agent.accepted.first?.pdu.requestID == sent[1].messageID)
        #expect(lab.machine.counters.backendDiscoveries == 1)
        #expect(lab.machine.counters.backendReportsUnknownEngineIDs == 1)
        #expect(lab.machine.counters.backendResponses == 1 && lab.machine.pendingCount == 0)

        let again = lab.ask()
        #expect(again.first?.varbinds.first?.value == .string("played"))
        #expect(lab.agent.received.count == 3 && lab.machine.counters.backendDiscoveries == 1)
        #expect(lab.audits.isEmpty)
    }

    @Test(
        "the agent restarted (engineBoots one more): its notInTimeWindows Report resynchronises and the request is sent again"
    )
    func notInTimeWindow() {
        let lab = V3BackendLab()
        _ = lab.ask()
        lab.now += 30_000_000_000
        lab.agent.reboot(now: lab.now)
        let replies = lab.ask()
        #expect(replies.first?.varbinds.first?.value == .string("played"), "\(replies)")
        #expect(lab.agent.reports == [.unknownEngineIDs, .notInTimeWindows])
        #expect(lab.agent.received.last?.usm?.authoritativeEngineBoots == 8)
        #expect(lab.machine.counters.backendReportsNotInTimeWindows == 1)
        #expect(lab.machine.counters.backendUSMFailures == 0 && lab.audits.isEmpty)
    }

    @Test("engine-id known beforehand: no discovery probe, only the time synchronisation")
    func configuredEngineID() {
        let lab = V3BackendLab(engineID: V3BackendLab.agentEngineID)
        let replies = lab.ask()
        #expect(replies.first?.varbinds.first?.value == .string("played"), "\(replies)")
        #expect(!lab.agent.received.contains { $0.isDiscoveryProbe })
        #expect(lab.agent.reports == [.notInTimeWindows])
        #expect(lab.machine.counters.backendDiscoveries == 0)
        // An agent with another engine ID than the one configured: the request fails, nothing is learned.
        lab.agent.replaceEngine(engineID: [0x80, 0, 0x1F, 0x88, 0x04] + Array("impostor".utf8), now: lab.now)
        let failed = lab.ask()
        #expect(failed.first?.errorStatus == .genErr, "\(failed)")
        #expect(lab.reportAudits == ["unknownEngineIDs"])
    }

    @Test("an agent replaced by another engine (new engine ID): discovered again with a fresh probe, not on its Report's word")
    func replacedAgent() {
        let lab = V3BackendLab()
        _ = lab.ask()
        lab.agent.replaceEngine(engineID: [0x80, 0, 0x1F, 0x88, 0x04] + Array("replacement".utf8), now: lab.now)
        let replies = lab.ask()
        #expect(replies.first?.varbinds.first?.value == .string("played"), "\(replies)")
        // The unauthenticated Report naming another engine is not believed: a new probe asks.
        #expect(lab.machine.counters.backendDiscoveries == 2)
        #expect(lab.agent.reports == [.unknownEngineIDs, .unknownEngineIDs, .unknownEngineIDs])
        #expect(
            lab.agent.received.last?.usm?.authoritativeEngineID == ByteBuffer(bytes: lab.agent.engine.identity.engineID)
        )
    }

    @Test("an agent that answers every request with a Report: bounded re-sends, then genErr, counted and audited")
    func reportLoopIsBounded() {
        let lab = V3BackendLab()
        _ = lab.ask()
        let before = lab.backendPackets
        // The agent restarts before each request reaches it: every request meets notInTimeWindows.
        let network = lab.network
        lab.network = { answer in
            lab.agent.reboot(now: lab.now)
            return network(answer)
        }
        lab.agent.reboot(now: lab.now)
        let replies = lab.ask()
        #expect(replies.count == 1 && replies.first?.errorStatus == .genErr, "\(replies)")
        #expect(lab.backendPackets - before == 1 + RequestMachine.maximumUSMResends)
        #expect(lab.machine.counters.backendReportsNotInTimeWindows == 3)
        #expect(lab.machine.counters.backendUSMFailures == 1 && lab.machine.pendingCount == 0)
        #expect(lab.reportAudits == ["notInTimeWindows"])
        // The route counts it as a timeout (genErr after the last try); no back-end timeout.
        #expect(lab.machine.counters.backendTimeouts == 0)
    }

    @Test("wrong password, unknown user, wrong level: the agent's Report ends the request at once with genErr")
    func errorReports() {
        let wrongPassword = USMUserConfiguration(
            name: "agentuser",
            auth: (.sha256, .passphrase("not-the-password")),
            privacy: (.aes128, .passphrase("agent-priv-pass"))
        )
        let other = USMUserConfiguration(name: "stranger", auth: (.sha256, .passphrase("stranger-pass")))
        let authOnly = USMUserConfiguration(name: "agentuser", auth: (.sha256, .passphrase("agent-auth-pass")))
        for (user, kind) in [
            (wrongPassword, USMReportKind.wrongDigests), (other, .unknownUserNames), (authOnly, .unsupportedSecLevels),
        ] {
            let lab = V3BackendLab(user: user)
            // Answered at once: no timer fired.
            let replies = lab.ask()
            #expect(replies.first?.errorStatus == .genErr, "\(kind): \(replies)")
            #expect(lab.machine.counters.backendUSMFailures == 1 && lab.machine.pendingCount == 0)
            #expect(lab.agent.reports == [.unknownEngineIDs, kind])
            #expect(
                lab.audits.count == 1
                    && lab.audits.allSatisfy {
                        if case .backendReport(_, let name, let reason) = $0 {
                            return reason == "\(kind)" && name == user.name
                        }
                        return false
                    },
                "\(lab.audits)"
            )
            // Audited at most once a minute per back end, address and kind; counted every time.
            _ = lab.ask()
            #expect(lab.machine.counters.backendUSMFailures == 2 && lab.audits.count == 1)
        }
        // on-timeout: drop says nothing.
        let lab = V3BackendLab(user: wrongPassword, dropOnTimeout: true)
        #expect(lab.ask().isEmpty)
        #expect(lab.machine.counters.backendReportsWrongDigests == 1 && lab.machine.counters.droppedOnTimeout == 1)
    }

    @Test("answers that fail USM (a wrong digest) or come from another address are ignored; the real one still counts")
    func forgedAnswers() throws {
        let lab = V3BackendLab()
        _ = lab.ask()
        let other = try SocketAddress(ipAddress: "192.0.2.2", port: 161)
        lab.network = { answer in
            // One octet of the MAC changed; then the genuine answer from a neighbour; then from the agent.
            guard case .v3(let message) = try! SNMPMessage(decoding: answer),
                let mac = message.wireLayout?.authenticationParameters
            else { return [] }
            var tampered = answer
            let index = tampered.readerIndex + mac.lowerBound
            tampered.setInteger(tampered.getInteger(at: index, as: UInt8.self)! ^ 0x01, at: index)
            return [(tampered, V3BackendLab.agentAddress), (answer, other), (answer, V3BackendLab.agentAddress)]
        }
        let replies = lab.ask()
        #expect(replies.count == 1 && replies.first?.varbinds.first?.value == .string("played"), "\(replies)")
        #expect(lab.machine.counters.backendUSMInvalid == 1)
        #expect(lab.machine.counters.backendWrongSource == 1)
        #expect(lab.machine.counters.backendResponses == 2)

        // A community answer to a v3 request is of the wrong version.
        lab.network = { answer in
            guard case .v3(let message) = try! SNMPMessage(decoding: answer) else { return [] }
            var community = ByteBuffer()
            community.writeCommunityMessage(
                CommunityMessage(
                    version: .v2c,
                    community: ByteBuffer(),
                    pdu: .pdu(PDU(type: .response, requestID: message.messageID, varbinds: []))
                )
            )
            return [(community, V3BackendLab.agentAddress), (answer, V3BackendLab.agentAddress)]
        }
        #expect(lab.ask().first?.varbinds.first?.value == .string("played"))
        #expect(lab.machine.counters.backendMalformed == 1)
    }

    @Test("a lost discovery Report: the probe is retransmitted like any request")
    func retransmittedProbe() {
        let lab = V3BackendLab()
        var dropped = false
        lab.network = { answer in
            if !dropped {
                dropped = true
                return []
            }
            return [(answer, V3BackendLab.agentAddress)]
        }
        #expect(lab.ask().isEmpty)
        let replies = lab.fireTimer()
        #expect(replies.first?.varbinds.first?.value == .string("played"), "\(replies)")
        #expect(lab.agent.received.prefix(2).allSatisfy { $0.isDiscoveryProbe })
        #expect(lab.machine.counters.backendRetransmissions == 1 && lab.machine.counters.backendDiscoveries == 1)
    }

    @Test("GetBulk goes as one GetBulk in the configured context, and a view filters the walk as with v2c")
    func getBulkContextAndView() {
        // The agent's MIB: 1.3.6.1.2.1.1.1.0 … 1.3.6.1.2.1.1.6.0; the view hides .4 (sysContact).
        let mib: [VarBind] = (1...6).map {
            VarBind(oid: OID(dotted: "1.3.6.1.2.1.1.\($0).0")!, value: .string("object \($0)"))
        }
        func walk(_ request: PDU) -> PDU? {
            var varbinds: [VarBind] = []
            let repetitions = request.type == .getBulk ? Int(request.maxRepetitions) : 1
            for varbind in request.varbinds {
                var oid = varbind.oid
                for _ in 0..<repetitions {
                    guard let next = mib.first(where: { oid < $0.oid }) else {
                        varbinds.append(VarBind(oid: oid, value: .endOfMibView))
                        break
                    }
                    varbinds.append(next)
                    oid = next.oid
                }
            }
            return PDU(type: .response, requestID: request.requestID, varbinds: varbinds)
        }
        let view = ViewPolicy(include: [[1, 3, 6, 1]], exclude: [[1, 3, 6, 1, 2, 1, 1, 4]])
        let lab = V3BackendLab(
            contextName: "vrf-blue",
            policy: RoutePolicy(readView: view, writeView: nil, rewrites: []),
            respond: walk
        )
        let bulk = PDU.getBulk(
            requestID: 9,
            nonRepeaters: 0,
            maxRepetitions: 10,
            varbinds: [VarBind(oid: "1.3.6.1.2.1.1")]
        )
        let replies = lab.ask(bulk)
        let oids = replies.first?.varbinds.filter { $0.value != .endOfMibView }.map(\.oid.description) ?? []
        #expect(
            oids == [
                "1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.2.0", "1.3.6.1.2.1.1.3.0", "1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.6.0",
            ],
            "\(replies)"
        )
        let requests = lab.agent.accepted
        #expect(requests.first?.pdu.type == .getBulk)
        #expect(requests.allSatisfy { $0.contextName == ByteBuffer(string: "vrf-blue") })
        #expect(requests.allSatisfy { $0.contextEngineID == ByteBuffer(bytes: V3BackendLab.agentEngineID) })
    }

    @Test("noAuthNoPriv and authNoPriv users: discovery, then requests at the user's level")
    func lowerLevels() {
        let plain = USMUserConfiguration(name: "plain")
        let authOnly = USMUserConfiguration(name: "authonly", auth: (.md5, .passphrase("md5-auth-pass")))
        let cases: [(USMUserConfiguration, SNMPv3Flags)] = [
            (plain, .reportable), (authOnly, [.authenticated, .reportable]),
        ]
        for (user, flags) in cases {
            let lab = V3BackendLab(user: user, agentUsers: [user])
            #expect(lab.ask().first?.varbinds.first?.value == .string("played"), "\(user)")
            #expect(lab.agent.received.last?.flags == flags)
        }
    }

    @Test("a reload that changes the back end's user starts a new session; one that keeps it (a new context) does not")
    func reloadSessions() throws {
        let lab = V3BackendLab(agentUsers: [V3BackendLab.user, Self.second])
        _ = lab.ask()
        let users = try USMAuthoritativeEngine(identity: lab.machine.usm.identity, users: [])
        // The same user in another context: the same session, the new context.
        lab.machine.replace(
            snapshot: V3BackendLab.snapshot(user: V3BackendLab.user, contextName: "vrf-green"),
            users: users,
            poolSockets: [[0, 1]]
        )
        #expect(lab.ask().first?.varbinds.first?.value == .string("played"))
        #expect(lab.machine.counters.backendDiscoveries == 1)
        #expect(lab.agent.accepted.last?.contextName == ByteBuffer(string: "vrf-green"))
        lab.machine.replace(snapshot: V3BackendLab.snapshot(user: Self.second), users: users, poolSockets: [[0, 1]])
        #expect(lab.ask().first?.varbinds.first?.value == .string("played"))
        #expect(lab.machine.counters.backendDiscoveries == 2)
        #expect(lab.agent.received.last?.usm?.userName == ByteBuffer(string: "second"))
    }

    static let second = USMUserConfiguration(
        name: "second",
        auth: (.sha512, .passphrase("second-auth-pass")),
        privacy: (.aes256, .passphrase("second-priv-pass"))
    )
}
