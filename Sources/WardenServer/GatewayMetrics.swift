//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import CoreMetrics
import Metrics
import NIOConcurrencyHelpers
import Prometheus
import SNMPSecurity
import WardenForwarder

/// Everything the data path counted, summed over the event loops at one instant.
public struct GatewayStatistics: Sendable {
    public var counters = GatewayCounters()
    public var usm = USMStatistics()
    public var routes: RouteStatistics
    public var backends: [UInt64]
    /// Requests in flight at an agent or queued for its `max-in-flight`.
    public var pending = 0
    /// Of those, the ones queued (not sent yet).
    public var queued = 0
}

/// The gateway's metrics in Prometheus' text format, through swift-metrics with swift-prometheus
/// as the factory (one registry per gateway, no global bootstrap).
///
/// The data path keeps plain per-loop counters (``GatewayCounters``, ``RouteStatistics``); a scrape
/// sums them and moves the exported counters by what changed since the last scrape. Latencies are
/// recorded into histograms as they happen (``record(_:)``, from the event loops).
public final class GatewayMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory
    /// Manager-side request latency by request kind, and the back-end round trip.
    private let requestDurations: [Metrics.Timer]
    private let backendRoundTrip: Metrics.Timer

    /// Buckets from 0.1 ms to 5 s.
    static let buckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .microseconds(2500),
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5),
    ]

    private struct Exported {
        var counters: [String: (counter: Metrics.Counter, last: UInt64)] = [:]
        var gauges: [String: Metrics.Gauge] = [:]
    }
    private let exported = NIOLockedValueBox(Exported())

    public init(version: String) {
        var factory = PrometheusMetricsFactory(registry: self.registry)
        factory.defaultDurationHistogramBuckets = Self.buckets
        self.factory = factory
        self.requestDurations = RequestKind.allCases.map {
            Metrics.Timer(label: "snmpwarden_request_duration_seconds", dimensions: [("pdu", $0.name)], factory: factory)
        }
        self.backendRoundTrip = Metrics.Timer(label: "snmpwarden_backend_round_trip_seconds", factory: factory)
        Metrics.Gauge(label: "snmpwarden_build_info", dimensions: [("version", version)], factory: factory).record(1)
    }

    /// Records one latency (called on an event loop, as it happens).
    public func record(_ observation: Observation) {
        switch observation {
        case .request(let kind, let nanoseconds):
            self.requestDurations[kind.rawValue].recordNanoseconds(nanoseconds)
        case .backendRoundTrip(let nanoseconds):
            self.backendRoundTrip.recordNanoseconds(nanoseconds)
        }
    }

    /// Sets a gauge (engine state, reload results).
    public func set(_ name: String, _ labels: [(String, String)] = [], to value: Double) {
        let key = Self.key(name, labels)
        let gauge = self.exported.withLockedValue { exported in
            if let gauge = exported.gauges[key] { return gauge }
            let gauge = Metrics.Gauge(label: name, dimensions: labels, factory: self.factory)
            exported.gauges[key] = gauge
            return gauge
        }
        gauge.record(value)
    }

    /// Moves the counter `name{labels}` up to `total` (a sum the data path keeps); a series appears
    /// once it is above zero.
    public func advance(_ name: String, _ labels: [(String, String)] = [], to total: UInt64) {
        let key = Self.key(name, labels)
        self.exported.withLockedValue { exported in
            if let (counter, last) = exported.counters[key] {
                if total > last {
                    counter.increment(by: Int64(total - last))
                    exported.counters[key] = (counter, total)
                }
            } else if total > 0 {
                let counter = Metrics.Counter(label: name, dimensions: labels, factory: self.factory)
                counter.increment(by: Int64(total))
                exported.counters[key] = (counter, total)
            }
        }
    }

    /// Updates the notification relay's metrics.
    public func record(_ statistics: NotificationStatistics) {
        let counters = statistics.counters
        let received: [(String, String, UInt64)] = [
            ("1", "trap", counters.receivedV1Traps), ("2c", "trap", counters.receivedV2cTraps),
            ("2c", "inform", counters.receivedV2cInforms), ("3", "trap", counters.receivedV3Traps),
            ("3", "inform", counters.receivedV3Informs),
        ]
        for (version, pdu, total) in received {
            self.advance("snmpwarden_notifications_received_total", [("version", version), ("pdu", pdu)], to: total)
        }
        for reason in NotificationDropReason.allCases {
            self.advance("snmpwarden_notifications_dropped_total", [("reason", reason.name)], to: counters[reason])
        }
        self.advance("snmpwarden_notifications_translated_total", [("direction", "v1-to-v2")], to: counters.translatedV1ToV2)
        self.advance("snmpwarden_notifications_translated_total", [("direction", "v2-to-v1")], to: counters.translatedV2ToV1)
        self.advance("snmpwarden_notification_varbinds_removed_total", to: counters.varbindsRemoved)
        self.advance("snmpwarden_notifications_acknowledged_total", [("mode", "forwarded")], to: counters.acknowledgedForwarded)
        self.advance("snmpwarden_notifications_acknowledged_total", [("mode", "local")], to: counters.acknowledgedLocally)
        self.advance("snmpwarden_notifications_unacknowledged_informs_total", to: counters.unacknowledgedInforms)
        self.advance("snmpwarden_notifications_duplicate_informs_total", to: counters.duplicateInforms)
        self.advance("snmpwarden_notifications_reports_total", to: counters.reportsSent)
        self.advance("snmpwarden_notifications_send_failures_total", to: statistics.sendFailures)
        for (target, each) in statistics.targets {
            self.advance("snmpwarden_notification_target_sent_total", [("target", target), ("pdu", "trap")], to: each.traps)
            self.advance("snmpwarden_notification_target_sent_total", [("target", target), ("pdu", "inform")], to: each.informs)
            self.advance("snmpwarden_notification_target_acknowledged_total", [("target", target)], to: each.acknowledged)
            self.advance("snmpwarden_notification_target_retransmissions_total", [("target", target)], to: each.retransmissions)
            self.advance("snmpwarden_notification_target_timeouts_total", [("target", target)], to: each.timeouts)
            self.advance("snmpwarden_notification_target_dropped_total", [("target", target), ("reason", "overflow")], to: each.overflows)
            self.advance("snmpwarden_notification_target_dropped_total", [("target", target), ("reason", "counter64")], to: each.counter64Dropped)
            self.advance("snmpwarden_notification_target_reports_total", [("target", target)], to: each.reports)
        }
        self.set("snmpwarden_notification_informs_pending", to: Double(statistics.pending))
    }

    /// Updates every data-path metric from `statistics` of a configuration with these route and
    /// back-end names, and returns the exposition text.
    public func exposition(_ statistics: GatewayStatistics, routes: [String], backends: [String]) -> [UInt8] {
        let counters = statistics.counters
        self.advance("snmpwarden_in_packets_total", to: counters.inPackets)
        self.advance("snmpwarden_in_parse_errors_total", to: counters.inParseErrors)
        self.advance("snmpwarden_out_packets_total", to: counters.outResponses)
        self.advance("snmpwarden_unexpected_pdus_total", to: counters.unexpectedPDUs)
        self.advance("snmpwarden_send_failures_total", to: counters.sendFailures)
        self.advance("snmpwarden_answers_passed_through_total", to: counters.answersPassedThrough)
        self.advance("snmpwarden_community_refusals_total", [("reason", "unknown-community")], to: counters.badCommunityNames)
        self.advance("snmpwarden_community_refusals_total", [("reason", "source-not-allowed")], to: counters.badCommunityUses)
        self.advance("snmpwarden_community_refusals_total", [("reason", "front-end-off")], to: counters.communityFrontEndOff)
        self.advance("snmpwarden_refusals_total", [("route", ""), ("reason", "no-route")], to: counters.noRoute)
        self.advance("snmpwarden_backend_unmatched_total", [("reason", "wrong-source")], to: counters.backendWrongSource)
        self.advance("snmpwarden_backend_unmatched_total", [("reason", "wrong-community")], to: counters.backendWrongCommunity)
        self.advance("snmpwarden_backend_unmatched_total", [("reason", "malformed")], to: counters.backendMalformed)
        self.advance("snmpwarden_backend_unmatched_total", [("reason", "unknown-request")], to: counters.backendUnmatched)
        self.advance("snmpwarden_backend_unmatched_total", [("reason", "usm-invalid")], to: counters.backendUSMInvalid)
        self.advance("snmpwarden_backend_discoveries_total", to: counters.backendDiscoveries)
        for (kind, value) in [
            ("unknownEngineIDs", counters.backendReportsUnknownEngineIDs),
            ("notInTimeWindows", counters.backendReportsNotInTimeWindows),
            ("unknownUserNames", counters.backendReportsUnknownUserNames),
            ("wrongDigests", counters.backendReportsWrongDigests),
            ("unsupportedSecLevels", counters.backendReportsUnsupportedSecLevels),
            ("decryptionErrors", counters.backendReportsDecryptionErrors), ("other", counters.backendReportsOther),
        ] {
            self.advance("snmpwarden_backend_reports_total", [("kind", kind)], to: value)
        }
        self.advance("snmpwarden_backend_usm_failures_total", to: counters.backendUSMFailures)
        self.advance("snmpwarden_pending_overflows_total", to: counters.pendingOverflows)
        self.advance("snmpwarden_backend_waits_total", to: counters.backendWaits)
        self.advance("snmpwarden_backend_wait_timeouts_total", to: counters.backendWaitTimeouts)
        self.advance("snmpwarden_reports_limited_total", [("reason", "source-rate")], to: counters.reportsRateLimited)
        self.advance(
            "snmpwarden_reports_limited_total",
            [("reason", "amplification")],
            to: counters.reportsAmplificationLimited
        )
        self.advance("snmpwarden_reports_limited_total", [("reason", "backoff")], to: counters.reportsWithheld)
        let usm = statistics.usm
        for (stat, value) in [
            ("unsupportedSecLevels", usm.unsupportedSecLevels), ("notInTimeWindows", usm.notInTimeWindows),
            ("unknownUserNames", usm.unknownUserNames), ("unknownEngineIDs", usm.unknownEngineIDs),
            ("wrongDigests", usm.wrongDigests), ("decryptionErrors", usm.decryptionErrors),
        ] {
            self.advance("snmpwarden_usm_stats_total", [("stat", stat)], to: UInt64(value))
        }
        self.advance("snmpwarden_snmp_in_asn_parse_errs_total", to: UInt64(usm.inASNParseErrs))
        self.advance("snmpwarden_snmp_silent_drops_total", to: UInt64(usm.silentDrops))
        let table = statistics.routes
        for (index, route) in routes.enumerated() where index < table.routes {
            for kind in RequestKind.allCases {
                for outcome in RequestOutcome.allCases {
                    self.advance(
                        "snmpwarden_requests_total",
                        [("route", route), ("pdu", kind.name), ("outcome", outcome.name)],
                        to: table.requests(route: index, kind: kind, outcome: outcome)
                    )
                }
            }
            for reason in RefusalReason.allCases {
                self.advance(
                    "snmpwarden_refusals_total",
                    [("route", route), ("reason", reason.name)],
                    to: table.refusals(route: index, reason: reason)
                )
            }
            for counter in RouteStatistics.BackendCounter.allCases {
                self.advance(
                    "snmpwarden_backend_\(counter.name)_total",
                    [("route", route)],
                    to: table.backend(route: index, counter)
                )
            }
        }
        let perBackend = RouteStatistics.BackendCounter.allCases.count
        if statistics.backends.count == backends.count * perBackend {
            for (index, backend) in backends.enumerated() {
                for counter in RouteStatistics.BackendCounter.allCases {
                    self.advance(
                        "snmpwarden_backend_device_\(counter.name)_total",
                        [("backend", backend)],
                        to: statistics.backends[index * perBackend + counter.rawValue]
                    )
                }
            }
        }
        self.set("snmpwarden_pending_requests", to: Double(statistics.pending))
        self.set("snmpwarden_queued_requests", to: Double(statistics.queued))
        return self.registry.emitToBuffer()
    }

    private static func key(_ name: String, _ labels: [(String, String)]) -> String {
        labels.reduce(name) { $0 + "\u{0}" + $1.0 + "=" + $1.1 }
    }
}
