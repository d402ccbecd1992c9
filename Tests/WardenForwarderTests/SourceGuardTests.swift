//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import Testing
import WardenForwarder
import WardenPolicy

@Suite("SourceGuard: per-source limits, no amplification, brute-force back-off (as values)")
struct SourceGuardTests {
    static func source(_ index: Int) -> IPAddressBits {
        IPAddressBits(exactly: [10, UInt8(index >> 16 & 0xFF), UInt8(index >> 8 & 0xFF), UInt8(index & 0xFF)])!
    }

    @Test("a flood of a million spoofed discovery requests: bytes out ≤ bytes in, tables bounded")
    func noAmplification() {
        var settings = SourceGuard.Settings()
        settings.tableSize = 1000
        var guardian = SourceGuard(settings: settings)
        var bytesIn = 0
        var bytesOut = 0
        var now: Int64 = 1_000_000_000
        for index in 0..<1_000_000 {
            now += 1_000  // a million a second
            guardian.received(unauthenticatedBytes: 64)
            bytesIn += 64
            if guardian.admitReport(to: Self.source(index), bytes: 115, now: now) == nil { bytesOut += 115 }
        }
        #expect(bytesOut <= bytesIn, "\(bytesOut) out for \(bytesIn) in")
        #expect(bytesOut > bytesIn / 3, "the flood's own bytes pay for most Reports")
        #expect(guardian.tableSizes.sources <= 1000)
        // A thousand sources sending many each: their own buckets stop them.
        var perSource = SourceGuard()
        var answered = 0
        for round in 0..<100 {
            for index in 0..<1000 {
                perSource.received(unauthenticatedBytes: 64)
                if perSource.admitReport(to: Self.source(index), bytes: 115, now: 1_000_000_000 + Int64(round) * 1_000_000) == nil {
                    answered += 1
                }
            }
        }
        #expect(answered * 115 <= 100 * 1000 * 64)
    }

    @Test("a quiet gateway answers a manager's discovery at once; a manager that authenticated is exempt")
    func discoveryWorks() {
        var guardian = SourceGuard()
        let manager = Self.source(7)
        guardian.received(unauthenticatedBytes: 64)
        #expect(guardian.admitReport(to: manager, bytes: 115, now: 5_000_000_000) == nil)
        // After it authenticated, it is never limited, whatever the flood.
        guardian.authenticated(manager, user: { Array("noc".utf8) }, now: 5_000_000_000)
        for step in 0..<10_000 {
            #expect(guardian.admitReport(to: manager, bytes: 115, now: 5_000_000_000 + Int64(step)) == nil)
        }
    }

    @Test("password guessing: Reports stop after the threshold for that source and user, for a growing period")
    func backoff() {
        var guardian = SourceGuard()
        let attacker = Self.source(66)
        let user = Array("noc".utf8)
        var now: Int64 = 1_000_000_000
        var withheld = 0
        var periods: [Int64] = []
        for _ in 0..<40 {
            now += 100_000_000
            let (withhold, backoff) = guardian.authenticationFailed(attacker, user: user, now: now)
            if withhold { withheld += 1 }
            if let backoff { periods.append(backoff) }
        }
        #expect(withheld == 36, "the first four failures get their Reports")
        #expect(periods == [10_000_000_000], "one period in 4 s of guessing")
        // After the period, the next failure doubles it.
        now += 11_000_000_000
        #expect(guardian.authenticationFailed(attacker, user: user, now: now) == (true, 20_000_000_000))
        // Another source, or another user, is not affected.
        #expect(guardian.authenticationFailed(Self.source(67), user: user, now: now).withhold == false)
        #expect(guardian.authenticationFailed(attacker, user: Array("ops".utf8), now: now).withhold == false)
        // A success forgets the pair's failures.
        guardian.authenticated(attacker, user: { user }, now: now)
        #expect(guardian.authenticationFailed(attacker, user: user, now: now + 1).withhold == false)
    }

    @Test("sources are counted by prefix: an IPv6 /64 is one source")
    func prefixes() {
        var guardian = SourceGuard()
        var answered = 0
        for host in 0..<100 {
            let source = IPAddressBits(exactly: [0x20, 0x01, 0x0D, 0xB8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, UInt8(host)])!
            guardian.received(unauthenticatedBytes: 200)
            if guardian.admitReport(to: source, bytes: 115, now: 1_000_000_000) == nil { answered += 1 }
        }
        #expect(answered == 20, "one bucket (burst 20) for the whole /64")
    }
}
