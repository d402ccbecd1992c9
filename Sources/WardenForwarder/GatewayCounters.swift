//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

/// What one event loop counted. Summed over loops for the log line at stop.
public struct GatewayCounters: Hashable, Sendable {
    /// Datagrams from managers.
    public var inPackets: UInt64 = 0
    /// Datagrams that were not SNMP (snmpInASNParseErrs; the USM counters are kept by the engine).
    public var inParseErrors: UInt64 = 0
    /// PDUs a manager may not send to a command responder (Response, Report, Trap, Inform...).
    public var unexpectedPDUs: UInt64 = 0
    /// v1/v2c: unknown community (snmpInBadCommunityNames).
    public var badCommunityNames: UInt64 = 0
    /// v1/v2c: known community from a source no route allows (snmpInBadCommunityUses).
    public var badCommunityUses: UInt64 = 0
    /// v1/v2c message while no route has communities (the v1/v2c front end is off).
    public var communityFrontEndOff: UInt64 = 0
    /// Authenticated v3 requests no route matched (answered authorizationError).
    public var noRoute: UInt64 = 0
    /// Requests on a `backend: "{context}"` route whose context names no device (answered
    /// authorizationError, like no route).
    public var noDevice: UInt64 = 0
    /// Get/GetNext/GetBulk on a route without a read view (answered without asking the back end).
    public var refusedReads: UInt64 = 0
    /// Set on a route without a write view (answered noAccess).
    public var refusedSets: UInt64 = 0
    /// More varbinds than limits.max-varbinds (answered tooBig).
    public var tooManyVarbinds: UInt64 = 0
    /// GetBulk max-repetitions lowered to limits.max-repetitions.
    public var clampedRepetitions: UInt64 = 0
    /// The pending table was full: handled as a timeout at once.
    public var pendingOverflows: UInt64 = 0
    /// Requests sent to agents, first tries (an SNMPv3 agent's discovery probes, and requests sent
    /// again after its discovery and time Reports, included).
    public var backendRequests: UInt64 = 0
    /// Requests sent again after a timeout.
    public var backendRetransmissions: UInt64 = 0
    /// Requests that got no answer after the last retry.
    public var backendTimeouts: UInt64 = 0
    /// Back-end requests that waited in the gateway because their agent had `max-in-flight`
    /// requests outstanding.
    public var backendWaits: UInt64 = 0
    /// Of those, the ones whose turn did not come within the back end's timeout × (retries + 1):
    /// answered as a timeout without being sent.
    public var backendWaitTimeouts: UInt64 = 0
    /// Responses from agents that matched a pending request.
    public var backendResponses: UInt64 = 0
    /// Datagrams on a back-end socket from another address or port than the agent's.
    public var backendWrongSource: UInt64 = 0
    /// Back-end datagrams that did not decode, or were not a Response of the agent's version (an
    /// SNMPv3 message for a v1/v2c request, or the other way round).
    public var backendMalformed: UInt64 = 0
    /// Back-end responses with the wrong community.
    public var backendWrongCommunity: UInt64 = 0
    /// Back-end responses to no pending request (late, duplicated or forged request-id).
    public var backendUnmatched: UInt64 = 0
    /// SNMPv3 agents: discovery probes sent (first tries), the agent's engine ID not yet known.
    public var backendDiscoveries: UInt64 = 0
    /// SNMPv3 agents: Reports received, by kind (RFC 3414 §3.2 and §4). Discovery and time
    /// synchronisation (unknown engine ID, not in time window) re-send the request; the others end it.
    public var backendReportsUnknownEngineIDs: UInt64 = 0
    public var backendReportsNotInTimeWindows: UInt64 = 0
    public var backendReportsUnknownUserNames: UInt64 = 0
    public var backendReportsWrongDigests: UInt64 = 0
    public var backendReportsUnsupportedSecLevels: UInt64 = 0
    public var backendReportsDecryptionErrors: UInt64 = 0
    /// Reports that name no usmStats counter (snmpUnknownContexts, for one).
    public var backendReportsOther: UInt64 = 0
    /// SNMPv3 agents: requests a Report ended (an error Report, or discovery and time Reports past
    /// the re-send bound), answered as for a timeout.
    public var backendUSMFailures: UInt64 = 0
    /// SNMPv3 agents: answers that failed USM's checks (wrong digest, outside the time window,
    /// undecryptable, unauthenticated where authentication was asked for): ignored.
    public var backendUSMInvalid: UInt64 = 0
    /// Answers whose varbind list went to the manager as the v2c agent encoded it (canonical, and
    /// unchanged by the route's policy): patched into the response, not re-encoded (unless the
    /// response then had to be trimmed to fit the manager's message size).
    public var answersPassedThrough: UInt64 = 0
    /// Requests answered by a simulated back end.
    public var simulatedRequests: UInt64 = 0
    /// Responses and Reports sent to managers.
    public var outResponses: UInt64 = 0
    /// Timeouts on `on-timeout: drop` routes: nothing sent to the manager.
    public var droppedOnTimeout: UInt64 = 0
    /// Reports not sent: the source's rate (limits.reports-per-second) was spent.
    public var reportsRateLimited: UInt64 = 0
    /// Reports not sent: they would have sent more bytes than unauthenticated senders sent.
    public var reportsAmplificationLimited: UInt64 = 0
    /// Reports withheld from a (source, user) backing off after repeated authentication failures.
    public var reportsWithheld: UInt64 = 0
    /// Responses the kernel refused to send.
    public var sendFailures: UInt64 = 0

    public init() {}

    /// Every plain counter with its name in logs: one list, from which ``fields`` and ``+`` follow.
    static let named: [(String, any WritableKeyPath<GatewayCounters, UInt64> & Sendable)] = [
        ("in_packets", \.inPackets), ("in_parse_errors", \.inParseErrors), ("unexpected_pdus", \.unexpectedPDUs),
        ("bad_community_names", \.badCommunityNames), ("bad_community_uses", \.badCommunityUses),
        ("community_front_end_off", \.communityFrontEndOff), ("no_route", \.noRoute), ("no_device", \.noDevice),
        ("refused_reads", \.refusedReads), ("refused_sets", \.refusedSets), ("too_many_varbinds", \.tooManyVarbinds),
        ("clamped_repetitions", \.clampedRepetitions), ("pending_overflows", \.pendingOverflows),
        ("backend_requests", \.backendRequests), ("backend_retransmissions", \.backendRetransmissions),
        ("backend_timeouts", \.backendTimeouts), ("backend_responses", \.backendResponses),
        ("backend_waits", \.backendWaits), ("backend_wait_timeouts", \.backendWaitTimeouts),
        ("backend_wrong_source", \.backendWrongSource), ("backend_malformed", \.backendMalformed),
        ("backend_wrong_community", \.backendWrongCommunity), ("backend_unmatched", \.backendUnmatched),
        ("backend_discoveries", \.backendDiscoveries),
        ("backend_reports_unknown_engine_ids", \.backendReportsUnknownEngineIDs),
        ("backend_reports_not_in_time_windows", \.backendReportsNotInTimeWindows),
        ("backend_reports_unknown_user_names", \.backendReportsUnknownUserNames),
        ("backend_reports_wrong_digests", \.backendReportsWrongDigests),
        ("backend_reports_unsupported_sec_levels", \.backendReportsUnsupportedSecLevels),
        ("backend_reports_decryption_errors", \.backendReportsDecryptionErrors),
        ("backend_reports_other", \.backendReportsOther), ("backend_usm_failures", \.backendUSMFailures),
        ("backend_usm_invalid", \.backendUSMInvalid), ("answers_passed_through", \.answersPassedThrough),
        ("simulated_requests", \.simulatedRequests), ("out_responses", \.outResponses),
        ("dropped_on_timeout", \.droppedOnTimeout), ("reports_rate_limited", \.reportsRateLimited),
        ("reports_amplification_limited", \.reportsAmplificationLimited), ("reports_withheld", \.reportsWithheld), ("send_failures", \.sendFailures),
    ]

    /// Every counter by name, for logs.
    public var fields: [(String, UInt64)] {
        Self.named.map { ($0.0, self[keyPath: $0.1]) }
    }

    /// The sum of two loops' counters.
    public static func + (lhs: GatewayCounters, rhs: GatewayCounters) -> GatewayCounters {
        var sum = lhs
        for (_, path) in Self.named { sum[keyPath: path] += rhs[keyPath: path] }
        return sum
    }
}
