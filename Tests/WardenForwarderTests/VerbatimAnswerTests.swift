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

/// One v2c manager (community `public`), one agent at 192.0.2.1 (community `agentcomm`), and the
/// answer's datagram as the machine writes it, for byte comparisons.
struct AnswerLab {
    let machine: RequestMachine
    let agent = try! SocketAddress(ipAddress: "192.0.2.1", port: 161)
    let manager = ManagerEndpoint(listener: 0, remote: try! SocketAddress(ipAddress: "192.0.2.99", port: 40_000))

    init(policy: RoutePolicy, agentVersion: SNMPVersion = .v2c) {
        let backend = BackendTarget(
            name: "agent",
            index: 0,
            kind: .agent(
                BackendTarget.Agent(
                    address: self.agent,
                    version: agentVersion,
                    community: ByteBuffer(string: "agentcomm"),
                    timeout: 1_000_000_000,
                    retries: 1,
                    pool: 0
                )
            )
        )
        let snapshot = ForwardingSnapshot(
            routes: [RouteTarget(name: "r", index: 0, backend: .fixed(backend), policy: policy, dropOnTimeout: false)],
            routeTable: RouteTable(rules: [
                RouteTable.Rule(users: [], communities: [Array("public".utf8)], context: nil, sources: [])
            ]),
            backends: [backend],
            limits: ForwardingLimits(),
            pools: [try! SocketAddress(ipAddress: "0.0.0.0", port: 0)],
            socketsPerPool: 1
        )
        let usm = try! USMAuthoritativeEngineFactory.noUsers()
        self.machine = RequestMachine(snapshot: snapshot, usm: usm, loopCount: 1, engineTimeOrigin: 0)
    }

    /// The manager's request in; `answer` gives the agent's datagram for the back-end request; the
    /// manager's answer out (its datagram), or nil.
    func exchange(_ request: PDU, managerVersion: SNMPVersion = .v2c, answer: (PDU) -> ByteBuffer) -> ByteBuffer? {
        var datagram = ByteBuffer()
        datagram.writeCommunityMessage(CommunityMessage(version: managerVersion, community: "public", pdu: request))
        var sink = CollectingSink()
        self.machine.receiveFromManager(datagram, from: self.manager, now: 1_000_000_000, into: &sink)
        for _ in 0..<8 {
            for case .reply(let reply, _) in sink.actions { return reply }
            guard
                case .sendToBackend(let sent, let socket, _)? = sink.actions.first(where: {
                    if case .sendToBackend = $0 { return true } else { return false }
                }), case .community(let message) = try? SNMPMessage(decoding: sent), case .pdu(let pdu) = message.pdu
            else { return nil }
            sink = CollectingSink()
            self.machine.receiveFromBackend(
                answer(pdu),
                socket: socket,
                from: self.agent,
                now: 1_000_000_000,
                into: &sink
            )
        }
        return nil
    }

    /// An agent that answers with `varbinds` (or what `varbinds` makes of the request), canonically.
    static func agent(version: SNMPVersion = .v2c, _ varbinds: @escaping (PDU) -> [VarBind]) -> (PDU) -> ByteBuffer {
        { request in
            var buffer = ByteBuffer()
            buffer.writeCommunityMessage(
                CommunityMessage(
                    version: version,
                    community: "agentcomm",
                    pdu: PDU(type: .response, requestID: request.requestID, varbinds: varbinds(request))
                )
            )
            return buffer
        }
    }

    /// The v2c Response a manager gets for `varbinds`, encoded canonically.
    static func reencoded(requestID: Int32, _ varbinds: [VarBind], version: SNMPVersion = .v2c) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeCommunityMessage(
            CommunityMessage(
                version: version,
                community: "public",
                pdu: PDU(type: .response, requestID: requestID, varbinds: varbinds)
            )
        )
        return buffer
    }
}

/// A USM engine with no users (the lab's managers use communities).
enum USMAuthoritativeEngineFactory {
    static func noUsers() throws -> USMAuthoritativeEngine {
        try USMAuthoritativeEngine(
            identity: EngineIdentity(engineID: [0x80, 0, 0x1F, 0x88, 0x04, 9, 9], boots: 1),
            users: []
        )
    }
}

/// BER built by hand, for encodings our writer never produces.
enum HandBER {
    static func tlv(_ tag: UInt8, _ content: [UInt8], longLength: Bool = false) -> [UInt8] {
        precondition(content.count < 0x80)
        return longLength ? [tag, 0x81, UInt8(content.count)] + content : [tag, UInt8(content.count)] + content
    }

    static func integer(_ value: Int32) -> [UInt8] {
        var buffer = ByteBuffer()
        buffer.writeCommunityMessage(
            CommunityMessage(version: .v2c, community: "", pdu: PDU(type: .get, requestID: value, varbinds: []))
        )
        // The request-id element: after 30 len, 02 01 01, 04 00, A0 len.
        let bytes = Array(buffer.readableBytesView)
        let start = 2 + 3 + 2 + 2
        return Array(bytes[start..<(start + 2 + Int(bytes[start + 1]))])
    }

    static func oid(_ oid: OID) -> [UInt8] {
        tlv(0x06, Array(oid.encoded.readableBytesView))
    }

    /// A v2c Response to `requestID` with community `agentcomm` and these encoded varbinds.
    static func response(requestID: Int32, varbinds: [[UInt8]]) -> ByteBuffer {
        let list = tlv(0x30, varbinds.flatMap { $0 })
        let pdu = tlv(0xA2, integer(requestID) + [0x02, 0x01, 0x00, 0x02, 0x01, 0x00] + list)
        return ByteBuffer(bytes: tlv(0x30, [0x02, 0x01, 0x01] + tlv(0x04, Array("agentcomm".utf8)) + pdu))
    }
}

@Suite("Answers passed through: the agent's varbind list as it is, when nothing changed it")
struct VerbatimAnswerTests {
    static let everything = ViewPolicy(include: [[1, 3, 6, 1]], exclude: [])
    static let plainPolicy = RoutePolicy(readView: everything, writeView: nil, rewrites: [])
    static let sysDescr: OID = "1.3.6.1.2.1.1.1.0"
    static let sysUpTime: OID = "1.3.6.1.2.1.1.3.0"
    static let sysName: OID = "1.3.6.1.2.1.1.5.0"

    /// Requests whose answer the policy leaves alone, and the agent's varbinds for them.
    static let unchanged: [(String, PDU, [VarBind])] = [
        (
            "Get of 3 scalars",
            PDU(
                type: .get,
                requestID: 11,
                varbinds: [Self.sysDescr, Self.sysUpTime, Self.sysName].map { VarBind(oid: $0) }
            ),
            [
                VarBind(oid: Self.sysDescr, value: .string("Linux core-sw-01 5.10.0-21-amd64")),
                VarBind(oid: Self.sysUpTime, value: .timeTicks(4_294_967_295)),
                VarBind(oid: Self.sysName, value: .string("")),
            ]
        ),
        (
            "Get of every value type, exceptions included",
            PDU(
                type: .get,
                requestID: -7,
                varbinds: (1...9).map { VarBind(oid: OID(arcs: [1, 3, 6, 1, 4, 1, 9, $0, 0])!) }
            ),
            [
                VarBind(oid: [1, 3, 6, 1, 4, 1, 9, 1, 0], value: .integer(-129)),
                VarBind(oid: [1, 3, 6, 1, 4, 1, 9, 2, 0], value: .counter32(0x8000_0000)),
                VarBind(oid: [1, 3, 6, 1, 4, 1, 9, 3, 0], value: .gauge32(127)),
                VarBind(oid: [1, 3, 6, 1, 4, 1, 9, 4, 0], value: .counter64(UInt64.max)),
                VarBind(oid: [1, 3, 6, 1, 4, 1, 9, 5, 0], value: .ipAddress(IPv4Address(192, 0, 2, 1))),
                VarBind(oid: [1, 3, 6, 1, 4, 1, 9, 6, 0], value: .objectIdentifier("1.3.6.1.4.1.8072.3.2.10")),
                VarBind(
                    oid: [1, 3, 6, 1, 4, 1, 9, 7, 0],
                    value: .opaque(ByteBuffer(bytes: [0x9F, 0x78, 0x04, 0, 0, 0, 0]))
                ),
                VarBind(oid: [1, 3, 6, 1, 4, 1, 9, 8, 0], value: .noSuchObject),
                VarBind(oid: [1, 3, 6, 1, 4, 1, 9, 9, 0], value: .noSuchInstance),
            ]
        ),
        (
            "GetNext",
            PDU(
                type: .getNext,
                requestID: 12,
                varbinds: [VarBind(oid: "1.3.6.1.2.1.1"), VarBind(oid: "1.3.6.1.2.1.1.4")]
            ),
            [
                VarBind(oid: Self.sysDescr, value: .string("desc")),
                VarBind(oid: "1.3.6.1.2.1.1.4.0", value: .string("noc@example.net")),
            ]
        ),
        (
            "GetBulk, 1 non-repeater and 2 rows of 2 columns",
            PDU.getBulk(
                requestID: 13,
                nonRepeaters: 1,
                maxRepetitions: 2,
                varbinds: [
                    VarBind(oid: "1.3.6.1.2.1.1.3"), VarBind(oid: "1.3.6.1.2.1.2.2.1.2"),
                    VarBind(oid: "1.3.6.1.2.1.2.2.1.10"),
                ]
            ),
            [
                VarBind(oid: Self.sysUpTime, value: .timeTicks(99)),
                VarBind(oid: "1.3.6.1.2.1.2.2.1.2.1", value: .string("lo")),
                VarBind(oid: "1.3.6.1.2.1.2.2.1.10.1", value: .counter32(1)),
                VarBind(oid: "1.3.6.1.2.1.2.2.1.2.2", value: .string("eth0")),
                VarBind(oid: "1.3.6.1.2.1.2.2.1.10.2", value: .counter32(2)),
            ]
        ),
    ]

    @Test("canonical input: the patched answer is byte for byte what re-encoding writes", arguments: 0..<4)
    func patchedEqualsReencoded(_ index: Int) throws {
        let (_, request, varbinds) = Self.unchanged[index]
        let lab = AnswerLab(policy: Self.plainPolicy)
        let reply = try #require(lab.exchange(request, answer: AnswerLab.agent { _ in varbinds }))
        #expect(lab.machine.counters.answersPassedThrough == 1, "the answer was patched, not re-encoded")
        #expect(reply == AnswerLab.reencoded(requestID: request.requestID, varbinds))
    }

    @Test("the benchmark's v3 authPriv pass-through GET is patched")
    func benchmarkScenarioPatched() {
        var lab = PassThroughLab()
        for _ in 0..<3 { #expect(lab.exchange().answer?.varbinds.map(\.value) == PassThroughLab.values) }
        #expect(lab.machine.counters.answersPassedThrough == 3)
    }

    @Test(
        "non-canonical input (long lengths, padded integers, unsigned without its 00) is re-encoded",
        arguments: [
            // sysName as OCTET STRING with a long-form length.
            [
                HandBER.tlv(
                    0x30,
                    HandBER.oid(VerbatimAnswerTests.sysName) + HandBER.tlv(0x04, Array("core".utf8), longLength: true)
                )
            ],
            // The varbind SEQUENCE with a long-form length.
            [
                HandBER.tlv(
                    0x30,
                    HandBER.oid(VerbatimAnswerTests.sysName) + HandBER.tlv(0x04, Array("core".utf8)),
                    longLength: true
                )
            ],
            // INTEGER 5 as 00 05.
            [HandBER.tlv(0x30, HandBER.oid(VerbatimAnswerTests.sysName) + [0x02, 0x02, 0x00, 0x05])],
            // INTEGER -1 as FF FF.
            [HandBER.tlv(0x30, HandBER.oid(VerbatimAnswerTests.sysName) + [0x02, 0x02, 0xFF, 0xFF])],
            // Counter32 0xFFFFFFFF in 4 octets (no leading 00), as some agents send it.
            [HandBER.tlv(0x30, HandBER.oid(VerbatimAnswerTests.sysName) + [0x41, 0x04, 0xFF, 0xFF, 0xFF, 0xFF])],
            // TimeTicks 1 as 00 01.
            [HandBER.tlv(0x30, HandBER.oid(VerbatimAnswerTests.sysName) + [0x43, 0x02, 0x00, 0x01])],
        ]
    )
    func nonCanonicalReencoded(_ varbinds: [[UInt8]]) throws {
        let lab = AnswerLab(policy: Self.plainPolicy)
        let request = PDU(type: .get, requestID: 21, varbinds: [VarBind(oid: Self.sysName)])
        var decodedAgentVarbinds: [VarBind] = []
        let reply = try #require(
            lab.exchange(request) { sent in
                let datagram = HandBER.response(requestID: sent.requestID, varbinds: varbinds)
                if case .community(let message) = try! SNMPMessage(decoding: datagram) {
                    decodedAgentVarbinds = message.pdu.varbinds
                }
                return datagram
            }
        )
        #expect(decodedAgentVarbinds.count == 1)
        #expect(lab.machine.counters.answersPassedThrough == 0)
        #expect(lab.machine.counters.backendResponses == 1)
        #expect(reply == AnswerLab.reencoded(requestID: 21, decodedAgentVarbinds))
    }

    /// Routes and agents that change the answer on its way.
    enum Change: String, CaseIterable {
        case viewHidesAnOID, rewrite, valueTransform, v1Backend, v1Manager, getBulkTrimmed, walkLeavesTheView
    }

    @Test("whenever the policy changed something, the answer is re-encoded", arguments: Change.allCases)
    func changedReencoded(_ change: Change) throws {
        var policy = Self.plainPolicy
        var agentVersion = SNMPVersion.v2c
        var managerVersion = SNMPVersion.v2c
        var request = PDU(
            type: .get,
            requestID: 31,
            varbinds: [VarBind(oid: Self.sysDescr), VarBind(oid: Self.sysName)]
        )
        var agent: (PDU) -> [VarBind] = { $0.varbinds.map { VarBind(oid: $0.oid, value: .string("v")) } }
        var expected: [VarBind] = [
            VarBind(oid: Self.sysDescr, value: .string("v")), VarBind(oid: Self.sysName, value: .string("v")),
        ]
        switch change {
        case .viewHidesAnOID:
            policy = RoutePolicy(
                readView: ViewPolicy(include: [[1, 3, 6, 1]], exclude: [[1, 3, 6, 1, 2, 1, 1, 5]]),
                writeView: nil,
                rewrites: []
            )
            expected[1] = VarBind(oid: Self.sysName, value: .noSuchObject)
        case .rewrite:
            policy = RoutePolicy(
                readView: Self.everything,
                writeView: nil,
                rewrites: [RoutePolicy.Rewrite(backend: [1, 3, 6, 1, 4, 1, 9], manager: [1, 3, 6, 1, 4, 1, 99999])]
            )
            request.varbinds = [VarBind(oid: "1.3.6.1.4.1.99999.1.0")]
            expected = [VarBind(oid: "1.3.6.1.4.1.99999.1.0", value: .string("v"))]
        case .valueTransform:
            let transforms = ValueTransforms(
                rules: [
                    ValueTransforms.Rule(
                        pattern: [1, 3, 6, 1, 2, 1, 1, 5],
                        action: .replace(text: "hidden", value: nil)
                    )
                ],
                synthesized: [],
                keyedHash: nil
            )
            policy = RoutePolicy(readView: Self.everything, writeView: nil, rewrites: [], transforms: transforms)
            expected[1] = VarBind(oid: Self.sysName, value: .string("hidden"))
        case .v1Backend:
            agentVersion = .v1
        case .v1Manager:
            managerVersion = .v1
        case .getBulkTrimmed:
            // N + M·R = 0 + 1·1: the agent's second varbind is one too many.
            request = PDU.getBulk(
                requestID: 31,
                nonRepeaters: 0,
                maxRepetitions: 1,
                varbinds: [VarBind(oid: "1.3.6.1.2.1.1")]
            )
            agent = { _ in
                [
                    VarBind(oid: Self.sysDescr, value: .string("v")),
                    VarBind(oid: "1.3.6.1.2.1.1.2.0", value: .string("w")),
                ]
            }
            expected = [VarBind(oid: Self.sysDescr, value: .string("v"))]
        case .walkLeavesTheView:
            // GetNext from Self.sysDescr.0 in a view of the system group; the agent answers past it.
            policy = RoutePolicy(
                readView: ViewPolicy(include: [[1, 3, 6, 1, 2, 1, 1]], exclude: []),
                writeView: nil,
                rewrites: []
            )
            request = PDU(type: .getNext, requestID: 31, varbinds: [VarBind(oid: "1.3.6.1.2.1.1.9.1.4.9")])
            agent = { _ in [VarBind(oid: "1.3.6.1.2.1.2.1.0", value: .integer(2))] }
            expected = [VarBind(oid: "1.3.6.1.2.1.1.9.1.4.9", value: .endOfMibView)]
        }
        let lab = AnswerLab(policy: policy, agentVersion: agentVersion)
        let reply = try #require(
            lab.exchange(request, managerVersion: managerVersion, answer: AnswerLab.agent(version: agentVersion, agent))
        )
        #expect(lab.machine.counters.answersPassedThrough == 0)
        guard case .community(let message) = try SNMPMessage(decoding: reply) else {
            Issue.record("not a community answer")
            return
        }
        #expect(message.pdu.varbinds == expected, "\(message.pdu.varbinds)")
        #expect(reply == AnswerLab.reencoded(requestID: 31, expected, version: managerVersion))
    }
}
