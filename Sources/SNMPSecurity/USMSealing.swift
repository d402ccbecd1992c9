//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOCore
import SNMPWire

// The steps both sides of USM share: encrypting and decrypting scoped PDUs, choosing salts, and
// filling a MAC into an encoded message. USMAuthoritativeEngine uses them with buffers it keeps
// between messages; USMClient with fresh ones.

extension PrivacyCipher {
    /// What decrypting an encryptedPDU gave.
    enum Opened {
        case scopedPDU(ScopedPDU)
        /// Privacy parameters not 8 octets, or CBC ciphertext not whole blocks (usmStatsDecryptionErrors).
        case badLength
        /// The plaintext does not parse: usually a wrong key, which CFB cannot detect otherwise.
        case unparsable
    }

    /// Encrypts `scoped` (RFC 3414 §8.1.1.2, RFC 3826 §3.1.3): its encoding goes into `plaintext`,
    /// zero-padded for CBC; the salt (8 octets) into `salt`; the ciphertext into `ciphertext`.
    func seal(
        _ scoped: ScopedPDU,
        boots: Int32,
        time: Int32,
        salts: inout SaltGenerator,
        plaintext: inout ByteBuffer,
        salt: inout ByteBuffer,
        ciphertext: inout ByteBuffer,
        varBindList: ByteBuffer? = nil
    ) {
        plaintext.clear()
        plaintext.writeScopedPDU(scoped, varBindList: varBindList)
        let length = self.ciphertextLength(plaintext: plaintext.readableBytes)
        plaintext.writeRepeatingByte(0, count: length - plaintext.readableBytes)
        salt.clear()
        salt.writeInteger(salts.next(for: self.priv, boots: boots))
        ciphertext.clear()
        let (input, saltBytes) = (plaintext, salt)
        ciphertext.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { output in
            input.withUnsafeReadableBytes { input in
                saltBytes.withUnsafeReadableBytes {
                    self.encrypt(input, boots: boots, time: time, salt: $0, into: output)
                }
            }
        }
    }

    /// Decrypts an encryptedPDU into `scratch` and parses the scoped PDU in it (RFC 3414 §8.3.2,
    /// RFC 3826 §3.1.4); `boots` and `time` are the message's authoritative ones.
    func open(
        _ encrypted: ByteBuffer,
        privacyParameters: ByteBuffer,
        boots: Int32,
        time: Int32,
        into scratch: inout ByteBuffer
    ) -> Opened {
        var varbinds = SNMPDecodingScratch()
        return self.open(
            encrypted,
            privacyParameters: privacyParameters,
            boots: boots,
            time: time,
            into: &scratch,
            varbinds: &varbinds
        )
    }

    /// The same, with the scoped PDU's varbinds in `varbinds`' storage: both scratch areas are the
    /// caller's, reused from one message to the next (the previous message's varbinds, slices of
    /// `scratch`, are let go of first so that `scratch` is reused in place).
    func open(
        _ encrypted: ByteBuffer,
        privacyParameters: ByteBuffer,
        boots: Int32,
        time: Int32,
        into scratch: inout ByteBuffer,
        varbinds: inout SNMPDecodingScratch
    ) -> Opened {
        guard privacyParameters.readableBytes == 8, !self.priv.isBlockChained || encrypted.readableBytes % 8 == 0 else {
            return .badLength
        }
        varbinds.release()
        scratch.clear()
        scratch.writeWithUnsafeMutableBytes(minimumWritableBytes: encrypted.readableBytes) { output in
            encrypted.withUnsafeReadableBytes { input in
                privacyParameters.withUnsafeReadableBytes { salt in
                    // The lengths were checked above, so decryption cannot refuse them.
                    self.decrypt(input, boots: boots, time: time, salt: salt, into: output)!
                }
            }
        }
        guard
            let scoped = try? ScopedPDU(
                decoding: scratch,
                allowingTrailingBytes: self.priv.isBlockChained,
                scratch: &varbinds
            )
        else {
            return .unparsable
        }
        return .scopedPDU(scoped)
    }
}

extension SaltGenerator {
    /// The 8-octet salt for `priv`: boots ‖ 32-bit counter for DES/3DES (RFC 3414 §8.1.1.1), a
    /// 64-bit counter for AES (RFC 3826 §3.1.2.1).
    mutating func next(for priv: USMPrivacyProtocol, boots: Int32) -> UInt64 {
        priv.isBlockChained ? UInt64(UInt32(bitPattern: boots)) << 32 | UInt64(self.next32()) : self.next64()
    }
}

extension HMACAuthenticator {
    /// Fills in the MAC of the message of `length` bytes written at buffer index `start`;
    /// `macRange` is relative to the message, as ``SNMPv3WireLayout`` gives it.
    func sign(_ buffer: inout ByteBuffer, messageAt start: Int, length: Int, macRange: Range<Int>) {
        let offset = start - buffer.readerIndex
        buffer.withUnsafeMutableReadableBytes { bytes in
            let message = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + length)])
            let mac = UnsafeMutableRawBufferPointer(
                rebasing: bytes[(offset + macRange.lowerBound)..<(offset + macRange.upperBound)]
            )
            self.mac(message, zeroing: macRange, into: mac)
        }
    }
}
