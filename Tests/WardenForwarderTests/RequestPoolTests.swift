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

/// The machine reuses finished requests with their buffers: what it handed out of them stays
/// intact, and requests in flight never share storage.
@Suite("Recycled requests and reused buffers")
struct RequestPoolTests {
    @Test("an OID an audit event kept from a finished request keeps its bytes while the request's storage is reused")
    func auditOIDSurvivesReuse() throws {
        let hidden: OID = "1.3.6.1.2.1.1.5.0"
        let lab = AnswerLab(
            policy: RoutePolicy(
                readView: ViewPolicy(include: [[1, 3, 6, 1]], exclude: [[1, 3, 6, 1, 2, 1, 1, 5]]),
                writeView: nil,
                rewrites: []
            )
        )
        let agent = AnswerLab.agent { $0.varbinds.map { VarBind(oid: $0.oid, value: .string("v")) } }
        // The refused OID's audit, from the answer's event.
        var sink = CollectingSink()
        var request = ByteBuffer()
        request.writeCommunityMessage(
            CommunityMessage(
                version: .v2c,
                community: "public",
                pdu: PDU(type: .get, requestID: 1, varbinds: [VarBind(oid: "1.3.6.1.2.1.1.1.0"), VarBind(oid: hidden)])
            )
        )
        lab.machine.receiveFromManager(request, from: lab.manager, now: 1_000_000_000, into: &sink)
        guard case .sendToBackend(let sent, let socket, _)? = sink.actions.first,
            case .community(let message) = try SNMPMessage(decoding: sent), case .pdu(let asked) = message.pdu
        else {
            Issue.record("nothing sent: \(sink.actions)")
            return
        }
        sink = CollectingSink()
        lab.machine.receiveFromBackend(agent(asked), socket: socket, from: lab.agent, now: 1_000_000_000, into: &sink)
        let kept = sink.actions.compactMap { action -> OID? in
            if case .audit(.refused(_, _, _, _, _, let oid?)) = action { return oid }
            return nil
        }
        #expect(kept == [hidden])
        // More requests through the same (recycled) request object and storage.
        for round in 0..<20 {
            let oid = OID(arcs: [1, 3, 6, 1, 4, 1, 9, 9, UInt32(round), 0])!
            let reply = lab.exchange(
                PDU(type: .get, requestID: Int32(round + 2), varbinds: [VarBind(oid: oid)]),
                answer: agent
            )
            #expect(reply == AnswerLab.reencoded(requestID: Int32(round + 2), [VarBind(oid: oid, value: .string("v"))]))
        }
        #expect(kept.first.map { Array($0.encoded.readableBytesView) } == Array(hidden.encoded.readableBytesView))
        #expect(kept.first?.description == "1.3.6.1.2.1.1.5.0")
    }

    @Test("v3 requests of several contexts in flight at once, answered out of order, again and again")
    func interleavedContexts() throws {
        let (harness, addresses) = fleetHarness(socketsPerPool: 1)
        let names = ["dev-a", "dev-b", "dev-c"]
        for round in 0..<4 {
            // Three requests in flight, each with its own context name and OIDs.
            var sent: [(socket: Int, address: SocketAddress, pdu: PDU)] = []
            for (index, name) in names.enumerated() {
                var datagram = ByteBuffer()
                let oid = OID(arcs: [1, 3, 6, 1, 2, 1, 1, UInt32(index + 1), UInt32(round)])!
                harness.client.encodeRequest(
                    PDU(type: .get, requestID: Int32(100 * round + index), varbinds: [VarBind(oid: oid)]),
                    messageID: Int32(100 * round + index),
                    contextName: ByteBuffer(string: name),
                    now: 1,
                    into: &datagram
                )
                var sink = CollectingSink()
                harness.machine.receiveFromManager(
                    datagram,
                    from: ManagerEndpoint(listener: 0, remote: MachineHarness.manager),
                    now: harness.now,
                    into: &sink
                )
                guard case .sendToBackend(let backend, let socket, let address)? = sink.actions.first,
                    case .community(let message) = try SNMPMessage(decoding: backend), case .pdu(let pdu) = message.pdu
                else {
                    Issue.record("nothing sent for \(name)")
                    return
                }
                #expect(address == addresses[index] && pdu.varbinds.map(\.oid) == [oid])
                sent.append((socket, address, pdu))
            }
            // Answers in reverse order: each reply is its own request's, context name included.
            for index in names.indices.reversed() {
                let (socket, address, pdu) = sent[index]
                var answer = ByteBuffer()
                answer.writeCommunityMessage(
                    CommunityMessage(
                        version: .v2c,
                        community: "comm-\(names[index])",
                        pdu: PDU(
                            type: .response,
                            requestID: pdu.requestID,
                            varbinds: pdu.varbinds.map { VarBind(oid: $0.oid, value: .string(names[index])) }
                        )
                    )
                )
                var sink = CollectingSink()
                harness.machine.receiveFromBackend(answer, socket: socket, from: address, now: harness.now, into: &sink)
                guard
                    case .reply(let reply, _)? = sink.actions.first(where: {
                        if case .reply = $0 { return true } else { return false }
                    }), case .response(let messageID, let scoped) = harness.client.receive(reply, now: 1)
                else {
                    Issue.record("no answer for \(names[index])")
                    return
                }
                #expect(messageID == Int32(100 * round + index))
                #expect(scoped.contextName == ByteBuffer(string: names[index]))
                #expect(scoped.pdu.varbinds == [VarBind(oid: pdu.varbinds[0].oid, value: .string(names[index]))])
            }
        }
        #expect(harness.machine.pendingCount == 0)
    }
}
