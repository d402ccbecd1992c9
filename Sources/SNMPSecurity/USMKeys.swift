//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import COpenSSL

/// USM key derivation (RFC 3414 §2.6 and A.2, RFC 7860 §4.1, and the AES/3DES key extensions).
public enum USMKeyDerivation {
    /// The shortest passphrase accepted (RFC 3414 §11.2: "at least 8 characters").
    public static let minimumPassphraseLength = 8

    /// A passphrase was refused.
    public struct WeakPassphrase: Error, Hashable, Sendable, CustomStringConvertible {
        public var length: Int
        public var description: String {
            "passphrase is \(self.length) characters; USM requires at least \(USMKeyDerivation.minimumPassphraseLength) (RFC 3414 §11.2)"
        }
    }

    /// Ku: the digest of 1,048,576 octets of the passphrase repeated (RFC 3414 A.2.1/A.2.2).
    public static func passwordToKey(_ passphrase: [UInt8], _ auth: USMAuthProtocol) throws(WeakPassphrase) -> [UInt8] {
        guard passphrase.count >= Self.minimumPassphraseLength else { throw WeakPassphrase(length: passphrase.count) }
        return Self.unsafePasswordToKey(passphrase, auth)
    }

    /// Ku without the length check: the Reeder key extension feeds a key back in as a "password".
    static func unsafePasswordToKey(_ passphrase: [UInt8], _ auth: USMAuthProtocol) -> [UInt8] {
        precondition(!passphrase.isEmpty)
        let context = EVP_MD_CTX_new()!
        defer { EVP_MD_CTX_free(context) }
        precondition(EVP_DigestInit_ex2(context, OpenSSLAlgorithms.shared.digest(auth), nil) == 1)
        // Hash the passphrase repeated, 64 octets at a time, up to 1 MiB.
        let total = 1_048_576
        let blockLength = 64
        // One period of the repeated passphrase as long as a block or more, so any block is a slice of it.
        var pattern: [UInt8] = []
        while pattern.count < blockLength + passphrase.count { pattern += passphrase }
        var offset = 0
        var hashed = 0
        pattern.withUnsafeBytes { bytes in
            while hashed < total {
                _ = EVP_DigestUpdate(context, bytes.baseAddress! + offset, blockLength)
                hashed += blockLength
                offset = (offset + blockLength) % passphrase.count
            }
        }
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        precondition(EVP_DigestFinal_ex(context, &out, &length) == 1)
        return Array(out.prefix(Int(length)))
    }

    /// Kul = H(Ku ‖ engineID ‖ Ku) (RFC 3414 §2.6).
    public static func localize(_ key: [UInt8], engineID: [UInt8], _ auth: USMAuthProtocol) -> [UInt8] {
        digest(auth, [key, engineID, key])
    }

    /// The key material a privacy protocol needs, from the localized privacy key: truncated when
    /// long enough, extended as the protocol's variant says when not (Net-SNMP skips the extension
    /// when the key is already long enough, and so do we).
    public static func privacyKey(
        localized: [UInt8],
        engineID: [UInt8],
        auth: USMAuthProtocol,
        priv: USMPrivacyProtocol
    ) -> [UInt8] {
        let needed = priv.keyMaterialLength
        var key = localized
        if key.count < needed {
            switch priv.keyExtension {
            case .none:
                preconditionFailure("\(priv) needs no extension")
            case .blumenthal:
                // draft-blumenthal-aes-usm-04 §3.1.2.1: Kul ‖ H(Kul) ‖ H(Kul ‖ H(Kul)) …
                while key.count < needed { key += digest(auth, [key]) }
            case .reeder:
                // draft-reeder-snmpv3-usm-3desede §2.1: Kul2 = localize(passwordToKey(Kul)), appended.
                var last = localized
                while key.count < needed {
                    last = Self.localize(Self.unsafePasswordToKey(last, auth), engineID: engineID, auth)
                    key += last
                }
            }
        }
        return Array(key.prefix(needed))
    }
}
