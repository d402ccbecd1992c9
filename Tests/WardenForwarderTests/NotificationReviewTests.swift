import NIOCore
import SNMPSecurity
import SNMPWire
import Testing
import WardenForwarder
import WardenPolicy

@Suite("Review findings: notification relay")
struct ReviewFindingsTests {
    /// F1: a device's TRAP routed to an INFORM target creates a pending inform and a heap entry,
    /// but dispatch returns before rearm(): no timer, so no retransmission, no timeout, and the
    /// pending table fills to max-pending, after which every notification to that target overflows.
    @Test("F1: trap in, inform target: a timer is armed, unanswered informs time out")
    func trapToInformArmsTimer() {
        let lab = NotificationLab(targets: [
            NotificationLab.target("nms", NotificationLab.receiverA, kind: .inform, retries: 1, maxPending: 2)
        ])
        let first = lab.fromDevice(NotificationLab.community(.trapV2))
        #expect(first.sends.count == 1)
        #expect(lab.machine.pendingCount == 1)
        #expect(!first.timers.isEmpty, "no armTimer: the inform will never be retried nor time out")

        // The receiver is down. The loop fires the timer whenever the machine armed it; an hour
        // passes, a second trap comes, another hour, a third.
        var armed = first.timers.last
        func passTime(until end: Int64) {
            while let deadline = armed, deadline <= end {
                armed = lab.fire(at: deadline).timers.last
            }
            lab.now = end
        }
        passTime(until: lab.now + 3600 * NotificationLab.second)
        armed = lab.fromDevice(NotificationLab.community(.trapV2, requestID: 2)).timers.last ?? armed
        passTime(until: lab.now + 3600 * NotificationLab.second)
        let third = lab.fromDevice(NotificationLab.community(.trapV2, requestID: 3))
        #expect(third.sends.count == 1, "third trap dropped as overflow: stale pending informs never expired")
        #expect(lab.counters(of: "nms")?.overflows == 0)
        #expect(lab.counters(of: "nms")?.retransmissions ?? 0 > 0)
    }

    /// F2: the v3 inform receiver changes its engine ID (reinstalled, persistent dir wiped). Its
    /// unknownEngineIDs Report carries the new ID, USMClient refuses to learn it (engine already
    /// known), the machine re-sends under the old ID 3 times and gives up; every later inform too.
    @Test("F2: v3 inform target whose engine ID changed is rediscovered")
    func receiverEngineIDChange() throws {
        let lab = NotificationLab(targets: [
            NotificationLab.target("secure", NotificationLab.receiverA, version: .v3, kind: .inform, user: NotificationUSM.relay)
        ])
        var receiver = try USMAuthoritativeEngine(
            identity: EngineIdentity(engineID: NotificationUSM.receiverEngineID, boots: 7),
            users: [NotificationUSM.relay]
        )
        // Discovery against the first engine.
        let probeBytes = try #require(lab.fromDevice(NotificationLab.community(.trapV2)).sends.first?.datagram)
        guard case .v3(let probe) = try SNMPMessage(decoding: probeBytes),
            case .report(let report, .unknownEngineIDs) = receiver.receive(probe, datagram: probeBytes, engineTime: 500)
        else { Issue.record("no discovery"); return }
        _ = lab.fromTarget(report, from: NotificationLab.receiverA)

        // The receiver is replaced: same user, new engine ID.
        let newEngineID: [UInt8] = [0x80, 0x00, 0x1F, 0x88, 0x04, 0x0C, 0x0C, 0x0C]
        receiver = try USMAuthoritativeEngine(
            identity: EngineIdentity(engineID: newEngineID, boots: 1),
            users: [NotificationUSM.relay]
        )
        var datagram = try #require(lab.fromDevice(NotificationLab.community(.trapV2, requestID: 9)).sends.first?.datagram)
        var acknowledged = false
        for _ in 0..<5 {
            guard case .v3(let message) = try SNMPMessage(decoding: datagram) else { break }
            switch receiver.receive(message, datagram: datagram, engineTime: 10) {
            case .report(let report, _):
                guard let next = lab.fromTarget(report, from: NotificationLab.receiverA).sends.first?.datagram else {
                    break
                }
                datagram = next
                continue
            case .accept:
                acknowledged = true
            default:
                break
            }
            break
        }
        #expect(acknowledged, "the relay never learned the receiver's new engine ID")
    }

    /// F3: reload turns a v3 TRAP target into an INFORM target (same name, address, user):
    /// isSameReceiver ignores `kind`, the session keeps OUR engine ID (set for traps), and the
    /// informs go out with our engine ID as the authoritative one; the receiver can never accept them.
    @Test("F3: v3 target changed from trap to inform on reload discovers the receiver")
    func trapToInformKindChange() throws {
        let trapTarget = NotificationLab.target("nms", NotificationLab.receiverA, version: .v3, user: NotificationUSM.relay)
        let lab = NotificationLab(targets: [trapTarget])
        _ = lab.fromDevice(NotificationLab.community(.trapV2))
        let informTarget = NotificationLab.target(
            "nms", NotificationLab.receiverA, version: .v3, kind: .inform, user: NotificationUSM.relay
        )
        lab.machine.replace(
            snapshot: NotificationSnapshot(
                sources: [NotificationLab.source()],
                targets: [informTarget],
                routes: [NotificationLab.route(targets: [0])]
            ),
            engine: try USMAuthoritativeEngine(
                identity: EngineIdentity(engineID: NotificationLab.ourEngineID, boots: NotificationLab.ourBoots),
                users: []
            ),
            trapReceiver: try USMNotificationReceiver(senders: [])
        )
        let bytes = try #require(lab.fromDevice(NotificationLab.community(.inform, requestID: 3)).sends.first?.datagram)
        guard case .v3(let message) = try SNMPMessage(decoding: bytes) else { Issue.record("not v3"); return }
        #expect(
            message.usm?.authoritativeEngineID != ByteBuffer(bytes: NotificationLab.ourEngineID),
            "inform sent with our own engine ID as authoritative"
        )
    }

    /// F4: InformKey is (source address+port, request-id) only. A device that reboots and restarts
    /// its request-ids from the same port within 2 minutes gets its NEW inform acknowledged and dropped.
    @Test("F4: a different inform reusing a request-id within 2 minutes is forwarded")
    func informKeyCollision() {
        let lab = NotificationLab(targets: [NotificationLab.target("nms", NotificationLab.receiverA)])
        let a = lab.fromDevice(NotificationLab.community(.inform, requestID: 1))
        #expect(a.sends.count == 1 && a.replies.count == 1)
        lab.now += 30 * NotificationLab.second
        let coldStart = notificationHeader(uptime: 5, trapOID: "1.3.6.1.6.3.1.1.5.1")
        let b = lab.fromDevice(NotificationLab.community(.inform, requestID: 1, varbinds: coldStart))
        #expect(b.sends.count == 1, "the coldStart inform was acknowledged as a duplicate and never forwarded")
    }

    /// F5: the trap receiver's clocks (RFC 3414 §3.2 7b) are thrown away on every reload: an
    /// authentic v3 trap captured at any time in the past is accepted again after a reload.
    @Test("F5: an old v3 trap replayed after a reload is still refused")
    func trapReplayAfterReload() throws {
        let lab = NotificationUSMReplayHelper.lab()
        let old = try NotificationUSMReplayHelper.trap(time: 100)
        #expect(lab.fromDevice(old).sends.count == 1)
        let newer = try NotificationUSMReplayHelper.trap(time: 100_000)
        #expect(lab.fromDevice(newer).sends.count == 1)
        #expect(lab.fromDevice(old).sends.isEmpty)  // replay refused: notInTimeWindows
        // A reload with the same configuration.
        lab.machine.replace(
            snapshot: lab.machine.snapshot,
            engine: try USMAuthoritativeEngine(
                identity: EngineIdentity(engineID: NotificationLab.ourEngineID, boots: NotificationLab.ourBoots),
                users: [NotificationUSM.deviceInforms]
            ),
            trapReceiver: try USMNotificationReceiver(senders: [(NotificationUSM.deviceEngineID, NotificationUSM.deviceTraps)])
        )
        #expect(lab.fromDevice(old).sends.isEmpty, "replayed trap forwarded after reload")
    }

    /// F6: the rate-limit table is filled by strangers too (the bucket is taken before the source
    /// check) and is wiped wholesale when full: 65,536 spoofed stranger datagrams refill the
    /// bucket of a storming, rate-limited device.
    @Test("F6: strangers cannot reset an allowed device's token bucket")
    func bucketFlush() throws {
        let lab = NotificationLab(
            NotificationSnapshot(
                sources: [NotificationLab.source()],
                targets: [NotificationLab.target("nms", NotificationLab.receiverA)],
                routes: [NotificationLab.route(targets: [0])],
                sourceRate: 1,
                sourceBurst: 2
            )
        )
        #expect(lab.fromDevice(NotificationLab.community(.trapV2)).sends.count == 1)
        #expect(lab.fromDevice(NotificationLab.community(.trapV2)).sends.count == 1)
        #expect(lab.fromDevice(NotificationLab.community(.trapV2)).sends.isEmpty)  // limited
        var sink = NotificationSink()
        let empty = ByteBuffer()
        for i in 0..<65_536 {
            let stranger = try SocketAddress(ipAddress: "10.\(i >> 16).\((i >> 8) & 255).\(i & 255)", port: 9)
            lab.machine.receive(empty, from: ManagerEndpoint(listener: 0, remote: stranger), now: lab.now, into: &sink)
        }
        #expect(lab.fromDevice(NotificationLab.community(.trapV2)).sends.isEmpty, "the device's bucket was refilled")
    }
}

enum NotificationUSMReplayHelper {
    static func lab() -> NotificationLab {
        NotificationLab(
            NotificationSnapshot(
                sources: [NotificationLab.source(users: ["devtrap"], engineIDs: [NotificationUSM.deviceEngineID])],
                targets: [NotificationLab.target("nms", NotificationLab.receiverA)],
                routes: [NotificationLab.route(targets: [0])]
            ),
            informUsers: [NotificationUSM.deviceInforms],
            trapSenders: [(NotificationUSM.deviceEngineID, NotificationUSM.deviceTraps)]
        )
    }

    static func trap(time: Int32) throws -> ByteBuffer {
        var client = try USMClient(user: NotificationUSM.deviceTraps)
        try client.synchronise(engineID: NotificationUSM.deviceEngineID, boots: 1, time: time, now: 0)
        var buffer = ByteBuffer()
        client.encodeRequest(PDU(type: .trapV2, requestID: 5, varbinds: NotificationLab.linkDown), messageID: 5, now: 0, into: &buffer)
        return buffer
    }
}

@Suite("Review findings: USMClient")
struct ReviewUSMClientTests {
    /// F7: an UNAUTHENTICATED unknownEngineIDs Report naming the engine already known overwrites
    /// boots/time/latestReceivedTime (RFC 3414 §3.2 step 7b allows this only from authentic
    /// messages). boots = 2^31-1 makes every authentic Response "not in time window".
    @Test("F7: a spoofed noAuth unknownEngineIDs Report does not move a known engine's clock")
    func spoofedReportPoisonsClock() throws {
        let engineID = NotificationUSM.receiverEngineID
        var agent = try USMAuthoritativeEngine(
            identity: EngineIdentity(engineID: engineID, boots: 7),
            users: [NotificationUSM.relay]
        )
        var client = try USMClient(user: NotificationUSM.relay)
        try client.synchronise(engineID: engineID, boots: 7, time: 500, now: 0)

        let spoof = SNMPv3Message(
            messageID: 42,
            maxSize: 1500,
            flags: [],
            securityParameters: .usm(
                USMSecurityParameters(
                    authoritativeEngineID: ByteBuffer(bytes: engineID),
                    authoritativeEngineBoots: Int32.max,
                    authoritativeEngineTime: 0,
                    userName: ByteBuffer()
                )
            ),
            data: .plaintext(
                ScopedPDU(
                    contextEngineID: ByteBuffer(bytes: engineID),
                    contextName: ByteBuffer(),
                    pdu: PDU(type: .report, requestID: 42, varbinds: [
                        VarBind(oid: USMReportKind.unknownEngineIDs.oid, value: .counter32(1))
                    ])
                )
            )
        )
        var spoofBytes = ByteBuffer()
        spoofBytes.writeSNMPv3Message(spoof)
        _ = client.receive(spoofBytes, now: 1)
        #expect(client.boots == 7, "unauthenticated Report set boots to \(client.boots)")

        // The real agent's authentic Response to a request is now refused.
        var request = ByteBuffer()
        try client.synchronise(engineID: engineID, boots: 7, time: 500, now: 0)  // honest state for encoding
        client.encodeRequest(PDU(type: .get, requestID: 43, varbinds: []), messageID: 43, now: 1, into: &request)
        _ = client.receive(spoofBytes, now: 1)  // poisoned again
        guard case .v3(let message) = try SNMPMessage(decoding: request),
            case .accept(let accepted) = agent.receive(message, datagram: request, engineTime: 501)
        else { Issue.record("agent refused"); return }
        var response = ByteBuffer()
        _ = agent.encodeResponse(PDU(type: .response, requestID: 43, varbinds: []), to: accepted.state, engineTime: 501, into: &response)
        guard case .response = client.receive(response, now: 2) else {
            Issue.record("authentic Response refused after one spoofed unauthenticated Report")
            return
        }
    }
}

@Suite("Review findings: fixes without a reproduction above")
struct ReviewFollowUpTests {
    /// F13: a v1 trap whose generic-trap is outside 0…6 has no SNMPv2 form (RFC 1157): malformed.
    @Test("a v1 trap with generic-trap 7 is dropped as malformed", arguments: [Int32(7), -1])
    func genericOutOfRange(generic: Int32) {
        let lab = NotificationLab(targets: [NotificationLab.target("nms", NotificationLab.receiverA)])
        let trap = TrapV1PDU(
            enterprise: "1.3.6.1.4.1.9",
            agentAddress: IPv4Address(192, 0, 2, 10),
            genericTrap: generic,
            specificTrap: 1,
            timeStamp: 1,
            varbinds: []
        )
        var datagram = ByteBuffer()
        datagram.writeCommunityMessage(CommunityMessage(version: .v1, community: ByteBuffer(string: "public"), pdu: .trapV1(trap)))
        #expect(lab.fromDevice(datagram).sends.isEmpty)
        #expect(lab.machine.counters[.malformed] == 1)
    }

    /// F10: an unauthenticated failure Report (anyone on the path could forge one) is counted for the
    /// operator but does not end a v3 inform to a receiver whose engine is known: it ends by timeout.
    @Test("an unauthenticated wrongDigests Report does not end a v3 inform")
    func unauthenticatedReportDoesNotEndInform() throws {
        let lab = NotificationLab(targets: [
            NotificationLab.target("secure", NotificationLab.receiverA, version: .v3, kind: .inform, user: NotificationUSM.relay)
        ])
        var receiver = try USMAuthoritativeEngine(
            identity: EngineIdentity(engineID: NotificationUSM.receiverEngineID, boots: 7),
            users: [NotificationUSM.relay]
        )
        let probeBytes = try #require(lab.fromDevice(NotificationLab.community(.trapV2)).sends.first?.datagram)
        guard case .v3(let probe) = try SNMPMessage(decoding: probeBytes),
            case .report(let report, .unknownEngineIDs) = receiver.receive(probe, datagram: probeBytes, engineTime: 500)
        else {
            Issue.record("no discovery")
            return
        }
        let informBytes = try #require(lab.fromTarget(report, from: NotificationLab.receiverA).sends.first?.datagram)
        guard case .v3(let inform) = try SNMPMessage(decoding: informBytes) else {
            Issue.record("not v3")
            return
        }
        // A forged noAuth wrongDigests Report with the inform's msgID.
        let forged = SNMPv3Message(
            messageID: inform.messageID,
            maxSize: 1500,
            flags: [],
            securityParameters: .usm(
                USMSecurityParameters(
                    authoritativeEngineID: ByteBuffer(bytes: NotificationUSM.receiverEngineID),
                    authoritativeEngineBoots: 7,
                    authoritativeEngineTime: 500,
                    userName: ByteBuffer(string: NotificationUSM.relay.name)
                )
            ),
            data: .plaintext(
                ScopedPDU(
                    contextEngineID: ByteBuffer(bytes: NotificationUSM.receiverEngineID),
                    contextName: ByteBuffer(),
                    pdu: PDU(
                        type: .report,
                        requestID: inform.messageID,
                        varbinds: [VarBind(oid: USMReportKind.wrongDigests.oid, value: .counter32(1))]
                    )
                )
            )
        )
        var forgedBytes = ByteBuffer()
        forgedBytes.writeSNMPv3Message(forged)
        _ = lab.fromTarget(forgedBytes, from: NotificationLab.receiverA)
        #expect(lab.machine.pendingCount == 1, "a forged Report ended the inform")
        #expect(lab.counters(of: "secure")?.reports == 1)
        // The real acknowledgement still counts.
        guard case .accept(let accepted) = receiver.receive(inform, datagram: informBytes, engineTime: 500) else {
            Issue.record("the receiver refused the inform")
            return
        }
        var response = ByteBuffer()
        _ = receiver.encodeResponse(
            PDU(type: .response, requestID: accepted.scopedPDU.pdu.requestID, varbinds: accepted.scopedPDU.pdu.varbinds),
            to: accepted.state,
            engineTime: 500,
            into: &response
        )
        _ = lab.fromTarget(response, from: NotificationLab.receiverA)
        #expect(lab.counters(of: "secure")?.acknowledged == 1)
        #expect(lab.machine.pendingCount == 0)
    }
}
