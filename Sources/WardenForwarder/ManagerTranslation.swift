//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import SNMPWire

/// Responses as an SNMPv1 manager must see them (RFC 3584 §4.2.2 and §4.4): pure functions.
///
/// The data path works in SNMPv2 semantics; a v1 manager (on the optional community front end) gets
/// v1 error codes, noSuchName in place of exceptions, and never a Counter64.
public enum ManagerTranslation {
    /// v2 error-status → v1 (RFC 3584 §4.4).
    public static func v1Status(_ status: ErrorStatus) -> ErrorStatus {
        switch status.rawValue {
        case 0...5: return status
        case 6, 11, 16, 17, 18: return .noSuchName
        case 7, 8, 9, 10, 12: return .badValue
        default: return .genErr
        }
    }

    /// Positions (0-based) of Counter64 values in a GetNext response: a v1 manager's GetNext must
    /// skip them (RFC 3584 §4.2.2.1), by asking again from there.
    public static func counter64Positions(_ response: PDU) -> [Int] {
        guard response.errorStatus == .noError else { return [] }
        return response.varbinds.indices.filter {
            if case .counter64 = response.varbinds[$0].value { return true }
            return false
        }
    }

    /// The response for a v1 manager, from a v2 response to `request`.
    ///
    /// An exception or a Counter64 becomes noSuchName at the first such varbind, with the request's
    /// varbinds echoed (RFC 3584 §4.2.2.2); other v2 errors map per §4.4.
    public static func v1Response(_ response: PDU, request: PDU) -> PDU {
        var pdu = response
        if response.errorStatus != .noError {
            pdu.errorStatus = Self.v1Status(response.errorStatus)
            if pdu.errorStatus == .tooBig {
                // A v1 tooBig keeps the request's varbinds (RFC 1157 §4.1.2).
                pdu.varbinds = request.varbinds
            }
            if pdu.varbinds.count != request.varbinds.count { pdu.varbinds = request.varbinds }
            return pdu
        }
        for (index, varbind) in response.varbinds.enumerated() {
            let refused: Bool
            switch varbind.value {
            case .noSuchObject, .noSuchInstance, .endOfMibView, .counter64: refused = true
            default: refused = false
            }
            if refused {
                pdu.errorStatus = .noSuchName
                pdu.errorIndex = Int32(index + 1)
                pdu.varbinds = request.varbinds
                return pdu
            }
        }
        return pdu
    }
}
