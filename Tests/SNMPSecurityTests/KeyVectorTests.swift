//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import Testing

@testable import SNMPSecurity

func unhex(_ text: String) -> [UInt8] {
    EngineStateStore.unhex(Substring(text))!
}

func hexString(_ bytes: [UInt8]) -> String {
    bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
}

@Suite("USM key derivation")
struct KeyVectorTests {
    static let rfcEngineID = unhex("000000000000000000000002")

    /// RFC 3414 A.3.1/A.3.2 and the SHA-2 rows of ../shared/reference/standards.md §3.5 ("maplesyrup").
    static let vectors: [(USMAuthProtocol, String, String)] = [
        (.md5, "9faf3283884e92834ebc9847d8edd963", "526f5eed9fcce26f8964c2930787d82b"),
        (.sha1, "9fb5cc0381497b3793528939ff788d5d79145211", "6695febc9288e36282235fc7151f128497b38f3f"),
        (
            .sha224, "282a5867ee9aac639ad59df9572c7d3ac0fbc13a905b6df07dbbf00b",
            "0bd8827c6e29f8065e08e09237f177e410f69b90e1782be682075674"
        ),
        (
            .sha256, "ab51014d1e077f6017df2b12bee5f5aa72993177e9bb569c4dff5a4ca0b4afac",
            "8982e0e549e866db361a6b625d84cccc11162d453ee8ce3a6445c2d6776f0f8b"
        ),
        (
            .sha384,
            "e06eccdf2c68a06ed034723c9c26e0db3b669e1e2efed49150b55377a2e98f383c86fb836857444654b287c93f51ff64",
            "3b298f16164a11184279d5432bf169e2d2a48307de02b3d3f7e2b4f36eb6f0455a53689a3937eea07319a633d2ccba78"
        ),
        (
            .sha512,
            "7e4396de5aadc77be853819b98c9406265b3a9c37cc3176569847a4e4f6fba63dd3a73d04924d31a63f95a601f9385af6be4ed1b37f87d040f7c6ed6f8d38a91",
            "22a5a36cedfcc085807a128d7bc6c2382167ad6c0dbc5fdff856740f3d84c099ad1ea87a8db096714d9788bd544047c9021e4229ce27e4c0a69250adfcffbb0b"
        ),
    ]

    @Test("password to key and localization", arguments: vectors)
    func passwordToKey(auth: USMAuthProtocol, ku: String, kul: String) throws {
        let key = try USMKeyDerivation.passwordToKey(Array("maplesyrup".utf8), auth)
        #expect(hexString(key) == ku)
        #expect(key.count == auth.keyLength)
        #expect(hexString(USMKeyDerivation.localize(key, engineID: Self.rfcEngineID, auth)) == kul)
    }

    @Test("passphrases under 8 characters are refused")
    func weakPassphrase() {
        #expect(throws: USMKeyDerivation.WeakPassphrase(length: 7)) {
            try USMKeyDerivation.passwordToKey(Array("1234567".utf8), .sha256)
        }
        #expect((try? USMKeyDerivation.passwordToKey(Array("12345678".utf8), .sha256))?.count == 32)
    }

    /// standards.md §3.7: extended AES-256 keys, accepted by Net-SNMP 5.9.3.
    static let extended: [(USMAuthProtocol, String, String, USMPrivacyProtocol, String)] = [
        (
            .sha1, "maplesyrup", "000000000000000000000002", .aes256,
            "6695febc9288e36282235fc7151f128497b38f3f505e07eb9af25568fa1f5dbe"
        ),
        (
            .sha1, "maplesyrup", "000000000000000000000002", .aes256Cisco,
            "6695febc9288e36282235fc7151f128497b38f3f9b8b6d78936ba6e7d19dfd9c"
        ),
        (
            .md5, "maplesyrup", "000000000000000000000002", .aes256,
            "526f5eed9fcce26f8964c2930787d82bfa24a92467426c2f4b09192be10dfaec"
        ),
        (
            .md5, "maplesyrup", "000000000000000000000002", .aes256Cisco,
            "526f5eed9fcce26f8964c2930787d82b79eff44a90650ee0a3a40abfac5acc12"
        ),
        (
            .sha1, "privpass123", "80001f880470726f787966726f6e74", .aes256,
            "e93462785f36afcdf28c4682b17011d9fa2a7d03f508c1b347acdaee1f6cfe3c"
        ),
        (
            .sha1, "privpass123", "80001f880470726f787966726f6e74", .aes256Cisco,
            "e93462785f36afcdf28c4682b17011d9fa2a7d033c75390cc53110b38f80057c"
        ),
    ]

    @Test("AES-256 key extension, both variants", arguments: extended)
    func keyExtension(
        auth: USMAuthProtocol,
        password: String,
        engineID: String,
        priv: USMPrivacyProtocol,
        expected: String
    ) throws {
        let engine = unhex(engineID)
        let localized = USMKeyDerivation.localize(
            try USMKeyDerivation.passwordToKey(Array(password.utf8), auth),
            engineID: engine,
            auth
        )
        let key = USMKeyDerivation.privacyKey(localized: localized, engineID: engine, auth: auth, priv: priv)
        #expect(hexString(key) == expected)
    }

    @Test("no extension when the hash is long enough; truncation to the cipher's need")
    func noExtensionWhenLongEnough() throws {
        let engine = Self.rfcEngineID
        let localized = USMKeyDerivation.localize(
            try USMKeyDerivation.passwordToKey(Array("maplesyrup".utf8), .sha512),
            engineID: engine,
            .sha512
        )
        for priv in USMPrivacyProtocol.allCases {
            let key = USMKeyDerivation.privacyKey(localized: localized, engineID: engine, auth: .sha512, priv: priv)
            #expect(key == Array(localized.prefix(priv.keyMaterialLength)), "\(priv)")
        }
    }

    @Test("protocol names as Net-SNMP writes them")
    func names() {
        #expect(USMAuthProtocol(name: "sha") == .sha1)
        #expect(USMAuthProtocol(name: "SHA-512") == .sha512)
        #expect(USMAuthProtocol(name: "SHA256") == .sha256)
        #expect(USMAuthProtocol(name: "SHA-3") == nil)
        #expect(USMPrivacyProtocol(name: "AES") == .aes128)
        #expect(USMPrivacyProtocol(name: "aes-256-c") == .aes256Cisco)
        #expect(USMPrivacyProtocol(name: "AES256C") == .aes256Cisco)
        #expect(USMPrivacyProtocol(name: "AES-192") == .aes192)
        #expect(USMPrivacyProtocol(name: "3DES") == .tripleDES)
        #expect(USMPrivacyProtocol(name: "blowfish") == nil)
        #expect(USMAuthProtocol.allCases.map(\.macLength) == [12, 12, 16, 24, 32, 48])
        #expect(USMAuthProtocol.sha256.oid.description == "1.3.6.1.6.3.10.1.1.5")
    }
}
