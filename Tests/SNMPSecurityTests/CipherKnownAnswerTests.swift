//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import Foundation
import NIOCore
import SNMPWire
import Testing

@testable import SNMPSecurity

@Suite("Cipher and MAC known answers")
struct CipherKnownAnswerTests {
    /// Ciphertexts of bytes 0…31 under the USM IV rules (boots 5, time 1234, salt 0102030405060708),
    /// computed independently with Python's `cryptography` (AES-CFB128; DES/3DES-CBC with IV = pre-IV ⊕ salt).
    static let vectors: [(USMPrivacyProtocol, String, String)] = [
        (
            .aes128, "101112131415161718191a1b1c1d1e1f",
            "d41cadb5f7ac5aa37bd75bf171f28f300a6ccffe77e8b43815ab5e0c31ee7652"
        ),
        (
            .aes192, "101112131415161718191a1b1c1d1e1f2021222324252627",
            "7ea2760948b66c113faeda47bb3a2eff32a546e1b04b78eafd233cd3668f7df3"
        ),
        (
            .aes256Cisco, "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f",
            "4eceee948017806fe0998b013c32497e3c5d0e804d4761a1c079d32fd55b7c9e"
        ),
        (.des, "202122232425262728292a2b2c2d2e2f", "11987ba3e71492626a78aa157518113d46a2b1727d93932fb99e722c0c281429"),
        (
            .tripleDES, "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f",
            "502583cf34340524544fd92030f961365b623797b81cda656f47799287024fc8"
        ),
    ]

    @Test("encryption matches an independent implementation, and decrypts back", arguments: vectors)
    func knownAnswer(priv: USMPrivacyProtocol, key: String, expected: String) throws {
        let cipher = try PrivacyCipher(priv: priv, keyMaterial: unhex(key))
        let plaintext = [UInt8](0..<32)
        let salt = unhex("0102030405060708")
        var ciphertext = [UInt8](repeating: 0, count: 32)
        for _ in 0..<2 {  // twice through the same context: the IV is reset each time
            let n = plaintext.withUnsafeBytes { input in
                salt.withUnsafeBytes { s in
                    ciphertext.withUnsafeMutableBytes { cipher.encrypt(input, boots: 5, time: 1234, salt: s, into: $0) }
                }
            }
            #expect(n == 32)
            #expect(hexString(ciphertext) == expected)
        }
        var decrypted = [UInt8](repeating: 0, count: 32)
        let m = ciphertext.withUnsafeBytes { input in
            salt.withUnsafeBytes { s in
                decrypted.withUnsafeMutableBytes { cipher.decrypt(input, boots: 5, time: 1234, salt: s, into: $0) }
            }
        }
        #expect(m == 32 && decrypted == plaintext)
        if priv.isBlockChained {
            let odd = [UInt8](repeating: 0, count: 7)
            let refused = odd.withUnsafeBytes { input in
                salt.withUnsafeBytes { s in
                    decrypted.withUnsafeMutableBytes { cipher.decrypt(input, boots: 5, time: 1234, salt: s, into: $0) }
                }
            }
            #expect(refused == nil, "CBC ciphertext must be whole blocks")
        }
    }

    /// CFB is a stream mode: the encryption of a prefix is the prefix of the encryption. With the
    /// full-block answers above, that pins down every partial last block, and longer messages must
    /// agree with their own prefixes and decrypt back.
    @Test("AES-CFB of every length agrees with the known answers' prefixes", arguments: vectors.prefix(3))
    func partialBlocks(priv: USMPrivacyProtocol, key: String, expected: String) throws {
        let cipher = try PrivacyCipher(priv: priv, keyMaterial: unhex(key))
        let salt = unhex("0102030405060708")
        let long = (0..<100).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let plaintext = [UInt8](0..<32) + long[32...]
        func seal(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
            var out = [UInt8](repeating: 0, count: bytes.count)
            let n = Array(bytes).withUnsafeBytes { input in
                salt.withUnsafeBytes { s in
                    out.withUnsafeMutableBytes { cipher.encrypt(input, boots: 5, time: 1234, salt: s, into: $0) }
                }
            }
            #expect(n == bytes.count)
            return out
        }
        let whole = seal(plaintext[...])
        #expect(hexString(Array(whole.prefix(32))) == expected)
        for length in 0...plaintext.count {
            let sealed = seal(plaintext[0..<length])
            #expect(sealed == Array(whole.prefix(length)), "length \(length)")
            var opened = [UInt8](repeating: 0, count: length)
            let m = sealed.withUnsafeBytes { input in
                salt.withUnsafeBytes { s in
                    opened.withUnsafeMutableBytes { cipher.decrypt(input, boots: 5, time: 1234, salt: s, into: $0) }
                }
            }
            #expect(m == length && opened == Array(plaintext.prefix(length)), "length \(length)")
        }
    }

    /// RFC 2202 and RFC 4231 test case 2 (key "Jefe", data "what do ya want for nothing?"); the MAC is
    /// the digest's first macLength octets. Also matches `openssl dgst -hmac Jefe`.
    static let hmacVectors: [(USMAuthProtocol, String)] = [
        (.md5, "750c783e6ab0b503eaa86e310a5db738"),
        (.sha1, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"),
        (.sha224, "a30e01098bc6dbbf45690f3a7e9e6d0f8bbea2a39e6148008fd05e44"),
        (.sha256, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        (
            .sha384,
            "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649"
        ),
        (
            .sha512,
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
        ),
    ]

    @Test(
        "HMAC matches the RFC 2202 / RFC 4231 vectors, again and again from the same keyed state",
        arguments: hmacVectors
    )
    func hmacKnownAnswer(auth: USMAuthProtocol, expected: String) {
        let authenticator = HMACAuthenticator(auth: auth, key: Array("Jefe".utf8))
        let data = Array("what do ya want for nothing?".utf8)
        for _ in 0..<3 {
            var mac = [UInt8](repeating: 0, count: auth.macLength)
            data.withUnsafeBytes { message in
                mac.withUnsafeMutableBytes { authenticator.mac(message, zeroing: 0..<0, into: $0) }
            }
            #expect(hexString(mac) == String(expected.prefix(2 * auth.macLength)))
        }
        // The zeroed range is hashed as zeros whatever it holds.
        let dirty = data + [UInt8](repeating: 0xff, count: 12)
        let clean = data + [UInt8](repeating: 0, count: 12)
        var macs: [[UInt8]] = []
        for bytes in [dirty, clean] {
            var mac = [UInt8](repeating: 0, count: auth.macLength)
            bytes.withUnsafeBytes { message in
                mac.withUnsafeMutableBytes {
                    authenticator.mac(message, zeroing: data.count..<(data.count + 12), into: $0)
                }
            }
            macs.append(mac)
        }
        #expect(macs[0] == macs[1])
    }

    /// The authPriv request snmpget sent to snmpd while the fixtures were captured (SHA-256, AES-128).
    @Test("Net-SNMP's own authPriv request: our MAC check and decryption agree with snmpd")
    func netSNMPCapturedRequest() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("SNMPWireTests/Fixtures/v3-authpriv-get-request.hex").path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var hexText = ""
        var plaintextHex = ""
        var inPlaintext = false
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# usm-decrypted-scopedPDU-hex") {
                inPlaintext = true
                continue
            }
            if line.hasPrefix("#   ") && inPlaintext {
                plaintextHex += line.dropFirst(4)
                continue
            }
            inPlaintext = false
            if !line.hasPrefix("#") { hexText += line }
        }
        let datagram = ByteBuffer(bytes: unhex(hexText))
        guard case .v3(let message) = try SNMPMessage(decoding: datagram), let usm = message.usm else {
            Issue.record("not v3")
            return
        }
        let engineID = Array(usm.authoritativeEngineID.readableBytesView)
        let user = USMUserConfiguration(
            name: "fixuser",
            auth: (.sha256, .passphrase("authpass123")),
            privacy: (.aes128, .passphrase("privpass123"))
        )
        let keys = try user.localized(to: engineID)
        #expect(hexString(keys.authKey!) == "5dd56628df5a0e06a9ae212426d97be28b17171e85c03660132636bb572692d0")
        #expect(hexString(keys.privKey!) == "8a487c8e99cb9680bca08c4c27952caf")
        let range = try #require(message.wireLayout?.authenticationParameters)
        #expect(datagram.withUnsafeReadableBytes { keys.authenticator!.verify($0, macRange: range) })
        // One flipped bit anywhere and the MAC no longer verifies.
        var tampered = datagram
        tampered.setInteger(tampered.getInteger(at: 40, as: UInt8.self)! ^ 1, at: 40)
        #expect(!tampered.withUnsafeReadableBytes { keys.authenticator!.verify($0, macRange: range) })

        // And an engine with that identity accepts it as snmpd did (time taken from the message).
        var engine = try USMAuthoritativeEngine(
            identity: EngineIdentity(engineID: engineID, boots: usm.authoritativeEngineBoots),
            users: [user]
        )
        guard
            case .accept(let request) = engine.receive(
                message,
                datagram: datagram,
                engineTime: usm.authoritativeEngineTime
            )
        else {
            Issue.record("engine refused Net-SNMP's request")
            return
        }
        var plaintext = ByteBuffer()
        plaintext.writeScopedPDU(request.scopedPDU)
        #expect(hexString(Array(plaintext.readableBytesView)) == plaintextHex)
    }
}
