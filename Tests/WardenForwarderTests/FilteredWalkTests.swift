//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import PeerSupport
import SNMPWire
import Testing
import WardenPolicy
import WardenSimulator

@testable import WardenForwarder

/// One random case: a back-end MIB, a view, rewrites.
struct WalkScenario: CustomStringConvertible {
    var objects: [VarBind]
    var include: [SubtreePatternArcs]
    var exclude: [SubtreePatternArcs]
    var rewrites: [RoutePolicy.Rewrite]

    static let root: [UInt32] = [1, 3, 6, 1]

    init(seed: UInt64) {
        var random = SeededGenerator(state: seed)
        // Objects: leaves of a small tree (arcs 0...3, 2 to 5 deep), so subtrees are shared often.
        var names = Set<[UInt32]>()
        for _ in 0..<Int.random(in: 5...80, using: &random) {
            names.insert(
                Self.root
                    + (0..<Int.random(in: 2...5, using: &random)).map { _ in UInt32.random(in: 0...3, using: &random) }
            )
        }
        // An agent's objects are leaves: drop any name that is a prefix of another.
        let leaves = names.filter { name in
            !names.contains { $0.count > name.count && Array($0.prefix(name.count)) == name }
        }
        self.objects = leaves.map {
            VarBind(
                oid: OID(arcs: $0)!,
                value: .integer(Int32(truncatingIfNeeded: $0.reduce(0) { $0 &* 31 &+ Int($1) }))
            )
        }
        func pattern() -> SubtreePatternArcs {
            Self.root.map { $0 }
                + (0..<Int.random(in: 0...4, using: &random)).map { _ in
                    Int.random(in: 0..<4, using: &random) == 0 ? nil : UInt32.random(in: 0...3, using: &random)
                }
        }
        self.include = (0..<Int.random(in: 1...4, using: &random)).map { _ in pattern() }
        self.exclude = (0..<Int.random(in: 0...4, using: &random)).map { _ in pattern() }
        // Rewrites: a back-end subtree shown somewhere else (often where other objects are).
        var rewrites: [RoutePolicy.Rewrite] = []
        for _ in 0..<Int.random(in: 0...2, using: &random) {
            let backend =
                Self.root
                + (0..<Int.random(in: 1...2, using: &random)).map { _ in UInt32.random(in: 0...3, using: &random) }
            let manager =
                Bool.random(using: &random)
                ? Self.root + [UInt32.random(in: 0...4, using: &random), UInt32.random(in: 0...3, using: &random)]
                : [1, 3, 6, 1, 4, 1, 99999, UInt32.random(in: 0...3, using: &random)]
            let candidate = rewrites + [RoutePolicy.Rewrite(backend: backend, manager: manager)]
            if RoutePolicy.problem(with: candidate) == nil { rewrites = candidate }
        }
        self.rewrites = rewrites
        // Rewritten regions are visible only if the view includes them.
        if !rewrites.isEmpty && Bool.random(using: &random) { self.include.append([1, 3, 6, 1, 4, 1, 99999]) }
    }

    var policy: RoutePolicy {
        RoutePolicy(
            readView: ViewPolicy(include: self.include, exclude: self.exclude),
            writeView: nil,
            rewrites: self.rewrites
        )
    }

    /// The expected walk, computed without RoutePolicy: map each back-end object by the rewrites
    /// (by hand), keep what the view includes (longest match by hand), sort in manager order.
    var expected: [[UInt32]] {
        func prefixed(_ a: [UInt32], _ p: [UInt32]) -> Bool { p.count <= a.count && Array(a.prefix(p.count)) == p }
        func longest(_ arcs: [UInt32]) -> Bool {
            var best = (included: false, length: 0)
            for (patterns, included) in [(self.include, true), (self.exclude, false)] {
                for p in patterns
                where p.count <= arcs.count && zip(p, arcs).allSatisfy({ $0.0 == nil || $0.0 == $0.1 }) {
                    if p.count > best.length || (p.count == best.length && !included) { best = (included, p.count) }
                }
            }
            return best.included
        }
        var result: [[UInt32]] = []
        for object in self.objects {
            let b = Array(object.oid.arcs)
            var m: [UInt32]?
            if let r = self.rewrites.first(where: { prefixed(b, $0.backend) }) {
                m = r.manager + b.dropFirst(r.backend.count)
            } else if self.rewrites.contains(where: { prefixed(b, $0.manager) }) {
                m = nil
            } else {
                m = b
            }
            if let m, longest(m) { result.append(m) }
        }
        return result.sorted { a, b in
            for (x, y) in zip(a, b) where x != y { return x < y }
            return a.count < b.count
        }
    }

    var description: String {
        "objects \(self.objects.count), include \(self.include), exclude \(self.exclude), rewrites \(self.rewrites)"
    }
}

/// Runs one manager request through the shipped request machine (a v2c manager on its front end)
/// against a simulated agent spoken to in `version`; returns the response and the number of
/// back-end requests.
func run(
    _ request: PDU,
    policy: RoutePolicy,
    agent: inout SimulatedAgent,
    version: SNMPVersion,
    rounds: Int = 32
) -> (PDU, Int) {
    var device = agent
    let harness = MachineHarness(policy: policy, version: version, rounds: rounds) { sent in
        if version == .v1 {
            var v1 = V1Agent(agent: device)
            defer { device = v1.agent }
            return v1.respond(to: sent)
        }
        return device.respond(to: sent)
    }
    let replies = harness.ask(request)
    agent = device
    #expect(replies.count == 1, "one answer per request, not \(replies.count)")
    #expect(harness.machine.pendingCount == 0)
    return (replies.first ?? PDU(type: .response, requestID: -1, errorStatus: .genErr, varbinds: []), harness.backendPackets)
}

@Suite("Filtered walks: the gateway's walk equals the back end's, filtered and mapped")
struct FilteredWalkTests {
    static let seeds: [UInt64] = Array(1...1000)

    @Test("GetNext walk and GetBulk walk, v2c and v1 back ends, 1,000 random MIBs × views × rewrites", arguments: seeds)
    func walkEqualsFilteredBackend(seed: UInt64) {
        let scenario = WalkScenario(seed: seed)
        let policy = scenario.policy
        let expected = scenario.expected
        var agent = SimulatedAgent(objects: scenario.objects)
        var random = SeededGenerator(state: seed ^ 0xA5A5)
        for version in [SNMPVersion.v2c, .v1] {
            // GetNext walk from 1.3.
            var walked: [[UInt32]] = []
            var cursor: OID = "1.3"
            var maximumPackets = 0
            for _ in 0...(expected.count + 1) {
                let (response, packets) = run(
                    PDU(type: .getNext, requestID: 7, varbinds: [VarBind(oid: cursor)]),
                    policy: policy,
                    agent: &agent,
                    version: version
                )
                maximumPackets = max(maximumPackets, packets)
                #expect(response.errorStatus == .noError, "seed \(seed) \(version): \(response) \(scenario)")
                guard response.errorStatus == .noError, let varbind = response.varbinds.first,
                    varbind.value != .endOfMibView
                else { break }
                walked.append(Array(varbind.oid.arcs))
                cursor = varbind.oid
            }
            #expect(walked == expected, "seed \(seed) \(version) GetNext: \(scenario)")
            #expect(maximumPackets <= 16, "seed \(seed): \(maximumPackets) back-end packets for one GetNext")

            // GetBulk walk from 1.3, random max-repetitions, one or two columns.
            var bulk: [[UInt32]] = []
            cursor = "1.3"
            let repetitions = Int32.random(in: 1...8, using: &random)
            var done = false
            for _ in 0...(expected.count + 1) where !done {
                let request = PDU.getBulk(
                    requestID: 8,
                    nonRepeaters: 0,
                    maxRepetitions: repetitions,
                    varbinds: [VarBind(oid: cursor)]
                )
                let (response, _) = run(request, policy: policy, agent: &agent, version: version)
                #expect(response.errorStatus == .noError, "seed \(seed) \(version): \(response)")
                #expect(response.varbinds.count <= Int(repetitions))
                if response.varbinds.isEmpty { break }
                for varbind in response.varbinds {
                    if varbind.value == .endOfMibView {
                        done = true
                        break
                    }
                    bulk.append(Array(varbind.oid.arcs))
                    cursor = varbind.oid
                }
            }
            #expect(bulk == expected, "seed \(seed) \(version) GetBulk(\(repetitions)): \(scenario)")

            // One GetBulk with a non-repeater and two columns from random points: row-major, each
            // column the next objects of the filtered walk after its start.
            let starts = (0..<3).map { _ in
                [1, 3, 6, 1]
                    + (0..<Int.random(in: 1...3, using: &random)).map { _ in UInt32.random(in: 0...3, using: &random) }
            }
            let m = Int.random(in: 1...6, using: &random)
            let request = PDU.getBulk(
                requestID: 9,
                nonRepeaters: 1,
                maxRepetitions: Int32(m),
                varbinds: starts.map { VarBind(oid: OID(arcs: $0)!) }
            )
            let (response, _) = run(request, policy: policy, agent: &agent, version: version)
            func after(_ start: [UInt32]) -> [[UInt32]] {
                expected.filter { a in
                    for (x, y) in zip(a, start) where x != y { return x > y }
                    return a.count > start.count
                }
            }
            var rows: [String] = [after(starts[0]).first.map { "\($0)" } ?? "end"]
            let columns = [after(starts[1]), after(starts[2])]
            for row in 0..<m {
                let cells = columns.map { row < $0.count ? "\($0[row])" : "end" }
                rows += cells
                if cells.allSatisfy({ $0 == "end" }) { break }
            }
            let got = response.varbinds.map { $0.value == .endOfMibView ? "end" : "\(Array($0.oid.arcs))" }
            if version == .v2c {
                #expect(got == rows, "seed \(seed) \(version) GetBulk N=1 M=\(m) from \(starts): \(scenario)")
            } else {
                // Towards v1 the answer may stop after the first complete row (RFC 3584 §4.3.1): a
                // prefix of whole rows, at least one.
                #expect(
                    Array(rows.prefix(got.count)) == got && (got.count - 1) % 2 == 0,
                    "seed \(seed) v1: \(got) \(rows)"
                )
                #expect(got.count >= min(rows.count, 3), "seed \(seed) v1: \(got) \(rows)")
            }
        }
    }

    @Test("Get: outside the view is noSuchObject without asking; the rest is answered, under the manager's names")
    func getOutsideTheView() {
        let policy = RoutePolicy(
            readView: ViewPolicy(include: [[1, 3, 6, 1, 2, 1, 1]], exclude: [[1, 3, 6, 1, 2, 1, 1, 4]]),
            writeView: nil,
            rewrites: [RoutePolicy.Rewrite(backend: [1, 3, 6, 1, 2, 1, 2], manager: [1, 3, 6, 1, 4, 1, 99999, 2])]
        )
        var agent = SimulatedAgent(objects: objects + [VarBind(oid: "1.3.6.1.2.1.1.4.0", value: .string("noc"))])
        let request = PDU(
            type: .get,
            requestID: 3,
            varbinds: [
                VarBind(oid: "1.3.6.1.2.1.1.5.0"), VarBind(oid: "1.3.6.1.2.1.1.4.0"),
                VarBind(oid: "1.3.6.1.4.1.99999.2.2.1.2.1"),
            ]
        )
        // The rewritten OID is outside the view (only system is included): noSuchObject too.
        let (response, packets) = run(request, policy: policy, agent: &agent, version: .v2c)
        #expect(packets == 1)
        #expect(response.varbinds.map(\.value) == [.string("sw1"), .noSuchObject, .noSuchObject])
        #expect(response.varbinds.map(\.oid) == request.varbinds.map(\.oid))
        // Nothing readable: no packet at all.
        let hidden = PDU(type: .get, requestID: 4, varbinds: [VarBind(oid: "1.3.6.1.2.1.1.4.0")])
        #expect(run(hidden, policy: policy, agent: &agent, version: .v2c).1 == 0)
    }

    @Test("Set: checked whole before anything is sent")
    func setChecks() {
        let policy = RoutePolicy(
            readView: nil,
            writeView: ViewPolicy(include: [[1, 3, 6, 1, 2, 1, 1]], exclude: [[1, 3, 6, 1, 2, 1, 1, 1]]),
            rewrites: []
        )
        var agent = SimulatedAgent(objects: objects)
        let inside = PDU(type: .set, requestID: 5, varbinds: [VarBind(oid: "1.3.6.1.2.1.1.5.0", value: .string("new"))])
        let (ok, packets) = run(inside, policy: policy, agent: &agent, version: .v2c)
        #expect(ok.errorStatus == .noError && packets == 1)
        #expect(agent.objects.contains(VarBind(oid: "1.3.6.1.2.1.1.5.0", value: .string("new"))))
        let across = PDU(
            type: .set,
            requestID: 6,
            varbinds: [
                VarBind(oid: "1.3.6.1.2.1.1.5.0", value: .string("x")),
                VarBind(oid: "1.3.6.1.2.1.1.1.0", value: .string("y")),
            ]
        )
        let (refused, none) = run(across, policy: policy, agent: &agent, version: .v2c)
        #expect(refused.errorStatus == .noAccess && refused.errorIndex == 2 && none == 0)
        #expect(agent.objects.contains(VarBind(oid: "1.3.6.1.2.1.1.5.0", value: .string("new"))))
    }

    /// Walks a whole simulated MIB with GetNext and with GetBulk; returns both lists of OIDs.
    static func walks(_ objects: [VarBind], _ policy: RoutePolicy) -> (getNext: [String], getBulk: [String]) {
        var agent = SimulatedAgent(objects: objects)
        var next: [String] = []
        var cursor: OID = "1.3"
        for _ in 0..<100 {
            let (response, _) = run(
                PDU(type: .getNext, requestID: 1, varbinds: [VarBind(oid: cursor)]),
                policy: policy,
                agent: &agent,
                version: .v2c
            )
            guard let varbind = response.varbinds.first, response.errorStatus == .noError,
                varbind.value != .endOfMibView
            else { break }
            next.append(varbind.oid.description)
            cursor = varbind.oid
        }
        var bulk: [String] = []
        cursor = "1.3"
        for _ in 0..<100 {
            let (response, _) = run(
                PDU.getBulk(requestID: 2, nonRepeaters: 0, maxRepetitions: 3, varbinds: [VarBind(oid: cursor)]),
                policy: policy,
                agent: &agent,
                version: .v2c
            )
            let found = response.varbinds.filter { $0.value != .endOfMibView }
            bulk += found.map(\.oid.description)
            guard let last = found.last, found.count == response.varbinds.count else { break }
            cursor = last.oid
        }
        return (next, bulk)
    }

    /// `queryBefore(P.b)` asks from `P.(b-1).4294967295`, and an object can sit under that: an
    /// answer between the query and the point is asked past, never taken for the end of the walk
    /// nor for a reason to go back.
    @Test("objects in the gap before a jump target neither end the walk nor loop it")
    func gapBeforeJumpTarget() {
        let inHole = RoutePolicy(
            readView: ViewPolicy(include: [[1, 3, 6, 1]], exclude: []),
            writeView: nil,
            rewrites: [RoutePolicy.Rewrite(backend: [1, 3, 6, 1, 4, 1, 2021], manager: [1, 3, 6, 1, 4, 1, 99999])]
        )
        let objects: [VarBind] = [
            VarBind(oid: "1.3.6.1.4.1.2021.1.0", value: .integer(1)),
            VarBind(oid: "1.3.6.1.4.1.2021.4294967295.1", value: .integer(2)),
            VarBind(oid: "1.3.6.1.4.1.2022.1", value: .integer(3)),
        ]
        let expected = ["1.3.6.1.4.1.2022.1", "1.3.6.1.4.1.99999.1.0", "1.3.6.1.4.1.99999.4294967295.1"]
        let (next, bulk) = Self.walks(objects, inHole)
        #expect(next == expected)
        #expect(bulk == expected)

        let excluded = RoutePolicy(
            readView: ViewPolicy(include: [[1, 3, 6, 1]], exclude: [[1, 3, 6, 1, 2, 1, 4, 22]]),
            writeView: nil,
            rewrites: []
        )
        let gap: [VarBind] = [
            VarBind(oid: "1.3.6.1.2.1.4.21.1", value: .integer(1)),
            VarBind(oid: "1.3.6.1.2.1.4.22.1.1", value: .integer(2)),
            VarBind(oid: "1.3.6.1.2.1.4.22.4294967295.7", value: .integer(3)),
            VarBind(oid: "1.3.6.1.2.1.4.23.1", value: .integer(4)),
        ]
        let walked = Self.walks(gap, excluded)
        #expect(walked.getNext == ["1.3.6.1.2.1.4.21.1", "1.3.6.1.2.1.4.23.1"])
        #expect(walked.getBulk == ["1.3.6.1.2.1.4.21.1", "1.3.6.1.2.1.4.23.1"])
    }

    /// A broken (or hostile) agent that answers every GetNext with the same OID: the column ends at
    /// once instead of asking the same question until the bound.
    @Test("an agent that does not move forward ends the walk in one packet")
    func agentThatDoesNotMove() {
        let policy = RoutePolicy(
            readView: ViewPolicy(include: [[1, 3, 6, 1]], exclude: []),
            writeView: nil,
            rewrites: []
        )
        var filtered = FilteredExchange(
            request: PDU(type: .getNext, requestID: 1, varbinds: [VarBind(oid: "1.3.6.1.2.1.1.5.0")]),
            policy: policy,
            maximumRounds: 16
        )
        var outcome = filtered.start()
        var packets = 0
        while case .send(let asked) = outcome {
            packets += 1
            outcome = filtered.receive(
                PDU(
                    type: .response,
                    requestID: asked.requestID,
                    varbinds: [VarBind(oid: "1.3.6.1.2.1.1.1.0", value: .integer(1))]
                )
            )
        }
        #expect(packets == 1)
        guard case .respond(let response) = outcome else { return }
        #expect(response.errorStatus == .noError && response.varbinds.first?.value == .endOfMibView)
    }

    @Test("queries stay OIDs: first arcs and 128-arc limits")
    func normalizedQueries() {
        #expect(Arcs.normalizedQuery([1, 40, 5]) == [1, 39, UInt32.max])
        #expect(Arcs.normalizedQuery([3, 0]) == nil)
        #expect(Arcs.normalizedQuery([1]) == [1, 0])
        #expect(Arcs.normalizedQuery(Array(repeating: 1, count: 200))?.count == 128)
        #expect(Arcs.queryBefore([1, 0]) == [0, 39, UInt32.max])
    }

    /// The situation of Net-SNMP's issue 842: GetNext after the last OID of the view, with the back
    /// end holding thousands of objects after it. A handful of packets, then endOfMibView.
    @Test("GetNext past the end of the view: endOfMibView after a handful of back-end packets")
    func issue842() {
        let many = (1...5000).map {
            VarBind(oid: OID(arcs: [1, 3, 6, 1, 4, 1, 8072, 1, UInt32($0)])!, value: .integer(1))
        }
        var agent = SimulatedAgent(objects: objects + many)
        let policy = RoutePolicy(
            readView: ViewPolicy(include: [[1, 3, 6, 1, 2, 1, 1], [1, 3, 6, 1, 2, 1, 2]], exclude: []),
            writeView: nil,
            rewrites: []
        )
        let (response, packets) = run(
            PDU(type: .getNext, requestID: 1, varbinds: [VarBind(oid: "1.3.6.1.2.1.2.2.1.2.2")]),
            policy: policy,
            agent: &agent,
            version: .v2c
        )
        #expect(response.varbinds.first?.value == .endOfMibView)
        #expect(packets <= 1, "\(packets) packets")
        // A GetBulk from there: the same.
        let bulk = PDU.getBulk(
            requestID: 2,
            nonRepeaters: 0,
            maxRepetitions: 50,
            varbinds: [VarBind(oid: "1.3.6.1.2.1.2.2.1.2.2")]
        )
        let (bulkResponse, bulkPackets) = run(bulk, policy: policy, agent: &agent, version: .v2c)
        #expect(bulkResponse.varbinds.allSatisfy { $0.value == .endOfMibView })
        #expect(bulkPackets <= 1)
    }
}
