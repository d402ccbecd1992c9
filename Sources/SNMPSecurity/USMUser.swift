//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOCore
import SNMPWire

/// Where a USM key comes from.
public enum USMSecret: Hashable, Sendable {
    /// A passphrase (at least 8 octets): the key is derived and localized per engine ID.
    case passphrase([UInt8])
    /// A key already localized to the engine ID it will be used with (`snmpd.conf`'s `createUser -l`).
    case localizedKey([UInt8])

    public static func passphrase(_ text: String) -> USMSecret { .passphrase(Array(text.utf8)) }
}

/// Why a user's configuration cannot be used.
public struct USMUserError: Error, Hashable, Sendable, CustomStringConvertible {
    public var description: String
}

/// A USM user as configured: a name and, for authentication and privacy, a protocol and a secret.
public struct USMUserConfiguration: Hashable, Sendable {
    public var name: String
    public var auth: (protocol: USMAuthProtocol, secret: USMSecret)? {
        get { self.authProtocol.map { ($0, self.authSecret!) } }
        set {
            self.authProtocol = newValue?.protocol
            self.authSecret = newValue?.secret
        }
    }
    public var privacy: (protocol: USMPrivacyProtocol, secret: USMSecret)? {
        get { self.privProtocol.map { ($0, self.privSecret!) } }
        set {
            self.privProtocol = newValue?.protocol
            self.privSecret = newValue?.secret
        }
    }
    private var authProtocol: USMAuthProtocol?
    private var authSecret: USMSecret?
    private var privProtocol: USMPrivacyProtocol?
    private var privSecret: USMSecret?

    public init(
        name: String,
        auth: (protocol: USMAuthProtocol, secret: USMSecret)? = nil,
        privacy: (protocol: USMPrivacyProtocol, secret: USMSecret)? = nil
    ) {
        self.name = name
        self.auth = auth
        self.privacy = privacy
    }

    /// The level this user is configured for.
    public var level: USMSecurityLevel {
        self.authProtocol == nil ? .noAuthNoPriv : (self.privProtocol == nil ? .authNoPriv : .authPriv)
    }

    /// Checks what can be checked without an engine ID: name length, passphrase lengths, privacy only
    /// with authentication, key lengths, cipher availability.
    public func validate() throws(USMUserError) {
        guard !self.name.isEmpty, self.name.utf8.count <= SNMPWireLimits.maximumUserNameLength else {
            throw USMUserError(description: "user name must be 1 to 32 octets")
        }
        if self.privProtocol != nil && self.authProtocol == nil {
            throw USMUserError(description: "user \(self.name): privacy needs authentication (RFC 3414 §3.1.1)")
        }
        if let (auth, secret) = self.auth {
            try Self.check(secret, what: "authentication", keyLength: auth.keyLength, user: self.name)
        }
        if let (priv, secret) = self.privacy, let auth = self.authProtocol {
            try Self.check(secret, what: "privacy", keyLength: auth.keyLength, user: self.name)
            do {
                _ = try OpenSSLAlgorithms.shared.cipher(priv)
            } catch {
                throw USMUserError(description: "user \(self.name): privacy \(priv.rawValue) unavailable: \(error)")
            }
        }
    }

    private static func check(_ secret: USMSecret, what: String, keyLength: Int, user: String) throws(USMUserError) {
        switch secret {
        case .passphrase(let bytes):
            guard bytes.count >= USMKeyDerivation.minimumPassphraseLength else {
                throw USMUserError(
                    description:
                        "user \(user): \(what) passphrase is \(bytes.count) characters; at least 8 are required (RFC 3414 §11.2)"
                )
            }
        case .localizedKey(let key):
            guard key.count == keyLength else {
                throw USMUserError(
                    description: "user \(user): localized \(what) key must be \(keyLength) octets, not \(key.count)"
                )
            }
        }
    }

    /// Derives the keys for `engineID` (about a millisecond per passphrase: 1 MiB is hashed).
    public func localized(to engineID: [UInt8]) throws(USMUserError) -> USMLocalizedUser {
        try self.validate()
        var authKey: [UInt8]? = nil
        var privKey: [UInt8]? = nil
        if let (auth, secret) = self.auth {
            authKey = Self.localize(secret, auth: auth, engineID: engineID)
            if let (priv, secret) = self.privacy {
                let localized = Self.localize(secret, auth: auth, engineID: engineID)
                privKey = USMKeyDerivation.privacyKey(localized: localized, engineID: engineID, auth: auth, priv: priv)
            }
        }
        return try USMLocalizedUser(
            name: self.name,
            auth: self.authProtocol,
            authKey: authKey,
            priv: self.privProtocol,
            privKey: privKey
        )
    }

    private static func localize(_ secret: USMSecret, auth: USMAuthProtocol, engineID: [UInt8]) -> [UInt8] {
        switch secret {
        case .passphrase(let passphrase):
            return USMKeyDerivation.localize(
                USMKeyDerivation.unsafePasswordToKey(passphrase, auth),
                engineID: engineID,
                auth
            )
        case .localizedKey(let key):
            return key
        }
    }

    public static func == (lhs: USMUserConfiguration, rhs: USMUserConfiguration) -> Bool {
        lhs.name == rhs.name && lhs.authProtocol == rhs.authProtocol && lhs.authSecret == rhs.authSecret
            && lhs.privProtocol == rhs.privProtocol && lhs.privSecret == rhs.privSecret
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.name)
        hasher.combine(self.authProtocol)
        hasher.combine(self.privProtocol)
    }
}

// MARK: - CustomStringConvertible (never prints secrets)

extension USMUserConfiguration: CustomStringConvertible {
    public var description: String {
        "USMUser(\(self.name), \(self.authProtocol?.rawValue ?? "noAuth"), \(self.privProtocol?.rawValue ?? "noPriv"))"
    }
}

/// A user with keys localized to one engine ID and the OpenSSL contexts prepared for them.
///
/// Not thread-safe (the contexts are mutable); ``copy()`` gives another event loop its own
/// contexts without deriving the keys again.
public final class USMLocalizedUser {
    public let name: String
    public let nameBytes: ByteBuffer
    public let auth: USMAuthProtocol?
    public let priv: USMPrivacyProtocol?
    let authKey: [UInt8]?
    let privKey: [UInt8]?
    let authenticator: HMACAuthenticator?
    let cipher: PrivacyCipher?

    init(
        name: String,
        auth: USMAuthProtocol?,
        authKey: [UInt8]?,
        priv: USMPrivacyProtocol?,
        privKey: [UInt8]?
    ) throws(USMUserError) {
        self.name = name
        self.nameBytes = ByteBuffer(string: name)
        self.auth = auth
        self.priv = priv
        self.authKey = authKey
        self.privKey = privKey
        if let auth, let authKey {
            self.authenticator = HMACAuthenticator(auth: auth, key: authKey)
        } else {
            self.authenticator = nil
        }
        if let priv, let privKey {
            do {
                self.cipher = try PrivacyCipher(priv: priv, keyMaterial: privKey)
            } catch {
                throw USMUserError(description: "user \(name): \(error)")
            }
        } else {
            self.cipher = nil
        }
    }

    /// The level this user is configured for.
    public var level: USMSecurityLevel {
        self.auth == nil ? .noAuthNoPriv : (self.priv == nil ? .authNoPriv : .authPriv)
    }

    /// Whether `other` has the same name, protocols and keys.
    public func hasSameKeys(as other: USMLocalizedUser) -> Bool {
        self.name == other.name && self.auth == other.auth && self.priv == other.priv && self.authKey == other.authKey
            && self.privKey == other.privKey
    }

    /// Fresh OpenSSL contexts for the same keys.
    public func copy() -> USMLocalizedUser {
        // The keys were accepted once; only context creation can fail, and it did not.
        try! USMLocalizedUser(
            name: self.name,
            auth: self.auth,
            authKey: self.authKey,
            priv: self.priv,
            privKey: self.privKey
        )
    }
}
