//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOCore
import SNMPSecurity
import SNMPWire
import WardenForwarder
import WardenPolicy

/// One request machine with one route to one v2c agent, and one pass-through GET through it: a v3
/// authPriv (SHA/AES) Get of sysDescr.0, sysUpTime.0 and sysName.0 as the manager sends it, and the
/// agent's v2c Response, whose request-id ``PassThroughSample/exchange(into:)`` patches in place.
///
/// The machine's request-ids start at 0x01000000, so every one it hands out in a run (fewer than
/// 2^31 - 2^24) has a 4-octet BER encoding and the agent's Response keeps its length.
///
/// The unit test `PassThroughTests` in WardenForwarderTests plays the same exchange and checks the
/// answer decrypts to the agent's values.
public struct PassThroughSample {
    public let machine: RequestMachine
    /// The manager's datagram (read only: the machine takes slices of it while it decodes).
    public let request: ByteBuffer
    /// The agent's Response; its request-id is at ``requestIDOffset`` (4 octets).
    public var response: ByteBuffer
    public let requestIDOffset: Int
    public let manager: ManagerEndpoint
    public let agent: SocketAddress
    /// A client of the same user, to decode the answers.
    public var client: USMClient
    public let now: Int64 = 10_000_000_000

    public static let engineID: [UInt8] = [0x80, 0x00, 0x1F, 0x88, 0x04] + Array("warden".utf8)
    public static let user = USMUserConfiguration(
        name: "bench",
        auth: (.sha1, .passphrase("authpass-benchmark")),
        privacy: (.aes128, .passphrase("privpass-benchmark"))
    )
    public static let oids: [OID] = ["1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.3.0", "1.3.6.1.2.1.1.5.0"]
    /// What the agent answers, in the order asked.
    public static let values: [SNMPValue] = [
        .string("Linux core-sw-01 5.10.0-21-amd64 #1 SMP Debian 5.10.162-1 x86_64"),
        .timeTicks(123_456_789),
        .string("core-sw-01.example.net"),
    ]
    public static let firstRequestID: Int32 = 0x0100_0000

    public init() {
        let agent = try! SocketAddress(ipAddress: "192.0.2.1", port: 161)
        let backend = BackendTarget(
            name: "agent",
            index: 0,
            kind: .agent(
                BackendTarget.Agent(
                    address: agent,
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
                    policy: RoutePolicy(
                        readView: ViewPolicy(include: [[1, 3, 6, 1]], exclude: []),
                        writeView: nil,
                        rewrites: []
                    ),
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
            firstRequestID: { Self.firstRequestID }
        )
        var client = try! USMClient(user: Self.user)
        try! client.synchronise(engineID: Self.engineID, boots: 3, time: 10, now: 10)
        var request = ByteBuffer()
        client.encodeRequest(
            PDU(type: .get, requestID: 4242, varbinds: Self.oids.map { VarBind(oid: $0) }),
            messageID: 4242,
            now: 10,
            into: &request
        )
        self.client = client
        self.request = request
        self.manager = ManagerEndpoint(listener: 0, remote: try! SocketAddress(ipAddress: "192.0.2.99", port: 40_000))
        self.agent = agent

        // The request-id's place: where two encodings that differ only in it differ.
        func encodedResponse(_ requestID: Int32) -> ByteBuffer {
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
        let one = encodedResponse(0x0100_0000)
        let other = encodedResponse(0x0200_0000)
        precondition(one.readableBytes == other.readableBytes)
        let offset = zip(one.readableBytesView, other.readableBytesView).enumerated().first {
            $0.element.0 != $0.element.1
        }!
        .offset
        self.response = one
        self.requestIDOffset = offset
    }

    /// One pass-through GET: the manager's request in, the back-end request out, the agent's
    /// Response (with the back-end request's request-id) in, the manager's answer out.
    @inline(__always)
    public mutating func exchange(into sink: inout PassThroughSink) {
        self.machine.receiveFromManager(self.request, from: self.manager, now: self.now, into: &sink)
        self.response.setInteger(sink.backendRequestID, at: self.requestIDOffset)
        self.machine.receiveFromBackend(
            self.response,
            socket: sink.backendSocket,
            from: self.agent,
            now: self.now,
            into: &sink
        )
    }

    /// The values of the answer the sink last received, as the manager decrypts them; nil when it
    /// is not an authentic Response to the manager's request.
    public mutating func decodedAnswer(_ sink: PassThroughSink) -> PDU? {
        guard case .response(let messageID, let scoped) = self.client.receive(sink.lastReply, now: 10),
            messageID == 4242, scoped.pdu.requestID == 4242
        else { return nil }
        return scoped.pdu
    }
}

/// A sink that allocates nothing: it counts actions, keeps the back-end request's request-id and
/// socket, and copies the last answer into a buffer of its own (as the event loop copies it into
/// its send batch), so that the machine's reused buffers stay uniquely referenced.
public struct PassThroughSink: GatewayActionSink {
    public var backendRequests = 0
    public var replies = 0
    public var others = 0
    public var backendRequestID: Int32 = 0
    public var backendSocket = 0
    public var lastReply: ByteBuffer

    public init() {
        self.lastReply = ByteBuffer()
        self.lastReply.reserveCapacity(2048)
    }

    public mutating func perform(_ action: GatewayAction) {
        switch action {
        case .sendToBackend(let datagram, let socket, _):
            self.backendRequests &+= 1
            self.backendSocket = socket
            self.backendRequestID = Self.requestID(ofCommunityMessage: datagram) ?? 0
        case .reply(let datagram, _):
            self.replies &+= 1
            self.lastReply.clear()
            self.lastReply.writeImmutableBuffer(datagram)
        default:
            self.others &+= 1
        }
    }

    /// The request-id of a v1/v2c message: SEQUENCE { version, community, PDU { request-id … } }.
    static func requestID(ofCommunityMessage datagram: ByteBuffer) -> Int32? {
        var cursor = HeaderCursor(index: datagram.readerIndex)
        guard cursor.header(datagram) != nil, let version = cursor.header(datagram) else { return nil }
        cursor.index += version
        guard let community = cursor.header(datagram) else { return nil }
        cursor.index += community
        guard cursor.header(datagram) != nil, let length = cursor.header(datagram), length >= 1, length <= 4 else {
            return nil
        }
        var id: Int32 = 0
        for _ in 0..<length {
            guard let byte = datagram.getInteger(at: cursor.index, as: UInt8.self) else { return nil }
            id = id << 8 | Int32(byte)
            cursor.index += 1
        }
        return id
    }

    private struct HeaderCursor {
        var index: Int

        /// Skips a tag and length; returns the content length.
        mutating func header(_ datagram: ByteBuffer) -> Int? {
            self.index += 1
            guard let first = datagram.getInteger(at: self.index, as: UInt8.self) else { return nil }
            self.index += 1
            if first < 0x80 { return Int(first) }
            var length = 0
            for _ in 0..<Int(first & 0x7F) {
                guard let byte = datagram.getInteger(at: self.index, as: UInt8.self) else { return nil }
                length = length << 8 | Int(byte)
                self.index += 1
            }
            return length
        }
    }
}
