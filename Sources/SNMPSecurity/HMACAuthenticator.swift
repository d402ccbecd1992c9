//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import COpenSSL

/// HMAC over whole messages with one localized key (RFC 2104; RFC 3414 §6.3, §7.3; RFC 7860 §4.2).
///
/// The digest states after the keyed inner and outer pads are computed once per key. A message
/// copies them (plain structs: OpenSSL's low-level MD5, SHA-1 and SHA-2 contexts, which run the same
/// assembly as EVP) and hashes only its own octets: no allocation, no parameter lookup, no re-keying
/// per message. The profile had EVP_MAC's re-initialisation (a context duplicated on the heap twice
/// per message) at a third of the MAC's cost. Not thread-safe: each event loop has its own (see
/// `USMUserKeys.copy()`).
final class HMACAuthenticator {
    let auth: USMAuthProtocol
    private let digest: LowLevelDigest
    /// The states after hashing key ⊕ ipad and key ⊕ opad, and room for one message's work.
    private let inner: UnsafeMutableRawPointer
    private let outer: UnsafeMutableRawPointer
    private let work: UnsafeMutableRawPointer

    init(auth: USMAuthProtocol, key: [UInt8]) {
        self.auth = auth
        self.digest = LowLevelDigest(auth)
        let size = LowLevelDigest.contextSize
        self.inner = .allocate(byteCount: size, alignment: 16)
        self.outer = .allocate(byteCount: size, alignment: 16)
        self.work = .allocate(byteCount: size, alignment: 16)
        let blockSize = self.digest.blockSize
        // A key longer than the block is hashed first (RFC 2104 §2); USM keys never are.
        var block = key.count > blockSize ? SNMPSecurity.digest(auth, [key]) : key
        block += [UInt8](repeating: 0, count: blockSize - block.count)
        for (state, pad) in [(self.inner, UInt8(0x36)), (self.outer, UInt8(0x5c))] {
            let padded = block.map { $0 ^ pad }
            self.digest.start(state)
            padded.withUnsafeBytes { self.digest.update(state, $0.baseAddress!, $0.count) }
        }
    }

    deinit {
        for state in [self.inner, self.outer, self.work] {
            state.initializeMemory(as: UInt8.self, repeating: 0, count: LowLevelDigest.contextSize)
            state.deallocate()
        }
    }

    /// The truncated MAC of `message`, where the `zeroed` range (the authentication parameters) is
    /// taken as zeros whatever it holds; written to `output`, which has ``USMAuthProtocol/macLength`` bytes.
    func mac(_ message: UnsafeRawBufferPointer, zeroing zeroed: Range<Int>, into output: UnsafeMutableRawBufferPointer)
    {
        precondition(output.count == self.auth.macLength && zeroed.upperBound <= message.count)
        let size = LowLevelDigest.contextSize
        let base = message.baseAddress!
        self.work.copyMemory(from: self.inner, byteCount: size)
        self.digest.update(self.work, base, zeroed.lowerBound)
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 64) { zeros in
            zeros.initialize(repeating: 0)
            var remaining = zeroed.count
            while remaining > 0 {
                let n = min(remaining, 64)
                self.digest.update(self.work, UnsafeRawPointer(zeros.baseAddress!), n)
                remaining -= n
            }
        }
        self.digest.update(self.work, base + zeroed.upperBound, message.count - zeroed.upperBound)
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 64) { full in
            let digest = full.baseAddress!
            self.digest.finish(self.work, into: digest)
            self.work.copyMemory(from: self.outer, byteCount: size)
            self.digest.update(self.work, UnsafeRawPointer(digest), self.auth.keyLength)
            self.digest.finish(self.work, into: digest)
            output.copyMemory(from: UnsafeRawBufferPointer(start: digest, count: output.count))
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

@available(*, unavailable)
extension HMACAuthenticator: Sendable {}

/// OpenSSL's low-level digest functions for one algorithm, on a context kept in raw memory (large
/// enough for the largest, SHA512_CTX). They are deprecated in OpenSSL 3 in favour of EVP, but remain
/// in libcrypto 3 and run the same block functions.
struct LowLevelDigest {
    static let contextSize = max(
        MemoryLayout<MD5_CTX>.size,
        MemoryLayout<SHA_CTX>.size,
        MemoryLayout<SHA256_CTX>.size,
        MemoryLayout<SHA512_CTX>.size
    )

    let auth: USMAuthProtocol

    init(_ auth: USMAuthProtocol) { self.auth = auth }

    /// The digest's input block: 64 octets, 128 for SHA-384 and SHA-512.
    var blockSize: Int {
        switch self.auth {
        case .sha384, .sha512: return 128
        default: return 64
        }
    }

    func start(_ context: UnsafeMutableRawPointer) {
        switch self.auth {
        case .md5: MD5_Init(context.assumingMemoryBound(to: MD5_CTX.self))
        case .sha1: SHA1_Init(context.assumingMemoryBound(to: SHA_CTX.self))
        case .sha224: SHA224_Init(context.assumingMemoryBound(to: SHA256_CTX.self))
        case .sha256: SHA256_Init(context.assumingMemoryBound(to: SHA256_CTX.self))
        case .sha384: SHA384_Init(context.assumingMemoryBound(to: SHA512_CTX.self))
        case .sha512: SHA512_Init(context.assumingMemoryBound(to: SHA512_CTX.self))
        }
    }

    func update(_ context: UnsafeMutableRawPointer, _ bytes: UnsafeRawPointer, _ count: Int) {
        guard count > 0 else { return }
        switch self.auth {
        case .md5: MD5_Update(context.assumingMemoryBound(to: MD5_CTX.self), bytes, count)
        case .sha1: SHA1_Update(context.assumingMemoryBound(to: SHA_CTX.self), bytes, count)
        case .sha224, .sha256: SHA256_Update(context.assumingMemoryBound(to: SHA256_CTX.self), bytes, count)
        case .sha384, .sha512: SHA512_Update(context.assumingMemoryBound(to: SHA512_CTX.self), bytes, count)
        }
    }

    func finish(_ context: UnsafeMutableRawPointer, into digest: UnsafeMutablePointer<UInt8>) {
        switch self.auth {
        case .md5: MD5_Final(digest, context.assumingMemoryBound(to: MD5_CTX.self))
        case .sha1: SHA1_Final(digest, context.assumingMemoryBound(to: SHA_CTX.self))
        case .sha224: SHA224_Final(digest, context.assumingMemoryBound(to: SHA256_CTX.self))
        case .sha256: SHA256_Final(digest, context.assumingMemoryBound(to: SHA256_CTX.self))
        case .sha384: SHA384_Final(digest, context.assumingMemoryBound(to: SHA512_CTX.self))
        case .sha512: SHA512_Final(digest, context.assumingMemoryBound(to: SHA512_CTX.self))
        }
    }
}
