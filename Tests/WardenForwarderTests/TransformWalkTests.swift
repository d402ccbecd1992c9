//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOCore
import PeerSupport
import SNMPWire
import Testing
import WardenPolicy
import WardenSimulator

@testable import WardenForwarder

/// A walk scenario with value rewriting on top: random redactions and replacements by subtree or
/// pattern, and random synthesized objects (some where the device has an object too).
struct TransformScenario {
    var walk: WalkScenario
    var zero: [[UInt32?]]
    var replace: [[UInt32?]]
    var synthesized: [VarBind]

    static let replacement: Int32 = 77

    init(seed: UInt64) {
        self.walk = WalkScenario(seed: seed)
        var random = SeededGenerator(state: seed ^ 0x7A7A)
        func pattern() -> [UInt32?] {
            [1, 3, 6, 1]
                + (0..<Int.random(in: 1...3, using: &random)).map { _ in
                    Int.random(in: 0..<4, using: &random) == 0 ? nil : UInt32.random(in: 0...3, using: &random)
                }
        }
        self.zero = (0..<Int.random(in: 0...2, using: &random)).map { _ in pattern() }
        self.replace = (0..<Int.random(in: 0...2, using: &random)).map { _ in pattern() }
        var names = Set<[UInt32]>()
        for _ in 0..<Int.random(in: 0...4, using: &random) {
            // Sometimes a device object's own name, mostly a new leaf.
            if Bool.random(using: &random), let object = self.walk.objects.randomElement(using: &random) {
                names.insert(Array(object.oid.arcs))
            } else {
                names.insert([1, 3, 6, 1] + (0..<Int.random(in: 2...5, using: &random)).map { _ in UInt32.random(in: 0...3, using: &random) })
            }
        }
        // Leaves only, together with the device's: no synthesized name is a prefix of another object.
        let device = Set(self.walk.objects.map { Array($0.oid.arcs) })
        let all = device.union(names)
        let leaves = names.filter { name in !all.contains { $0.count > name.count && Array($0.prefix(name.count)) == name } }
            .filter { name in !device.contains { name.count > $0.count && Array(name.prefix($0.count)) == $0 } }
        self.synthesized = leaves.map { VarBind(oid: OID(arcs: $0)!, value: .string("synth-\($0.map(String.init).joined(separator: "-"))")) }
    }

    var transforms: ValueTransforms {
        ValueTransforms(
            rules: self.zero.map { ValueTransforms.Rule(pattern: $0, action: .zero) }
                + self.replace.map { ValueTransforms.Rule(pattern: $0, action: .replace(text: "\(Self.replacement)", value: nil)) },
            synthesized: self.synthesized,
            keyedHash: nil
        )
    }

    var policy: RoutePolicy {
        RoutePolicy(
            readView: ViewPolicy(include: self.walk.include, exclude: self.walk.exclude),
            writeView: nil,
            rewrites: self.walk.rewrites,
            transforms: self.transforms
        )
    }

    /// The expected walk computed by hand: the device's objects and the synthesized ones (which
    /// win over a device object of the same name), each value as the first matching rule makes it,
    /// then mapped and filtered exactly as ``WalkScenario/expected`` does.
    var expected: [([UInt32], SNMPValue)] {
        func matches(_ pattern: [UInt32?], _ arcs: [UInt32]) -> Bool {
            pattern.count <= arcs.count && zip(pattern, arcs).allSatisfy { $0.0 == nil || $0.0 == $0.1 }
        }
        var values: [[UInt32]: SNMPValue] = [:]
        for object in self.walk.objects {
            let arcs = Array(object.oid.arcs)
            var value = object.value
            // The first rule in configuration order: zeros before replacements, as `transforms` lists them.
            if self.zero.contains(where: { matches($0, arcs) }) {
                value = .integer(0)
            } else if self.replace.contains(where: { matches($0, arcs) }) {
                value = .integer(Self.replacement)
            }
            values[arcs] = value
        }
        for object in self.synthesized { values[Array(object.oid.arcs)] = object.value }
        var scenario = self.walk
        scenario.objects = values.map { VarBind(oid: OID(arcs: $0.key)!, value: $0.value) }
        let managerNames = scenario.expected
        // Map manager names back to their values through the rewrites, as the expected list did.
        return managerNames.map { name in
            var backend = name
            if let rewrite = self.walk.rewrites.first(where: { name.count >= $0.manager.count && Array(name.prefix($0.manager.count)) == $0.manager }) {
                backend = rewrite.backend + name.dropFirst(rewrite.manager.count)
            }
            return (name, values[backend]!)
        }
    }
}

@Suite("Value rewriting through the shipped machine: walks with transforms and synthesized objects")
struct TransformWalkTests {
    @Test("GetNext and GetBulk walks equal the rewritten MIB, values included; nothing redacted leaks", arguments: Array(UInt64(1)...400))
    func walkWithTransforms(seed: UInt64) {
        let scenario = TransformScenario(seed: seed)
        let policy = scenario.policy
        let expected = scenario.expected
        var agent = SimulatedAgent(objects: scenario.walk.objects)
        var random = SeededGenerator(state: seed ^ 0x5151)
        for version in [SNMPVersion.v2c, .v1] {
            var walked: [([UInt32], SNMPValue)] = []
            var cursor: OID = "1.3"
            for _ in 0...(expected.count + 1) {
                let (response, packets) = run(
                    PDU(type: .getNext, requestID: 7, varbinds: [VarBind(oid: cursor)]),
                    policy: policy,
                    agent: &agent,
                    version: version
                )
                #expect(packets <= 16)
                guard response.errorStatus == .noError, let varbind = response.varbinds.first,
                    varbind.value != .endOfMibView
                else { break }
                walked.append((Array(varbind.oid.arcs), varbind.value))
                cursor = varbind.oid
            }
            #expect(walked.map(\.0) == expected.map(\.0), "seed \(seed) \(version) GetNext names")
            #expect(walked.map(\.1) == expected.map(\.1), "seed \(seed) \(version) GetNext values")

            var bulk: [([UInt32], SNMPValue)] = []
            cursor = "1.3"
            let repetitions = Int32.random(in: 1...8, using: &random)
            var done = false
            for _ in 0...(expected.count + 1) where !done {
                let (response, _) = run(
                    PDU.getBulk(requestID: 8, nonRepeaters: 0, maxRepetitions: repetitions, varbinds: [VarBind(oid: cursor)]),
                    policy: policy,
                    agent: &agent,
                    version: version
                )
                if response.varbinds.isEmpty { break }
                for varbind in response.varbinds {
                    if varbind.value == .endOfMibView {
                        done = true
                        break
                    }
                    bulk.append((Array(varbind.oid.arcs), varbind.value))
                    cursor = varbind.oid
                }
            }
            #expect(bulk.map(\.0) == expected.map(\.0), "seed \(seed) \(version) GetBulk(\(repetitions)) names")
            #expect(bulk.map(\.1) == expected.map(\.1), "seed \(seed) \(version) GetBulk values")
        }
        // Get of every object of the view: the same values; a Set of a rewritten one is refused.
        for (name, value) in expected.prefix(8) {
            let (response, _) = run(
                PDU(type: .get, requestID: 9, varbinds: [VarBind(oid: OID(arcs: name)!)]),
                policy: policy,
                agent: &agent,
                version: .v2c
            )
            #expect(response.varbinds.first?.value == value, "seed \(seed) Get \(name)")
        }
    }

    @Test("a Set of a transformed or synthesized object: notWritable, and nothing reaches the device")
    func setRefused() {
        let objects = [VarBind(oid: "1.3.6.1.2.1.1.4.0", value: .string("admin@internal"))]
        let transforms = ValueTransforms(
            rules: [ValueTransforms.Rule(pattern: [1, 3, 6, 1, 2, 1, 1, 4], action: .replace(text: "noc", value: nil))],
            synthesized: [VarBind(oid: "1.3.6.1.4.1.99999.1.1.0", value: .string("site"))],
            keyedHash: nil
        )
        let everything = ViewPolicy(include: [[1, 3, 6, 1]], exclude: [])
        let policy = RoutePolicy(readView: everything, writeView: everything, rewrites: [], transforms: transforms)
        var agent = SimulatedAgent(objects: objects)
        for (oid, index) in [("1.3.6.1.2.1.1.4.0", Int32(1)), ("1.3.6.1.4.1.99999.1.1.0", Int32(1))] {
            let (response, packets) = run(
                PDU(type: .set, requestID: 3, varbinds: [VarBind(oid: OID(dotted: oid)!, value: .string("x"))]),
                policy: policy,
                agent: &agent,
                version: .v2c
            )
            #expect(response.errorStatus == .notWritable && response.errorIndex == index)
            #expect(packets == 0)
        }
        #expect(agent.objects.first?.value == .string("admin@internal"))
        // Counted as a refusal, and the request's outcome is refused.
        let harness = MachineHarness(policy: policy, version: .v2c) { _ in nil }
        _ = harness.ask(PDU(type: .set, requestID: 4, varbinds: [VarBind(oid: "1.3.6.1.2.1.1.4.0", value: .string("x"))]))
        let statistics = harness.machine.routeStatistics
        #expect(statistics.refusals(route: 0, reason: .writeTransformed) == 1)
        #expect(statistics.requests(route: 0, kind: .set, outcome: .refused) == 1)
        #expect(harness.backendPackets == 0)
    }

    @Test("match leaves a value it does not match octet for octet, binary included")
    func matchLeavesOtherValues() throws {
        let transforms = ValueTransforms(
            rules: [ValueTransforms.Rule(pattern: [1, 3, 6, 1], action: .match(try .init("Version [0-9.]+"), with: "Version x"))],
            synthesized: [],
            keyedHash: nil
        )
        let binary = SNMPValue.octetString(ByteBuffer(bytes: [0xFF, 0xFE, 0x00, 0x80]))
        #expect(transforms.apply("1.3.6.1.2.1.1.1.0", binary) == binary)
        #expect(transforms.apply("1.3.6.1.2.1.1.1.0", .string("Acme Version 4.2.1 (x)")) == .string("Acme Version x (x)"))
        #expect(transforms.apply("1.3.6.1.2.1.1.3.0", .timeTicks(5)) == .timeTicks(5))
    }

    @Test("redaction keeps type and length; the keyed hash is stable and of the value's own type and length")
    func redaction() {
        let key = { @Sendable (data: [UInt8]) -> [UInt8] in
            // A stand-in keyed function with the HMAC's shape (32 octets, depends on every input octet).
            var state: UInt64 = 0xCBF2_9CE4_8422_2325
            return (0..<32).map { round in
                for byte in data { state = (state ^ UInt64(byte)) &* 0x100_0000_01B3 }
                state = (state ^ UInt64(round)) &* 0x100_0000_01B3
                return UInt8(truncatingIfNeeded: state >> 24)
            }
        }
        let transforms = ValueTransforms(
            rules: [
                ValueTransforms.Rule(pattern: [1, 3, 6, 1, 2, 1, 2, 2, 1, 6], action: .zero),
                ValueTransforms.Rule(pattern: [1, 3, 6, 1, 2, 1, 4, 20, 1, nil], action: .hash),
            ],
            synthesized: [],
            keyedHash: key
        )
        let mac = SNMPValue.octetString(ByteBuffer(bytes: [0x02, 0x42, 0xAC, 0x11, 0x00, 0x02]))
        #expect(transforms.apply("1.3.6.1.2.1.2.2.1.6.3", mac) == .octetString(ByteBuffer(bytes: [0, 0, 0, 0, 0, 0])))
        #expect(transforms.apply("1.3.6.1.2.1.2.2.1.6.3", .octetString(ByteBuffer())) == .octetString(ByteBuffer()))
        let address = SNMPValue.ipAddress(IPv4Address(10, 1, 2, 3))
        let hashed = transforms.apply("1.3.6.1.2.1.4.20.1.1.10.1.2.3", address)
        guard case .ipAddress(let pseudonym) = hashed else {
            Issue.record("not an IpAddress: \(hashed)")
            return
        }
        #expect(pseudonym != IPv4Address(10, 1, 2, 3))
        // Stable: the same value gives the same pseudonym, in any row; another value another one.
        #expect(transforms.apply("1.3.6.1.2.1.4.20.1.3.10.1.2.3", address) == hashed)
        #expect(transforms.apply("1.3.6.1.2.1.4.20.1.1.10.1.2.4", .ipAddress(IPv4Address(10, 1, 2, 4))) != hashed)
        // Every type keeps its type (and octet strings their length, up to several HMAC blocks).
        for value: SNMPValue in [
            .integer(5), .counter32(5), .gauge32(5), .timeTicks(5), .counter64(5),
            .octetString(ByteBuffer(bytes: Array(repeating: 7, count: 100))), .objectIdentifier("1.3.6.1.4.1.9"),
        ] {
            let result = transforms.apply("1.3.6.1.2.1.4.20.1.2.1", value)
            #expect(ValueType(of: result) == ValueType(of: value), "\(value) → \(result)")
            #expect(result != value, "\(value) came back in clear")
            if case .octetString(let bytes) = result { #expect(bytes.readableBytes == 100) }
            if case .objectIdentifier(let oid) = result { #expect(Array(oid.arcs).count == 7) }
        }
        // Exceptions pass as they are.
        #expect(transforms.apply("1.3.6.1.2.1.2.2.1.6.3", .noSuchInstance) == .noSuchInstance)
    }
}
