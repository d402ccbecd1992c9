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

/// A back end's `max-in-flight`: the most requests outstanding at its agent, the others waiting in
/// the gateway in order, for at most the back end's timeout × (retries + 1).
@Suite("An agent's bound on requests in flight")
struct InFlightBoundTests {
    static let everything = RoutePolicy(readView: ViewPolicy(include: [[1, 3]], exclude: []), writeView: nil, rewrites: [])

    /// A Get of sysDescr.0's neighbour `n` (1.3.6.1.2.1.1.n.0), request-id `id`.
    static func get(_ n: UInt32, id: Int32) -> PDU {
        PDU(type: .get, requestID: id, varbinds: [VarBind(oid: OID(arcs: [1, 3, 6, 1, 2, 1, 1, n, 0])!, value: .null)])
    }

    static func arc(_ pdu: PDU) -> UInt32? { pdu.varbinds.first.map { Array($0.oid.arcs)[7] } }

    /// Fires the timer until the machine answers a manager (a timer may find nothing due: a
    /// waiting request that was sent in the meantime leaves its deadline behind).
    static func fireUntilReply(_ harness: MachineHarness) -> [PDU] {
        for _ in 0..<10 {
            let replies = harness.fireTimer()
            if !replies.isEmpty { return replies }
        }
        return []
    }

    @Test("the agent has at most max-in-flight requests; the rest go in arrival order as answers come back")
    func waitInOrder() {
        let harness = MachineHarness(policy: Self.everything, version: .v2c, maxInFlight: 2) { _ in nil }
        for n in UInt32(1)...5 {
            #expect(harness.ask(Self.get(n, id: Int32(n))).isEmpty)
        }
        #expect(harness.held.map { Self.arc($0.pdu) } == [1, 2])
        #expect(harness.machine.waitingCount == 3 && harness.machine.pendingCount == 5)
        #expect(harness.machine.counters.backendWaits == 3 && harness.machine.counters.backendRequests == 2)

        // The second answer comes first: its manager is answered, and the third request goes.
        let second = harness.answerHeld(1)
        #expect(second.map(\.requestID) == [2] && second.first?.errorStatus == .noError)
        #expect(harness.held.map { Self.arc($0.pdu) } == [1, 3])
        #expect(harness.machine.waitingCount == 2)

        var answered: [Int32] = [2]
        while !harness.held.isEmpty {
            answered += harness.answerHeld(0).map(\.requestID)
            #expect(harness.held.count <= 2)
        }
        #expect(answered == [2, 1, 3, 4, 5])
        #expect(harness.machine.pendingCount == 0 && harness.machine.waitingCount == 0)
        #expect(harness.machine.counters.backendRequests == 5 && harness.machine.counters.backendWaitTimeouts == 0)
    }

    @Test("a request whose turn does not come within timeout × (retries + 1) is answered genErr, never sent")
    func waitTimesOut() {
        // 1 s per try, no retry: a request may wait 1 s.
        let harness = MachineHarness(
            policy: Self.everything,
            version: .v2c,
            timeout: 1_000_000_000,
            retries: 0,
            maxInFlight: 1
        ) { _ in nil }
        let start = harness.now
        #expect(harness.ask(Self.get(1, id: 1)).isEmpty)  // sent at once, deadline start + 1 s
        harness.now = start + 100_000_000
        #expect(harness.ask(Self.get(2, id: 2)).isEmpty)  // waits until start + 1.1 s
        harness.now = start + 200_000_000
        #expect(harness.ask(Self.get(3, id: 3)).isEmpty)  // waits until start + 1.2 s
        #expect(harness.backendPackets == 1)

        // start + 1 s: the first times out; the second goes, with its own 1 s.
        var replies = Self.fireUntilReply(harness)
        #expect(harness.now == start + 1_000_000_000)
        #expect(replies.map(\.requestID) == [1] && replies.first?.errorStatus == .genErr)
        #expect(harness.held.map { Self.arc($0.pdu) } == [1, 2])
        #expect(harness.backendPackets == 2)

        // start + 1.2 s: the third's wait is over, and it was never sent.
        replies = Self.fireUntilReply(harness)
        #expect(harness.now == start + 1_200_000_000)
        #expect(replies.map(\.requestID) == [3] && replies.first?.errorStatus == .genErr)
        #expect(harness.machine.counters.backendWaitTimeouts == 1 && harness.backendPackets == 2)

        // start + 2 s: the second times out at the agent.
        replies = Self.fireUntilReply(harness)
        #expect(replies.map(\.requestID) == [2] && replies.first?.errorStatus == .genErr)
        #expect(harness.machine.counters.backendTimeouts == 2 && harness.machine.counters.backendWaits == 2)
        #expect(harness.machine.pendingCount == 0 && harness.machine.waitingCount == 0)
    }

    /// An agent that never answers by itself, 1 s per try and 2 retries (a budget of 3 s from a
    /// request's arrival), one request at a time: request 1 is sent at `start`, request 2 waits.
    static func secondWaits() -> (harness: MachineHarness, start: Int64) {
        let harness = MachineHarness(
            policy: Self.everything,
            version: .v2c,
            timeout: 1_000_000_000,
            retries: 2,
            maxInFlight: 1
        ) { _ in nil }
        let start = harness.now
        #expect(harness.ask(Self.get(1, id: 1)).isEmpty)
        #expect(harness.ask(Self.get(2, id: 2)).isEmpty)
        #expect(harness.backendPackets == 1 && harness.machine.waitingCount == 1)
        return (harness, start)
    }

    @Test("a request that waited gets the tries its budget has left, not a whole budget more at a slow agent")
    func waitedRequestKeepsItsBudget() {
        let (harness, start) = Self.secondWaits()  // the second's budget ends at start + 3 s
        // The first is sent again at start + 1 s and + 2 s; the agent answers it at start + 2.5 s.
        #expect(harness.fireTimer().isEmpty && harness.fireTimer().isEmpty)
        #expect(harness.backendPackets == 3)
        harness.now = start + 2_500_000_000
        #expect(harness.answerHeld(harness.held.count - 1).map(\.requestID) == [1])
        #expect(harness.backendPackets == 4, "the second goes now")

        // 0.5 s of its budget is left: one try. It times out 1 s after it was sent, without a
        // retransmission (it would have had two more, 3 s, before).
        let replies = Self.fireUntilReply(harness)
        #expect(harness.now == start + 3_500_000_000)
        #expect(replies.map(\.requestID) == [2] && replies.first?.errorStatus == .genErr)
        #expect(harness.backendPackets == 4 && harness.machine.counters.backendRetransmissions == 2)
        #expect(harness.machine.pendingCount == 0 && harness.machine.counters.backendWaitTimeouts == 0)
    }

    @Test("a request that waited a little keeps the retries that fit in what is left of its budget")
    func waitedRequestKeepsRetriesThatFit() {
        let (harness, start) = Self.secondWaits()
        harness.now = start + 600_000_000
        #expect(harness.answerHeld(0).map(\.requestID) == [1])
        // 2.4 s left: three tries would end at + 3.6 s, so two (one retransmission), ending at + 2.6 s.
        #expect(harness.backendPackets == 2)
        // The timer armed for the first request's deadline (start + 1 s) finds nothing due.
        #expect(harness.fireTimer().isEmpty && harness.fireTimer().isEmpty)
        #expect(harness.now == start + 1_600_000_000 && harness.backendPackets == 3)
        let replies = Self.fireUntilReply(harness)
        #expect(harness.now == start + 2_600_000_000)
        #expect(replies.map(\.requestID) == [2] && replies.first?.errorStatus == .genErr)
        #expect(harness.backendPackets == 3)
    }

    @Test("an answer after the waiting request's time ran out does not send it: it is answered as a timeout")
    func expiredWhenReleased() {
        let harness = MachineHarness(
            policy: Self.everything,
            version: .v2c,
            timeout: 1_000_000_000,
            retries: 1,
            maxInFlight: 1
        ) { _ in nil }
        let start = harness.now
        #expect(harness.ask(Self.get(1, id: 1)).isEmpty)  // deadlines start + 1 s (retry), + 2 s
        #expect(harness.ask(Self.get(2, id: 2)).isEmpty)  // may wait until start + 2 s
        // The retransmission at start + 1 s, then the clock runs past the second's wait without a
        // timer, and the agent's answer to the first arrives.
        #expect(harness.fireTimer().isEmpty)
        #expect(harness.backendPackets == 2)
        harness.now = start + 2_000_000_000
        let replies = harness.answerHeld(harness.held.count - 1)
        #expect(Set(replies.map(\.requestID)) == [1, 2])
        #expect(replies.first { $0.requestID == 2 }?.errorStatus == .genErr)
        #expect(harness.machine.counters.backendWaitTimeouts == 1 && harness.backendPackets == 2)
        #expect(harness.machine.pendingCount == 0)
    }

    @Test("each event loop takes its share of max-in-flight, at least one")
    func sharePerLoop() {
        for (bound, loops, share) in [(4, 2, 2), (1, 2, 1), (64, 4, 16)] {
            let harness = MachineHarness(policy: Self.everything, version: .v2c, maxInFlight: bound, loopCount: loops) { _ in
                nil
            }
            for n in 1...(share + 3) {
                _ = harness.ask(Self.get(1, id: Int32(n)))
            }
            #expect(harness.held.count == share, "max-in-flight \(bound) over \(loops) loops")
            #expect(harness.machine.waitingCount == 3)
        }
    }

    @Test("max-in-flight 0 is no bound; waiting requests count in limits.max-pending")
    func unboundedAndPendingLimit() {
        let unbounded = MachineHarness(policy: Self.everything, version: .v2c, maxInFlight: 0) { _ in nil }
        for n in 1...300 {
            _ = unbounded.ask(Self.get(1, id: Int32(n)))
        }
        #expect(unbounded.held.count == 300 && unbounded.machine.waitingCount == 0)
        #expect(unbounded.machine.counters.backendWaits == 0)

        let bounded = MachineHarness(policy: Self.everything, version: .v2c, maxInFlight: 1) { _ in nil }
        let capacity = bounded.machine.pendingCapacity
        var refused = 0
        for n in 1...(capacity + 5) {
            refused += bounded.ask(Self.get(1, id: Int32(n))).filter { $0.errorStatus == .genErr }.count
        }
        #expect(refused == 5 && bounded.machine.counters.pendingOverflows == 5)
        #expect(bounded.machine.pendingCount == capacity && bounded.machine.waitingCount == capacity - 1)
    }

    @Test("a reload that raises the bound: waiting requests keep the back end they came under, new ones get the new bound")
    func reloadChangesTheBound() throws {
        let harness = MachineHarness(policy: Self.everything, version: .v2c, maxInFlight: 1) { _ in nil }
        for n in UInt32(1)...3 {
            _ = harness.ask(Self.get(n, id: Int32(n)))
        }
        #expect(harness.held.count == 1 && harness.machine.waitingCount == 2)
        harness.machine.replace(
            snapshot: MachineHarness.oneAgent(policy: Self.everything, version: .v2c, maxInFlight: 3),
            users: try USMAuthoritativeEngine(
                identity: EngineIdentity(engineID: MachineHarness.engineID, boots: 1),
                users: [USMUserConfiguration(name: "noc")]
            ),
            poolSockets: [[0, 1]]
        )
        // Behind the two that wait, in order.
        _ = harness.ask(Self.get(4, id: 4))
        #expect(harness.held.count == 1 && harness.machine.waitingCount == 3)
        var answered: [Int32] = []
        while !harness.held.isEmpty {
            answered += harness.answerHeld(0).map(\.requestID)
        }
        #expect(answered == [1, 2, 3, 4])
        // Under the new snapshot, three go at once.
        for n in UInt32(5)...8 {
            _ = harness.ask(Self.get(n, id: Int32(n)))
        }
        #expect(harness.held.count == 3 && harness.machine.waitingCount == 1)
    }

    @Test("a walk's next round waits behind requests that came while its first was out")
    func walkRoundsQueue() {
        // The agent's answer to a GetNext of .1.3.6.1.2.1.1.1 is .1.3.6.1.2.1.1.9.1 (outside the
        // view below), so the machine asks again from there: a second round to the same agent.
        let policy = RoutePolicy(
            readView: ViewPolicy(include: [[1, 3, 6, 1, 2, 1, 1]], exclude: [[1, 3, 6, 1, 2, 1, 1, 9]]),
            writeView: nil,
            rewrites: []
        )
        let harness = MachineHarness(policy: policy, version: .v2c, maxInFlight: 1) { _ in nil }
        let walk = PDU(type: .getNext, requestID: 1, varbinds: [VarBind(oid: OID(arcs: [1, 3, 6, 1, 2, 1, 1, 8])!, value: .null)])
        #expect(harness.ask(walk).isEmpty)
        #expect(harness.ask(Self.get(5, id: 2)).isEmpty)
        #expect(harness.held.count == 1 && harness.machine.waitingCount == 1)
        let outside = PDU(
            type: .response,
            requestID: 0,
            varbinds: [VarBind(oid: OID(arcs: [1, 3, 6, 1, 2, 1, 1, 9, 1])!, value: .integer(1))]
        )
        // The walk's first round ends: the Get that waited goes, the walk's next round waits.
        #expect(harness.answerHeld(0, with: outside).isEmpty)
        #expect(harness.held.map { Self.arc($0.pdu) } == [5])
        #expect(harness.machine.waitingCount == 1)
        #expect(harness.answerHeld(0).map(\.requestID) == [2])
        #expect(harness.held.first.map { $0.pdu.type == .getNext && Self.arc($0.pdu) == 9 } == true)
    }
}
