//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import COpenSSL

/// HMAC-SHA-256 (RFC 2104) with a fixed key, for keyed pseudonyms (`redact: hash`). Stateless
/// per call, so one value serves every event loop.
public struct KeyedHash: Sendable {
    private let inner: [UInt8]
    private let outer: [UInt8]

    public init(key: [UInt8]) {
        var block = key.count > 64 ? Self.sha256(key) : key
        block += [UInt8](repeating: 0, count: 64 - block.count)
        self.inner = block.map { $0 ^ 0x36 }
        self.outer = block.map { $0 ^ 0x5C }
    }

    /// HMAC-SHA-256(key, data): 32 octets.
    public func callAsFunction(_ data: [UInt8]) -> [UInt8] {
        Self.sha256(self.outer + Self.sha256(self.inner + data))
    }

    static func sha256(_ data: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        data.withUnsafeBufferPointer { input in
            digest.withUnsafeMutableBufferPointer { output in
                _ = SHA256(input.baseAddress, input.count, output.baseAddress)
            }
        }
        return digest
    }
}
