//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import SNMPWire
import WardenPolicy

/// One manager request served through a route's policy: views and rewrites applied, walks
/// continued past what the manager may not see (DESIGN.md §4).
///
/// - Get: OIDs outside the read view (or in a hole) are answered noSuchObject here; the rest are
///   asked, under their back-end names.
/// - Set: checked whole first; one varbind outside the write view refuses it all with noAccess,
///   and nothing is sent.
/// - GetNext and GetBulk: each varbind is a column with a cursor in the manager's space. A back-end
///   answer outside the view, in a hole or out of its rewritten region moves the cursor (jumping
///   over whole excluded subtrees) and the column is asked again, at most `maximumRounds` back-end
///   requests per manager request. GetBulk goes down as one GetBulk, and a column whose answer was
///   refused reuses the rest of that column's answers when they cover the new query, so a filtered
///   walk usually costs no extra packet.
///
/// The back-end PDUs this produces carry back-end OIDs and SNMPv2 semantics; a ``BackendExchange``
/// per round adapts them to the agent's version. A value: no I/O.
public struct FilteredExchange: Sendable {
    public enum Outcome: Hashable, Sendable {
        /// Ask the back end this (request-id to be set by the caller).
        case send(PDU)
        /// The answer for the manager.
        case respond(PDU)
    }

    /// Why varbinds or requests were refused, for counters and logs.
    public enum Refusal: String, Hashable, Sendable, CaseIterable {
        case readOutsideView = "read-outside-view"
        case writeOutsideView = "write-outside-view"
        case walkBound = "walk-bound"
        /// A Set of an object the route transforms or synthesizes (refused with notWritable).
        case writeTransformed = "write-transformed"
    }

    struct Column: Sendable {
        var managerIndex: Int
        var requestOID: OID
        var needed: Int
        var results: [VarBind] = []
        var step: RoutePolicy.Step?
        var ended = false
        var isComplete: Bool { self.ended || self.results.count >= self.needed }
    }

    public let request: PDU
    public let policy: RoutePolicy
    public let maximumRounds: Int
    public private(set) var rounds = 0
    /// Refusals so far (varbinds refused by the views, walks cut by the bound).
    public private(set) var refusals: [(Refusal, OID)] = []

    // Get and Set.
    /// A Get asked as it is (no rewrites, all readable): the answer goes back as it is.
    private var passThrough = false
    private var answers: [VarBind?] = []
    private var asked: [Int] = []
    // GetNext and GetBulk.
    private var nonRepeaters: [Column] = []
    private var repeaters: [Column] = []
    private var sent: [(repeating: Bool, column: Int)] = []
    private var sentNonRepeaters = 0
    private var sentRepeaters = 0

    /// With a v1 agent a GetBulk costs one round trip per repetition: answer as soon as one row is
    /// complete, as RFC 3584 §4.3.1 allows (a short GetBulk answer), instead of one packet per row.
    public let stopAfterFirstRow: Bool

    public init(request: PDU, policy: RoutePolicy, maximumRounds: Int, backendVersion: SNMPVersion = .v2c) {
        precondition(maximumRounds > 0)
        self.request = request
        self.policy = policy
        self.maximumRounds = maximumRounds
        self.stopAfterFirstRow = backendVersion == .v1
    }

    // MARK: - Start

    public mutating func start() -> Outcome {
        switch self.request.type {
        case .get:
            return self.startGet()
        case .set:
            return self.startSet()
        case .getNext:
            self.nonRepeaters = self.request.varbinds.enumerated().map { index, varbind in
                self.column(index, varbind.oid, needed: 1)
            }
            return self.next()
        case .getBulk:
            let count = self.request.varbinds.count
            let n = min(max(Int(self.request.nonRepeaters), 0), count)
            let m = max(Int(self.request.maxRepetitions), 0)
            self.nonRepeaters = (0..<n).map { self.column($0, self.request.varbinds[$0].oid, needed: 1) }
            self.repeaters = m == 0 ? [] : (n..<count).map { self.column($0, self.request.varbinds[$0].oid, needed: m) }
            return self.next()
        default:
            preconditionFailure("a FilteredExchange serves Get, GetNext, GetBulk and Set")
        }
    }

    private func column(_ index: Int, _ oid: OID, needed: Int) -> Column {
        var column = Column(managerIndex: index, requestOID: oid, needed: needed)
        column.step = self.policy.step(from: RoutePolicy.Cursor(point: Array(oid.arcs), inclusive: false))
        column.ended = column.step == nil
        return column
    }

    private mutating func startGet() -> Outcome {
        // The common case: no rewrites and everything readable: ask for the request as it is and
        // pass the answer through (no per-varbind bookkeeping).
        if self.policy.rewrites.isEmpty, let view = self.policy.readView,
            self.request.varbinds.allSatisfy({ view.contains($0.oid) })
        {
            self.passThrough = true
            self.rounds += 1
            return .send(PDU(type: .get, requestID: 0, varbinds: self.request.varbinds))
        }
        self.answers = Array(repeating: nil, count: self.request.varbinds.count)
        var varbinds: [VarBind] = []
        for (index, varbind) in self.request.varbinds.enumerated() {
            if self.policy.isReadable(varbind.oid), let backend = self.policy.toBackend(varbind.oid) {
                self.asked.append(index)
                varbinds.append(VarBind(oid: backend))
            } else {
                self.refusals.append((.readOutsideView, varbind.oid))
                self.answers[index] = VarBind(oid: varbind.oid, value: .noSuchObject)
            }
        }
        if varbinds.isEmpty { return .respond(self.assembledGet()) }
        self.rounds += 1
        return .send(PDU(type: .get, requestID: 0, varbinds: varbinds))
    }

    private mutating func startSet() -> Outcome {
        if self.request.varbinds.isEmpty {
            return .respond(PDU(type: .response, requestID: self.request.requestID, varbinds: []))
        }
        var varbinds: [VarBind] = []
        for (index, varbind) in self.request.varbinds.enumerated() {
            guard self.policy.isWritable(varbind.oid), let backend = self.policy.toBackend(varbind.oid) else {
                // RFC 3416 §4.2.5: noAccess for an OID outside the view; the whole Set is refused.
                self.refusals.append((.writeOutsideView, varbind.oid))
                return .respond(
                    PDU(
                        type: .response,
                        requestID: self.request.requestID,
                        errorStatus: .noAccess,
                        errorIndex: Int32(index + 1),
                        varbinds: self.request.varbinds
                    )
                )
            }
            if let transforms = self.policy.transforms, transforms.isRewritten(backend) {
                // What the manager sees of it is not the device's: writing it makes no sense, and
                // nothing goes to the device (RFC 3416 §4.2.5: notWritable).
                self.refusals.append((.writeTransformed, varbind.oid))
                return .respond(
                    PDU(
                        type: .response,
                        requestID: self.request.requestID,
                        errorStatus: .notWritable,
                        errorIndex: Int32(index + 1),
                        varbinds: self.request.varbinds
                    )
                )
            }
            varbinds.append(VarBind(oid: backend, value: varbind.value))
        }
        self.rounds += 1
        return .send(PDU(type: .set, requestID: 0, varbinds: varbinds))
    }

    // MARK: - Answers

    /// Takes the back end's answer (SNMPv2 semantics: v1 already translated) to the last `.send`.
    public mutating func receive(_ response: PDU) -> Outcome {
        switch self.request.type {
        case .get:
            if self.passThrough {
                guard response.errorStatus == .noError else {
                    return .respond(self.error(response, map: { $0 < self.request.varbinds.count ? $0 : nil }))
                }
                guard response.varbinds.count == self.request.varbinds.count else {
                    // Not an answer to this Get (the exchange checks counts first; this is a safety net).
                    return .respond(
                        PDU(
                            type: .response,
                            requestID: self.request.requestID,
                            errorStatus: .genErr,
                            varbinds: self.request.varbinds
                        )
                    )
                }
                var pdu = response
                pdu.requestID = self.request.requestID
                return .respond(pdu)
            }
            if response.errorStatus != .noError {
                return .respond(self.error(response, map: { self.asked[safe: $0] }))
            }
            for (position, index) in self.asked.enumerated() {
                let value = position < response.varbinds.count ? response.varbinds[position].value : .noSuchObject
                self.answers[index] = VarBind(oid: self.request.varbinds[index].oid, value: value)
            }
            return .respond(self.assembledGet())
        case .set:
            if response.errorStatus != .noError {
                return .respond(self.error(response, map: { $0 < self.request.varbinds.count ? $0 : nil }))
            }
            return .respond(PDU(type: .response, requestID: self.request.requestID, varbinds: self.request.varbinds))
        default:
            return self.receiveWalk(response)
        }
    }

    private func assembledGet() -> PDU {
        PDU(
            type: .response,
            requestID: self.request.requestID,
            varbinds: self.answers.enumerated().map {
                $1 ?? VarBind(oid: self.request.varbinds[$0].oid, value: .noSuchObject)
            }
        )
    }

    /// An error response: the manager's varbinds, the index in the manager's list (`map` takes a
    /// 0-based back-end position); tooBig with no varbinds.
    private func error(_ response: PDU, map: (Int) -> Int?) -> PDU {
        var pdu = PDU(
            type: .response,
            requestID: self.request.requestID,
            errorStatus: response.errorStatus,
            varbinds: self.request.varbinds
        )
        if response.errorStatus == .tooBig {
            pdu.varbinds = []
        } else if response.errorIndex > 0, let index = map(Int(response.errorIndex) - 1) {
            pdu.errorIndex = Int32(index + 1)
        }
        return pdu
    }

    // MARK: - Walks

    /// The next back-end request for the columns still open, or the response when none is.
    private mutating func next() -> Outcome {
        let openNonRepeaters = self.nonRepeaters.indices.filter { !self.nonRepeaters[$0].isComplete }
        let openRepeaters = self.repeaters.indices.filter { !self.repeaters[$0].isComplete }
        if openNonRepeaters.isEmpty && openRepeaters.isEmpty { return .respond(self.assembledWalk(partial: false)) }
        if self.stopAfterFirstRow && self.request.type == .getBulk && openNonRepeaters.isEmpty
            && self.repeaters.allSatisfy({ $0.ended || !$0.results.isEmpty })
        {
            return .respond(self.assembledWalk(partial: true))
        }
        guard self.rounds < self.maximumRounds else {
            for index in openNonRepeaters { self.refusals.append((.walkBound, self.nonRepeaters[index].requestOID)) }
            for index in openRepeaters { self.refusals.append((.walkBound, self.repeaters[index].requestOID)) }
            return .respond(self.assembledWalk(partial: true))
        }
        self.rounds += 1
        self.sent = openNonRepeaters.map { (false, $0) } + openRepeaters.map { (true, $0) }
        self.sentNonRepeaters = openNonRepeaters.count
        self.sentRepeaters = openRepeaters.count
        let queries = self.sent.map { entry in
            let column = entry.repeating ? self.repeaters[entry.column] : self.nonRepeaters[entry.column]
            return VarBind(oid: OID(arcs: column.step!.query) ?? OID())
        }
        if self.request.type == .getNext || openRepeaters.isEmpty {
            return .send(PDU(type: .getNext, requestID: 0, varbinds: queries))
        }
        let repetitions = openRepeaters.map { self.repeaters[$0].needed - self.repeaters[$0].results.count }.max() ?? 1
        return .send(
            PDU.getBulk(
                requestID: 0,
                nonRepeaters: Int32(openNonRepeaters.count),
                maxRepetitions: Int32(max(1, repetitions)),
                varbinds: queries
            )
        )
    }

    private mutating func receiveWalk(_ response: PDU) -> Outcome {
        if response.errorStatus != .noError {
            if response.errorStatus == .tooBig, self.request.type == .getBulk {
                return .respond(self.assembledWalk(partial: true))
            }
            return .respond(
                self.error(response) { position in
                    guard position < self.sent.count || self.sentRepeaters > 0 else { return nil }
                    let entry =
                        position < self.sentNonRepeaters
                        ? self.sent[position]
                        : self.sent[
                            self.sentNonRepeaters + (position - self.sentNonRepeaters) % max(1, self.sentRepeaters)
                        ]
                    return entry.repeating
                        ? self.repeaters[entry.column].managerIndex : self.nonRepeaters[entry.column].managerIndex
                }
            )
        }
        let varbinds = response.varbinds
        // Non-repeaters (and GetNext): one answer each, in order.
        for position in 0..<self.sentNonRepeaters where position < varbinds.count {
            let entry = self.sent[position]
            self.nonRepeaters[entry.column] = self.advance(
                self.nonRepeaters[entry.column],
                answers: [varbinds[position]]
            )
        }
        // Repeaters: row-major after the non-repeaters.
        if self.sentRepeaters > 0 {
            for offset in 0..<self.sentRepeaters {
                var answers: [VarBind] = []
                var index = self.sentNonRepeaters + offset
                while index < varbinds.count {
                    answers.append(varbinds[index])
                    index += self.sentRepeaters
                }
                let entry = self.sent[self.sentNonRepeaters + offset]
                self.repeaters[entry.column] = self.advance(self.repeaters[entry.column], answers: answers)
            }
        }
        return self.next()
    }

    /// Moves one column forward through the answers to its query: `answers` are consecutive back-end
    /// objects, the first being GetNext(query), so any later query at or after the original one is
    /// answered from them too.
    private func advance(_ column: Column, answers: [VarBind]) -> Column {
        var column = column
        guard let sentStep = column.step else { return column }
        let original = sentStep.query
        // The common case, without arc arrays: no rewrites, a plain GetNext from the last name, and
        // answers that are in the view and ascending are taken as they are. The first one that is
        // not goes to the general walk below, from a step computed once.
        if self.policy.rewrites.isEmpty, let view = self.policy.readView, sentStep.segment == .identity,
            !sentStep.cursor.inclusive, var last = OID(arcs: original)
        {
            var taken = 0
            for varbind in answers where !column.isComplete {
                guard !varbind.value.isException, last < varbind.oid, view.contains(varbind.oid) else { break }
                column.results.append(varbind)
                last = varbind.oid
                taken += 1
            }
            if taken > 0 {
                column.step = self.policy.step(from: RoutePolicy.Cursor(point: Array(last.arcs), inclusive: false))
                if column.step == nil { column.ended = true }
                if column.isComplete { return column }
            }
        }
        // Each pass moves the cursor or the query strictly forward; the bound is a safety net.
        var passes = 0
        while !column.isComplete, let step = column.step {
            passes += 1
            if passes > answers.count + 4 * 64 { break }
            // Find the answer to GetNext(step.query) among the answers, if they cover it: the first
            // one after the query (they ascend; a later query may be smaller than an earlier one
            // when the walk enters a rewritten region, so search from the start).
            guard Arcs.compare(step.query, original) >= 0 else { break }
            var answer: [UInt32]?? = nil  // .some(nil): endOfMibView
            var position = 0
            while position < answers.count {
                let varbind = answers[position]
                if varbind.value == .endOfMibView || varbind.value == .noSuchObject || varbind.value == .noSuchInstance
                {
                    answer = .some(nil)
                    break
                }
                let arcs = Array(varbind.oid.arcs)
                if Arcs.compare(arcs, step.query) > 0 {
                    answer = .some(arcs)
                    break
                }
                position += 1
            }
            guard let found = answer else {
                // Not covered by these answers: ask again next round. But if this is the very query
                // that was sent and the agent answered nothing after it, the agent does not move
                // forward: end the column rather than ask the same question until the bound.
                if Arcs.compare(step.query, original) == 0 && !answers.isEmpty {
                    column.step = nil
                    column.ended = true
                }
                break
            }
            let value: SNMPValue? = found == nil ? nil : answers[position].value
            switch self.policy.judge(found, for: step) {
            case .accept(let manager):
                guard let oid = OID(arcs: manager) else {
                    // judge accepts only names an OID can carry; should one not be, pass over it.
                    column.step = self.policy.step(from: RoutePolicy.Cursor(point: manager, inclusive: false))
                    if column.step == nil { column.ended = true }
                    continue
                }
                column.results.append(VarBind(oid: oid, value: value ?? .endOfMibView))
                column.step = self.policy.step(from: RoutePolicy.Cursor(point: manager, inclusive: false))
                if column.step == nil { column.ended = true }
            case .move(let cursor):
                column.step = self.policy.step(from: cursor)
                if column.step == nil { column.ended = true }
            case .retry(let query):
                column.step?.query = query
            case .end:
                column.step = nil
                column.ended = true
            }
        }
        return column
    }

    /// The GetNext/GetBulk response in the manager's order: non-repeaters, then repetitions row by
    /// row (RFC 3416 §4.2.3), stopping after the first row that is all endOfMibView. `partial`: the
    /// bound cut the walk; only complete rows go out, and an unanswered non-repeater is a genErr.
    private func assembledWalk(partial: Bool) -> PDU {
        var varbinds: [VarBind] = []
        for (index, column) in self.nonRepeaters.enumerated() {
            if let result = column.results.first {
                varbinds.append(result)
            } else if column.ended {
                varbinds.append(VarBind(oid: column.requestOID, value: .endOfMibView))
            } else {
                return PDU(
                    type: .response,
                    requestID: self.request.requestID,
                    errorStatus: .genErr,
                    errorIndex: Int32(index + 1),
                    varbinds: self.request.varbinds
                )
            }
        }
        if !self.repeaters.isEmpty {
            let needed = self.repeaters[0].needed
            var rows = needed
            if partial {
                rows = self.repeaters.filter { !$0.ended }.map(\.results.count).min() ?? needed
                if rows == 0 && self.repeaters.contains(where: { !$0.ended }) && varbinds.isEmpty {
                    return PDU(
                        type: .response,
                        requestID: self.request.requestID,
                        errorStatus: .genErr,
                        errorIndex: Int32(self.repeaters.first { !$0.ended }!.managerIndex + 1),
                        varbinds: self.request.varbinds
                    )
                }
            }
            for row in 0..<rows {
                var allEnded = true
                for column in self.repeaters {
                    if row < column.results.count {
                        varbinds.append(column.results[row])
                        allEnded = false
                    } else {
                        let name = column.results.last?.oid ?? column.requestOID
                        varbinds.append(VarBind(oid: name, value: .endOfMibView))
                    }
                }
                if allEnded { break }
            }
        }
        return PDU(type: .response, requestID: self.request.requestID, varbinds: varbinds)
    }
}

extension Array {
    subscript(safe index: Int) -> Element? {
        index >= 0 && index < self.count ? self[index] : nil
    }
}
