//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import SNMPWire
import WardenPolicy

/// A route's value transforms and synthesized objects laid over an agent's answer, in the agent's
/// names, before the route's views and name rewrites see it (a pure function).
///
/// Synthesized objects join the agent's MIB as if the agent had them: a Get of one gets its value,
/// a GetNext from before one gets it when it comes before the agent's own next object (or the
/// agent's MIB has ended), and a GetBulk column takes it at its place, keeping the column's length
/// (the agent's objects it pushes out are asked again by the walk, as for any short answer). So the
/// walk machinery downstream sees one consistent MIB and its invariants hold unchanged.
public enum AnswerOverlay {
    /// The answer `response` to the back-end request `request` (SNMPv2 semantics), transformed.
    public static func apply(request: PDU, response: PDU, transforms: ValueTransforms) -> PDU {
        guard response.errorStatus == .noError else { return response }
        var pdu = response
        switch request.type {
        case .get:
            pdu.varbinds = response.varbinds.map { varbind in
                if let value = transforms.synthesizedValue(varbind.oid) { return VarBind(oid: varbind.oid, value: value) }
                return VarBind(oid: varbind.oid, value: transforms.apply(varbind.oid, varbind.value))
            }
        case .getNext:
            pdu.varbinds = response.varbinds.enumerated().map { index, varbind in
                guard index < request.varbinds.count else { return varbind }
                return Self.next(after: request.varbinds[index].oid, agent: varbind, transforms)
            }
        case .getBulk:
            let count = request.varbinds.count
            let n = min(max(Int(request.nonRepeaters), 0), count)
            let r = count - n
            var varbinds: [VarBind] = []
            varbinds.reserveCapacity(response.varbinds.count)
            for index in 0..<min(n, response.varbinds.count) {
                varbinds.append(Self.next(after: request.varbinds[index].oid, agent: response.varbinds[index], transforms))
            }
            guard r > 0, response.varbinds.count > n else {
                pdu.varbinds = varbinds
                return pdu
            }
            // Columns, each the agent's consecutive answers from its query.
            var columns: [[VarBind]] = Array(repeating: [], count: r)
            for index in n..<response.varbinds.count { columns[(index - n) % r].append(response.varbinds[index]) }
            let merged = columns.enumerated().map { column, answers in
                Self.merge(from: request.varbinds[n + column].oid, agent: answers, transforms)
            }
            let rows = merged.map(\.count).max() ?? 0
            for row in 0..<rows {
                for column in merged where row < column.count { varbinds.append(column[row]) }
            }
            pdu.varbinds = varbinds
        default:
            break
        }
        return pdu
    }

    /// GetNext(`query`) over the agent's MIB and the synthesized objects together.
    static func next(after query: OID, agent: VarBind, _ transforms: ValueTransforms) -> VarBind {
        if let synthesized = transforms.synthesized(after: query),
            agent.value == .endOfMibView || agent.value == .noSuchObject || agent.value == .noSuchInstance
                || synthesized.oid <= agent.oid
        {
            return synthesized
        }
        return VarBind(oid: agent.oid, value: transforms.apply(agent.oid, agent.value))
    }

    /// One GetBulk column: the agent's consecutive objects after `query` with the synthesized ones
    /// in place, as many as the agent answered.
    static func merge(from query: OID, agent: [VarBind], _ transforms: ValueTransforms) -> [VarBind] {
        var merged: [VarBind] = []
        merged.reserveCapacity(agent.count)
        var cursor = query
        var index = 0
        while merged.count < agent.count {
            let answer = index < agent.count ? agent[index] : nil
            let ended = answer.map { $0.value == .endOfMibView } ?? true
            if let synthesized = transforms.synthesized(after: cursor),
                ended || synthesized.oid <= answer!.oid
            {
                merged.append(synthesized)
                if let answer, answer.oid == synthesized.oid { index += 1 }  // the agent has it too
                cursor = synthesized.oid
            } else if let answer {
                if answer.value == .endOfMibView {
                    merged.append(VarBind(oid: cursor, value: .endOfMibView))
                } else {
                    merged.append(VarBind(oid: answer.oid, value: transforms.apply(answer.oid, answer.value)))
                    cursor = answer.oid
                }
                index += 1
            } else {
                break
            }
        }
        return merged
    }
}
