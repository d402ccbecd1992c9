//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import SNMPWire

/// One manager request served by one back end, across as many back-end round trips as the
/// translation needs (RFC 3584 §4.3.1).
///
/// The manager speaks SNMPv2 semantics (it is a v3 manager); the back end speaks SNMPv1, SNMPv2c or
/// SNMPv3. Towards a v2c or v3 back end (SNMPv2 semantics, RFC 3416) the request goes as it is,
/// GetBulk included (one GetBulk, never one packet per repetition). Towards a v1 back end GetBulk becomes GetNext (one repetition, a legal
/// short answer), and v1's all-or-nothing errors are undone: a noSuchName points at one varbind,
/// which gets the v2 exception (noSuchObject for Get, endOfMibView for GetNext) and the request is
/// sent again without it, until the rest is answered. The error-index the manager sees always
/// counts in the manager's own varbind list.
///
/// A value with no I/O: ``nextRequest(requestID:)`` gives the PDU to send, ``receive(_:)`` takes the
/// back end's response and says whether the manager's response is ready.
public struct BackendExchange: Sendable {
    /// What happens next.
    public enum Outcome: Hashable, Sendable {
        /// Send ``nextRequest(requestID:)`` again (the v1 back end refused one varbind).
        case sendAgain
        /// The response for the manager, in the manager's varbind order and numbering.
        case respond(PDU)
    }

    public let request: PDU
    public let backendVersion: SNMPVersion
    /// A v2c or v3 back end: SNMPv2 PDUs and errors, nothing to translate.
    private var speaksSNMPv2: Bool { self.backendVersion != .v1 }
    /// Manager varbind indices still to be asked, in order, once ``narrowed``; until then every
    /// index is outstanding and this stays empty, so that the common exchange allocates nothing.
    private var outstandingIndices: [Int] = []
    /// Answers so far, by manager varbind index (empty until a v1 back end refused a varbind).
    private var answers: [VarBind?] = []
    /// Whether a v1 back end refused a varbind: ``outstandingIndices`` and ``answers`` are in use.
    private var narrowed = false

    /// How many varbinds are still to be asked.
    private var outstandingCount: Int { self.narrowed ? self.outstandingIndices.count : self.request.varbinds.count }

    /// The manager varbind index of the `position`th varbind still to be asked.
    private func outstanding(_ position: Int) -> Int { self.narrowed ? self.outstandingIndices[position] : position }

    /// Bounded re-sends: a v1 back end can refuse each varbind at most once.
    private var roundTrips = 0

    /// - Parameter request: the manager's request (Get, GetNext, GetBulk or Set).
    public init(request: PDU, backendVersion: SNMPVersion) {
        self.request = request
        self.backendVersion = backendVersion
    }

    /// The PDU to send to the back end for what is still outstanding.
    public func nextRequest(requestID: Int32) -> PDU {
        // Nothing removed yet (always, towards v2c and v3): the request's own array, not a copy.
        let varbinds =
            self.outstandingCount == self.request.varbinds.count
            ? self.request.varbinds : self.outstandingIndices.map { self.request.varbinds[$0] }
        if self.backendVersion == .v1 && self.request.type == .getBulk {
            // RFC 3584 §4.3.1 (1): GetBulk becomes GetNext with non-repeaters and max-repetitions 0.
            return PDU(type: .getNext, requestID: requestID, varbinds: varbinds.map { VarBind(oid: $0.oid) })
        }
        var pdu = self.request
        pdu.requestID = requestID
        pdu.varbinds = varbinds
        return pdu
    }

    /// Whether the back end's response could belong to the request last sent: a Response with as
    /// many varbinds as were asked (GetBulk from a v2c or v3 back end may return any number).
    public func isPlausible(_ response: PDU) -> Bool {
        guard response.type == .response else { return false }
        if self.request.type == .getBulk && self.speaksSNMPv2 { return true }
        return response.errorStatus != .noError || response.varbinds.count == self.outstandingCount
    }

    /// Takes the back end's response to the last ``nextRequest(requestID:)``.
    public mutating func receive(_ response: PDU) -> Outcome {
        self.roundTrips += 1
        let status = response.errorStatus
        if self.speaksSNMPv2 || status == .noError {
            return .respond(self.finish(response))
        }
        // A v1 error.
        let index = Int(response.errorIndex)
        switch status {
        case .noSuchName where self.request.type != .set && index >= 1 && index <= self.outstandingCount:
            // RFC 3584 §4.3.1 (2): that varbind does not exist; the others are unknown yet.
            if !self.narrowed {
                self.narrowed = true
                self.outstandingIndices = Array(self.request.varbinds.indices)
                self.answers = Array(repeating: nil, count: self.request.varbinds.count)
            }
            let managerIndex = self.outstandingIndices.remove(at: index - 1)
            let exception: SNMPValue = self.request.type == .get ? .noSuchObject : .endOfMibView
            self.answers[managerIndex] = VarBind(oid: self.request.varbinds[managerIndex].oid, value: exception)
            if self.outstandingIndices.isEmpty || self.roundTrips > self.request.varbinds.count {
                return .respond(self.assembled())
            }
            return .sendAgain
        case .tooBig where self.request.type == .getBulk:
            // A translated GetBulk may answer with fewer varbinds: answer what we have, noError.
            return .respond(self.assembled(partial: true))
        default:
            return .respond(
                self.errorResponse(
                    status: Self.v2Status(v1: status, isSet: self.request.type == .set),
                    backendIndex: index
                )
            )
        }
    }

    /// A v1 error-status as the v3 manager sees it (RFC 3584 §4.3.1 and §4.4).
    static func v2Status(v1 status: ErrorStatus, isSet: Bool) -> ErrorStatus {
        switch status {
        case .noSuchName: return isSet ? .notWritable : .genErr
        case .readOnly: return .notWritable
        case .badValue: return isSet ? .wrongValue : .genErr
        case .tooBig: return .tooBig
        default: return .genErr
        }
    }

    /// A successful response, merged with earlier answers, in the manager's order.
    private func finish(_ response: PDU) -> PDU {
        if self.request.type == .getBulk && self.speaksSNMPv2 {
            // Nothing is ever removed towards a v2c or v3 back end, so its answer (varbinds and
            // error-index alike) is already in the manager's order and numbering. An agent that
            // answers more than N + M·R varbinds (RFC 3416 §4.2.3) is cut back to that.
            var pdu = response
            pdu.requestID = self.request.requestID
            let count = self.request.varbinds.count
            let n = min(max(Int(self.request.nonRepeaters), 0), count)
            let m = max(Int(self.request.maxRepetitions), 0)
            let limit = n + m * (count - n)
            if pdu.varbinds.count > limit { pdu.varbinds.removeLast(pdu.varbinds.count - limit) }
            return pdu
        }
        if response.errorStatus != .noError {
            return self.errorResponse(status: response.errorStatus, backendIndex: Int(response.errorIndex))
        }
        if self.outstandingCount == self.request.varbinds.count && response.varbinds.count == self.outstandingCount {
            // Everything asked in one go and answered in order: the answer as it is.
            var pdu = response
            pdu.requestID = self.request.requestID
            return pdu
        }
        var answers = self.narrowed ? self.answers : Array(repeating: nil, count: self.request.varbinds.count)
        for position in 0..<min(self.outstandingCount, response.varbinds.count) {
            answers[self.outstanding(position)] = response.varbinds[position]
        }
        return PDU(
            type: .response,
            requestID: self.request.requestID,
            varbinds: answers.enumerated().map { $1 ?? self.request.varbinds[$0] }
        )
    }

    /// What has been answered so far (a translated GetBulk that hit tooBig).
    private func assembled(partial: Bool = false) -> PDU {
        // Partial: the answered prefix only, so that varbind k still answers the request's column k.
        let answers = self.narrowed ? self.answers : Array(repeating: nil, count: self.request.varbinds.count)
        let varbinds =
            partial
            ? Array(answers.prefix { $0 != nil }.map { $0! })
            : answers.enumerated().map { $1 ?? self.request.varbinds[$0] }
        return PDU(type: .response, requestID: self.request.requestID, varbinds: varbinds)
    }

    /// An error response: the manager's varbinds echoed, the index renumbered in the manager's list;
    /// tooBig carries no varbinds (RFC 3416 §4.2.1).
    private func errorResponse(status: ErrorStatus, backendIndex: Int) -> PDU {
        var pdu = PDU(
            type: .response,
            requestID: self.request.requestID,
            errorStatus: status,
            varbinds: self.request.varbinds
        )
        if status == .tooBig {
            pdu.varbinds = []
            pdu.errorIndex = 0
        } else if backendIndex >= 1 && backendIndex <= self.outstandingCount {
            pdu.errorIndex = Int32(self.outstanding(backendIndex - 1) + 1)
        } else {
            pdu.errorIndex = 0
        }
        return pdu
    }
}
