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

/// The check the `FuzzNotificationMachine` target runs on one input: the shipped notification
/// machine with a view and a rewrite, v2c, v1 and SNMPv3 targets (traps and informs), fed datagrams
/// from devices (an allowed one and a stranger) and from the receivers, and timer ticks, all chosen
/// by the input. Its regression tests run it too.
///
/// The input is records as for ``FuzzRequestMachineCheck``: an operation octet, a two-octet length,
/// that many octets. Operation mod 3: 0 a device's datagram (from the stranger when operation / 3 is
/// odd); 1 a receiver's datagram (from the inform receiver; a Response's request-id set to the last
/// one sent there); 2 the clock moves on and the timer fires.
///
/// After each record: every datagram sent decodes; nothing is sent or answered for the stranger;
/// what goes to a receiver is a notification in SNMPv2 form (a v1 Trap-PDU for the v1 target) with
/// no varbind outside the view but the marker and the first two, and our marker; what goes to a
/// device is a Response or a Report; informs pending stay within their bound.
public enum FuzzNotificationMachineCheck {
    static let engineID: [UInt8] = [0x80, 0, 0x1F, 0x88, 0x04, 0x66, 0x75, 0x7A, 0x7A]
    static let device = try! SocketAddress(ipAddress: "192.0.2.10", port: 40000)
    static let stranger = try! SocketAddress(ipAddress: "198.51.100.66", port: 40000)
    static let view = ViewPolicy(
        include: [[1, 3, 6, 1, 6, 3, 1, 1, 5], [1, 3, 6, 1, 2, 1, 2], [1, 3, 6, 1, 4, 1, 99999], [1, 3, 6, 1, 6, 3, 18, 1, 3]],
        exclude: [[1, 3, 6, 1, 6, 3, 1, 1, 5, 1], [1, 3, 6, 1, 2, 1, 2, 2, 1, 2]]
    )
    static let targets: [SocketAddress] = [
        try! SocketAddress(ipAddress: "192.0.2.50", port: 162),
        try! SocketAddress(ipAddress: "192.0.2.51", port: 162),
        try! SocketAddress(ipAddress: "192.0.2.52", port: 162),
        try! SocketAddress(ipAddress: "192.0.2.53", port: 162),
    ]
    static let maxPending = 8
    /// Localized keys, not passphrases: a machine is built per input, and a passphrase costs a
    /// millisecond of hashing each time.
    static let user = USMUserConfiguration(
        name: "nms",
        auth: (.sha1, .localizedKey([UInt8](repeating: 0x11, count: 20))),
        privacy: (.aes128, .localizedKey([UInt8](repeating: 0x22, count: 20)))
    )

    static func snapshot() -> NotificationSnapshot {
        let community = ByteBuffer(string: "nms")
        func target(_ index: Int, _ version: SNMPVersion, _ kind: NotificationSnapshot.Target.Kind) -> NotificationSnapshot.Target {
            NotificationSnapshot.Target(
                name: "t\(index)",
                address: Self.targets[index],
                version: version,
                community: community,
                user: version == .v3 ? Self.user : nil,
                kind: kind,
                timeout: 1_000_000_000,
                retries: 1,
                maxPending: Self.maxPending,
                engineID: nil
            )
        }
        return NotificationSnapshot(
            sources: [
                NotificationSnapshot.Source(
                    name: "devices",
                    prefixes: [AddressPrefix(address: [192, 0, 2, 0], length: 24)],
                    communities: [ByteBuffer(string: "public")],
                    users: ["nms"],
                    engineIDs: []
                )
            ],
            targets: [target(0, .v2c, .trap), target(1, .v2c, .inform), target(2, .v1, .trap), target(3, .v3, .trap)],
            routes: [
                NotificationSnapshot.Route(
                    name: "all",
                    sources: [0],
                    targets: [0, 1, 2, 3],
                    view: Self.view,
                    rewrites: [RoutePolicy.Rewrite(backend: [1, 3, 6, 1, 4, 1, 9], manager: [1, 3, 6, 1, 4, 1, 99999, 9])],
                    acknowledgeLocally: false,
                    communityVarbind: false
                )
            ],
            sourceRate: 1000,
            sourceBurst: 1000
        )
    }

    struct Sink: NotificationActionSink {
        var actions: [NotificationAction] = []
        mutating func perform(_ action: NotificationAction) {
            self.actions.append(action)
        }
    }

    public struct Violation: Error, CustomStringConvertible {
        public var description: String
    }

    /// What one input made the machine do (so that tests can see the check was not vacuous).
    public struct Activity: Sendable {
        public var sent = 0
        public var replies = 0
    }

    /// Runs the check on one input from a fresh machine.
    @discardableResult
    public static func run(_ input: ByteBuffer) throws(Violation) -> Activity {
        var activity = Activity()
        let identity = EngineIdentity(engineID: Self.engineID, boots: 1)
        let machine = NotificationMachine(
            snapshot: Self.snapshot(),
            engine: try! USMAuthoritativeEngine(identity: identity, users: [Self.user]),
            trapReceiver: try! USMNotificationReceiver(senders: []),
            engineTimeOrigin: 0
        )
        let marker = ByteBuffer(bytes: Self.engineID)
        var now: Int64 = 1_000_000_000
        var reader = input
        var lastInform: Int32?
        while let operation = reader.readInteger(as: UInt8.self), let length = reader.readInteger(as: UInt16.self) {
            let count = min(Int(length), reader.readableBytes)
            guard var datagram = reader.readSlice(length: count) else { break }
            var sink = Sink()
            var fromStranger = false
            switch operation % 3 {
            case 0:
                fromStranger = (operation / 3) % 2 == 1
                let remote = fromStranger ? Self.stranger : Self.device
                machine.receive(datagram, from: ManagerEndpoint(listener: 0, remote: remote), now: now, into: &sink)
            case 1:
                if let id = lastInform, case .community(var message)? = try? SNMPMessage(decoding: datagram),
                    case .pdu(var pdu) = message.pdu
                {
                    pdu.requestID = id
                    message.pdu = .pdu(pdu)
                    datagram = ByteBuffer()
                    datagram.writeCommunityMessage(message)
                }
                machine.receiveFromTarget(datagram, from: Self.targets[1], now: now, into: &sink)
            default:
                now += Int64(operation) * 10_000_000
                machine.timerFired(now: now, into: &sink)
            }
            for action in sink.actions {
                switch action {
                case .send(let bytes, let address):
                    activity.sent += 1
                    guard !fromStranger else { throw Violation(description: "forwarded for a stranger") }
                    guard let index = Self.targets.firstIndex(of: address) else {
                        throw Violation(description: "sent to \(address), not a target")
                    }
                    guard let message = try? SNMPMessage(decoding: bytes) else {
                        throw Violation(description: "an undecodable datagram to a receiver")
                    }
                    switch (index, message) {
                    case (2, .community(let community)):
                        guard community.version == .v1, case .trapV1(let trap) = community.pdu else {
                            throw Violation(description: "not a v1 trap to the v1 receiver")
                        }
                        try Self.checkVarbinds(trap.varbinds, first: 0, marker: marker)
                    case (3, .v3(let v3)):
                        guard v3.usm?.authoritativeEngineID == marker, v3.flags.contains(.privacy) else {
                            throw Violation(description: "an SNMPv3 trap not from our engine, or not encrypted")
                        }
                    case (0, .community(let community)), (1, .community(let community)):
                        guard community.version == .v2c, case .pdu(let pdu) = community.pdu,
                            pdu.type == (index == 0 ? .trapV2 : .inform),
                            NotificationTranslation.isV2Form(pdu.varbinds)
                        else { throw Violation(description: "not a v2c notification in SNMPv2 form") }
                        try Self.checkVarbinds(pdu.varbinds, first: 2, marker: marker)
                        if index == 1 { lastInform = pdu.requestID }
                    default:
                        throw Violation(description: "a message of the wrong version to target \(index)")
                    }
                case .reply(let bytes, let endpoint):
                    activity.replies += 1
                    guard !fromStranger, endpoint.remote == Self.device else {
                        throw Violation(description: "answered a stranger")
                    }
                    guard let message = try? SNMPMessage(decoding: bytes) else {
                        throw Violation(description: "an undecodable answer to a device")
                    }
                    if case .community(let community) = message {
                        guard case .pdu(let pdu) = community.pdu, pdu.type == .response else {
                            throw Violation(description: "an answer to a device that is not a Response")
                        }
                    }
                case .armTimer:
                    break
                }
            }
            guard machine.pendingCount <= Self.maxPending * 2 else {
                throw Violation(description: "\(machine.pendingCount) informs pending over the bound")
            }
        }
        return activity
    }

    /// The varbinds after `first` are in the view, but for the marker (which must be there).
    static func checkVarbinds(_ varbinds: [VarBind], first: Int, marker: ByteBuffer) throws(Violation) {
        guard NotificationTranslation.carriesMarker(varbinds, engineID: marker) else {
            throw Violation(description: "forwarded without our marker")
        }
        for varbind in varbinds.dropFirst(first) where !varbind.oid.hasPrefix(NotificationObjects.snmpEngineID) {
            guard Self.view.contains(varbind.oid) else {
                throw Violation(description: "a varbind outside the view: \(varbind.oid)")
            }
        }
    }
}
