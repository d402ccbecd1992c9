//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import Foundation
import SNMPSecurity
import Testing

@Suite("KeyedHash: HMAC-SHA-256 (RFC 4231)")
struct KeyedHashTests {
    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    @Test("RFC 4231 test cases 2 and 6 (a key longer than the block)")
    func knownAnswers() {
        let two = KeyedHash(key: Array("Jefe".utf8))(Array("what do ya want for nothing?".utf8))
        #expect(Self.hex(two) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        let six = KeyedHash(key: [UInt8](repeating: 0xAA, count: 131))(
            Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8)
        )
        #expect(Self.hex(six) == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }
}
