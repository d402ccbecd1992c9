//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOCore
import SNMPSecurity
import SNMPWire
import Testing

/// The USM fuzz target's check, on its seeds and on deterministic mutations of them (the harness
/// re-signs what it can, so the mutations reach decryption and the parsing of decrypted garbage).
@Suite("USM hostile input", .serialized)
struct FuzzUSMRegressionTests {
    @Test func seedsAreAcceptedAndDiscoveryIsReported() {
        let seeds = FuzzUSMInboundCheck.seedRequests()
        #expect(seeds.count == FuzzUSMInboundCheck.users.count + 1)
        for seed in seeds.dropLast() { #expect(FuzzUSMInboundCheck.run(seed) == .accepted) }
        #expect(FuzzUSMInboundCheck.run(seeds.last!) == .reported)
    }

    @Test("20,000 mutations of valid requests: every outcome is consistent, nothing traps")
    func mutations() {
        var state: UInt64 = 0x5EED
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        var outcomes: [FuzzUSMInboundCheck.Outcome: Int] = [:]
        let seeds = FuzzUSMInboundCheck.seedRequests().map { Array($0.readableBytesView) }
        for _ in 0..<20_000 {
            var bytes = seeds[Int(next() % UInt64(seeds.count))]
            for _ in 0..<(1 + Int(next() % 3)) {
                let index = Int(next() % UInt64(bytes.count))
                switch next() % 3 {
                case 0: bytes[index] ^= UInt8(truncatingIfNeeded: next() | 1)
                case 1: bytes.remove(at: index)
                default: bytes.insert(UInt8(truncatingIfNeeded: next()), at: index)
                }
                if bytes.isEmpty { break }
            }
            outcomes[FuzzUSMInboundCheck.run(ByteBuffer(bytes: bytes)), default: 0] += 1
        }
        // Every kind of outcome is reached: the mutations are not all stopped at the first check.
        #expect(outcomes.keys.count == 4, "\(outcomes)")
    }
}
