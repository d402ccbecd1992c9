//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import SNMPWire

/// An SNMPv2c agent over a fixed set of objects (from an snmprec file), answering as an agent would
/// (RFC 3416 §4.2): Get, GetNext, GetBulk, and Set in memory.
///
/// A value: no sockets, no clock. Set changes only existing objects, to a value of the same type,
/// all varbinds or none ("as if simultaneous"): an unknown object is notWritable, another type
/// wrongType, with the error-index of the first varbind at fault.
public struct SimulatedAgent: Sendable {
    /// Sorted by OID.
    public private(set) var objects: [VarBind]

    public init(objects: [VarBind]) {
        self.objects = objects.sorted { $0.oid < $1.oid }
    }

    /// The index of the first object at or after `oid` (`strictlyAfter`: after).
    private func index(of oid: OID, strictlyAfter: Bool) -> Int {
        var low = 0
        var high = self.objects.count
        while low < high {
            let middle = (low + high) / 2
            let order = self.objects[middle].oid.compare(oid)
            if order < 0 || (strictlyAfter && order == 0) { low = middle + 1 } else { high = middle }
        }
        return low
    }

    func get(_ oid: OID) -> SNMPValue {
        let index = self.index(of: oid, strictlyAfter: false)
        if index < self.objects.count && self.objects[index].oid == oid { return self.objects[index].value }
        // noSuchInstance when the OID is below an existing object's column, noSuchObject otherwise
        // (approximated: an object whose OID shares all but the last arc exists).
        let arcs = Array(oid.arcs)
        if arcs.count > 2, let parent = OID(arcs: arcs.dropLast()) {
            let next = self.index(of: parent, strictlyAfter: false)
            if next < self.objects.count && self.objects[next].oid.hasPrefix(parent) { return .noSuchInstance }
        }
        return .noSuchObject
    }

    func next(_ oid: OID) -> VarBind {
        let index = self.index(of: oid, strictlyAfter: true)
        return index < self.objects.count ? self.objects[index] : VarBind(oid: oid, value: .endOfMibView)
    }

    /// Answers one request PDU; nil for PDUs an agent does not answer (Response, Trap, Report).
    public mutating func respond(to request: PDU) -> PDU? {
        var response = PDU(type: .response, requestID: request.requestID, varbinds: [])
        switch request.type {
        case .get:
            response.varbinds = request.varbinds.map { VarBind(oid: $0.oid, value: self.get($0.oid)) }
        case .getNext:
            response.varbinds = request.varbinds.map { self.next($0.oid) }
        case .getBulk:
            // RFC 3416 §4.2.3: N non-repeaters, then M repetitions of the rest.
            let count = request.varbinds.count
            let nonRepeaters = min(max(Int(request.nonRepeaters), 0), count)
            let repetitions = max(Int(request.maxRepetitions), 0)
            var varbinds = request.varbinds[0..<nonRepeaters].map { self.next($0.oid) }
            var cursor = request.varbinds[nonRepeaters...].map(\.oid)
            if !cursor.isEmpty {
                for _ in 0..<repetitions {
                    var allEnded = true
                    for column in cursor.indices {
                        let found = self.next(cursor[column])
                        varbinds.append(found)
                        cursor[column] = found.oid
                        if found.value != .endOfMibView { allEnded = false }
                    }
                    if allEnded { break }
                }
            }
            response.varbinds = varbinds
        case .set:
            response.varbinds = request.varbinds
            var positions: [Int] = []
            for (offset, varbind) in request.varbinds.enumerated() {
                let index = self.index(of: varbind.oid, strictlyAfter: false)
                guard index < self.objects.count && self.objects[index].oid == varbind.oid else {
                    response.errorStatus = .notWritable
                    response.errorIndex = Int32(offset + 1)
                    return response
                }
                guard self.objects[index].value.tag == varbind.value.tag else {
                    response.errorStatus = .wrongType
                    response.errorIndex = Int32(offset + 1)
                    return response
                }
                positions.append(index)
            }
            for (position, varbind) in zip(positions, request.varbinds) {
                self.objects[position].value = varbind.value.compacted()
            }
        case .inform:
            response.varbinds = request.varbinds
        case .response, .trapV1, .trapV2, .report:
            return nil
        }
        return response
    }
}
