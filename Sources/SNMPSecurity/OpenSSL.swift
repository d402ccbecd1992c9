//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import COpenSSL

/// A cryptographic operation failed inside OpenSSL, or an algorithm is not available.
public struct USMCryptoError: Error, Hashable, Sendable, CustomStringConvertible {
    public var description: String

    init(_ what: String) {
        var text = what
        let code = ERR_get_error()
        if code != 0 {
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            text += ": " + String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        ERR_clear_error()
        self.description = text
    }
}

/// OpenSSL 3 algorithms, fetched once for the process.
///
/// Single DES lives only in OpenSSL's legacy provider, so a private library context loads "legacy"
/// and "default" and every algorithm is fetched from it; nothing touches the process-wide default
/// context. Fetching is expensive (a provider lookup and a lock), so it happens here and never per
/// message.
final class OpenSSLAlgorithms: @unchecked Sendable {
    // @unchecked: every stored property is set once in init and never mutated; OpenSSL's fetched
    // algorithm objects are immutable and safe to share between threads.
    let libraryContext: OpaquePointer
    private let digests: [USMAuthProtocol: OpaquePointer]
    private let ciphers: [String: OpaquePointer]
    /// Why a cipher could not be fetched (DES without the legacy provider, say).
    private let cipherErrors: [String: String]

    static let shared: OpenSSLAlgorithms = {
        do {
            return try OpenSSLAlgorithms()
        } catch {
            fatalError("OpenSSL 3 libcrypto is unusable: \(error)")
        }
    }()

    private init() throws {
        guard let context = OSSL_LIB_CTX_new() else { throw USMCryptoError("OSSL_LIB_CTX_new") }
        self.libraryContext = context
        // The default provider must be loaded explicitly once a context loads any provider.
        guard OSSL_PROVIDER_load(context, "default") != nil else {
            throw USMCryptoError("loading the default provider")
        }
        let legacyLoaded = OSSL_PROVIDER_load(context, "legacy") != nil
        ERR_clear_error()
        var digests: [USMAuthProtocol: OpaquePointer] = [:]
        for auth in USMAuthProtocol.allCases {
            guard let md = EVP_MD_fetch(context, auth.digestName, nil) else {
                throw USMCryptoError("EVP_MD_fetch(\(auth.digestName))")
            }
            digests[auth] = md
        }
        self.digests = digests
        var ciphers: [String: OpaquePointer] = [:]
        var errors: [String: String] = [:]
        for priv in USMPrivacyProtocol.allCases where ciphers[priv.cipherName] == nil && errors[priv.cipherName] == nil
        {
            let name = priv.cipherName
            if let cipher = EVP_CIPHER_fetch(context, name, nil) {
                ciphers[name] = cipher
            } else {
                let reason = USMCryptoError("EVP_CIPHER_fetch(\(name))").description
                errors[name] =
                    priv == .des && !legacyLoaded ? reason + " (OpenSSL's legacy provider is not installed)" : reason
            }
        }
        self.ciphers = ciphers
        self.cipherErrors = errors
    }

    func digest(_ auth: USMAuthProtocol) -> OpaquePointer {
        self.digests[auth]!
    }

    func cipher(_ priv: USMPrivacyProtocol) throws(USMCryptoError) -> OpaquePointer {
        if let cipher = self.ciphers[priv.cipherName] { return cipher }
        throw USMCryptoError(self.cipherErrors[priv.cipherName] ?? "cipher \(priv.cipherName) unavailable")
    }

    /// Fills `count` bytes from OpenSSL's CSPRNG.
    static func randomBytes(_ count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        guard RAND_bytes(&bytes, Int32(count)) == 1 else { fatalError("RAND_bytes failed") }
        return bytes
    }
}

/// Hashes `data` with `auth`'s digest (one-shot; for key derivation, not the message path).
func digest(_ auth: USMAuthProtocol, _ parts: [[UInt8]]) -> [UInt8] {
    let context = EVP_MD_CTX_new()!
    defer { EVP_MD_CTX_free(context) }
    precondition(EVP_DigestInit_ex2(context, OpenSSLAlgorithms.shared.digest(auth), nil) == 1)
    for part in parts {
        part.withUnsafeBytes { _ = EVP_DigestUpdate(context, $0.baseAddress, $0.count) }
    }
    var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
    var length: UInt32 = 0
    precondition(EVP_DigestFinal_ex(context, &out, &length) == 1)
    return Array(out.prefix(Int(length)))
}
