//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import COpenSSL

/// HMAC over whole messages with one localized key (RFC 3414 §6.3, §7.3; RFC 7860 §4.2).
///
/// The OpenSSL context is prepared once per key; each message only re-initialises it (the key
/// schedule is kept), updates and finalises: no algorithm fetch, no allocation per message. Not
/// thread-safe: each event loop has its own (see `USMUserKeys.copy()`).
final class HMACAuthenticator {
    private let context: OpaquePointer
    let auth: USMAuthProtocol

    init(auth: USMAuthProtocol, key: [UInt8]) {
        self.auth = auth
        self.context = EVP_MAC_CTX_new(OpenSSLAlgorithms.shared.hmac)!
        // OSSL_PARAM keeps the pointers it is given, so both C strings must outlive EVP_MAC_init: a
        // Swift String passed straight to `OSSL_PARAM_construct_utf8_string` is a temporary that
        // is freed when that call returns (AddressSanitizer caught exactly that under the fuzzer).
        let ok = OSSL_MAC_PARAM_DIGEST.withCString { parameterName in
            auth.digestName.withCString { digestName in
                var params = [
                    OSSL_PARAM_construct_utf8_string(parameterName, UnsafeMutablePointer(mutating: digestName), 0),
                    OSSL_PARAM_construct_end(),
                ]
                return key.withUnsafeBufferPointer { EVP_MAC_init(self.context, $0.baseAddress, $0.count, &params) }
            }
        }
        precondition(ok == 1, "EVP_MAC_init: \(USMCryptoError("HMAC"))")
    }

    deinit {
        EVP_MAC_CTX_free(self.context)
    }

    /// The truncated MAC of `message`, where the `zeroed` range (the authentication parameters) is
    /// taken as zeros whatever it holds; written to `output`, which has ``USMAuthProtocol/macLength`` bytes.
    func mac(_ message: UnsafeRawBufferPointer, zeroing zeroed: Range<Int>, into output: UnsafeMutableRawBufferPointer)
    {
        precondition(output.count == self.auth.macLength && zeroed.upperBound <= message.count)
        precondition(EVP_MAC_init(self.context, nil, 0, nil) == 1)
        let base = message.baseAddress!
        _ = EVP_MAC_update(self.context, base, zeroed.lowerBound)
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 64) { zeros in
            zeros.initialize(repeating: 0)
            var remaining = zeroed.count
            while remaining > 0 {
                let n = min(remaining, 64)
                _ = EVP_MAC_update(self.context, zeros.baseAddress, n)
                remaining -= n
            }
        }
        _ = EVP_MAC_update(self.context, base + zeroed.upperBound, message.count - zeroed.upperBound)
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 64) { full in
            var length = 0
            precondition(EVP_MAC_final(self.context, full.baseAddress, &length, 64) == 1)
            output.copyMemory(from: UnsafeRawBufferPointer(start: full.baseAddress, count: output.count))
        }
    }

    /// Whether the MAC in `message[macRange]` is right, compared in constant time.
    func verify(_ message: UnsafeRawBufferPointer, macRange: Range<Int>) -> Bool {
        guard macRange.count == self.auth.macLength else { return false }
        return withUnsafeTemporaryAllocation(byteCount: 64, alignment: 1) { computed in
            let mac = UnsafeMutableRawBufferPointer(rebasing: computed[0..<macRange.count])
            self.mac(message, zeroing: macRange, into: mac)
            return CRYPTO_memcmp(mac.baseAddress, message.baseAddress! + macRange.lowerBound, macRange.count) == 0
        }
    }
}
