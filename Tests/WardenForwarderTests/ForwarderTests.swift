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
import WardenSimulator

/// An SNMPv1 agent over the same objects: where the v2 agent answers an exception, a v1 agent
/// answers noSuchName with the index of the first such varbind, echoing the request (RFC 1157).
struct V1Agent {
    var agent: SimulatedAgent

    mutating func respond(to request: PDU) -> PDU {
        precondition(request.type != .getBulk, "no GetBulk in SNMPv1")
        let v2 = self.agent.respond(to: request)!
        if let index = v2.varbinds.firstIndex(where: { $0.value.isException }) {
            return PDU(
                type: .response,
                requestID: request.requestID,
                errorStatus: .noSuchName,
                errorIndex: Int32(index + 1),
                varbinds: request.varbinds
            )
        }
        return v2
    }
}

let objects: [VarBind] = [
    VarBind(oid: "1.3.6.1.2.1.1.1.0", value: .string("switch")),
    VarBind(oid: "1.3.6.1.2.1.1.3.0", value: .timeTicks(100)),
    VarBind(oid: "1.3.6.1.2.1.1.5.0", value: .string("sw1")),
    VarBind(oid: "1.3.6.1.2.1.2.2.1.2.1", value: .string("eth0")),
    VarBind(oid: "1.3.6.1.2.1.2.2.1.2.2", value: .string("eth1")),
]

/// Drives an exchange against a back end until the manager's response is ready; counts round trips.
func serve(_ request: PDU, version: SNMPVersion, _ answer: (PDU) -> PDU) -> (PDU, Int) {
    var exchange = BackendExchange(request: request, backendVersion: version)
    var trips = 0
    while true {
        trips += 1
        let sent = exchange.nextRequest(requestID: 9000 + Int32(trips))
        let reply = answer(sent)
        #expect(exchange.isPlausible(reply))
        switch exchange.receive(reply) {
        case .sendAgain: continue
        case .respond(let pdu): return (pdu, trips)
        }
    }
}

@Suite("Back-end exchanges and RFC 3584 translation")
struct BackendExchangeTests {
    @Test("v2c: Get, GetNext, GetBulk go as they are, in one round trip")
    func v2c() {
        var agent = SimulatedAgent(objects: objects)
        let get = PDU(
            type: .get,
            requestID: 1,
            varbinds: [VarBind(oid: "1.3.6.1.2.1.1.1.0"), VarBind(oid: "1.3.6.1.2.1.1.9.0")]
        )
        let (response, trips) = serve(get, version: .v2c) { agent.respond(to: $0)! }
        #expect(trips == 1 && response.requestID == 1)
        #expect(response.varbinds.map(\.value) == [.string("switch"), .noSuchObject])
        var sentTypes: [PDUType] = []
        let bulk = PDU.getBulk(
            requestID: 2,
            nonRepeaters: 0,
            maxRepetitions: 3,
            varbinds: [VarBind(oid: "1.3.6.1.2.1.1")]
        )
        let (bulkResponse, bulkTrips) = serve(bulk, version: .v2c) {
            sentTypes.append($0.type)
            return agent.respond(to: $0)!
        }
        #expect(bulkTrips == 1 && sentTypes == [.getBulk], "one GetBulk downstream, not one packet per repetition")
        #expect(bulkResponse.varbinds.count == 3 && bulkResponse.requestID == 2)
    }

    @Test("v1: a multi-varbind Get with one missing object returns the others")
    func v1GetWithAMissingObject() {
        var v1 = V1Agent(agent: SimulatedAgent(objects: objects))
        let request = PDU(
            type: .get,
            requestID: 5,
            varbinds: [
                VarBind(oid: "1.3.6.1.2.1.1.1.0"), VarBind(oid: "1.3.6.1.2.1.1.99.0"),
                VarBind(oid: "1.3.6.1.2.1.1.5.0"),
            ]
        )
        let (response, trips) = serve(request, version: .v1) { v1.respond(to: $0) }
        #expect(trips == 2)
        #expect(response.errorStatus == .noError)
        #expect(response.varbinds.map(\.value) == [.string("switch"), .noSuchObject, .string("sw1")])
        #expect(response.varbinds.map(\.oid) == request.varbinds.map(\.oid))
    }

    @Test("v1: every varbind missing ends after one round trip per varbind")
    func v1AllMissing() {
        var v1 = V1Agent(agent: SimulatedAgent(objects: objects))
        let request = PDU(
            type: .get,
            requestID: 6,
            varbinds: (0..<4).map { VarBind(oid: OID(arcs: [1, 3, 6, 1, 4, 1, 99, UInt32($0)])!) }
        )
        let (response, trips) = serve(request, version: .v1) { v1.respond(to: $0) }
        #expect(trips == 4)
        #expect(response.varbinds.allSatisfy { $0.value == .noSuchObject })
    }

    @Test("v1: GetBulk becomes GetNext, one repetition; the end of the MIB is endOfMibView")
    func v1GetBulk() {
        var v1 = V1Agent(agent: SimulatedAgent(objects: objects))
        var sent: [PDU] = []
        let request = PDU.getBulk(
            requestID: 7,
            nonRepeaters: 1,
            maxRepetitions: 10,
            varbinds: [
                VarBind(oid: "1.3.6.1.2.1.1.3"), VarBind(oid: "1.3.6.1.2.1.2.2.1.2.2"),
            ]
        )
        let (response, _) = serve(request, version: .v1) {
            sent.append($0)
            return v1.respond(to: $0)
        }
        #expect(sent.first?.type == .getNext && sent.first?.nonRepeaters == 0 && sent.first?.maxRepetitions == 0)
        #expect(
            response.varbinds == [
                VarBind(oid: "1.3.6.1.2.1.1.3.0", value: .timeTicks(100)),
                VarBind(oid: "1.3.6.1.2.1.2.2.1.2.2", value: .endOfMibView),
            ]
        )
    }

    @Test("v1 Set errors reach the v3 manager as v2 errors, indexed in the manager's list")
    func v1SetErrors() {
        let request = PDU(
            type: .set,
            requestID: 8,
            varbinds: [
                VarBind(oid: "1.3.6.1.2.1.1.5.0", value: .string("x")),
                VarBind(oid: "1.3.6.1.2.1.1.1.0", value: .string("y")),
            ]
        )
        for (v1Status, expected) in [
            (ErrorStatus.noSuchName, ErrorStatus.notWritable), (.readOnly, .notWritable), (.badValue, .wrongValue),
            (.genErr, .genErr),
        ] {
            let (response, _) = serve(request, version: .v1) { sent in
                PDU(
                    type: .response,
                    requestID: sent.requestID,
                    errorStatus: v1Status,
                    errorIndex: 2,
                    varbinds: sent.varbinds
                )
            }
            #expect(response.errorStatus == expected && response.errorIndex == 2, "\(v1Status)")
            #expect(response.varbinds == request.varbinds)
        }
    }

    @Test("the error-index counts in the manager's list after varbinds were removed")
    func errorIndexAfterRemoval() {
        // First answer: varbind 1 is noSuchName; second: genErr on what is now the back end's 2nd.
        let request = PDU(
            type: .get,
            requestID: 9,
            varbinds: (1...3).map { VarBind(oid: OID(arcs: [1, 3, 6, 1, 2, 1, 1, UInt32($0), 0])!) }
        )
        var round = 0
        let (response, _) = serve(request, version: .v1) { sent in
            round += 1
            let status: ErrorStatus = round == 1 ? .noSuchName : .genErr
            return PDU(
                type: .response,
                requestID: sent.requestID,
                errorStatus: status,
                errorIndex: round == 1 ? 1 : 2,
                varbinds: sent.varbinds
            )
        }
        #expect(response.errorStatus == .genErr && response.errorIndex == 3)
    }

    @Test("tooBig: empty varbinds for Get; a translated GetBulk answers what it has")
    func tooBig() {
        let get = PDU(type: .get, requestID: 10, varbinds: [VarBind(oid: "1.3.6.1.2.1.1.1.0")])
        let (response, _) = serve(get, version: .v1) {
            PDU(type: .response, requestID: $0.requestID, errorStatus: .tooBig, varbinds: $0.varbinds)
        }
        #expect(response.errorStatus == .tooBig && response.varbinds.isEmpty && response.errorIndex == 0)
        let bulk = PDU.getBulk(requestID: 11, nonRepeaters: 0, maxRepetitions: 5, varbinds: [VarBind(oid: "1.3")])
        let (bulkResponse, _) = serve(bulk, version: .v1) {
            PDU(type: .response, requestID: $0.requestID, errorStatus: .tooBig, varbinds: $0.varbinds)
        }
        #expect(bulkResponse.errorStatus == .noError && bulkResponse.varbinds.isEmpty)
    }

    @Test("Net-SNMP's own v1 answers (captured) drive the exchange as the fixtures show")
    func netSNMPv1Fixture() {
        // snmpd answered a v1 Get of 1.3.6.1.2.1.1.99.0 and sysContact.0 with noSuchName, index 1.
        let request = PDU(
            type: .get,
            requestID: 1,
            varbinds: [VarBind(oid: "1.3.6.1.2.1.1.99.0"), VarBind(oid: "1.3.6.1.2.1.1.4.0")]
        )
        var exchange = BackendExchange(request: request, backendVersion: .v1)
        let first = exchange.nextRequest(requestID: 529_522_527)
        let refusal = PDU(
            type: .response,
            requestID: first.requestID,
            errorStatus: .noSuchName,
            errorIndex: 1,
            varbinds: first.varbinds
        )
        #expect(exchange.receive(refusal) == .sendAgain)
        let second = exchange.nextRequest(requestID: 529_522_528)
        #expect(
            second.varbinds == [VarBind(oid: "1.3.6.1.2.1.1.4.0")],
            "sent again without the refused varbind, as snmpget itself does"
        )
        let answer = PDU(
            type: .response,
            requestID: second.requestID,
            varbinds: [VarBind(oid: "1.3.6.1.2.1.1.4.0", value: .string("ops@example.net"))]
        )
        #expect(
            exchange.receive(answer)
                == .respond(
                    PDU(
                        type: .response,
                        requestID: 1,
                        varbinds: [
                            VarBind(oid: "1.3.6.1.2.1.1.99.0", value: .noSuchObject),
                            VarBind(oid: "1.3.6.1.2.1.1.4.0", value: .string("ops@example.net")),
                        ]
                    )
                )
        )
    }
}

@Suite("Pending table")
struct PendingTableTests {
    @Test func requestIDsAreUniqueWhilePendingAndWrap() {
        var table = PendingTable<String>(capacity: 4, firstRequestID: Int32.max - 1)
        let a = table.insert("a", retransmit: ByteBuffer(), now: 0, timeout: 10, retries: 0)
        let b = table.insert("b", retransmit: ByteBuffer(), now: 0, timeout: 10, retries: 0)
        let c = table.insert("c", retransmit: ByteBuffer(), now: 0, timeout: 10, retries: 0)
        #expect([a, b, c] == [Int32.max - 1, Int32.max, 1])
        #expect(table.remove(Int32.max)?.context == "b")
        #expect(table.remove(Int32.max) == nil, "a second answer finds nothing")
        _ = table.insert("d", retransmit: ByteBuffer(), now: 0, timeout: 10, retries: 0)
        _ = table.insert("e", retransmit: ByteBuffer(), now: 0, timeout: 10, retries: 0)
        #expect(table.isFull)
        #expect(
            table.insert("f", retransmit: ByteBuffer(), now: 0, timeout: 10, retries: 0) == nil,
            "full: refused, never unbounded"
        )
    }

    @Test func skipsIDsStillPending() {
        var table = PendingTable<Int>(capacity: 10, firstRequestID: 5)
        let first = table.insert(1, retransmit: ByteBuffer(), now: 0, timeout: 10, retries: 0)!
        var ids: Set<Int32> = [first]
        // Go all the way round: the allocator must never hand out `first` while it is pending.
        for i in 0..<5 {
            let id = table.insert(i, retransmit: ByteBuffer(), now: 0, timeout: 10, retries: 0)!
            #expect(ids.insert(id).inserted)
        }
    }

    @Test("retries retransmit the same bytes; then a timeout; an answered request never expires")
    func retriesAndTimeout() {
        var table = PendingTable<String>(capacity: 10, firstRequestID: 100)
        let datagram = ByteBuffer(bytes: [1, 2, 3])
        let id = table.insert("x", retransmit: datagram, now: 0, timeout: 1000, retries: 2)!
        let answered = table.insert("y", retransmit: datagram, now: 0, timeout: 1000, retries: 2)!
        #expect(table.earliestDeadline == 1000)
        #expect(table.expire(now: 999).isEmpty)
        _ = table.remove(answered)
        var events: [String] = []
        for now in [1000, 2000, 3000] as [Int64] {
            for expiry in table.expire(now: now) {
                switch expiry {
                case .retransmit(let requestID, let bytes):
                    #expect(requestID == id && bytes == datagram)
                    events.append("retransmit@\(now)")
                case .timedOut(let requestID, let context):
                    #expect(requestID == id && context == "x")
                    events.append("timeout@\(now)")
                }
            }
        }
        #expect(events == ["retransmit@1000", "retransmit@2000", "timeout@3000"], "timeout × (retries + 1)")
        #expect(table.count == 0 && table.earliestDeadline == nil)
    }
}
