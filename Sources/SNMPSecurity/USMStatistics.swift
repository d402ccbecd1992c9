//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import SNMPWire

/// The USM and message-processing counters (RFC 3414 §5 usmStats, RFC 3412 §5 snmpMPDStats,
/// RFC 3418 snmpInASNParseErrs and snmpSilentDrops). Counter32: they wrap at 2^32.
public struct USMStatistics: Hashable, Sendable {
    public var unsupportedSecLevels: UInt32 = 0
    public var notInTimeWindows: UInt32 = 0
    public var unknownUserNames: UInt32 = 0
    public var unknownEngineIDs: UInt32 = 0
    public var wrongDigests: UInt32 = 0
    public var decryptionErrors: UInt32 = 0
    public var inASNParseErrs: UInt32 = 0
    public var invalidMsgs: UInt32 = 0
    public var unknownSecurityModels: UInt32 = 0
    public var silentDrops: UInt32 = 0

    public init() {}

    /// The counters as varbinds with their MIB OIDs, for reading by the gateway.
    public var varbinds: [VarBind] {
        [
            VarBind(oid: USMReportKind.unsupportedSecLevels.oid, value: .counter32(self.unsupportedSecLevels)),
            VarBind(oid: USMReportKind.notInTimeWindows.oid, value: .counter32(self.notInTimeWindows)),
            VarBind(oid: USMReportKind.unknownUserNames.oid, value: .counter32(self.unknownUserNames)),
            VarBind(oid: USMReportKind.unknownEngineIDs.oid, value: .counter32(self.unknownEngineIDs)),
            VarBind(oid: USMReportKind.wrongDigests.oid, value: .counter32(self.wrongDigests)),
            VarBind(oid: USMReportKind.decryptionErrors.oid, value: .counter32(self.decryptionErrors)),
            VarBind(oid: "1.3.6.1.2.1.11.6.0", value: .counter32(self.inASNParseErrs)),
            VarBind(oid: "1.3.6.1.6.3.11.2.1.2.0", value: .counter32(self.invalidMsgs)),
            VarBind(oid: "1.3.6.1.6.3.11.2.1.1.0", value: .counter32(self.unknownSecurityModels)),
            VarBind(oid: "1.3.6.1.2.1.11.31.0", value: .counter32(self.silentDrops)),
        ]
    }

    /// Every counter with its name in logs: one list, from which ``fields`` and ``+`` follow.
    static let named: [(String, any WritableKeyPath<USMStatistics, UInt32> & Sendable)] = [
        ("usm_unsupported_sec_levels", \.unsupportedSecLevels), ("usm_not_in_time_windows", \.notInTimeWindows),
        ("usm_unknown_user_names", \.unknownUserNames), ("usm_unknown_engine_ids", \.unknownEngineIDs),
        ("usm_wrong_digests", \.wrongDigests), ("usm_decryption_errors", \.decryptionErrors),
        ("snmp_in_asn_parse_errs", \.inASNParseErrs), ("snmp_invalid_msgs", \.invalidMsgs),
        ("snmp_unknown_security_models", \.unknownSecurityModels), ("snmp_silent_drops", \.silentDrops),
    ]

    /// Every counter by name, for logs.
    public var fields: [(String, UInt64)] {
        Self.named.map { ($0.0, UInt64(self[keyPath: $0.1])) }
    }

    /// The sum of two engines' counters (one engine per event loop), wrapping as Counter32 does.
    public static func + (lhs: USMStatistics, rhs: USMStatistics) -> USMStatistics {
        var sum = lhs
        for (_, path) in Self.named { sum[keyPath: path] &+= rhs[keyPath: path] }
        return sum
    }

    mutating func increment(_ kind: USMReportKind) -> UInt32 {
        switch kind {
        case .unsupportedSecLevels:
            self.unsupportedSecLevels &+= 1
            return self.unsupportedSecLevels
        case .notInTimeWindows:
            self.notInTimeWindows &+= 1
            return self.notInTimeWindows
        case .unknownUserNames:
            self.unknownUserNames &+= 1
            return self.unknownUserNames
        case .unknownEngineIDs:
            self.unknownEngineIDs &+= 1
            return self.unknownEngineIDs
        case .wrongDigests:
            self.wrongDigests &+= 1
            return self.wrongDigests
        case .decryptionErrors:
            self.decryptionErrors &+= 1
            return self.decryptionErrors
        }
    }
}

/// The usmStats counters that travel in Reports (1.3.6.1.6.3.15.1.1.x.0).
public enum USMReportKind: UInt32, Hashable, Sendable, CaseIterable {
    case unsupportedSecLevels = 1
    case notInTimeWindows = 2
    case unknownUserNames = 3
    case unknownEngineIDs = 4
    case wrongDigests = 5
    case decryptionErrors = 6

    public var oid: OID { OID(arcs: [1, 3, 6, 1, 6, 3, 15, 1, 1, self.rawValue, 0])! }

    /// The kind a Report's varbind names, if it is a usmStats counter.
    public init?(reportOID: OID) {
        let arcs = Array(reportOID.arcs)
        guard arcs.count == 11, arcs[0..<9] == [1, 3, 6, 1, 6, 3, 15, 1, 1], arcs[10] == 0,
            let kind = USMReportKind(rawValue: arcs[9])
        else { return nil }
        self = kind
    }
}
