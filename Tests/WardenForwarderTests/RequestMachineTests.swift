//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOCore
import SNMPWire
import Testing
import WardenForwarder
import WardenPolicy
import WardenSimulator
import SNMPSecurity

/// A fleet: agents `dev-a`, `dev-b`, `dev-c` (group `fleet`) and `core` (no group) on 192.0.2.1-4,
/// one route for user `noc` that picks the device by context name within the group.
func fleetHarness(socketsPerPool: Int = 2, maxPending: Int = 10_000, timeout: Int64 = 1_000_000_000) -> (
    MachineHarness, [SocketAddress]
) {
    let names = ["dev-a", "dev-b", "dev-c", "core"]
    let addresses = (1...4).map { try! SocketAddress(ipAddress: "192.0.2.\($0)", port: 161) }
    let backends = names.indices.map { index in
        BackendTarget(
            name: names[index],
            index: index,
            group: index < 3 ? "fleet" : nil,
            kind: .agent(
                BackendTarget.Agent(
                    address: addresses[index],
                    version: .v2c,
                    community: ByteBuffer(string: "comm-\(names[index])"),
                    timeout: timeout,
                    retries: 1,
                    pool: 0
                )
            )
        )
    }
    let everything = ViewPolicy(include: [[1, 3, 6, 1]], exclude: [])
    let snapshot = ForwardingSnapshot(
        routes: [
            RouteTarget(
                name: "fleet",
                index: 0,
                backend: .byContext(group: "fleet"),
                policy: RoutePolicy(readView: everything, writeView: nil, rewrites: []),
                dropOnTimeout: false
            )
        ],
        routeTable: RouteTable(rules: [RouteTable.Rule(users: ["noc"], communities: [], context: nil, sources: [])]),
        backends: backends,
        limits: ForwardingLimits(maxPending: maxPending),
        pools: [try! SocketAddress(ipAddress: "0.0.0.0", port: 0)],
        socketsPerPool: socketsPerPool
    )
    let harness = MachineHarness(snapshot: snapshot)
    for index in names.indices {
        let name = names[index]
        harness.agents[addresses[index]] = MachineHarness.Agent(version: .v2c, community: "comm-\(name)") { request in
            PDU(
                type: .response,
                requestID: request.requestID,
                varbinds: request.varbinds.map { VarBind(oid: $0.oid, value: .string(name)) }
            )
        }
    }
    return (harness, addresses)
}

let sysName = PDU(type: .get, requestID: 77, varbinds: [VarBind(oid: "1.3.6.1.2.1.1.5.0")])

@Suite("The request machine: devices by context, the shared socket pool, timers")
struct RequestMachineTests {
    @Test("backend \"{context}\": the device named like the context answers; another name is refused like no route")
    func devicesByContext() {
        let (harness, _) = fleetHarness()
        for name in ["dev-a", "dev-c", "dev-b"] {
            let replies = harness.askV3(sysName, context: name)
            #expect(replies.count == 1 && replies.first?.varbinds.first?.value == .string(name), "\(replies)")
        }
        #expect(harness.backendPackets == 3)
        // Outside the route's group, and no such device: authorizationError, nothing sent.
        for name in ["core", "dev-z", ""] {
            let replies = harness.askV3(sysName, context: name)
            #expect(replies.first?.errorStatus == .authorizationError, "\(name)")
        }
        #expect(harness.backendPackets == 3)
        #expect(harness.machine.counters.noDevice == 3)
        #expect(harness.machine.counters.noRoute == 0)
        #expect(harness.audits.contains { if case .noDevice = $0 { return true } else { return false } })
    }

    @Test("request-ids are unique per socket while pending, over every back end of the pool")
    func requestIDsPerSocket() {
        let (harness, addresses) = fleetHarness(socketsPerPool: 3)
        for address in addresses { harness.agents[address]?.respond = { _ in nil } }  // silent
        var seen = Set<[Int32]>()
        var sockets = Set<Int>()
        var sink = CollectingSink()
        for round in 0..<900 {
            var buffer = ByteBuffer()
            harness.client.encodeRequest(
                sysName,
                messageID: Int32(round),
                contextName: ByteBuffer(string: ["dev-a", "dev-b", "dev-c"][round % 3]),
                now: 1,
                into: &buffer
            )
            harness.machine.receiveFromManager(
                buffer,
                from: ManagerEndpoint(listener: 0, remote: MachineHarness.manager),
                now: harness.now,
                into: &sink
            )
        }
        for case .sendToBackend(let datagram, let socket, _) in sink.actions {
            guard case .community(let message) = try! SNMPMessage(decoding: datagram), case .pdu(let pdu) = message.pdu
            else { continue }
            #expect(seen.insert([Int32(socket), pdu.requestID]).inserted, "socket \(socket) id \(pdu.requestID) twice")
            sockets.insert(socket)
        }
        #expect(seen.count == 900 && sockets == [0, 1, 2])
        #expect(harness.machine.pendingCount == 900)
    }

    @Test("an answer counts only from the agent asked, with its community: a guessed id from another agent never does")
    func trustRules() throws {
        let (harness, addresses) = fleetHarness(socketsPerPool: 1)
        var asked: [Int32] = []
        harness.agents[addresses[1]]?.respond = { request in
            asked.append(request.requestID)  // dev-b stays silent
            return nil
        }
        #expect(harness.askV3(sysName, context: "dev-b").isEmpty)
        let id = try #require(asked.first)
        #expect(harness.machine.pendingCount == 1)
        func answer(_ id: Int32, from name: String, community: String? = nil, type: PDUType = .response) -> ByteBuffer {
            var buffer = ByteBuffer()
            let pdu = PDU(type: type, requestID: id, varbinds: [VarBind(oid: "1.3.6.1.2.1.1.5.0", value: .string(name))])
            buffer.writeCommunityMessage(
                CommunityMessage(version: .v2c, community: ByteBuffer(string: community ?? "comm-\(name)"), pdu: .pdu(pdu))
            )
            return buffer
        }
        var sink = CollectingSink()
        func deliver(_ datagram: ByteBuffer, from address: SocketAddress) {
            harness.machine.receiveFromBackend(datagram, socket: 0, from: address, now: harness.now, into: &sink)
        }
        // dev-a (a real device of the fleet, or a fake agent on the pool's path) answers with every
        // request-id near dev-b's, with its own community or dev-b's: none completes dev-b's request.
        for offset in Int32(-50)...50 {
            deliver(answer(id &+ offset, from: "dev-a"), from: addresses[0])
            deliver(answer(id &+ offset, from: "dev-a", community: "comm-dev-b"), from: addresses[0])
        }
        #expect(harness.machine.counters.backendWrongSource == 2)  // the one id that is pending, twice
        #expect(harness.machine.counters.backendUnmatched == 200)
        // From dev-b's own address: the wrong community, a Get instead of a Response, garbage.
        deliver(answer(id, from: "dev-b", community: "guess"), from: addresses[1])
        #expect(harness.machine.counters.backendWrongCommunity == 1)
        deliver(answer(id, from: "dev-b", type: .get), from: addresses[1])
        deliver(ByteBuffer(bytes: [0x30, 0x03, 0x02]), from: addresses[1])
        #expect(harness.machine.counters.backendMalformed == 2)
        // The right address on the wrong port.
        deliver(answer(id, from: "dev-b"), from: try SocketAddress(ipAddress: "192.0.2.2", port: 162))
        #expect(harness.machine.counters.backendWrongSource == 3)
        #expect(sink.actions.isEmpty, "a forged answer reached the manager: \(sink.actions)")
        #expect(harness.machine.pendingCount == 1)
        // The real answer still completes the request.
        deliver(answer(id, from: "dev-b"), from: addresses[1])
        let replies = harness.play(sink.actions)
        #expect(replies.count == 1 && replies.first?.varbinds.first?.value == .string("dev-b"))
        #expect(harness.machine.pendingCount == 0 && harness.machine.counters.backendResponses == 1)
    }

    @Test("a silent agent: one retransmission of the same bytes, then genErr; the timer is armed once per deadline")
    func retransmitThenTimeout() {
        let (harness, addresses) = fleetHarness(timeout: 500_000_000)
        harness.agents[addresses[0]]?.respond = { _ in nil }
        let start = harness.now
        #expect(harness.askV3(sysName, context: "dev-a").isEmpty)
        #expect(harness.armed == start + 500_000_000)
        #expect(harness.fireTimer().isEmpty)
        #expect(harness.backendPackets == 2 && harness.machine.counters.backendRetransmissions == 1)
        #expect(harness.armed == start + 1_000_000_000)
        let replies = harness.fireTimer()
        #expect(replies.first?.errorStatus == .genErr && replies.first?.requestID == 77)
        #expect(harness.machine.counters.backendTimeouts == 1 && harness.machine.pendingCount == 0)
    }

    @Test("the pending bound: a request past limits.max-pending is answered genErr at once and audited")
    func pendingBound() {
        let (harness, addresses) = fleetHarness(maxPending: 2)
        harness.agents[addresses[0]]?.respond = { _ in nil }
        #expect(harness.askV3(sysName, context: "dev-a").isEmpty)
        #expect(harness.askV3(sysName, context: "dev-a").isEmpty)
        let replies = harness.askV3(sysName, context: "dev-a")
        #expect(replies.first?.errorStatus == .genErr)
        #expect(harness.machine.counters.pendingOverflows == 1 && harness.machine.pendingCount == 2)
        #expect(harness.audits.contains { if case .pendingOverflow = $0 { return true } else { return false } })
    }

    @Test("a reload while a request is in flight: its next round goes where it started (old pools), the new snapshot serves new requests")
    func reloadMidRequest() throws {
        // A v1 agent: a Get of a missing and a present object costs two rounds.
        let address = try SocketAddress(ipAddress: "192.0.2.1", port: 161)
        func snapshot(view: ViewPolicy, pools: Int) -> ForwardingSnapshot {
            let backend = BackendTarget(
                name: "v1",
                index: 0,
                kind: .agent(
                    BackendTarget.Agent(
                        address: address,
                        version: .v1,
                        community: ByteBuffer(string: "c"),
                        timeout: 1_000_000_000,
                        retries: 0,
                        pool: pools - 1
                    )
                )
            )
            return ForwardingSnapshot(
                routes: [
                    RouteTarget(
                        name: "r",
                        index: 0,
                        backend: .fixed(backend),
                        policy: RoutePolicy(readView: view, writeView: nil, rewrites: []),
                        dropOnTimeout: false
                    )
                ],
                routeTable: RouteTable(rules: [RouteTable.Rule(users: ["noc"], communities: [], context: nil, sources: [])]),
                backends: [backend],
                limits: ForwardingLimits(),
                pools: (0..<pools).map { try! SocketAddress(ipAddress: "0.0.0.\($0)", port: 0) },
                socketsPerPool: 1
            )
        }
        let harness = MachineHarness(snapshot: snapshot(view: ViewPolicy(include: [[1, 3, 6, 1]], exclude: []), pools: 1))
        var asked: [(PDU, Int)] = []
        harness.agents[address] = MachineHarness.Agent(version: .v1, community: "c") { _ in nil }
        var sink = CollectingSink()
        var buffer = ByteBuffer()
        let get = PDU(type: .get, requestID: 5, varbinds: [VarBind(oid: "1.3.6.1.2.1.1.99.0"), VarBind(oid: "1.3.6.1.2.1.1.5.0")])
        harness.client.encodeRequest(get, messageID: 5, now: 1, into: &buffer)
        harness.machine.receiveFromManager(buffer, from: ManagerEndpoint(listener: 0, remote: MachineHarness.manager), now: harness.now, into: &sink)
        for case .sendToBackend(let datagram, let socket, _) in sink.actions {
            guard case .community(let message) = try SNMPMessage(decoding: datagram), case .pdu(let pdu) = message.pdu else { continue }
            asked.append((pdu, socket))
        }
        let first = try #require(asked.first)
        #expect(first.1 == 0)
        // The reload: a second pool comes first, and the back end's pool index is now 1, on sockets
        // numbered after the old one; the view shrinks to nothing.
        harness.machine.replace(
            snapshot: snapshot(view: ViewPolicy(include: [], exclude: []), pools: 2),
            users: try USMAuthoritativeEngine(identity: EngineIdentity(engineID: MachineHarness.engineID, boots: 1), users: [USMUserConfiguration(name: "noc")]),
            poolSockets: [[1], [0]]
        )
        // The v1 agent's noSuchName for the first varbind: the request goes again, without it, on
        // a socket of the pool it started with, and its answer completes it under the old view.
        var reply = ByteBuffer()
        reply.writeCommunityMessage(
            CommunityMessage(
                version: .v1,
                community: ByteBuffer(string: "c"),
                pdu: .pdu(PDU(type: .response, requestID: first.0.requestID, errorStatus: .noSuchName, errorIndex: 1, varbinds: first.0.varbinds))
            )
        )
        sink = CollectingSink()
        harness.machine.receiveFromBackend(reply, socket: first.1, from: address, now: harness.now, into: &sink)
        guard case .sendToBackend(let again, let socket, _)? = sink.actions.first(where: {
            if case .sendToBackend = $0 { return true } else { return false }
        }) else {
            Issue.record("no second round: \(sink.actions)")
            return
        }
        #expect(socket == 0, "the second round left from socket \(socket), not the request's own pool")
        guard case .community(let message) = try SNMPMessage(decoding: again), case .pdu(let second) = message.pdu else { return }
        #expect(second.varbinds.map(\.oid) == ["1.3.6.1.2.1.1.5.0"])
        harness.agents[address]?.respond = { request in
            PDU(type: .response, requestID: request.requestID, varbinds: [VarBind(oid: "1.3.6.1.2.1.1.5.0", value: .string("sw"))])
        }
        let replies = harness.play(sink.actions)
        #expect(replies.count == 1)
        #expect(replies.first?.varbinds.map(\.value) == [.noSuchObject, .string("sw")], "\(replies)")
        // A new request is served under the new snapshot: its view shows nothing.
        let after = harness.askV3(sysName, context: "")
        #expect(after.first?.varbinds.first?.value == .noSuchObject, "\(after)")
    }
}
