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

/// The exchange of the MachineBenchmarks benchmark (Benchmarks/Sources/WireSamples/PassThroughSample.swift),
/// built the same way: one route to one v2c agent, a v3 authPriv (SHA/AES) manager, request-ids from
/// 0x01000000, and the agent's Response patched in place with each back-end request's request-id.
struct PassThroughLab {
    let machine: RequestMachine
    var client: USMClient
    let request: ByteBuffer
    var response: ByteBuffer
    let requestIDOffset: Int
    let manager = ManagerEndpoint(listener: 0, remote: try! SocketAddress(ipAddress: "192.0.2.99", port: 40_000))
    let agent = try! SocketAddress(ipAddress: "192.0.2.1", port: 161)
    let now: Int64 = 10_000_000_000

    static let engineID: [UInt8] = [0x80, 0x00, 0x1F, 0x88, 0x04] + Array("warden".utf8)
    static let user = USMUserConfiguration(
        name: "bench",
        auth: (.sha1, .passphrase("authpass-benchmark")),
        privacy: (.aes128, .passphrase("privpass-benchmark"))
    )
    static let oids: [OID] = ["1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.3.0", "1.3.6.1.2.1.1.5.0"]
    static let values: [SNMPValue] = [
        .string("Linux core-sw-01 5.10.0-21-amd64 #1 SMP Debian 5.10.162-1 x86_64"),
        .timeTicks(123_456_789),
        .string("core-sw-01.example.net"),
    ]

    init(
        policy: RoutePolicy = RoutePolicy(
            readView: ViewPolicy(include: [[1, 3, 6, 1]], exclude: []),
            writeView: nil,
            rewrites: []
        )
    ) {
        let backend = BackendTarget(
            name: "agent",
            index: 0,
            kind: .agent(
                BackendTarget.Agent(
                    address: self.agent,
                    version: .v2c,
                    community: ByteBuffer(string: "public"),
                    timeout: 1_000_000_000,
                    retries: 1,
                    pool: 0
                )
            )
        )
        let snapshot = ForwardingSnapshot(
            routes: [
                RouteTarget(
                    name: "pass-through",
                    index: 0,
                    backend: .fixed(backend),
                    policy: policy,
                    dropOnTimeout: false
                )
            ],
            routeTable: RouteTable(rules: [
                RouteTable.Rule(users: ["bench"], communities: [], context: nil, sources: [])
            ]),
            backends: [backend],
            limits: ForwardingLimits(),
            pools: [try! SocketAddress(ipAddress: "0.0.0.0", port: 0)],
            socketsPerPool: 1
        )
        let usm = try! USMAuthoritativeEngine(
            identity: EngineIdentity(engineID: Self.engineID, boots: 3),
            users: [Self.user]
        )
        self.machine = RequestMachine(
            snapshot: snapshot,
            usm: usm,
            loopCount: 1,
            engineTimeOrigin: 0,
            firstRequestID: { 0x0100_0000 }
        )
        self.client = try! USMClient(user: Self.user)
        try! self.client.synchronise(engineID: Self.engineID, boots: 3, time: 10, now: 10)
        var request = ByteBuffer()
        self.client.encodeRequest(
            PDU(type: .get, requestID: 4242, varbinds: Self.oids.map { VarBind(oid: $0) }),
            messageID: 4242,
            now: 10,
            into: &request
        )
        self.request = request
        func encoded(_ requestID: Int32) -> ByteBuffer {
            var buffer = ByteBuffer()
            let pdu = PDU(
                type: .response,
                requestID: requestID,
                varbinds: zip(Self.oids, Self.values).map { VarBind(oid: $0, value: $1) }
            )
            buffer.writeCommunityMessage(
                CommunityMessage(version: .v2c, community: ByteBuffer(string: "public"), pdu: .pdu(pdu))
            )
            return buffer
        }
        let one = encoded(0x0100_0000)
        let other = encoded(0x0200_0000)
        self.response = one
        self.requestIDOffset =
            zip(one.readableBytesView, other.readableBytesView).enumerated()
            .first { $0.element.0 != $0.element.1 }!.offset
    }

    /// One pass-through GET; returns the back-end request and the manager's decrypted answer.
    mutating func exchange() -> (backend: PDU?, answer: PDU?) {
        var sink = CollectingSink()
        self.machine.receiveFromManager(self.request, from: self.manager, now: self.now, into: &sink)
        guard
            case .sendToBackend(let datagram, let socket, let address)? = sink.actions.first(where: {
                if case .sendToBackend = $0 { return true } else { return false }
            }), address == self.agent,
            case .community(let message) = try? SNMPMessage(decoding: datagram), message.version == .v2c,
            message.community == ByteBuffer(string: "public"), case .pdu(let sent) = message.pdu
        else { return (nil, nil) }
        self.response.setInteger(sent.requestID, at: self.requestIDOffset)
        sink = CollectingSink()
        self.machine.receiveFromBackend(self.response, socket: socket, from: self.agent, now: self.now, into: &sink)
        for case .reply(let reply, _) in sink.actions {
            guard case .response(let messageID, let scoped) = self.client.receive(reply, now: 10), messageID == 4242
            else { return (sent, nil) }
            return (sent, scoped.pdu)
        }
        return (sent, nil)
    }
}

@Suite("The benchmark's pass-through GET")
struct PassThroughTests {
    @Test("v3 authPriv Get of three scalars through a v2c agent: the answer decrypts to the agent's values")
    func passThrough() {
        var lab = PassThroughLab()
        for round in 0..<3 {
            let (sent, answer) = lab.exchange()
            #expect(sent?.type == .get && sent?.varbinds.map(\.oid) == PassThroughLab.oids)
            #expect(sent?.requestID == 0x0100_0000 + Int32(round), "deterministic ids, 4 octets of BER")
            #expect(answer?.type == .response && answer?.requestID == 4242 && answer?.errorStatus == .noError)
            #expect(answer?.varbinds.map(\.oid) == PassThroughLab.oids)
            #expect(answer?.varbinds.map(\.value) == PassThroughLab.values)
        }
        #expect(lab.machine.pendingCount == 0)
        #expect(lab.machine.counters.backendResponses == 3 && lab.machine.counters.outResponses == 3)
    }
}
