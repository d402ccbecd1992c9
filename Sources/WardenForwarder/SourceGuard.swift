//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import Synchronization
import WardenPolicy

/// Limits on what unauthenticated traffic can make the gateway send (a pure value, one per event
/// loop): per-source token buckets for Reports, a byte budget that keeps the bytes sent in Reports
/// below the bytes received from unauthenticated senders (no amplification, whatever source
/// addresses a flood claims), and a back-off for repeated authentication failures of one (source,
/// user) pair. Sources that authenticated recently are exempt from the first two: someone else's
/// flood never slows a manager down.
///
/// The budget: nine tenths of every unauthenticated byte received may be spent on Reports. A
/// discovery Report (about 115 octets) is larger than the request (about 64), so a quiet gateway
/// also lends a few Reports a second (`loansPerSecond`): a manager's discovery works at once when
/// no flood is on, and under a flood the flood's own bytes pay for most Reports. The bytes sent
/// stay below the bytes received as soon as a flood is more than ten times the loans.
///
/// Every table is bounded: a flood of spoofed sources evicts the oldest entries, it does not grow
/// memory.
public struct SourceGuard {
    public struct Settings: Hashable, Sendable {
        /// Reports per second per source (the bucket holds `burst`).
        public var reportsPerSecond: Double = 10
        public var burst: Double = 20
        /// Sources are counted by prefix: IPv4 /32 and IPv6 /64 by default.
        public var ipv4PrefixLength = 32
        public var ipv6PrefixLength = 64
        /// Entries in each table (sources, failing (source, user) pairs, trusted sources).
        public var tableSize = 65_536
        /// Unauthenticated bytes received that may be spent on Reports, at most this many saved up.
        public var creditLimit = 65_536
        /// Reports a second the gateway may send on credit it has not earned (all sources together).
        public var loansPerSecond: Double = 4
        public var loanBurst: Double = 8
        /// Authentication failures of one (source, user) before its Reports stop.
        public var failuresBeforeBackoff = 5
        /// The first back-off; each further failure during one doubles it, up to `maximumBackoff`.
        public var firstBackoff: Int64 = 10_000_000_000
        public var maximumBackoff: Int64 = 3_600_000_000_000
        /// How long a source that authenticated stays exempt.
        public var trustDuration: Int64 = 600_000_000_000

        public init() {}
    }

    /// Why a Report was not sent.
    public enum Refusal: Hashable, Sendable {
        /// The source's bucket was empty.
        case sourceRate
        /// The Report would have sent more bytes than unauthenticated senders sent.
        case amplification
    }

    /// A bounded table with first-in, first-out eviction. Its memory grows with use, up to the
    /// capacity (a machine that sees no hostile traffic holds almost nothing).
    struct BoundedTable<Key: Hashable, Value> {
        private(set) var entries: [Key: Value] = [:]
        /// Keys in the order they came; once full, a ring whose oldest slot is `next`.
        private var order: [Key?] = []
        private var next = 0
        let capacity: Int

        init(capacity: Int) {
            self.capacity = max(1, capacity)
        }

        subscript(key: Key) -> Value? {
            get { self.entries[key] }
            set {
                if let newValue {
                    if self.entries.updateValue(newValue, forKey: key) == nil {
                        if self.order.count < self.capacity {
                            self.order.append(key)
                        } else {
                            // A new key takes the oldest slot, evicting that key.
                            if let evicted = self.order[self.next] { self.entries[evicted] = nil }
                            self.order[self.next] = key
                            self.next = (self.next + 1) % self.capacity
                        }
                    }
                } else {
                    self.entries[key] = nil  // its slot is reused when the ring comes round
                }
            }
        }

        var count: Int { self.entries.count }
    }

    struct Bucket {
        var tokens: Double
        var updated: Int64
    }

    public let settings: Settings
    private var buckets: BoundedTable<IPAddressBits, Bucket>
    private var trusted: BoundedTable<IPAddressBits, Int64>
    /// Shared by every event loop: an attacker's guesses land on any loop.
    public let backoff: AuthenticationBackoff
    /// Unauthenticated bytes received (nine tenths of them) and not yet spent on Reports.
    private(set) var credit = 0
    /// Loans available (a token bucket over all sources).
    private var loans: Bucket

    public init(settings: Settings = Settings(), backoff: AuthenticationBackoff? = nil) {
        self.settings = settings
        self.buckets = BoundedTable(capacity: settings.tableSize)
        self.backoff = backoff ?? AuthenticationBackoff(settings: settings)
        self.trusted = BoundedTable(capacity: settings.tableSize)
        self.loans = Bucket(tokens: settings.loanBurst, updated: 0)
    }

    /// Entries held (for tests: they never exceed the table size).
    public var tableSizes: (sources: Int, pairs: Int, trusted: Int) {
        (self.buckets.count, self.backoff.count, self.trusted.count)
    }

    /// The key a source is counted under.
    func key(_ source: IPAddressBits) -> IPAddressBits { Self.key(source, self.settings) }

    static func key(_ source: IPAddressBits, _ settings: Settings) -> IPAddressBits {
        let length = source.isIPv4 ? settings.ipv4PrefixLength : settings.ipv6PrefixLength
        let high: UInt64 = length >= 64 ? .max : (length <= 0 ? 0 : ~(UInt64.max >> UInt64(length)))
        let low: UInt64 = length <= 64 ? 0 : (length >= 128 ? .max : ~(UInt64.max >> UInt64(length - 64)))
        return IPAddressBits(high: source.high & high, low: source.low & low, isIPv4: source.isIPv4)
    }

    /// A datagram that did not authenticate (or could not): its bytes may pay for a Report.
    public mutating func received(unauthenticatedBytes bytes: Int) {
        self.credit = min(self.settings.creditLimit, self.credit + bytes * 9 / 10)
    }

    /// A source sent an authentic message: exempt from the flood limits for a while, and its
    /// failures forgotten for that user. Cheap on the request path: one lookup while the trust is
    /// fresh, and the user's name is read only when some pair is backing off.
    public mutating func authenticated(_ source: IPAddressBits, user: () -> [UInt8], now: Int64) {
        let key = self.key(source)
        if let until = self.trusted[key], until - now > self.settings.trustDuration / 2 {
            // Still fresh.
        } else {
            self.trusted[key] = now + self.settings.trustDuration
        }
        self.backoff.succeeded(key, user: user)
    }

    /// Whether a Report of `bytes` may go to `source` now; if so it is paid for.
    public mutating func admitReport(to source: IPAddressBits, bytes: Int, now: Int64) -> Refusal? {
        let key = self.key(source)
        if let until = self.trusted[key], until > now { return nil }
        var bucket = self.buckets[key] ?? Bucket(tokens: self.settings.burst, updated: now)
        bucket.tokens = min(
            self.settings.burst,
            bucket.tokens + Double(max(0, now - bucket.updated)) / 1e9 * self.settings.reportsPerSecond
        )
        bucket.updated = now
        guard bucket.tokens >= 1 else {
            self.buckets[key] = bucket
            return .sourceRate
        }
        if self.credit >= bytes {
            self.credit -= bytes
        } else {
            self.loans.tokens = min(
                self.settings.loanBurst,
                self.loans.tokens + Double(max(0, now - self.loans.updated)) / 1e9 * self.settings.loansPerSecond
            )
            self.loans.updated = now
            guard self.loans.tokens >= 1 else {
                self.buckets[key] = bucket
                return .amplification
            }
            self.loans.tokens -= 1
        }
        bucket.tokens -= 1
        self.buckets[key] = bucket
        return nil
    }

    /// An authentication failure of `user` from `source` (see ``AuthenticationBackoff``).
    public mutating func authenticationFailed(
        _ source: IPAddressBits,
        user: [UInt8],
        now: Int64
    ) -> (withhold: Bool, newBackoff: Int64?) {
        self.backoff.failed(self.key(source), user: user, now: now)
    }
}

/// The brute-force back-off, shared by every event loop (a wrong guess lands on any of them):
/// repeated authentication failures of one (source, user) pair withhold its Reports for a growing
/// period. Failures are rare, so a lock is fine; the request path only reads an atomic count.
public final class AuthenticationBackoff: Sendable {
    struct PairKey: Hashable {
        var source: IPAddressBits
        var user: [UInt8]
    }

    struct Failures {
        var count: Int
        var backoff: Int64
        var until: Int64
    }

    let settings: SourceGuard.Settings
    private let table: Mutex<SourceGuard.BoundedTable<PairKey, Failures>>
    private let entries = Atomic<Int>(0)

    public init(settings: SourceGuard.Settings) {
        self.settings = settings
        self.table = Mutex(SourceGuard.BoundedTable(capacity: settings.tableSize))
    }

    /// Pairs held (never more than the table size).
    public var count: Int { self.entries.load(ordering: .relaxed) }

    /// A failure of `user` from `source` (already a source key). Returns whether its Report must be
    /// withheld, and, when a back-off starts or grows, its length (to log once per period).
    func failed(_ source: IPAddressBits, user: [UInt8], now: Int64) -> (withhold: Bool, newBackoff: Int64?) {
        self.table.withLock { table in
            defer { self.entries.store(table.count, ordering: .relaxed) }
            let key = PairKey(source: source, user: user)
            var entry = table[key] ?? Failures(count: 0, backoff: 0, until: 0)
            entry.count += 1
            if now < entry.until {
                table[key] = entry
                return (true, nil)
            }
            guard entry.count >= self.settings.failuresBeforeBackoff else {
                table[key] = entry
                return (false, nil)
            }
            entry.backoff =
                entry.backoff == 0
                ? self.settings.firstBackoff : min(self.settings.maximumBackoff, entry.backoff * 2)
            entry.until = now + entry.backoff
            table[key] = entry
            return (true, entry.backoff)
        }
    }

    /// A success of `user` from `source`: its failures are forgotten. Free while no pair fails.
    func succeeded(_ source: IPAddressBits, user: () -> [UInt8]) {
        guard self.entries.load(ordering: .relaxed) > 0 else { return }
        let key = PairKey(source: source, user: user())
        self.table.withLock { table in
            table[key] = nil
            self.entries.store(table.count, ordering: .relaxed)
        }
    }
}
