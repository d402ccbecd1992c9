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

/// Collects the notification machine's actions, each datagram copied into storage of its own.
struct NotificationSink: NotificationActionSink {
    var actions: [NotificationAction] = []

    mutating func perform(_ action: NotificationAction) {
        switch action {
        case .send(let datagram, let address):
            self.actions.append(.send(ByteBuffer(buffer: datagram), to: address))
        case .reply(let datagram, let endpoint):
            self.actions.append(.reply(ByteBuffer(buffer: datagram), to: endpoint))
        case .armTimer:
            self.actions.append(action)
        }
    }
}

extension Array where Element == NotificationAction {
    var sends: [(datagram: ByteBuffer, to: SocketAddress)] {
        self.compactMap { if case .send(let datagram, let address) = $0 { (datagram, address) } else { nil } }
    }

    var replies: [(datagram: ByteBuffer, to: ManagerEndpoint)] {
        self.compactMap { if case .reply(let datagram, let endpoint) = $0 { (datagram, endpoint) } else { nil } }
    }

    var timers: [Int64] {
        self.compactMap { if case .armTimer(let deadline) = $0 { deadline } else { nil } }
    }
}

/// A ``NotificationMachine`` with nothing but datagrams around it: devices on 192.0.2.0/24
/// (community `public`), receivers on 198.51.100.0/24, the clock in the test's hand.
final class NotificationLab {
    static let ourEngineID: [UInt8] = [0x80, 0x00, 0x1F, 0x88, 0x04] + Array("warden-n".utf8)
    static let ourBoots: Int32 = 3
    static let device = try! SocketAddress(ipAddress: "192.0.2.10", port: 50_162)
    static let otherDevice = try! SocketAddress(ipAddress: "192.0.2.11", port: 50_162)
    static let stranger = try! SocketAddress(ipAddress: "203.0.113.5", port: 50_162)
    static let receiverA = try! SocketAddress(ipAddress: "198.51.100.1", port: 162)
    static let receiverB = try! SocketAddress(ipAddress: "198.51.100.2", port: 162)
    static let second: Int64 = 1_000_000_000

    static let linkDown =
        notificationHeader(uptime: 4200, trapOID: "1.3.6.1.6.3.1.1.5.3") + [
            VarBind(oid: NotificationOIDs.ifIndex3, value: .integer(3))
        ]

    /// What a receiver gets for ``linkDown`` from ``device``: attributed and marked.
    static func forwarded(_ varbinds: [VarBind] = linkDown, from source: IPv4Address = IPv4Address(192, 0, 2, 10))
        -> [VarBind]
    {
        varbinds + [
            VarBind(oid: NotificationOIDs.snmpTrapAddress0, value: .ipAddress(source)),
            VarBind(oid: NotificationOIDs.snmpEngineID1, value: .octetString(ByteBuffer(bytes: Self.ourEngineID))),
        ]
    }

    static func source(users: Set<String> = [], engineIDs: Set<[UInt8]> = []) -> NotificationSnapshot.Source {
        NotificationSnapshot.Source(
            name: "devices",
            prefixes: [AddressPrefix(address: [192, 0, 2, 0], length: 24)],
            communities: [ByteBuffer(string: "public")],
            users: users,
            engineIDs: engineIDs
        )
    }

    static func target(
        _ name: String,
        _ address: SocketAddress,
        version: SNMPVersion = .v2c,
        kind: NotificationSnapshot.Target.Kind = .trap,
        user: USMUserConfiguration? = nil,
        timeout: Int64 = second,
        retries: Int = 2,
        maxPending: Int = 100,
        engineID: [UInt8]? = nil
    ) -> NotificationSnapshot.Target {
        NotificationSnapshot.Target(
            name: name,
            address: address,
            version: version,
            community: ByteBuffer(string: "nmscomm"),
            user: user,
            kind: kind,
            timeout: timeout,
            retries: retries,
            maxPending: maxPending,
            engineID: engineID
        )
    }

    static func route(
        _ name: String = "all",
        targets: [Int],
        acknowledgeLocally: Bool = false
    ) -> NotificationSnapshot.Route {
        NotificationSnapshot.Route(
            name: name,
            sources: [0],
            targets: targets,
            view: nil,
            rewrites: [],
            acknowledgeLocally: acknowledgeLocally,
            communityVarbind: false
        )
    }

    /// A v1/v2c message from a device.
    static func community(
        _ type: PDUType,
        requestID: Int32 = 1,
        community: String = "public",
        version: SNMPVersion = .v2c,
        varbinds: [VarBind] = linkDown
    ) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeCommunityMessage(
            CommunityMessage(
                version: version,
                community: ByteBuffer(string: community),
                pdu: .pdu(PDU(type: type, requestID: requestID, varbinds: varbinds))
            )
        )
        return buffer
    }

    /// A receiver's v2c acknowledgement of the inform it got.
    static func acknowledgement(of inform: PDU, community: String = "nmscomm") -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeCommunityMessage(
            CommunityMessage(
                version: .v2c,
                community: ByteBuffer(string: community),
                pdu: .pdu(PDU(type: .response, requestID: inform.requestID, varbinds: inform.varbinds))
            )
        )
        return buffer
    }

    /// The version, community and PDU of a v1/v2c datagram with a PDU other than a v1 Trap.
    static func decode(_ datagram: ByteBuffer) -> (version: SNMPVersion, community: String, pdu: PDU)? {
        guard case .community(let message) = try? SNMPMessage(decoding: datagram), case .pdu(let pdu) = message.pdu
        else { return nil }
        return (message.version, String(buffer: message.community), pdu)
    }

    let machine: NotificationMachine
    var now: Int64 = 1000 * NotificationLab.second

    init(
        _ snapshot: NotificationSnapshot,
        informUsers: [USMUserConfiguration] = [],
        trapSenders: [(engineID: [UInt8], user: USMUserConfiguration)] = []
    ) {
        let engine = try! USMAuthoritativeEngine(
            identity: EngineIdentity(engineID: Self.ourEngineID, boots: Self.ourBoots),
            users: informUsers
        )
        self.machine = NotificationMachine(
            snapshot: snapshot,
            engine: engine,
            trapReceiver: try! USMNotificationReceiver(senders: trapSenders),
            engineTimeOrigin: 0
        )
    }

    /// Sources `devices`, targets as given, one route from the source to every target.
    convenience init(targets: [NotificationSnapshot.Target], acknowledgeLocally: Bool = false) {
        self.init(
            NotificationSnapshot(
                sources: [Self.source()],
                targets: targets,
                routes: [Self.route(targets: Array(targets.indices), acknowledgeLocally: acknowledgeLocally)]
            )
        )
    }

    func fromDevice(_ datagram: ByteBuffer, from address: SocketAddress = NotificationLab.device) -> [NotificationAction]
    {
        var sink = NotificationSink()
        self.machine.receive(datagram, from: ManagerEndpoint(listener: 0, remote: address), now: self.now, into: &sink)
        return sink.actions
    }

    func fromTarget(_ datagram: ByteBuffer, from address: SocketAddress) -> [NotificationAction] {
        var sink = NotificationSink()
        self.machine.receiveFromTarget(datagram, from: address, now: self.now, into: &sink)
        return sink.actions
    }

    func fire(at deadline: Int64) -> [NotificationAction] {
        self.now = deadline
        var sink = NotificationSink()
        self.machine.timerFired(now: deadline, into: &sink)
        return sink.actions
    }

    func counters(of target: String) -> NotificationTargetCounters? {
        self.machine.targetCounters().first { $0.name == target }?.counters
    }
}

// MARK: - Devices that may not send

@Suite("The notification machine: what is not forwarded")
struct NotificationRefusalTests {
    static func lab() -> NotificationLab {
        NotificationLab(targets: [NotificationLab.target("nms", NotificationLab.receiverA)])
    }

    @Test("an address outside every source: nothing sent, unknown-source")
    func unknownSource() {
        let lab = Self.lab()
        let actions = lab.fromDevice(NotificationLab.community(.trapV2), from: NotificationLab.stranger)
        #expect(actions.isEmpty)
        #expect(lab.machine.counters[.unknownSource] == 1)
        #expect(lab.machine.counters.inPackets == 1)
    }

    @Test("a community the source does not have: wrong-community")
    func wrongCommunity() {
        let lab = Self.lab()
        #expect(lab.fromDevice(NotificationLab.community(.trapV2, community: "private")).isEmpty)
        #expect(lab.machine.counters[.wrongCommunity] == 1)
        #expect(lab.machine.counters.receivedV2cTraps == 0)
    }

    @Test("bytes that are no SNMP message: malformed")
    func malformedBytes() {
        let lab = Self.lab()
        #expect(lab.fromDevice(ByteBuffer(bytes: [0x30, 0x03, 0x02, 0x01])).isEmpty)
        #expect(lab.fromDevice(ByteBuffer(bytes: [0xFF, 0x00])).isEmpty)
        #expect(lab.machine.counters[.malformed] == 2)
    }

    @Test("a v2c trap whose first varbinds are not sysUpTime.0 and snmpTrapOID.0: malformed")
    func notInV2Form() {
        let lab = Self.lab()
        let header = NotificationLab.linkDown
        let swapped = [header[1], header[0], header[2]]
        #expect(lab.fromDevice(NotificationLab.community(.trapV2, varbinds: swapped)).isEmpty)
        #expect(lab.fromDevice(NotificationLab.community(.trapV2, varbinds: [header[2]])).isEmpty)
        #expect(lab.fromDevice(NotificationLab.community(.inform, requestID: 9, varbinds: swapped)).isEmpty)
        #expect(lab.machine.counters[.malformed] == 3)
        #expect(lab.machine.informsWaiting == 0)
    }

    @Test("a GetRequest (v2c and v1), a Response, a GetBulk on the listener: unexpected-pdu")
    func unexpectedPDU() {
        let lab = Self.lab()
        let get = NotificationLab.community(.get, varbinds: [VarBind(oid: NotificationOIDs.sysName)])
        #expect(lab.fromDevice(get).isEmpty)
        let getV1 = NotificationLab.community(.get, version: .v1, varbinds: [VarBind(oid: NotificationOIDs.sysName)])
        #expect(lab.fromDevice(getV1).isEmpty)
        #expect(lab.fromDevice(NotificationLab.community(.response)).isEmpty)
        #expect(lab.fromDevice(NotificationLab.community(.getBulk, varbinds: [VarBind(oid: NotificationOIDs.sysName)])).isEmpty)
        #expect(lab.machine.counters[.unexpectedPDU] == 4)
        // A v2 Trap in an SNMPv1 message does not even decode (RFC 1157 has no such PDU).
        #expect(lab.fromDevice(NotificationLab.community(.trapV2, version: .v1)).isEmpty)
        #expect(lab.machine.counters[.malformed] == 1 && lab.machine.counters[.unexpectedPDU] == 4)
    }

    @Test("a notification that carries our own marker came back through a loop: dropped")
    func loop() {
        let lab = Self.lab()
        let looped =
            NotificationLab.linkDown + [
                VarBind(
                    oid: NotificationOIDs.snmpEngineID1,
                    value: .octetString(ByteBuffer(bytes: NotificationLab.ourEngineID))
                )
            ]
        #expect(lab.fromDevice(NotificationLab.community(.trapV2, varbinds: looped)).isEmpty)
        #expect(lab.machine.counters[.loop] == 1)

        // Another gateway's marker is no loop: ours is stacked after it.
        let otherMarker = VarBind(
            oid: NotificationOIDs.snmpEngineID1,
            value: .octetString(ByteBuffer(bytes: [0x80, 0, 0x1F, 0x88, 0x04, 0xEE]))
        )
        let sends = lab.fromDevice(NotificationLab.community(.trapV2, varbinds: NotificationLab.linkDown + [otherMarker]))
            .sends
        #expect(sends.count == 1)
        #expect(
            sends.first.flatMap { NotificationLab.decode($0.datagram)?.pdu.varbinds }
                == NotificationLab.linkDown + [
                    otherMarker,
                    VarBind(oid: NotificationOIDs.snmpTrapAddress0, value: .ipAddress(IPv4Address(192, 0, 2, 10))),
                    VarBind(
                        oid: NotificationOIDs.snmpEngineID2,
                        value: .octetString(ByteBuffer(bytes: NotificationLab.ourEngineID))
                    ),
                ]
        )
        #expect(lab.machine.counters[.loop] == 1)
    }

    @Test("an inform that carries our marker is acknowledged (it did arrive), not forwarded")
    func loopedInformAcknowledged() {
        let lab = NotificationLab(targets: [NotificationLab.target("nms", NotificationLab.receiverA, kind: .inform)])
        let looped =
            NotificationLab.linkDown + [
                VarBind(
                    oid: NotificationOIDs.snmpEngineID1,
                    value: .octetString(ByteBuffer(bytes: NotificationLab.ourEngineID))
                )
            ]
        let actions = lab.fromDevice(NotificationLab.community(.inform, requestID: 55, varbinds: looped))
        #expect(actions.sends.isEmpty)
        #expect(actions.replies.count == 1)
        #expect(actions.replies.first.flatMap { NotificationLab.decode($0.datagram)?.pdu.requestID } == 55)
        #expect(lab.machine.counters[.loop] == 1)
    }

    @Test("storms: 10/s with a burst of 10 forwards 10 of 50 at once, and 10 more a second later")
    func rateLimit() {
        let lab = NotificationLab(
            NotificationSnapshot(
                sources: [NotificationLab.source()],
                targets: [NotificationLab.target("nms", NotificationLab.receiverA)],
                routes: [NotificationLab.route(targets: [0])],
                sourceRate: 10,
                sourceBurst: 10
            )
        )
        var forwarded = 0
        for id in 1...50 {
            forwarded += lab.fromDevice(NotificationLab.community(.trapV2, requestID: Int32(id))).sends.count
        }
        #expect(forwarded == 10)
        #expect(lab.machine.counters[.rateLimited] == 40)
        #expect(lab.machine.counters.receivedV2cTraps == 10)

        // Another address has a bucket of its own.
        #expect(lab.fromDevice(NotificationLab.community(.trapV2), from: NotificationLab.otherDevice).sends.count == 1)

        lab.now += NotificationLab.second
        forwarded = 0
        for id in 51...65 {
            forwarded += lab.fromDevice(NotificationLab.community(.trapV2, requestID: Int32(id))).sends.count
        }
        #expect(forwarded == 10)
        #expect(lab.machine.counters[.rateLimited] == 45)
    }
}

// MARK: - Traps

@Suite("The notification machine: traps fanned out")
struct NotificationFanOutTests {
    @Test("a v2c trap goes once to each of two targets, also when two routes name the same target")
    func fanOutOnce() throws {
        let lab = NotificationLab(
            NotificationSnapshot(
                sources: [NotificationLab.source()],
                targets: [
                    NotificationLab.target("nms-a", NotificationLab.receiverA),
                    NotificationLab.target("nms-b", NotificationLab.receiverB),
                ],
                routes: [
                    NotificationLab.route("first", targets: [0, 1]),
                    NotificationLab.route("second", targets: [1, 0]),
                ]
            )
        )
        let actions = lab.fromDevice(NotificationLab.community(.trapV2, requestID: 31))
        #expect(actions.replies.isEmpty)
        let sends = actions.sends
        #expect(sends.count == 2)
        #expect(Set(sends.map(\.to)) == [NotificationLab.receiverA, NotificationLab.receiverB])
        for send in sends {
            let decoded = try #require(NotificationLab.decode(send.datagram))
            #expect(decoded.version == .v2c && decoded.community == "nmscomm")
            #expect(decoded.pdu.type == .trapV2)
            #expect(decoded.pdu.varbinds == NotificationLab.forwarded())
        }
        #expect(lab.machine.counters.receivedV2cTraps == 1)
        #expect(lab.counters(of: "nms-a")?.traps == 1 && lab.counters(of: "nms-b")?.traps == 1)
    }

    @Test("a target at the sender's own address is skipped")
    func skipSource() {
        let device = try! SocketAddress(ipAddress: "192.0.2.10", port: 162)
        let lab = NotificationLab(targets: [
            NotificationLab.target("nms", NotificationLab.receiverA),
            NotificationLab.target("device-itself", device),
        ])
        let sends = lab.fromDevice(NotificationLab.community(.trapV2), from: device).sends
        #expect(sends.map(\.to) == [NotificationLab.receiverA])
        #expect(lab.machine.counters.skippedSource == 1)
        #expect(lab.counters(of: "device-itself")?.traps == 0)
    }

    @Test("an SNMPv1 trap is forwarded in SNMPv2 form (RFC 3584 §3.1), attributed and marked")
    func v1TrapTranslated() throws {
        let lab = NotificationLab(targets: [NotificationLab.target("nms", NotificationLab.receiverA)])
        let trap = TrapV1PDU(
            enterprise: "1.3.6.1.4.1.8072.9999",
            agentAddress: IPv4Address(192, 0, 2, 10),
            genericTrap: 6,
            specificTrap: 17,
            timeStamp: 99,
            varbinds: [VarBind(oid: NotificationOIDs.sysName, value: .string("hello-v1"))]
        )
        var buffer = ByteBuffer()
        buffer.writeCommunityMessage(CommunityMessage(version: .v1, community: ByteBuffer(string: "public"), pdu: .trapV1(trap)))
        let sends = lab.fromDevice(buffer).sends
        #expect(sends.count == 1)
        let decoded = try #require(sends.first.flatMap { NotificationLab.decode($0.datagram) })
        #expect(decoded.pdu.type == .trapV2)
        #expect(
            decoded.pdu.varbinds
                == NotificationTranslation.v2Varbinds(from: trap, community: nil)! + [
                    VarBind(
                        oid: NotificationOIDs.snmpEngineID1,
                        value: .octetString(ByteBuffer(bytes: NotificationLab.ourEngineID))
                    )
                ]
        )
        #expect(lab.machine.counters.receivedV1Traps == 1 && lab.machine.counters.translatedV1ToV2 == 1)
    }

    @Test("to an SNMPv1 target: a v1 Trap-PDU (RFC 3584 §3.2); with a Counter64, nothing")
    func v1Target() throws {
        let lab = NotificationLab(targets: [NotificationLab.target("old", NotificationLab.receiverA, version: .v1)])
        let sends = lab.fromDevice(NotificationLab.community(.trapV2)).sends
        #expect(sends.count == 1)
        let message = try SNMPMessage(decoding: try #require(sends.first?.datagram))
        guard case .community(let community) = message, case .trapV1(let trap) = community.pdu else {
            Issue.record("not an SNMPv1 trap: \(message)")
            return
        }
        #expect(community.version == .v1 && community.community == ByteBuffer(string: "nmscomm"))
        #expect(trap.enterprise == NotificationOIDs.snmpTraps && trap.genericTrap == 2 && trap.specificTrap == 0)
        #expect(trap.agentAddress == IPv4Address(192, 0, 2, 10) && trap.timeStamp == 4200)

        let counter = VarBind(oid: "1.3.6.1.2.1.31.1.1.1.6.3", value: .counter64(1 << 40))
        #expect(lab.fromDevice(NotificationLab.community(.trapV2, varbinds: NotificationLab.linkDown + [counter])).isEmpty)
        #expect(lab.counters(of: "old")?.counter64Dropped == 1)
    }
}

// MARK: - Informs

@Suite("The notification machine: informs acknowledged after a target's acknowledgement")
struct NotificationInformTests {
    static func informLab(targets: Int = 1, acknowledgeLocally: Bool = false) -> NotificationLab {
        let addresses = [NotificationLab.receiverA, NotificationLab.receiverB]
        return NotificationLab(
            targets: (0..<targets).map { NotificationLab.target("nms-\($0)", addresses[$0], kind: .inform) },
            acknowledgeLocally: acknowledgeLocally
        )
    }

    /// The inform the machine sent to `address` among `actions`.
    static func sentInform(_ actions: [NotificationAction], to address: SocketAddress) -> PDU? {
        actions.sends.first { $0.to == address }.flatMap { NotificationLab.decode($0.datagram)?.pdu }
    }

    @Test("the device gets no answer until the target acknowledges; then exactly one, with its request-id")
    func acknowledgedAfterTarget() throws {
        let lab = Self.informLab()
        let actions = lab.fromDevice(NotificationLab.community(.inform, requestID: 4242))
        #expect(actions.replies.isEmpty)
        #expect(actions.timers == [lab.now + NotificationLab.second])
        let inform = try #require(Self.sentInform(actions, to: NotificationLab.receiverA))
        #expect(inform.type == .inform)
        #expect(inform.varbinds == NotificationLab.forwarded())
        #expect(lab.machine.counters.receivedV2cInforms == 1)
        #expect(lab.machine.informsWaiting == 1 && lab.machine.pendingCount == 1)

        // From another address, or with another community: not the target's answer.
        #expect(lab.fromTarget(NotificationLab.acknowledgement(of: inform), from: NotificationLab.receiverB).isEmpty)
        #expect(
            lab.fromTarget(NotificationLab.acknowledgement(of: inform, community: "guess"), from: NotificationLab.receiverA)
                .isEmpty
        )
        #expect(lab.counters(of: "nms-0")?.invalidAnswers == 2)
        #expect(lab.machine.counters.acknowledgedForwarded == 0)

        let answer = lab.fromTarget(NotificationLab.acknowledgement(of: inform), from: NotificationLab.receiverA)
        #expect(answer.sends.isEmpty)
        let replies = answer.replies
        #expect(replies.count == 1)
        #expect(replies.first?.to.remote == NotificationLab.device)
        let reply = try #require(replies.first.flatMap { NotificationLab.decode($0.datagram) })
        #expect(reply.version == .v2c && reply.community == "public")
        #expect(reply.pdu.type == .response && reply.pdu.requestID == 4242)
        #expect(reply.pdu.varbinds == NotificationLab.linkDown)
        #expect(lab.machine.counters.acknowledgedForwarded == 1)
        #expect(lab.counters(of: "nms-0")?.acknowledged == 1)
        #expect(lab.machine.informsWaiting == 0 && lab.machine.pendingCount == 0)

        // A second copy of the target's answer changes nothing.
        #expect(lab.fromTarget(NotificationLab.acknowledgement(of: inform), from: NotificationLab.receiverA).isEmpty)
    }

    @Test("two inform targets: the first acknowledgement answers the device, the second does not again")
    func firstAcknowledgementWins() throws {
        let lab = Self.informLab(targets: 2)
        let actions = lab.fromDevice(NotificationLab.community(.inform, requestID: 7))
        #expect(actions.sends.count == 2 && actions.replies.isEmpty)
        let toB = try #require(Self.sentInform(actions, to: NotificationLab.receiverB))
        let toA = try #require(Self.sentInform(actions, to: NotificationLab.receiverA))
        #expect(toA.requestID != toB.requestID)

        let first = lab.fromTarget(NotificationLab.acknowledgement(of: toB), from: NotificationLab.receiverB)
        #expect(first.replies.count == 1)
        #expect(first.replies.first.flatMap { NotificationLab.decode($0.datagram)?.pdu.requestID } == 7)
        let second = lab.fromTarget(NotificationLab.acknowledgement(of: toA), from: NotificationLab.receiverA)
        #expect(second.replies.isEmpty)
        #expect(lab.machine.counters.acknowledgedForwarded == 1)
        #expect(lab.counters(of: "nms-0")?.acknowledged == 1 && lab.counters(of: "nms-1")?.acknowledged == 1)
        #expect(lab.machine.informsWaiting == 0 && lab.machine.pendingCount == 0)
    }

    @Test("no acknowledgement: `retries` retransmissions, then a timeout; the device is never answered")
    func timeouts() throws {
        let lab = Self.informLab()
        let start = lab.now
        let actions = lab.fromDevice(NotificationLab.community(.inform, requestID: 12))
        let original = try #require(actions.sends.first)
        #expect(actions.timers == [start + NotificationLab.second])

        // Early: nothing due.
        #expect(lab.fire(at: start + NotificationLab.second / 2).sends.isEmpty)
        for attempt in 1...2 {
            let retry = lab.fire(at: start + Int64(attempt) * NotificationLab.second)
            #expect(retry.sends.count == 1)
            #expect(retry.sends.first?.to == NotificationLab.receiverA)
            #expect(retry.sends.first?.datagram == original.datagram)
            #expect(retry.timers == [start + Int64(attempt + 1) * NotificationLab.second])
            #expect(retry.replies.isEmpty)
        }
        let last = lab.fire(at: start + 3 * NotificationLab.second)
        #expect(last.isEmpty)
        #expect(lab.machine.counters.unacknowledgedInforms == 1)
        #expect(lab.machine.counters.acknowledgedForwarded == 0 && lab.machine.counters.acknowledgedLocally == 0)
        #expect(lab.counters(of: "nms-0")?.retransmissions == 2 && lab.counters(of: "nms-0")?.timeouts == 1)
        #expect(lab.machine.informsWaiting == 0 && lab.machine.pendingCount == 0)
        // Nothing more, ever.
        #expect(lab.fire(at: start + 60 * NotificationLab.second).isEmpty)

        // The device retries: a fresh attempt downstream.
        let again = lab.fromDevice(NotificationLab.community(.inform, requestID: 12))
        #expect(again.sends.count == 1 && again.replies.isEmpty)
        #expect(lab.machine.counters.duplicateInforms == 0)
    }

    @Test("`ack: local`: the device is answered at once, and not again when the target acknowledges")
    func acknowledgeLocally() throws {
        let lab = Self.informLab(acknowledgeLocally: true)
        let actions = lab.fromDevice(NotificationLab.community(.inform, requestID: 99))
        #expect(actions.sends.count == 1)
        #expect(actions.replies.count == 1)
        let reply = try #require(actions.replies.first.flatMap { NotificationLab.decode($0.datagram) })
        #expect(reply.pdu.type == .response && reply.pdu.requestID == 99)
        #expect(lab.machine.counters.acknowledgedLocally == 1)

        let inform = try #require(Self.sentInform(actions, to: NotificationLab.receiverA))
        #expect(lab.fromTarget(NotificationLab.acknowledgement(of: inform), from: NotificationLab.receiverA).isEmpty)
        #expect(lab.machine.counters.acknowledgedForwarded == 0)
        #expect(lab.counters(of: "nms-0")?.acknowledged == 1)
    }

    @Test("an inform whose targets all take traps is answered at once (nothing downstream can acknowledge)")
    func onlyTrapTargets() {
        let lab = NotificationLab(targets: [NotificationLab.target("nms", NotificationLab.receiverA)])
        let actions = lab.fromDevice(NotificationLab.community(.inform, requestID: 5))
        #expect(actions.sends.count == 1)
        #expect(actions.sends.first.flatMap { NotificationLab.decode($0.datagram)?.pdu.type } == .trapV2)
        #expect(actions.replies.count == 1)
        #expect(lab.machine.counters.acknowledgedLocally == 1)
        #expect(lab.machine.informsWaiting == 0)
    }

    @Test("an inform its only target cannot take (max-pending reached) is not sent, and not acknowledged either")
    func overflowNotAcknowledged() throws {
        let lab = NotificationLab(targets: [
            NotificationLab.target("nms", NotificationLab.receiverA, kind: .inform, maxPending: 1)
        ])
        let first = lab.fromDevice(NotificationLab.community(.inform, requestID: 1))
        #expect(first.sends.count == 1 && first.replies.isEmpty)
        // The receiver has one inform waiting: the second is dropped and counted...
        let second = lab.fromDevice(NotificationLab.community(.inform, requestID: 2))
        #expect(second.sends.isEmpty)
        #expect(lab.counters(of: "nms")?.overflows == 1)
        // ...and the device must not be told it was delivered: it retries later, when there is room.
        #expect(second.replies.isEmpty)
        #expect(lab.machine.counters.acknowledgedLocally == 0)
    }

    @Test("a device's retransmission while pending is not forwarded again; after the acknowledgement it is answered")
    func deviceRetransmission() throws {
        let lab = Self.informLab()
        let first = lab.fromDevice(NotificationLab.community(.inform, requestID: 300))
        let inform = try #require(Self.sentInform(first, to: NotificationLab.receiverA))

        let repeated = lab.fromDevice(NotificationLab.community(.inform, requestID: 300))
        #expect(repeated.isEmpty)
        #expect(lab.machine.counters.duplicateInforms == 1)
        #expect(lab.machine.pendingCount == 1)

        // The same request-id from another device is another inform.
        let other = lab.fromDevice(NotificationLab.community(.inform, requestID: 300), from: NotificationLab.otherDevice)
        #expect(other.sends.count == 1)
        #expect(lab.machine.pendingCount == 2)

        #expect(lab.fromTarget(NotificationLab.acknowledgement(of: inform), from: NotificationLab.receiverA).replies.count == 1)

        // The acknowledgement was lost: the retransmission is answered here, not forwarded.
        let afterwards = lab.fromDevice(NotificationLab.community(.inform, requestID: 300))
        #expect(afterwards.sends.isEmpty)
        #expect(afterwards.replies.count == 1)
        #expect(afterwards.replies.first?.to.remote == NotificationLab.device)
        #expect(afterwards.replies.first.flatMap { NotificationLab.decode($0.datagram)?.pdu.requestID } == 300)
        #expect(lab.machine.counters.duplicateInforms == 2)
    }

    @Test(
        "a device's retransmission answered again is a duplicate, not another acknowledged inform",
        arguments: [false, true]
    )
    func repeatedAcknowledgementCountedOnce(acknowledgeLocally: Bool) throws {
        let lab = Self.informLab(acknowledgeLocally: acknowledgeLocally)
        let first = lab.fromDevice(NotificationLab.community(.inform, requestID: 300))
        let inform = try #require(Self.sentInform(first, to: NotificationLab.receiverA))
        if !acknowledgeLocally {
            #expect(lab.fromTarget(NotificationLab.acknowledgement(of: inform), from: NotificationLab.receiverA).replies.count == 1)
        }
        // The device did not get our answer and sends the inform twice more.
        for _ in 0..<2 {
            #expect(lab.fromDevice(NotificationLab.community(.inform, requestID: 300)).replies.count == 1)
        }
        #expect(lab.machine.counters.duplicateInforms == 2)
        // One inform was acknowledged, once, the way it was.
        #expect(lab.machine.counters.acknowledgedLocally == (acknowledgeLocally ? 1 : 0))
        #expect(lab.machine.counters.acknowledgedForwarded == (acknowledgeLocally ? 0 : 1))
    }
}

// MARK: - SNMPv3

/// Users and engines of the SNMPv3 cases.
enum NotificationUSM {
    /// The relay's user towards receivers.
    static let relay = USMUserConfiguration(
        name: "relay",
        auth: (.sha1, .passphrase("relay-auth-pass")),
        privacy: (.aes128, .passphrase("relay-priv-pass"))
    )
    /// A device's user for its v3 traps.
    static let deviceTraps = USMUserConfiguration(
        name: "devtrap",
        auth: (.sha1, .passphrase("devtrap-auth")),
        privacy: (.aes128, .passphrase("devtrap-priv"))
    )
    /// A device's user for its v3 informs (to our engine).
    static let deviceInforms = USMUserConfiguration(
        name: "devinform",
        auth: (.sha256, .passphrase("devinform-auth")),
        privacy: (.aes128, .passphrase("devinform-priv"))
    )
    static let deviceEngineID: [UInt8] = [0x80, 0x00, 0x1F, 0x88, 0x04, 0xDE, 0xAD, 0x01]
    static let otherEngineID: [UInt8] = [0x80, 0x00, 0x1F, 0x88, 0x04, 0xDE, 0xAD, 0x02]
    static let unknownEngineID: [UInt8] = [0x80, 0x00, 0x1F, 0x88, 0x04, 0xDE, 0xAD, 0x03]
    static let receiverEngineID: [UInt8] = [0x80, 0x00, 0x1F, 0x88, 0x04, 0x0B, 0x0B, 0x0B]
}

@Suite("The notification machine: SNMPv3 in and out")
struct NotificationV3Tests {
    @Test("v3 trap target: authPriv under our engine ID, accepted by a receiver that knows our ID and the user")
    func v3TrapTarget() throws {
        let lab = NotificationLab(targets: [
            NotificationLab.target("secure", NotificationLab.receiverA, version: .v3, user: NotificationUSM.relay)
        ])
        let sends = lab.fromDevice(NotificationLab.community(.trapV2)).sends
        #expect(sends.count == 1 && sends.first?.to == NotificationLab.receiverA)
        let datagram = try #require(sends.first?.datagram)
        guard case .v3(let message) = try SNMPMessage(decoding: datagram) else {
            Issue.record("not SNMPv3")
            return
        }
        let usm = try #require(message.usm)
        #expect(usm.authoritativeEngineID == ByteBuffer(bytes: NotificationLab.ourEngineID))
        #expect(usm.authoritativeEngineBoots == NotificationLab.ourBoots)
        #expect(usm.authoritativeEngineTime == 1000)
        #expect(usm.userName == ByteBuffer(string: "relay"))
        #expect(message.flags == [.authenticated, .privacy])

        var receiver = try USMNotificationReceiver(senders: [(NotificationLab.ourEngineID, NotificationUSM.relay)])
        guard case .accept(let scoped, let user, let engineID, let level) = receiver.receive(message, datagram: datagram, now: 5)
        else {
            Issue.record("the receiver refused the trap")
            return
        }
        #expect(user == "relay" && engineID == NotificationLab.ourEngineID && level == .authPriv)
        #expect(scoped.pdu.type == .trapV2)
        #expect(scoped.pdu.varbinds == NotificationLab.forwarded())

        // Keys of another password do not open it.
        var wrong = NotificationUSM.relay
        wrong.auth = (.sha1, .passphrase("not-the-password"))
        var stranger = try USMNotificationReceiver(senders: [(NotificationLab.ourEngineID, wrong)])
        guard case .drop(.wrongDigests) = stranger.receive(message, datagram: datagram, now: 5) else {
            Issue.record("a wrong key was accepted")
            return
        }
    }

    @Test("v3 inform target: discovery, the authenticated inform, its acknowledgement, then the device's")
    func v3InformTarget() throws {
        let lab = NotificationLab(targets: [
            NotificationLab.target(
                "secure",
                NotificationLab.receiverA,
                version: .v3,
                kind: .inform,
                user: NotificationUSM.relay
            )
        ])
        var receiver = try USMAuthoritativeEngine(
            identity: EngineIdentity(engineID: NotificationUSM.receiverEngineID, boots: 7),
            users: [NotificationUSM.relay]
        )

        // 1. A discovery probe: empty engine ID and user, reportable, noAuthNoPriv.
        let first = lab.fromDevice(NotificationLab.community(.inform, requestID: 777))
        #expect(first.replies.isEmpty)
        let probeBytes = try #require(first.sends.first { $0.to == NotificationLab.receiverA }?.datagram)
        guard case .v3(let probe) = try SNMPMessage(decoding: probeBytes) else {
            Issue.record("the probe is not SNMPv3")
            return
        }
        #expect(probe.usm?.authoritativeEngineID.readableBytes == 0)
        #expect(probe.usm?.userName.readableBytes == 0)
        #expect(probe.flags == .reportable)
        guard case .report(let report, .unknownEngineIDs) = receiver.receive(probe, datagram: probeBytes, engineTime: 500)
        else {
            Issue.record("the receiver did not answer the probe with unknownEngineIDs")
            return
        }
        #expect(lab.counters(of: "secure")?.discoveries == 1)

        // 2. The Report: the machine sends the real inform, secured for the receiver's engine.
        let second = lab.fromTarget(report, from: NotificationLab.receiverA)
        #expect(second.replies.isEmpty)
        let informBytes = try #require(second.sends.first { $0.to == NotificationLab.receiverA }?.datagram)
        guard case .v3(let informMessage) = try SNMPMessage(decoding: informBytes) else {
            Issue.record("the inform is not SNMPv3")
            return
        }
        #expect(informMessage.usm?.authoritativeEngineID == ByteBuffer(bytes: NotificationUSM.receiverEngineID))
        #expect(informMessage.flags == [.authenticated, .privacy, .reportable])
        guard case .accept(let request) = receiver.receive(informMessage, datagram: informBytes, engineTime: 500) else {
            Issue.record("the receiver refused the inform")
            return
        }
        let inform = request.scopedPDU.pdu
        #expect(inform.type == .inform)
        #expect(inform.varbinds == NotificationLab.forwarded())

        // 3. The receiver's Response: the device is answered with its own request-id.
        var response = ByteBuffer()
        let encoded = receiver.encodeResponse(
            PDU(type: .response, requestID: inform.requestID, varbinds: inform.varbinds),
            to: request.state,
            engineTime: 500,
            into: &response
        )
        #expect(encoded)
        let third = lab.fromTarget(response, from: NotificationLab.receiverA)
        #expect(third.sends.isEmpty)
        #expect(third.replies.count == 1)
        let reply = try #require(third.replies.first.flatMap { NotificationLab.decode($0.datagram) })
        #expect(reply.pdu.type == .response && reply.pdu.requestID == 777)
        #expect(lab.counters(of: "secure")?.acknowledged == 1)
        #expect(lab.counters(of: "secure")?.invalidAnswers == 0)
        #expect(lab.machine.counters.acknowledgedForwarded == 1)
        #expect(lab.machine.pendingCount == 0 && lab.machine.informsWaiting == 0)
    }

    @Test("v3 inform target with its engine ID configured: no discovery, a time-window Report, then the inform")
    func v3InformTargetKnownEngine() throws {
        let lab = NotificationLab(targets: [
            NotificationLab.target(
                "secure",
                NotificationLab.receiverA,
                version: .v3,
                kind: .inform,
                user: NotificationUSM.relay,
                engineID: NotificationUSM.receiverEngineID
            )
        ])
        var receiver = try USMAuthoritativeEngine(
            identity: EngineIdentity(engineID: NotificationUSM.receiverEngineID, boots: 7),
            users: [NotificationUSM.relay]
        )
        let first = lab.fromDevice(NotificationLab.community(.inform, requestID: 808))
        let firstBytes = try #require(first.sends.first?.datagram)
        guard case .v3(let firstMessage) = try SNMPMessage(decoding: firstBytes) else {
            Issue.record("not SNMPv3")
            return
        }
        // Authenticated at once, under the configured engine ID; boots and time not known yet.
        #expect(firstMessage.usm?.authoritativeEngineID == ByteBuffer(bytes: NotificationUSM.receiverEngineID))
        #expect(firstMessage.flags.contains(.authenticated))
        #expect(lab.counters(of: "secure")?.discoveries == 0)
        guard case .report(let report, .notInTimeWindows) = receiver.receive(firstMessage, datagram: firstBytes, engineTime: 900)
        else {
            Issue.record("the receiver did not ask for a resynchronisation")
            return
        }
        let second = lab.fromTarget(report, from: NotificationLab.receiverA)
        let informBytes = try #require(second.sends.first?.datagram)
        guard case .v3(let informMessage) = try SNMPMessage(decoding: informBytes),
            case .accept(let request) = receiver.receive(informMessage, datagram: informBytes, engineTime: 900)
        else {
            Issue.record("the resent inform was refused")
            return
        }
        #expect(informMessage.usm?.authoritativeEngineBoots == 7)
        var response = ByteBuffer()
        receiver.encodeResponse(
            PDU(type: .response, requestID: request.scopedPDU.pdu.requestID, varbinds: request.scopedPDU.pdu.varbinds),
            to: request.state,
            engineTime: 900,
            into: &response
        )
        let third = lab.fromTarget(response, from: NotificationLab.receiverA)
        #expect(third.replies.first.flatMap { NotificationLab.decode($0.datagram)?.pdu.requestID } == 808)
        #expect(lab.counters(of: "secure")?.acknowledged == 1)
    }

    static func v3DeviceLab(kind: NotificationSnapshot.Target.Kind = .trap) -> NotificationLab {
        NotificationLab(
            NotificationSnapshot(
                sources: [
                    NotificationLab.source(
                        users: ["devtrap", "devinform"],
                        engineIDs: [NotificationUSM.deviceEngineID]
                    )
                ],
                targets: [NotificationLab.target("nms", NotificationLab.receiverA, kind: kind)],
                routes: [NotificationLab.route(targets: [0])]
            ),
            informUsers: [NotificationUSM.deviceInforms],
            trapSenders: [
                (NotificationUSM.deviceEngineID, NotificationUSM.deviceTraps),
                (NotificationUSM.otherEngineID, NotificationUSM.deviceTraps),
            ]
        )
    }

    /// A trapV2 from a device's engine `engineID` as `user`.
    static func deviceTrap(engineID: [UInt8], user: USMUserConfiguration = NotificationUSM.deviceTraps) throws
        -> ByteBuffer
    {
        var client = try USMClient(user: user)
        try client.synchronise(engineID: engineID, boots: 1, time: 100, now: 0)
        var buffer = ByteBuffer()
        client.encodeRequest(
            PDU(type: .trapV2, requestID: 5, varbinds: NotificationLab.linkDown),
            messageID: 5,
            now: 0,
            into: &buffer
        )
        return buffer
    }

    @Test("a v3 trap from a listed engine ID and user is forwarded")
    func v3TrapFromDevice() throws {
        let lab = Self.v3DeviceLab()
        let sends = lab.fromDevice(try Self.deviceTrap(engineID: NotificationUSM.deviceEngineID)).sends
        #expect(sends.count == 1)
        #expect(sends.first.flatMap { NotificationLab.decode($0.datagram)?.pdu.varbinds } == NotificationLab.forwarded())
        #expect(lab.machine.counters.receivedV3Traps == 1)
        #expect(lab.machine.counters[.authentication] == 0)
    }

    @Test(
        "a v3 trap with a wrong password, an engine ID nobody knows, or one the source does not list: authentication",
        arguments: ["wrong password", "unknown engine", "engine not the source's"]
    )
    func v3TrapRefused(scenario label: String) throws {
        let lab = Self.v3DeviceLab()
        let datagram: ByteBuffer
        switch label {
        case "wrong password":
            var wrong = NotificationUSM.deviceTraps
            wrong.auth = (.sha1, .passphrase("guessed-password"))
            datagram = try Self.deviceTrap(engineID: NotificationUSM.deviceEngineID, user: wrong)
        case "unknown engine":
            datagram = try Self.deviceTrap(engineID: NotificationUSM.unknownEngineID)
        default:
            datagram = try Self.deviceTrap(engineID: NotificationUSM.otherEngineID)
        }
        #expect(lab.fromDevice(datagram).isEmpty)
        #expect(lab.machine.counters[.authentication] == 1)
        #expect(lab.machine.counters.receivedV3Traps == 0)
    }

    @Test("a v3 inform from a device: discovery of our engine, the inform, our authenticated answer")
    func v3InformFromDevice() throws {
        let lab = Self.v3DeviceLab()
        var client = try USMClient(user: NotificationUSM.deviceInforms)

        let discovery = lab.fromDevice(USMClient.discoveryRequest(messageID: 1, requestID: 1))
        #expect(discovery.sends.isEmpty)
        let report = try #require(discovery.replies.first?.datagram)
        guard case .report(_, .unknownEngineIDs, _) = client.receive(report, now: 0) else {
            Issue.record("no unknownEngineIDs Report")
            return
        }
        #expect(client.engineID == NotificationLab.ourEngineID && client.boots == NotificationLab.ourBoots)
        #expect(lab.machine.counters.reportsSent == 1)

        var inform = ByteBuffer()
        client.encodeRequest(
            PDU(type: .inform, requestID: 31, varbinds: NotificationLab.linkDown),
            messageID: 31,
            now: 0,
            into: &inform
        )
        let actions = lab.fromDevice(inform)
        #expect(actions.sends.first.flatMap { NotificationLab.decode($0.datagram)?.pdu.varbinds } == NotificationLab.forwarded())
        #expect(lab.machine.counters.receivedV3Informs == 1)
        // Only a trap target: answered at once.
        let answer = try #require(actions.replies.first?.datagram)
        guard case .response(let messageID, let scoped) = client.receive(answer, now: 0) else {
            Issue.record("the answer does not authenticate")
            return
        }
        #expect(messageID == 31 && scoped.pdu.type == .response && scoped.pdu.requestID == 31)
    }

    @Test("a v3 inform from a device to an inform target: answered, authenticated, after the target's acknowledgement")
    func v3InformFromDeviceForwarded() throws {
        let lab = Self.v3DeviceLab(kind: .inform)
        var client = try USMClient(user: NotificationUSM.deviceInforms)
        // Our engine's boots and time as the device would have discovered them.
        try client.synchronise(engineID: NotificationLab.ourEngineID, boots: NotificationLab.ourBoots, time: 1000, now: 0)
        var inform = ByteBuffer()
        client.encodeRequest(
            PDU(type: .inform, requestID: 41, varbinds: NotificationLab.linkDown),
            messageID: 41,
            now: 0,
            into: &inform
        )
        let actions = lab.fromDevice(inform)
        #expect(actions.replies.isEmpty)
        let forwarded = try #require(actions.sends.first.flatMap { NotificationLab.decode($0.datagram)?.pdu })
        #expect(forwarded.type == .inform && forwarded.varbinds == NotificationLab.forwarded())

        let answer = lab.fromTarget(NotificationLab.acknowledgement(of: forwarded), from: NotificationLab.receiverA)
        let reply = try #require(answer.replies.first?.datagram)
        guard case .response(let messageID, let scoped) = client.receive(reply, now: 0) else {
            Issue.record("the answer does not authenticate")
            return
        }
        #expect(messageID == 41 && scoped.pdu.type == .response && scoped.pdu.requestID == 41)
        #expect(scoped.pdu.varbinds == NotificationLab.linkDown)
        #expect(lab.machine.counters.acknowledgedForwarded == 1)
    }
}
