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
import WardenForwarder
import WardenPolicy

/// The OIDs of docs' reference (notifications.md §1), written out here rather than taken from
/// ``NotificationObjects``, so that a wrong constant in the code under test shows.
enum NotificationOIDs {
    static let sysUpTime: OID = "1.3.6.1.2.1.1.3.0"
    static let snmpTrapOID: OID = "1.3.6.1.6.3.1.1.4.1.0"
    static let snmpTrapEnterprise: OID = "1.3.6.1.6.3.1.1.4.3.0"
    static let snmpTraps: OID = "1.3.6.1.6.3.1.1.5"
    static let snmpTrapAddress0: OID = "1.3.6.1.6.3.18.1.3.0"
    static let snmpTrapAddress1: OID = "1.3.6.1.6.3.18.1.3.1"
    static let snmpTrapAddress2: OID = "1.3.6.1.6.3.18.1.3.2"
    static let snmpTrapCommunity: OID = "1.3.6.1.6.3.18.1.4.0"
    static let snmpEngineID1: OID = "1.3.6.1.6.3.10.2.1.1.1"
    static let snmpEngineID2: OID = "1.3.6.1.6.3.10.2.1.1.2"
    static let sysName: OID = "1.3.6.1.2.1.1.5.0"
    static let ifIndex3: OID = "1.3.6.1.2.1.2.2.1.1.3"
    static let ifAdminStatus3: OID = "1.3.6.1.2.1.2.2.1.7.3"
}

/// A v2 notification's first two varbinds.
func notificationHeader(uptime: UInt32, trapOID: OID) -> [VarBind] {
    [
        VarBind(oid: NotificationOIDs.sysUpTime, value: .timeTicks(uptime)),
        VarBind(oid: NotificationOIDs.snmpTrapOID, value: .objectIdentifier(trapOID)),
    ]
}

@Suite("RFC 3584 §3.1: an SNMPv1 Trap-PDU in SNMPv2 form (Net-SNMP 5.9.3 as the oracle)")
struct NotificationV1ToV2Tests {
    static let enterprise: OID = "1.3.6.1.4.1.8072.3.2.10"
    static let agent = IPv4Address(192, 0, 2, 7)
    static let payload = [
        VarBind(oid: NotificationOIDs.ifIndex3, value: .integer(3)),
        VarBind(oid: NotificationOIDs.ifAdminStatus3, value: .integer(1)),
    ]

    @Test("generic-trap g (0…5) becomes snmpTraps.(g+1), with the enterprise appended", arguments: 0...5)
    func genericTrap(generic: Int) {
        let trap = TrapV1PDU(
            enterprise: Self.enterprise,
            agentAddress: Self.agent,
            genericTrap: Int32(generic),
            specificTrap: 0,
            timeStamp: 4321,
            varbinds: Self.payload
        )
        let expected =
            notificationHeader(uptime: 4321, trapOID: OID(dotted: "1.3.6.1.6.3.1.1.5.\(generic + 1)")!) + Self.payload
            + [
                VarBind(oid: NotificationOIDs.snmpTrapAddress0, value: .ipAddress(Self.agent)),
                VarBind(oid: NotificationOIDs.snmpTrapEnterprise, value: .objectIdentifier(Self.enterprise)),
            ]
        #expect(NotificationTranslation.v2Varbinds(from: trap, community: nil) == expected)
        #expect(NotificationTranslation.trapOID(of: trap) == OID(dotted: "1.3.6.1.6.3.1.1.5.\(generic + 1)")!)
    }

    @Test("enterprise-specific: Net-SNMP's varbinds for `snmptrap -v 1 … 1.3.6.1.4.1.8072.9999 192.0.2.7 6 17`")
    func enterpriseSpecificAsNetSNMP() {
        let enterprise: OID = "1.3.6.1.4.1.8072.9999"
        let trap = TrapV1PDU(
            enterprise: enterprise,
            agentAddress: IPv4Address(192, 0, 2, 7),
            genericTrap: 6,
            specificTrap: 17,
            timeStamp: 99,
            varbinds: [VarBind(oid: NotificationOIDs.sysName, value: .string("hello-v1"))]
        )
        // notifications.md §2, in this order.
        let expected: [VarBind] = [
            VarBind(oid: "1.3.6.1.2.1.1.3.0", value: .timeTicks(99)),
            VarBind(oid: "1.3.6.1.6.3.1.1.4.1.0", value: .objectIdentifier("1.3.6.1.4.1.8072.9999.0.17")),
            VarBind(oid: "1.3.6.1.2.1.1.5.0", value: .string("hello-v1")),
            VarBind(oid: "1.3.6.1.6.3.18.1.3.0", value: .ipAddress(IPv4Address(192, 0, 2, 7))),
            VarBind(oid: "1.3.6.1.6.3.18.1.4.0", value: .string("public")),
            VarBind(oid: "1.3.6.1.6.3.1.1.4.3.0", value: .objectIdentifier("1.3.6.1.4.1.8072.9999")),
        ]
        #expect(NotificationTranslation.v2Varbinds(from: trap, community: ByteBuffer(string: "public")) == expected)
        // Without a community (the default: a firewall does not pass it on) the same minus snmpTrapCommunity.0.
        #expect(
            NotificationTranslation.v2Varbinds(from: trap, community: nil)
                == expected.filter { $0.oid != NotificationOIDs.snmpTrapCommunity }
        )
    }

    @Test("agent-addr 0.0.0.0 adds no snmpTrapAddress.0")
    func zeroAgentAddress() throws {
        let trap = TrapV1PDU(
            enterprise: Self.enterprise,
            agentAddress: IPv4Address(rawValue: 0),
            genericTrap: 0,
            specificTrap: 0,
            timeStamp: 1,
            varbinds: []
        )
        let varbinds = try #require(NotificationTranslation.v2Varbinds(from: trap, community: nil))
        #expect(
            varbinds
                == notificationHeader(uptime: 1, trapOID: "1.3.6.1.6.3.1.1.5.1") + [
                    VarBind(oid: NotificationOIDs.snmpTrapEnterprise, value: .objectIdentifier(Self.enterprise))
                ]
        )
    }

    @Test(
        "an snmpTrapAddress.0 already in the trap is kept and not added twice (agent-addr zero or not)",
        arguments: [IPv4Address(rawValue: 0), IPv4Address(192, 0, 2, 7)]
    )
    func existingTrapAddressKept(agent: IPv4Address) throws {
        let existing = VarBind(oid: NotificationOIDs.snmpTrapAddress0, value: .ipAddress(IPv4Address(198, 51, 100, 9)))
        let trap = TrapV1PDU(
            enterprise: Self.enterprise,
            agentAddress: agent,
            genericTrap: 2,
            specificTrap: 0,
            timeStamp: 5,
            varbinds: Self.payload + [existing]
        )
        let varbinds = try #require(NotificationTranslation.v2Varbinds(from: trap, community: nil))
        #expect(
            varbinds
                == notificationHeader(uptime: 5, trapOID: "1.3.6.1.6.3.1.1.5.3") + Self.payload + [
                    existing,
                    VarBind(oid: NotificationOIDs.snmpTrapEnterprise, value: .objectIdentifier(Self.enterprise)),
                ]
        )
    }

    @Test("snmpTrapEnterprise.0 and snmpTrapCommunity.0 already in the trap are not added twice")
    func existingEnterpriseAndCommunityKept() {
        let varbinds = [
            VarBind(oid: NotificationOIDs.snmpTrapEnterprise, value: .objectIdentifier("1.3.6.1.4.1.1")),
            VarBind(oid: NotificationOIDs.snmpTrapCommunity, value: .string("original")),
        ]
        let trap = TrapV1PDU(
            enterprise: Self.enterprise,
            agentAddress: IPv4Address(rawValue: 0),
            genericTrap: 6,
            specificTrap: 2,
            timeStamp: 5,
            varbinds: varbinds
        )
        let result = NotificationTranslation.v2Varbinds(from: trap, community: ByteBuffer(string: "public"))
        #expect(result == notificationHeader(uptime: 5, trapOID: "1.3.6.1.4.1.8072.3.2.10.0.2") + varbinds)
    }
}

@Suite("RFC 3584 §3.2: an SNMPv2 notification as an SNMPv1 Trap-PDU")
struct NotificationV2ToV1Tests {
    @Test("a standard trap with snmpTrapEnterprise.0: that enterprise, generic = last arc − 1, specific 0")
    func standardTrapWithEnterprise() throws {
        let varbinds =
            notificationHeader(uptime: 700, trapOID: "1.3.6.1.6.3.1.1.5.4") + [
                VarBind(oid: NotificationOIDs.ifIndex3, value: .integer(3)),
                VarBind(oid: NotificationOIDs.snmpTrapEnterprise, value: .objectIdentifier("1.3.6.1.4.1.8072.3.2.10")),
            ]
        let trap = try #require(NotificationTranslation.v1Trap(from: varbinds))
        #expect(trap.enterprise == "1.3.6.1.4.1.8072.3.2.10")
        #expect(trap.genericTrap == 3 && trap.specificTrap == 0 && trap.timeStamp == 700)
        #expect(trap.agentAddress == IPv4Address(rawValue: 0))
        // Everything but sysUpTime.0 and snmpTrapOID.0, as Net-SNMP keeps them.
        #expect(trap.varbinds == Array(varbinds[2...]))
    }

    @Test("a standard trap without snmpTrapEnterprise.0: enterprise snmpTraps", arguments: 1...6)
    func standardTrapWithoutEnterprise(last: Int) throws {
        let varbinds = notificationHeader(uptime: 1, trapOID: OID(dotted: "1.3.6.1.6.3.1.1.5.\(last)")!)
        let trap = try #require(NotificationTranslation.v1Trap(from: varbinds))
        #expect(trap.enterprise == NotificationOIDs.snmpTraps)
        #expect(trap.genericTrap == Int32(last - 1) && trap.specificTrap == 0)
        #expect(trap.varbinds.isEmpty)
    }

    @Test(
        "the next-to-last-0 rule: X.0.N and X.N both give enterprise X, generic 6, specific N",
        arguments: [
            ("1.3.6.1.4.1.8072.9999.0.17", "1.3.6.1.4.1.8072.9999", Int32(17)),
            ("1.3.6.1.4.1.8072.9999.17", "1.3.6.1.4.1.8072.9999", Int32(17)),
            ("1.3.6.1.4.1.8072.4.0.2", "1.3.6.1.4.1.8072.4", Int32(2)),
            ("1.3.6.1.4.1.9.9.41.2.0.1", "1.3.6.1.4.1.9.9.41.2", Int32(1)),
            ("1.3.6.1.4.1.9.9.41.2.1", "1.3.6.1.4.1.9.9.41.2", Int32(1)),
        ]
    )
    func nextToLastZero(trapOID: String, enterprise: String, specific: Int32) throws {
        let varbinds = notificationHeader(uptime: 12, trapOID: OID(dotted: trapOID)!)
        let trap = try #require(NotificationTranslation.v1Trap(from: varbinds))
        #expect(trap.enterprise == OID(dotted: enterprise)!)
        #expect(trap.genericTrap == 6 && trap.specificTrap == specific)
    }

    @Test("snmpTraps.7 is not a standard trap: enterprise-specific under snmpTraps")
    func notAStandardTrap() throws {
        let varbinds = notificationHeader(uptime: 12, trapOID: "1.3.6.1.6.3.1.1.5.7")
        let trap = try #require(NotificationTranslation.v1Trap(from: varbinds))
        #expect(trap.enterprise == NotificationOIDs.snmpTraps && trap.genericTrap == 6 && trap.specificTrap == 7)
    }

    @Test("agent-addr is snmpTrapAddress.0 when present, else 0.0.0.0")
    func agentAddress() throws {
        let header = notificationHeader(uptime: 1, trapOID: "1.3.6.1.4.1.8072.9999.0.1")
        let without = try #require(NotificationTranslation.v1Trap(from: header))
        #expect(without.agentAddress == IPv4Address(rawValue: 0))
        let with = try #require(
            NotificationTranslation.v1Trap(
                from: header + [
                    VarBind(oid: NotificationOIDs.sysName, value: .string("x")),
                    VarBind(oid: NotificationOIDs.snmpTrapAddress1, value: .ipAddress(IPv4Address(203, 0, 113, 1))),
                    VarBind(oid: NotificationOIDs.snmpTrapAddress0, value: .ipAddress(IPv4Address(198, 51, 100, 9))),
                ]
            )
        )
        #expect(with.agentAddress == IPv4Address(198, 51, 100, 9))
    }

    @Test("a Counter64 varbind anywhere: the notification cannot be sent as SNMPv1")
    func counter64() {
        let header = notificationHeader(uptime: 1, trapOID: "1.3.6.1.6.3.1.1.5.3")
        let counter = VarBind(oid: "1.3.6.1.2.1.31.1.1.1.6.3", value: .counter64(1 << 40))
        #expect(NotificationTranslation.v1Trap(from: header + [counter]) == nil)
        #expect(
            NotificationTranslation.v1Trap(
                from: header + [VarBind(oid: NotificationOIDs.ifIndex3, value: .integer(3)), counter]
            ) == nil
        )
    }

    @Test("not in SNMPv2 form (sysUpTime.0 and snmpTrapOID.0 not first): no trap")
    func notV2Form() {
        let header = notificationHeader(uptime: 1, trapOID: "1.3.6.1.6.3.1.1.5.3")
        #expect(NotificationTranslation.v1Trap(from: [header[1], header[0]]) == nil)
        #expect(NotificationTranslation.v1Trap(from: [header[0]]) == nil)
        #expect(NotificationTranslation.v1Trap(from: []) == nil)
        #expect(!NotificationTranslation.isV2Form([VarBind(oid: NotificationOIDs.sysUpTime, value: .integer(1)), header[1]]))
        #expect(NotificationTranslation.isV2Form(header))
    }

    @Test("v1 → v2 → v1 keeps enterprise, generic, specific, time-stamp and agent-addr (500 seeded traps)")
    func roundTrip() throws {
        var random = SeededGenerator(state: 3584)
        for _ in 0..<500 {
            let trap = Self.randomTrap(using: &random)
            let v2 = try #require(NotificationTranslation.v2Varbinds(from: trap, community: nil))
            #expect(NotificationTranslation.isV2Form(v2))
            let back = try #require(NotificationTranslation.v1Trap(from: v2), "\(trap)")
            #expect(back.enterprise == trap.enterprise, "\(trap)")
            #expect(back.genericTrap == trap.genericTrap, "\(trap)")
            #expect(back.specificTrap == trap.specificTrap, "\(trap)")
            #expect(back.timeStamp == trap.timeStamp, "\(trap)")
            #expect(back.agentAddress == trap.agentAddress, "\(trap)")
            // The trap's own varbinds come first, unchanged; the proxy's additions follow.
            #expect(Array(back.varbinds.prefix(trap.varbinds.count)) == trap.varbinds, "\(trap)")
            // And it survives the wire as SNMPv1.
            var buffer = ByteBuffer()
            buffer.writeCommunityMessage(CommunityMessage(version: .v1, community: ByteBuffer(string: "c"), pdu: .trapV1(back)))
            guard case .community(let decoded) = try SNMPMessage(decoding: buffer), case .trapV1(let wire) = decoded.pdu
            else {
                Issue.record("not an SNMPv1 trap on the wire")
                continue
            }
            #expect(wire == back)
        }
    }

    static func randomTrap(using random: inout SeededGenerator) -> TrapV1PDU {
        var arcs: [UInt32] = [1, 3, 6, 1, 4, 1, UInt32.random(in: 1...60_000, using: &random)]
        for _ in 0..<Int.random(in: 0...4, using: &random) {
            arcs.append(UInt32.random(in: 1...300, using: &random))
        }
        let generic = Int32.random(in: 0...6, using: &random)
        let specific = generic == 6 ? Int32.random(in: 0...Int32.max, using: &random) : 0
        let agent =
            Bool.random(using: &random)
            ? IPv4Address(rawValue: 0) : IPv4Address(rawValue: UInt32.random(in: 1...UInt32.max, using: &random))
        var varbinds: [VarBind] = []
        for index in 0..<Int.random(in: 0...5, using: &random) {
            let oid = OID(arcs: [1, 3, 6, 1, 2, 1, 2, 2, 1, UInt32(index + 1), UInt32.random(in: 1...48, using: &random)])!
            let value: SNMPValue
            switch Int.random(in: 0...6, using: &random) {
            case 0: value = .integer(Int32.random(in: Int32.min...Int32.max, using: &random))
            case 1: value = .string("if\(index)")
            case 2: value = .counter32(UInt32.random(in: 0...UInt32.max, using: &random))
            case 3: value = .gauge32(UInt32.random(in: 0...UInt32.max, using: &random))
            case 4: value = .timeTicks(UInt32.random(in: 0...UInt32.max, using: &random))
            case 5: value = .ipAddress(IPv4Address(rawValue: UInt32.random(in: 0...UInt32.max, using: &random)))
            default: value = .objectIdentifier(OID(arcs: arcs)!)
            }
            varbinds.append(VarBind(oid: oid, value: value))
        }
        return TrapV1PDU(
            enterprise: OID(arcs: arcs)!,
            agentAddress: agent,
            genericTrap: generic,
            specificTrap: specific,
            timeStamp: UInt32.random(in: 0...UInt32.max, using: &random),
            varbinds: varbinds
        )
    }
}

@Suite("Source attribution (snmpTrapAddress.0 and .N) and the loop marker (snmpEngineID.N)")
struct NotificationAttributionTests {
    static let header = notificationHeader(uptime: 1, trapOID: "1.3.6.1.6.3.1.1.5.3")
    static let device = IPv4Address(192, 0, 2, 10)
    static let relay = IPv4Address(203, 0, 113, 4)

    static func address(_ oid: OID, _ address: IPv4Address) -> VarBind {
        VarBind(oid: oid, value: .ipAddress(address))
    }

    @Test("without snmpTrapAddress.0 the transport source becomes it")
    func addsAddressZero() {
        var varbinds = Self.header
        NotificationTranslation.attribute(&varbinds, transportSource: Self.device)
        #expect(varbinds == Self.header + [Self.address(NotificationOIDs.snmpTrapAddress0, Self.device)])
    }

    @Test("snmpTrapAddress.0 differs from the source: the source is appended as .1")
    func stacksAtOne() {
        let claimed = Self.header + [Self.address(NotificationOIDs.snmpTrapAddress0, Self.device)]
        var varbinds = claimed
        NotificationTranslation.attribute(&varbinds, transportSource: Self.relay)
        #expect(varbinds == claimed + [Self.address(NotificationOIDs.snmpTrapAddress1, Self.relay)])
    }

    @Test("the lowest free N: .0 and .1 taken by other hops gives .2; .0 and .2 taken gives .1")
    func lowestFreeIndex() {
        let second = IPv4Address(198, 51, 100, 1)
        let twoHops =
            Self.header + [
                Self.address(NotificationOIDs.snmpTrapAddress0, Self.device),
                Self.address(NotificationOIDs.snmpTrapAddress1, second),
            ]
        var varbinds = twoHops
        NotificationTranslation.attribute(&varbinds, transportSource: Self.relay)
        #expect(varbinds == twoHops + [Self.address(NotificationOIDs.snmpTrapAddress2, Self.relay)])

        let gap =
            Self.header + [
                Self.address(NotificationOIDs.snmpTrapAddress0, Self.device),
                Self.address(NotificationOIDs.snmpTrapAddress2, second),
            ]
        varbinds = gap
        NotificationTranslation.attribute(&varbinds, transportSource: Self.relay)
        #expect(varbinds == gap + [Self.address(NotificationOIDs.snmpTrapAddress1, Self.relay)])
    }

    @Test("the source already appears (as .0 or as a later hop): nothing is added")
    func sourceAlreadyThere() {
        let asZero = Self.header + [Self.address(NotificationOIDs.snmpTrapAddress0, Self.device)]
        var varbinds = asZero
        NotificationTranslation.attribute(&varbinds, transportSource: Self.device)
        #expect(varbinds == asZero)

        let asOne =
            Self.header + [
                Self.address(NotificationOIDs.snmpTrapAddress0, Self.device),
                Self.address(NotificationOIDs.snmpTrapAddress1, Self.relay),
            ]
        varbinds = asOne
        NotificationTranslation.attribute(&varbinds, transportSource: Self.relay)
        #expect(varbinds == asOne)
    }

    @Test("no IPv4 source (IPv6): nothing is added")
    func ipv6Source() {
        var varbinds = Self.header
        NotificationTranslation.attribute(&varbinds, transportSource: nil)
        #expect(varbinds == Self.header)
        var claimed = Self.header + [Self.address(NotificationOIDs.snmpTrapAddress0, Self.device)]
        NotificationTranslation.attribute(&claimed, transportSource: nil)
        #expect(claimed == Self.header + [Self.address(NotificationOIDs.snmpTrapAddress0, Self.device)])
    }

    @Test("mark appends snmpEngineID.1, then .2 for the next gateway; carriesMarker finds each")
    func markerStacks() {
        let first = ByteBuffer(bytes: [0x80, 0x00, 0x1F, 0x88, 0x04, 0x01])
        let second = ByteBuffer(bytes: [0x80, 0x00, 0x1F, 0x88, 0x04, 0x02])
        let third = ByteBuffer(bytes: [0x80, 0x00, 0x1F, 0x88, 0x04, 0x03])
        var varbinds = Self.header
        #expect(!NotificationTranslation.carriesMarker(varbinds, engineID: first))
        NotificationTranslation.mark(&varbinds, engineID: first)
        #expect(varbinds == Self.header + [VarBind(oid: NotificationOIDs.snmpEngineID1, value: .octetString(first))])
        #expect(NotificationTranslation.carriesMarker(varbinds, engineID: first))
        #expect(!NotificationTranslation.carriesMarker(varbinds, engineID: second))
        NotificationTranslation.mark(&varbinds, engineID: second)
        #expect(
            varbinds
                == Self.header + [
                    VarBind(oid: NotificationOIDs.snmpEngineID1, value: .octetString(first)),
                    VarBind(oid: NotificationOIDs.snmpEngineID2, value: .octetString(second)),
                ]
        )
        #expect(NotificationTranslation.carriesMarker(varbinds, engineID: first))
        #expect(NotificationTranslation.carriesMarker(varbinds, engineID: second))
        #expect(!NotificationTranslation.carriesMarker(varbinds, engineID: third))
        // Not a marker: the same bytes under another name.
        let elsewhere = Self.header + [VarBind(oid: NotificationOIDs.sysName, value: .octetString(third))]
        #expect(!NotificationTranslation.carriesMarker(elsewhere, engineID: third))
    }
}

@Suite("A route's view and rewrite on a notification")
struct NotificationFilterTests {
    static let linkDown = notificationHeader(uptime: 9, trapOID: "1.3.6.1.6.3.1.1.5.3")
    static let interfacesAndTraps = ViewPolicy(include: [[1, 3, 6, 1, 6, 3, 1, 1, 5], [1, 3, 6, 1, 2, 1, 2]], exclude: [])

    @Test("no view and no rewrite: everything passes unchanged")
    func noPolicy() throws {
        let varbinds = Self.linkDown + [VarBind(oid: NotificationOIDs.sysName, value: .string("sw1"))]
        let result = try #require(NotificationTranslation.filter(varbinds, view: nil, rewrites: []))
        #expect(result.varbinds == varbinds && result.removed == 0)
    }

    @Test("a view without the snmpTrapOID.0 value drops the whole notification")
    func trapOutsideView() {
        let coldStart =
            notificationHeader(uptime: 9, trapOID: "1.3.6.1.4.1.8072.4.0.2") + [
                VarBind(oid: NotificationOIDs.ifIndex3, value: .integer(3))
            ]
        #expect(NotificationTranslation.filter(coldStart, view: Self.interfacesAndTraps, rewrites: []) == nil)
        let excluded = ViewPolicy(include: [[1, 3, 6, 1, 6, 3, 1, 1, 5]], exclude: [[1, 3, 6, 1, 6, 3, 1, 1, 5, 3]])
        #expect(NotificationTranslation.filter(Self.linkDown, view: excluded, rewrites: []) == nil)
    }

    @Test("varbinds outside the view are removed, never sysUpTime.0 and snmpTrapOID.0")
    func varbindsOutsideView() throws {
        let varbinds =
            Self.linkDown + [
                VarBind(oid: NotificationOIDs.ifIndex3, value: .integer(3)),
                VarBind(oid: NotificationOIDs.sysName, value: .string("sw1")),
                VarBind(oid: NotificationOIDs.ifAdminStatus3, value: .integer(2)),
                VarBind(oid: NotificationOIDs.snmpTrapAddress0, value: .ipAddress(IPv4Address(192, 0, 2, 10))),
            ]
        // sysUpTime.0 (1.3.6.1.2.1.1.3.0) and snmpTrapOID.0 are themselves outside this view.
        #expect(!Self.interfacesAndTraps.contains(NotificationOIDs.sysUpTime))
        #expect(!Self.interfacesAndTraps.contains(NotificationOIDs.snmpTrapOID))
        let result = try #require(NotificationTranslation.filter(varbinds, view: Self.interfacesAndTraps, rewrites: []))
        #expect(result.varbinds == [varbinds[0], varbinds[1], varbinds[2], varbinds[4]])
        #expect(result.removed == 2)
    }

    @Test("rewrite: varbind names, and the values of snmpTrapOID.0 and snmpTrapEnterprise.0, back end → manager")
    func rewrite() throws {
        let rewrites = [RoutePolicy.Rewrite(backend: [1, 3, 6, 1, 4, 1, 9], manager: [1, 3, 6, 1, 4, 1, 99999, 9])]
        let varbinds =
            notificationHeader(uptime: 9, trapOID: "1.3.6.1.4.1.9.9.41.2.0.1") + [
                VarBind(oid: "1.3.6.1.4.1.9.9.41.1.2.3.1.5.7", value: .string("message")),
                VarBind(oid: NotificationOIDs.snmpTrapEnterprise, value: .objectIdentifier("1.3.6.1.4.1.9.1.516")),
                // An OID value under another name is data, not a name: left alone.
                VarBind(oid: "1.3.6.1.2.1.1.2.0", value: .objectIdentifier("1.3.6.1.4.1.9.1.516")),
                VarBind(oid: NotificationOIDs.sysName, value: .string("sw1")),
            ]
        let result = try #require(NotificationTranslation.filter(varbinds, view: nil, rewrites: rewrites))
        #expect(result.removed == 0)
        #expect(
            result.varbinds
                == notificationHeader(uptime: 9, trapOID: "1.3.6.1.4.1.99999.9.9.41.2.0.1") + [
                    VarBind(oid: "1.3.6.1.4.1.99999.9.9.41.1.2.3.1.5.7", value: .string("message")),
                    VarBind(
                        oid: NotificationOIDs.snmpTrapEnterprise,
                        value: .objectIdentifier("1.3.6.1.4.1.99999.9.1.516")
                    ),
                    VarBind(oid: "1.3.6.1.2.1.1.2.0", value: .objectIdentifier("1.3.6.1.4.1.9.1.516")),
                    VarBind(oid: NotificationOIDs.sysName, value: .string("sw1")),
                ]
        )
    }

    @Test("the view is applied to the manager's names, after the rewrite")
    func viewAfterRewrite() throws {
        let rewrites = [RoutePolicy.Rewrite(backend: [1, 3, 6, 1, 4, 1, 9], manager: [1, 3, 6, 1, 4, 1, 99999, 9])]
        let managerView = ViewPolicy(include: [[1, 3, 6, 1, 4, 1, 99999]], exclude: [])
        let backendView = ViewPolicy(include: [[1, 3, 6, 1, 4, 1, 9]], exclude: [])
        let varbinds =
            notificationHeader(uptime: 9, trapOID: "1.3.6.1.4.1.9.9.41.2.0.1") + [
                VarBind(oid: "1.3.6.1.4.1.9.9.41.1.2.3.1.5.7", value: .string("message"))
            ]
        let passed = try #require(NotificationTranslation.filter(varbinds, view: managerView, rewrites: rewrites))
        #expect(passed.varbinds.count == 3 && passed.removed == 0)
        #expect(NotificationTranslation.filter(varbinds, view: backendView, rewrites: rewrites) == nil)
    }
}
