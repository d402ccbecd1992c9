//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import COpenSSL

/// Encryption and decryption of scoped PDUs with one privacy key (RFC 3414 §8, RFC 3826 §3,
/// draft-reeder-snmpv3-usm-3desede, draft-blumenthal-aes-usm-04).
///
/// DES and 3DES: two OpenSSL CBC contexts (one per direction) get the cipher and key once; each
/// message only sets its IV. AES-CFB128: one AES-ECB context with the key schedule, and the CFB
/// feedback done here. Re-initialising a CFB context for each message's IV cost more than the
/// encryption itself (OpenSSL's parameter handling), and CFB decryption's block-cipher inputs (IV,
/// then each ciphertext block but the last) are all known, so they go through AES in one call.
/// Not thread-safe: each event loop has its own.
final class PrivacyCipher {
    let priv: USMPrivacyProtocol
    /// DES/3DES: a CBC context per direction. AES: one ECB encryption context, used both ways.
    private let encryptor: OpaquePointer
    private let decryptor: OpaquePointer
    /// DES/3DES: the pre-IV, XORed with the salt (RFC 3414 §8.1.1.1).
    private let preIV: [UInt8]

    /// - Parameter keyMaterial: ``USMPrivacyProtocol/keyMaterialLength`` octets from ``USMKeyDerivation/privacyKey``.
    init(priv: USMPrivacyProtocol, keyMaterial: [UInt8]) throws(USMCryptoError) {
        precondition(keyMaterial.count == priv.keyMaterialLength)
        self.priv = priv
        let cipher = try OpenSSLAlgorithms.shared.cipher(priv)
        let key = Array(keyMaterial.prefix(priv.cipherKeyLength))
        self.preIV = priv.isBlockChained ? Array(keyMaterial[priv.cipherKeyLength..<(priv.cipherKeyLength + 8)]) : []
        // CFB decrypts with the block cipher's encryption, so AES needs only one context.
        let directions: [Int32] = priv.isBlockChained ? [1, 0] : [1]
        var contexts: [OpaquePointer] = []
        for encrypt in directions {
            guard let context = EVP_CIPHER_CTX_new() else {
                contexts.forEach { EVP_CIPHER_CTX_free($0) }
                throw USMCryptoError("EVP_CIPHER_CTX_new")
            }
            contexts.append(context)
            guard EVP_CipherInit_ex2(context, cipher, key, nil, encrypt, nil) == 1 else {
                contexts.forEach { EVP_CIPHER_CTX_free($0) }
                throw USMCryptoError("EVP_CipherInit_ex2(\(priv.cipherName))")
            }
            EVP_CIPHER_CTX_set_padding(context, 0)
        }
        self.encryptor = contexts[0]
        self.decryptor = contexts.last!
    }

    deinit {
        EVP_CIPHER_CTX_free(self.encryptor)
        if self.decryptor != self.encryptor { EVP_CIPHER_CTX_free(self.decryptor) }
    }

    /// The plaintext length rounded up to the cipher's block (CBC pads to 8 octets; CFB does not pad).
    func ciphertextLength(plaintext: Int) -> Int {
        self.priv.isBlockChained ? (plaintext + 7) / 8 * 8 : plaintext
    }

    /// The IV for a message: AES uses boots ‖ time ‖ salt (RFC 3826 §3.1.2.1), DES and 3DES the
    /// pre-IV XOR the salt.
    private func iv(
        boots: Int32,
        time: Int32,
        salt: UnsafeRawBufferPointer,
        into iv: UnsafeMutableRawBufferPointer
    ) -> Int {
        if self.priv.isBlockChained {
            for i in 0..<8 { iv[i] = self.preIV[i] ^ salt[i] }
            return 8
        }
        iv.storeBytes(of: UInt32(bitPattern: boots).bigEndian, toByteOffset: 0, as: UInt32.self)
        iv.storeBytes(of: UInt32(bitPattern: time).bigEndian, toByteOffset: 4, as: UInt32.self)
        for i in 0..<8 { iv[8 + i] = salt[i] }
        return 16
    }

    /// Encrypts `plaintext` (already padded by the caller for CBC) into `output`; returns the length.
    func encrypt(
        _ plaintext: UnsafeRawBufferPointer,
        boots: Int32,
        time: Int32,
        salt: UnsafeRawBufferPointer,
        into output: UnsafeMutableRawBufferPointer
    ) -> Int {
        if !self.priv.isBlockChained {
            return self.cfb(encrypt: true, plaintext, boots: boots, time: time, salt: salt, into: output)
        }
        return self.run(self.encryptor, encrypt: 1, plaintext, boots: boots, time: time, salt: salt, into: output)
    }

    /// Decrypts `ciphertext` into `output` (at least as long); nil when the length is impossible for the cipher.
    func decrypt(
        _ ciphertext: UnsafeRawBufferPointer,
        boots: Int32,
        time: Int32,
        salt: UnsafeRawBufferPointer,
        into output: UnsafeMutableRawBufferPointer
    ) -> Int? {
        guard self.priv.isBlockChained else {
            return self.cfb(encrypt: false, ciphertext, boots: boots, time: time, salt: salt, into: output)
        }
        if ciphertext.count % 8 != 0 { return nil }
        return self.run(self.decryptor, encrypt: 0, ciphertext, boots: boots, time: time, salt: salt, into: output)
    }

    private func run(
        _ context: OpaquePointer,
        encrypt: Int32,
        _ input: UnsafeRawBufferPointer,
        boots: Int32,
        time: Int32,
        salt: UnsafeRawBufferPointer,
        into output: UnsafeMutableRawBufferPointer
    ) -> Int {
        precondition(salt.count == 8 && output.count >= input.count)
        return withUnsafeTemporaryAllocation(byteCount: 16, alignment: 1) { iv in
            _ = self.iv(boots: boots, time: time, salt: salt, into: iv)
            // Only the IV changes: the key schedule set up in init is kept.
            precondition(EVP_CipherInit_ex2(context, nil, nil, iv.baseAddress, encrypt, nil) == 1)
            var written: Int32 = 0
            if input.count > 0 {
                precondition(
                    EVP_CipherUpdate(
                        context,
                        output.baseAddress!.assumingMemoryBound(to: UInt8.self),
                        &written,
                        input.baseAddress!.assumingMemoryBound(to: UInt8.self),
                        Int32(input.count)
                    ) == 1
                )
            }
            var final: Int32 = 0
            precondition(
                EVP_CipherFinal_ex(
                    context,
                    output.baseAddress!.assumingMemoryBound(to: UInt8.self) + Int(written),
                    &final
                ) == 1
            )
            return Int(written + final)
        }
    }

    /// AES in CFB128 mode (NIST SP 800-38A §6.3) on the ECB context: Cᵢ = Pᵢ ⊕ AES(Cᵢ₋₁), C₀ = IV, the
    /// last block possibly partial.
    private func cfb(
        encrypt: Bool,
        _ input: UnsafeRawBufferPointer,
        boots: Int32,
        time: Int32,
        salt: UnsafeRawBufferPointer,
        into output: UnsafeMutableRawBufferPointer
    ) -> Int {
        precondition(salt.count == 8 && output.count >= input.count)
        let count = input.count
        guard count > 0 else { return 0 }
        let blocks = (count + 15) / 16
        return withUnsafeTemporaryAllocation(byteCount: 16 * blocks, alignment: 16) { keystream in
            let stream = keystream.baseAddress!.assumingMemoryBound(to: UInt8.self)
            let source = input.baseAddress!.assumingMemoryBound(to: UInt8.self)
            let target = output.baseAddress!.assumingMemoryBound(to: UInt8.self)
            var written: Int32 = 0
            // The first block's keystream: AES(IV), encrypted in place.
            _ = self.iv(
                boots: boots,
                time: time,
                salt: salt,
                into: UnsafeMutableRawBufferPointer(rebasing: keystream[0..<16])
            )
            precondition(EVP_EncryptUpdate(self.encryptor, stream, &written, stream, 16) == 1)
            if encrypt {
                // Each block's keystream needs the ciphertext block before it: one block at a time.
                for block in 0..<blocks {
                    let start = 16 * block
                    let end = min(count, start + 16)
                    for i in start..<end { target[i] = source[i] ^ stream[i] }
                    if block + 1 < blocks {
                        precondition(
                            EVP_EncryptUpdate(self.encryptor, stream + start + 16, &written, target + start, 16) == 1
                        )
                    }
                }
            } else {
                // Every keystream block but the first is AES of a ciphertext block already here: one call.
                if blocks > 1 {
                    precondition(
                        EVP_EncryptUpdate(self.encryptor, stream + 16, &written, source, Int32(16 * (blocks - 1))) == 1
                    )
                }
                for i in 0..<count { target[i] = source[i] ^ stream[i] }
            }
            return count
        }
    }
}
