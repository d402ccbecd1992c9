//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import SNMPWire

/// USM authentication protocols (RFC 3414 §6, §7; RFC 7860).
public enum USMAuthProtocol: String, Hashable, Sendable, CaseIterable {
    case md5 = "MD5"
    case sha1 = "SHA"
    case sha224 = "SHA-224"
    case sha256 = "SHA-256"
    case sha384 = "SHA-384"
    case sha512 = "SHA-512"

    /// Parses the names Net-SNMP accepts (`SHA`, `SHA1`, `SHA-1`, `SHA-256`, `SHA256`, …), case-insensitively.
    public init?(name: String) {
        switch name.uppercased().filter({ $0 != "-" }) {
        case "MD5": self = .md5
        case "SHA", "SHA1": self = .sha1
        case "SHA224": self = .sha224
        case "SHA256": self = .sha256
        case "SHA384": self = .sha384
        case "SHA512": self = .sha512
        default: return nil
        }
    }

    /// The OpenSSL digest name.
    var digestName: String {
        switch self {
        case .md5: return "MD5"
        case .sha1: return "SHA1"
        case .sha224: return "SHA224"
        case .sha256: return "SHA256"
        case .sha384: return "SHA384"
        case .sha512: return "SHA512"
        }
    }

    /// Length of a localized key: the digest size (RFC 3414 A.2, RFC 7860 §4.1).
    public var keyLength: Int {
        switch self {
        case .md5: return 16
        case .sha1: return 20
        case .sha224: return 28
        case .sha256: return 32
        case .sha384: return 48
        case .sha512: return 64
        }
    }

    /// Length of msgAuthenticationParameters: HMAC-MD5-96 and HMAC-SHA-96 keep 12 octets, the RFC 7860
    /// protocols 16, 24, 32 and 48.
    public var macLength: Int {
        switch self {
        case .md5, .sha1: return 12
        case .sha224: return 16
        case .sha256: return 24
        case .sha384: return 32
        case .sha512: return 48
        }
    }

    /// usmHMACMD5AuthProtocol … usmHMAC384SHA512AuthProtocol (1.3.6.1.6.3.10.1.1.2–7).
    public var oid: OID {
        let arc: UInt32
        switch self {
        case .md5: arc = 2
        case .sha1: arc = 3
        case .sha224: arc = 4
        case .sha256: arc = 5
        case .sha384: arc = 6
        case .sha512: arc = 7
        }
        return OID(arcs: [1, 3, 6, 1, 6, 3, 10, 1, 1, arc])!
    }
}

/// USM privacy protocols, named as Net-SNMP names them.
///
/// AES-192 and AES-256 come with two incompatible ways to make a key long enough from a shorter
/// localized key: `AES-192`/`AES-256` extend it as Net-SNMP does by default (draft-blumenthal-aes-usm-04),
/// `AES-192-C`/`AES-256-C` as Cisco and most vendors do (draft-reeder-snmpv3-usm-3desede). The
/// variant matters only when the authentication hash is shorter than the cipher key.
public enum USMPrivacyProtocol: String, Hashable, Sendable, CaseIterable {
    /// CBC-DES (RFC 3414 §8).
    case des = "DES"
    /// 3DES-EDE in CBC mode (draft-reeder-snmpv3-usm-3desede).
    case tripleDES = "3DES"
    /// AES-128 in CFB128 mode (RFC 3826).
    case aes128 = "AES"
    case aes192 = "AES-192"
    case aes256 = "AES-256"
    case aes192Cisco = "AES-192-C"
    case aes256Cisco = "AES-256-C"

    /// Parses Net-SNMP's names (`AES`, `AES-128`, `AES192`, `AES-256-C`, `AES256C`, `DES`, `3DES`), case-insensitively.
    public init?(name: String) {
        switch name.uppercased().filter({ $0 != "-" }) {
        case "DES": self = .des
        case "3DES", "3DESEDE", "DESEDE": self = .tripleDES
        case "AES", "AES128": self = .aes128
        case "AES192": self = .aes192
        case "AES256": self = .aes256
        case "AES192C": self = .aes192Cisco
        case "AES256C": self = .aes256Cisco
        default: return nil
        }
    }

    /// Key material needed: the cipher key, plus the pre-IV for the CBC protocols.
    public var keyMaterialLength: Int {
        switch self {
        case .des: return 16  // 8 key + 8 pre-IV
        case .tripleDES: return 32  // 24 key + 8 pre-IV
        case .aes128: return 16
        case .aes192, .aes192Cisco: return 24
        case .aes256, .aes256Cisco: return 32
        }
    }

    /// The cipher key length.
    var cipherKeyLength: Int {
        switch self {
        case .des: return 8
        case .tripleDES: return 24
        default: return self.keyMaterialLength
        }
    }

    /// How a localized key shorter than ``keyMaterialLength`` is extended.
    var keyExtension: USMKeyExtension {
        switch self {
        case .aes192, .aes256: return .blumenthal
        case .des, .aes128: return .none
        case .tripleDES, .aes192Cisco, .aes256Cisco: return .reeder
        }
    }

    /// True for the CBC ciphers, whose salt is boots ‖ counter and whose plaintext is padded.
    var isBlockChained: Bool { self == .des || self == .tripleDES }

    /// The OpenSSL cipher ``PrivacyCipher`` runs on: CBC for DES and 3DES; for AES, ECB, on which
    /// PrivacyCipher does the CFB128 feedback itself.
    var cipherName: String {
        switch self {
        case .des: return "DES-CBC"
        case .tripleDES: return "DES-EDE3-CBC"
        case .aes128: return "AES-128-ECB"
        case .aes192, .aes192Cisco: return "AES-192-ECB"
        case .aes256, .aes256Cisco: return "AES-256-ECB"
        }
    }
}

/// Ways to lengthen a localized key for a cipher that needs more bits than the hash gives.
enum USMKeyExtension {
    /// The key is used as it is (truncated).
    case none
    /// draft-blumenthal-aes-usm-04 §3.1.2.1: `K ‖= H(K)` until long enough.
    case blumenthal
    /// draft-reeder-snmpv3-usm-3desede §2.1: `K ‖= localize(passwordToKey(last chunk))` until long enough.
    case reeder
}

/// securityLevel (RFC 3411 §5).
public enum USMSecurityLevel: Int, Hashable, Sendable, Comparable, CustomStringConvertible {
    case noAuthNoPriv = 1
    case authNoPriv = 2
    case authPriv = 3

    /// The level msgFlags ask for; nil for privacy without authentication (invalid, RFC 3412 §7.2 step 5d).
    public init?(flags: SNMPv3Flags) {
        switch (flags.contains(.authenticated), flags.contains(.privacy)) {
        case (false, false): self = .noAuthNoPriv
        case (true, false): self = .authNoPriv
        case (true, true): self = .authPriv
        case (false, true): return nil
        }
    }

    /// The auth and priv bits of msgFlags for this level.
    public var flags: SNMPv3Flags {
        switch self {
        case .noAuthNoPriv: return []
        case .authNoPriv: return [.authenticated]
        case .authPriv: return [.authenticated, .privacy]
        }
    }

    public static func < (lhs: USMSecurityLevel, rhs: USMSecurityLevel) -> Bool {
        lhs.rawValue < rhs.rawValue
    }

    public var description: String {
        switch self {
        case .noAuthNoPriv: return "noAuthNoPriv"
        case .authNoPriv: return "authNoPriv"
        case .authPriv: return "authPriv"
        }
    }
}
