//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOCore
import SNMPWire
import WardenPolicy

/// The objects notifications are made of (SNMPv2-MIB, SNMP-COMMUNITY-MIB, SNMP-FRAMEWORK-MIB).
public enum NotificationObjects {
    public static let sysUpTime = OID(dotted: "1.3.6.1.2.1.1.3.0")!
    public static let snmpTrapOID = OID(dotted: "1.3.6.1.6.3.1.1.4.1.0")!
    public static let snmpTrapEnterprise = OID(dotted: "1.3.6.1.6.3.1.1.4.3.0")!
    /// snmpTraps: coldStart(1) … egpNeighborLoss(6) under it.
    public static let snmpTraps = OID(dotted: "1.3.6.1.6.3.1.1.5")!
    /// snmpTrapAddress (its .0 instance holds a v1 trap's agent-addr).
    public static let snmpTrapAddress = OID(dotted: "1.3.6.1.6.3.18.1.3")!
    public static let snmpTrapAddress0 = OID(dotted: "1.3.6.1.6.3.18.1.3.0")!
    public static let snmpTrapCommunity = OID(dotted: "1.3.6.1.6.3.18.1.4.0")!
    /// snmpEngineID: its instances .1, .2… are our forwarded-marker (the engine IDs of the
    /// snmpwarden gateways a notification went through).
    public static let snmpEngineID = OID(dotted: "1.3.6.1.6.3.10.2.1.1")!
    static let snmpTrapAddressArcs = snmpTrapAddress.arcs.reduce(0) { count, _ in count + 1 }
    static let snmpEngineIDArcs = snmpEngineID.arcs.reduce(0) { count, _ in count + 1 }

    /// The last arc of `oid` when it is `prefix` (of `arcs` arcs) plus exactly one arc; else nil.
    static func instance(of oid: OID, under prefix: OID, arcs: Int) -> UInt32? {
        guard oid.hasPrefix(prefix) else { return nil }
        var count = 0
        var last: UInt32 = 0
        for arc in oid.arcs {
            count += 1
            last = arc
        }
        return count == arcs + 1 ? last : nil
    }
}

/// RFC 3584 §3.1 and §3.2 as a proxy applies them, with Net-SNMP 5.9.3 as the oracle for the
/// details the RFC leaves open. Pure functions.
public enum NotificationTranslation {
    /// §3.1: a v1 Trap-PDU in SNMPv2 form. sysUpTime.0, snmpTrapOID.0, the trap's varbinds in order,
    /// then, each only if not already present: snmpTrapAddress.0 (the agent-addr, unless 0.0.0.0),
    /// snmpTrapCommunity.0 (only when `community` is given: a firewall does not pass a device's
    /// community on unless asked), snmpTrapEnterprise.0.
    /// nil for a trap that has no SNMPv2 form: generic-trap outside 0…6 (RFC 1157), or an
    /// enterprise too long to take `.0.specific`.
    public static func v2Varbinds(from trap: TrapV1PDU, community: ByteBuffer?) -> [VarBind]? {
        guard let trapOID = Self.trapOID(of: trap) else { return nil }
        var varbinds: [VarBind] = []
        varbinds.reserveCapacity(trap.varbinds.count + 5)
        varbinds.append(VarBind(oid: NotificationObjects.sysUpTime, value: .timeTicks(trap.timeStamp)))
        varbinds.append(VarBind(oid: NotificationObjects.snmpTrapOID, value: .objectIdentifier(trapOID)))
        varbinds += trap.varbinds
        func present(_ oid: OID) -> Bool { trap.varbinds.contains { $0.oid == oid } }
        if trap.agentAddress.rawValue != 0 && !present(NotificationObjects.snmpTrapAddress0) {
            varbinds.append(VarBind(oid: NotificationObjects.snmpTrapAddress0, value: .ipAddress(trap.agentAddress)))
        }
        if let community, !present(NotificationObjects.snmpTrapCommunity) {
            varbinds.append(VarBind(oid: NotificationObjects.snmpTrapCommunity, value: .octetString(community)))
        }
        if !present(NotificationObjects.snmpTrapEnterprise) {
            varbinds.append(VarBind(oid: NotificationObjects.snmpTrapEnterprise, value: .objectIdentifier(trap.enterprise)))
        }
        return varbinds
    }

    /// snmpTrapOID for a v1 trap: snmpTraps.(generic+1), or enterprise.0.specific; nil for a
    /// generic-trap outside 0…6 or an enterprise with no room for two more arcs.
    public static func trapOID(of trap: TrapV1PDU) -> OID? {
        switch trap.genericTrap {
        case 0...5:
            return NotificationObjects.snmpTraps.appending(UInt32(trap.genericTrap + 1))
        case 6:
            return trap.enterprise.appending([0, UInt32(bitPattern: trap.specificTrap)])
        default:
            return nil
        }
    }

    /// Whether `varbinds` are a notification in SNMPv2 form (RFC 3416 §4.2.6): sysUpTime.0 as a
    /// TimeTicks first, snmpTrapOID.0 as an OBJECT IDENTIFIER second.
    public static func isV2Form(_ varbinds: [VarBind]) -> Bool {
        guard varbinds.count >= 2, varbinds[0].oid == NotificationObjects.sysUpTime,
            case .timeTicks = varbinds[0].value, varbinds[1].oid == NotificationObjects.snmpTrapOID,
            case .objectIdentifier(let trapOID) = varbinds[1].value, !trapOID.isEmpty
        else { return false }
        return true
    }

    /// §3.2: a notification in SNMPv2 form as a v1 Trap-PDU; nil when a varbind is a Counter64
    /// (the whole notification is then not sent to that v1 target).
    public static func v1Trap(from varbinds: [VarBind]) -> TrapV1PDU? {
        guard Self.isV2Form(varbinds), case .timeTicks(let time) = varbinds[0].value,
            case .objectIdentifier(let trapOID) = varbinds[1].value
        else { return nil }
        let rest = Array(varbinds[2...])
        for varbind in rest {
            if case .counter64 = varbind.value { return nil }
        }
        let arcs = Array(trapOID.arcs)
        let standard = Array(NotificationObjects.snmpTraps.arcs)
        var enterprise: OID
        var generic: Int32
        var specific: Int32
        if arcs.count == standard.count + 1, Array(arcs.dropLast()) == standard, (1...6).contains(arcs.last!) {
            generic = Int32(arcs.last! - 1)
            specific = 0
            enterprise = NotificationObjects.snmpTraps
            if let given = rest.first(where: { $0.oid == NotificationObjects.snmpTrapEnterprise }),
                case .objectIdentifier(let value) = given.value, !value.isEmpty
            {
                enterprise = value
            }
        } else {
            generic = 6
            specific = Int32(bitPattern: arcs.last ?? 0)
            // The next-to-last-0 rule.
            let drop = arcs.count >= 4 && arcs[arcs.count - 2] == 0 ? 2 : 1
            enterprise = OID(arcs: arcs.dropLast(drop)) ?? trapOID
        }
        var agent = IPv4Address(rawValue: 0)
        if let address = rest.first(where: { $0.oid == NotificationObjects.snmpTrapAddress0 }),
            case .ipAddress(let value) = address.value
        {
            agent = value
        }
        return TrapV1PDU(
            enterprise: enterprise,
            agentAddress: agent,
            genericTrap: generic,
            specificTrap: specific,
            timeStamp: time,
            varbinds: rest
        )
    }

    /// Where the notification came from, for the receiver: snmpTrapAddress.0 is the device as it
    /// says (a v1 agent-addr); when the datagram came from another IPv4 address, that address is
    /// appended as snmpTrapAddress.N (the lowest free N ≥ 1), as Net-SNMP's `addForwarderInfo`
    /// stacks the hops. Without snmpTrapAddress.0 the datagram's source becomes it. IPv6 sources
    /// cannot be written in an IpAddress: nothing is added for them.
    public static func attribute(_ varbinds: inout [VarBind], transportSource: IPv4Address?) {
        guard let source = transportSource else { return }
        var used = Set<UInt32>()
        var claimed = false
        let prefix = NotificationObjects.snmpTrapAddress
        for varbind in varbinds {
            guard
                let index = NotificationObjects.instance(
                    of: varbind.oid,
                    under: prefix,
                    arcs: NotificationObjects.snmpTrapAddressArcs
                )
            else { continue }
            used.insert(index)
            if case .ipAddress(let value) = varbind.value {
                if index == 0 { claimed = true }
                if value == source { return }
            }
        }
        if !claimed && !used.contains(0) {
            varbinds.append(VarBind(oid: NotificationObjects.snmpTrapAddress0, value: .ipAddress(source)))
            return
        }
        var index: UInt32 = 1
        while used.contains(index) { index += 1 }
        varbinds.append(VarBind(oid: prefix.appending(index)!, value: .ipAddress(source)))
    }

    /// Whether a notification carries `engineID` in the forwarded-marker (snmpEngineID.N).
    public static func carriesMarker(_ varbinds: [VarBind], engineID: ByteBuffer) -> Bool {
        varbinds.contains { varbind in
            guard varbind.oid.hasPrefix(NotificationObjects.snmpEngineID), case .octetString(let value) = varbind.value
            else { return false }
            return value == engineID
        }
    }

    /// Appends our engine ID as snmpEngineID.N, the lowest free N ≥ 1.
    public static func mark(_ varbinds: inout [VarBind], engineID: ByteBuffer) {
        var used = Set<UInt32>()
        for varbind in varbinds {
            if let index = NotificationObjects.instance(
                of: varbind.oid,
                under: NotificationObjects.snmpEngineID,
                arcs: NotificationObjects.snmpEngineIDArcs
            ) {
                used.insert(index)
            }
        }
        var index: UInt32 = 1
        while used.contains(index) { index += 1 }
        varbinds.append(VarBind(oid: NotificationObjects.snmpEngineID.appending(index)!, value: .octetString(engineID)))
    }

    /// A route's view and rewrite applied to a notification in SNMPv2 form: back-end OIDs mapped to
    /// the manager's names (varbind names, and the values of snmpTrapOID.0 and snmpTrapEnterprise.0),
    /// then nil if the view does not include snmpTrapOID.0, else the varbinds outside the view
    /// removed (sysUpTime.0 and snmpTrapOID.0 always stay). The second result counts the removed.
    public static func filter(
        _ varbinds: [VarBind],
        view: ViewPolicy?,
        rewrites: [RoutePolicy.Rewrite]
    ) -> (varbinds: [VarBind], removed: Int)? {
        var result = varbinds
        if !rewrites.isEmpty {
            for index in result.indices {
                if index >= 2, let mapped = Self.toManager(result[index].oid, rewrites) {
                    result[index].oid = mapped
                }
                if index == 1 || result[index].oid == NotificationObjects.snmpTrapEnterprise,
                    case .objectIdentifier(let value) = result[index].value, let mapped = Self.toManager(value, rewrites)
                {
                    result[index].value = .objectIdentifier(mapped)
                }
            }
        }
        guard let view else { return (result, 0) }
        guard case .objectIdentifier(let trapOID) = result[1].value, view.contains(trapOID) else { return nil }
        let before = result.count
        var kept: [VarBind] = [result[0], result[1]]
        kept.reserveCapacity(result.count)
        for varbind in result[2...] where view.contains(varbind.oid) {
            kept.append(varbind)
        }
        return (kept, before - kept.count)
    }

    /// The manager's name for a back-end OID under a rewrite; nil outside every rewrite.
    static func toManager(_ oid: OID, _ rewrites: [RoutePolicy.Rewrite]) -> OID? {
        let arcs = Array(oid.arcs)
        guard let rewrite = rewrites.first(where: { Arcs.hasPrefix(arcs, $0.backend) }) else { return nil }
        return OID(arcs: rewrite.manager + arcs[rewrite.backend.count...])
    }
}
