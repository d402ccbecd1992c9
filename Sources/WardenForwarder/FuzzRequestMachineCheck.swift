//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOCore
import SNMPSecurity
import SNMPWire
import WardenPolicy

/// The check the `FuzzRequestMachine` target runs on one input: the shipped request machine, with
/// views, a rewrite, value transforms and a synthesized object, fed datagrams from managers and
/// from two agents (v2c and v1) and timer ticks, all chosen by the input. Its regression tests run it
/// too.
///
/// The input is a sequence of records: one operation octet, a two-octet length, that many octets.
/// Operation mod 3: 0 a manager datagram; 1 an agent datagram (its request-id set to one the
/// machine has pending, when it decodes, so that the fuzzer gets past matching); 2 the clock moves
/// on and the timer fires.
///
/// After each record: every datagram the machine sent decodes; what goes to an agent is a request of
/// the agent's version in canonical BER; no answer to a manager carries an OID outside the view; the
/// pending state stays within its bound; back-end requests stay within what the requests may cause.
public enum FuzzRequestMachineCheck {
    static let view = ViewPolicy(
        include: [[1, 3, 6, 1, 2, 1], [1, 3, 6, 1, 4, 1, 99999]],
        exclude: [[1, 3, 6, 1, 2, 1, 2, 2, 1, 6], [1, 3, 6, 1, 2, 1, 1, 4]]
    )
    static let agents = [
        try! SocketAddress(ipAddress: "192.0.2.1", port: 161),
        try! SocketAddress(ipAddress: "192.0.2.2", port: 161),
    ]
    static let limits = ForwardingLimits(maxRepetitions: 20, maxVarbinds: 40, maxPending: 64, maxBackendRequests: 8)

    static func snapshot() -> ForwardingSnapshot {
        let transforms = ValueTransforms(
            rules: [
                .init(pattern: [1, 3, 6, 1, 2, 1, 1, 1], action: .replace(text: "device", value: nil)),
                .init(pattern: [1, 3, 6, 1, 2, 1, 1, 5], action: .zero),
            ],
            synthesized: [VarBind(oid: "1.3.6.1.2.1.1.99.0", value: .string("site"))],
            keyedHash: nil
        )
        let policy = RoutePolicy(
            readView: Self.view,
            writeView: Self.view,
            rewrites: [RoutePolicy.Rewrite(backend: [1, 3, 6, 1, 4, 1, 9], manager: [1, 3, 6, 1, 4, 1, 99999, 9])],
            transforms: transforms
        )
        let backends = Self.agents.enumerated().map { index, address in
            BackendTarget(
                name: "agent-\(index)",
                index: index,
                kind: .agent(
                    BackendTarget.Agent(
                        address: address,
                        version: index == 0 ? .v2c : .v1,
                        community: ByteBuffer(string: "agent"),
                        timeout: 1_000_000_000,
                        retries: 1,
                        pool: 0,
                        // The v2c agent takes 2 requests at a time: the rest wait (max-in-flight).
                        maxInFlight: index == 0 ? 2 : 0
                    )
                )
            )
        }
        return ForwardingSnapshot(
            routes: backends.indices.map {
                RouteTarget(name: "r\($0)", index: $0, backend: .fixed(backends[$0]), policy: policy, dropOnTimeout: false)
            },
            routeTable: RouteTable(rules: [
                RouteTable.Rule(users: ["noc"], communities: [Array("public".utf8)], context: nil, sources: []),
                RouteTable.Rule(users: ["noc"], communities: [Array("v1".utf8)], context: "v1", sources: []),
            ]),
            backends: backends,
            limits: Self.limits,
            pools: [try! SocketAddress(ipAddress: "0.0.0.0", port: 0)],
            socketsPerPool: 2
        )
    }

    struct Sink: GatewayActionSink {
        var actions: [GatewayAction] = []
        mutating func perform(_ action: GatewayAction) {
            switch action {
            case .reply(let datagram, let endpoint):
                var copy = ByteBuffer()
                copy.writeImmutableBuffer(datagram)
                self.actions.append(.reply(copy, to: endpoint))
            default:
                self.actions.append(action)
            }
        }
    }

    /// A failed check (the fuzz target traps on it; tests record it).
    public struct Violation: Error, CustomStringConvertible {
        public var description: String
    }

    /// Runs the check on one input from a fresh machine.
    public static func run(_ input: ByteBuffer) throws(Violation) {
        let usm = try! USMAuthoritativeEngine(
            identity: EngineIdentity(engineID: [0x80, 0, 0x1F, 0x88, 0x04, 0x66, 0x75, 0x7A, 0x7A], boots: 1),
            users: [USMUserConfiguration(name: "noc")]
        )
        let machine = RequestMachine(snapshot: Self.snapshot(), usm: usm, loopCount: 1, engineTimeOrigin: 0) { 1000 }
        let manager = ManagerEndpoint(listener: 0, remote: try! SocketAddress(ipAddress: "198.51.100.7", port: 40000))
        var now: Int64 = 1_000_000_000
        var reader = input
        var managerRequests = 0
        /// The last request-id the machine sent on each socket.
        var lastSent: [Int: Int32] = [:]
        while let operation = reader.readInteger(as: UInt8.self), let length = reader.readInteger(as: UInt16.self) {
            let count = min(Int(length), reader.readableBytes)
            guard var datagram = reader.readSlice(length: count) else { break }
            var sink = Sink()
            switch operation % 3 {
            case 0:
                managerRequests += 1
                machine.receiveFromManager(datagram, from: manager, now: now, into: &sink)
            case 1:
                let socket = Int(operation / 3) % 2
                let agent = Self.agents[Int(operation / 6) % 2]
                if let id = lastSent[socket], case .community(var message)? = try? SNMPMessage(decoding: datagram),
                    case .pdu(var pdu) = message.pdu
                {
                    pdu.requestID = id
                    message.pdu = .pdu(pdu)
                    datagram = ByteBuffer()
                    datagram.writeCommunityMessage(message)
                }
                machine.receiveFromBackend(datagram, socket: socket, from: agent, now: now, into: &sink)
            default:
                now += Int64(operation) * 10_000_000
                machine.timerFired(now: now, into: &sink)
            }
            for action in sink.actions {
                switch action {
                case .sendToBackend(let bytes, let socket, let address):
                    guard case .community(let message)? = try? SNMPMessage(decoding: bytes), case .pdu(let pdu) = message.pdu
                    else { throw Violation(description: "an undecodable datagram to an agent") }
                    let version: SNMPVersion = address == Self.agents[0] ? .v2c : .v1
                    guard message.version == version, [.get, .getNext, .getBulk, .set].contains(pdu.type) else {
                        throw Violation(description: "not a request of the agent's version: \(message)")
                    }
                    var canonical = ByteBuffer()
                    canonical.writeCommunityMessage(message)
                    guard canonical == bytes else { throw Violation(description: "non-canonical BER to an agent") }
                    lastSent[socket] = pdu.requestID
                case .reply(let bytes, _):
                    guard bytes.readableBytes <= 65_507, let message = try? SNMPMessage(decoding: bytes) else {
                        throw Violation(description: "an undecodable or oversized reply")
                    }
                    if case .community(let community) = message, case .pdu(let pdu) = community.pdu,
                        pdu.type == .response, pdu.errorStatus == .noError
                    {
                        for varbind in pdu.varbinds where !varbind.value.isException {
                            guard Self.view.contains(varbind.oid) else {
                                throw Violation(description: "an answer outside the view: \(varbind.oid)")
                            }
                        }
                    }
                default:
                    break
                }
            }
            guard machine.pendingCount <= machine.pendingCapacity else {
                throw Violation(description: "pending \(machine.pendingCount) over \(machine.pendingCapacity)")
            }
            guard machine.waitingCount >= 0 && machine.waitingCount <= machine.pendingCount else {
                throw Violation(description: "\(machine.waitingCount) waiting of \(machine.pendingCount) pending")
            }
        }
        // Each manager request may cause at most maxBackendRequests rounds, each re-asked past
        // Counter64s for a v1 manager (33 times) and re-sent once per varbind by a v1 agent.
        let bound = UInt64(managerRequests) * UInt64(Self.limits.maxBackendRequests + Self.limits.maxVarbinds) * 33
        guard machine.counters.backendRequests <= bound else {
            throw Violation(description: "\(machine.counters.backendRequests) back-end requests for \(managerRequests) requests")
        }
    }
}
