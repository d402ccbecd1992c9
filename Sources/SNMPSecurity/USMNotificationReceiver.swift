//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOCore
import SNMPWire

/// What became of an SNMPv3 trap at the ``USMNotificationReceiver``.
public enum USMNotificationOutcome {
    /// Authentic and timely: the scoped PDU, the user's name and the sender's engine ID.
    case accept(ScopedPDU, user: String, engineID: [UInt8], level: USMSecurityLevel)
    /// Refused, with the usmStats kind it counts as (traps get no Report: RFC 3412 §7.1, they are
    /// not reportable).
    case drop(USMReportKind?)
}

/// USM as the receiver of SNMPv3 traps: the **sender** is authoritative (RFC 3414 §1.5.1), so each
/// (sender engine ID, user) has keys localized to the sender's engine ID, and the sender's boots and
/// time are learned from its authentic messages (RFC 3414 §3.2 step 7b).
///
/// Owns no socket and reads no clock: `now` is the caller's monotonic time in seconds. The table is
/// fixed at creation (only configured engine IDs are known), so a flood cannot grow it.
public struct USMNotificationReceiver {
    private struct Key: Hashable {
        var engineID: [UInt8]
        var userName: ByteBuffer
    }

    private struct Clock {
        var boots: Int32 = 0
        var time: Int32 = 0
        var latestReceivedTime: Int32 = 0
        var syncedAt: Int64 = 0
        var known = false
    }

    private var users: [Key: USMLocalizedUser] = [:]
    private var clocks: [[UInt8]: Clock] = [:]
    public private(set) var statistics = USMStatistics()
    private var decrypted = ByteBuffer()

    /// Localizes each user to each of its senders' engine IDs (a millisecond or so per passphrase).
    public init(senders: [(engineID: [UInt8], user: USMUserConfiguration)]) throws(USMUserError) {
        for (engineID, user) in senders {
            let keys = try user.localized(to: engineID)
            self.users[Key(engineID: engineID, userName: keys.nameBytes)] = keys
            self.clocks[engineID] = Clock()
        }
    }

    /// The same receiver for another thread: fresh OpenSSL contexts, the clocks learned so far.
    public func copy() -> USMNotificationReceiver {
        var other = self
        other.users = self.users.mapValues { $0.copy() }
        other.decrypted = ByteBuffer()
        return other
    }

    /// This receiver (a reload's new users and engine IDs) with the clocks and counters `previous`
    /// learned, for the engine IDs both know: a reload must not accept a trap the running receiver
    /// would refuse as old (RFC 3414 §3.2 step 7b).
    public func keepingClocks(of previous: USMNotificationReceiver) -> USMNotificationReceiver {
        var next = self
        for (engineID, clock) in previous.clocks where next.clocks[engineID] != nil {
            next.clocks[engineID] = clock
        }
        next.statistics = previous.statistics
        return next
    }

    /// Whether `engineID` is one this receiver accepts traps from.
    public func knows(engineID: ByteBuffer) -> Bool {
        self.clocks[Array(engineID.readableBytesView)] != nil
    }

    /// Authenticates, checks timeliness and decrypts one trap.
    public mutating func receive(_ message: SNMPv3Message, datagram: ByteBuffer, now: Int64) -> USMNotificationOutcome {
        guard let level = USMSecurityLevel(flags: message.flags) else {
            self.statistics.invalidMsgs &+= 1
            return .drop(nil)
        }
        guard message.securityModel == SNMPv3Message.userBasedSecurityModel, let usm = message.usm,
            let macRange = message.wireLayout?.authenticationParameters
        else {
            self.statistics.unknownSecurityModels &+= 1
            return .drop(nil)
        }
        let engineID = Array(usm.authoritativeEngineID.readableBytesView)
        guard var clock = self.clocks[engineID] else {
            _ = self.statistics.increment(.unknownEngineIDs)
            return .drop(.unknownEngineIDs)
        }
        guard let user = self.users[Key(engineID: engineID, userName: usm.userName)] else {
            _ = self.statistics.increment(.unknownUserNames)
            return .drop(.unknownUserNames)
        }
        guard level == user.level else {
            _ = self.statistics.increment(.unsupportedSecLevels)
            return .drop(.unsupportedSecLevels)
        }
        if let authenticator = user.authenticator {
            let authentic = datagram.withUnsafeReadableBytes { authenticator.verify($0, macRange: macRange) }
            guard authentic else {
                _ = self.statistics.increment(.wrongDigests)
                return .drop(.wrongDigests)
            }
            // RFC 3414 §3.2 step 7b: learn the sender's clock from authentic messages, then check.
            let msgBoots = usm.authoritativeEngineBoots
            let msgTime = usm.authoritativeEngineTime
            if !clock.known || msgBoots > clock.boots
                || (msgBoots == clock.boots && msgTime > clock.latestReceivedTime)
            {
                clock = Clock(boots: msgBoots, time: msgTime, latestReceivedTime: msgTime, syncedAt: now, known: true)
                self.clocks[engineID] = clock
            }
            let estimated = Int64(clock.time) + max(0, now - clock.syncedAt)
            if clock.boots == EngineIdentity.maximumBoots || msgBoots < clock.boots
                || (msgBoots == clock.boots && Int64(msgTime) < estimated - Int64(USMAuthoritativeEngine.timeWindow))
            {
                _ = self.statistics.increment(.notInTimeWindows)
                return .drop(.notInTimeWindows)
            }
        }
        let scoped: ScopedPDU
        switch message.data {
        case .plaintext(let plain):
            guard user.cipher == nil else {
                _ = self.statistics.increment(.decryptionErrors)
                return .drop(.decryptionErrors)
            }
            scoped = plain
        case .encrypted(let encrypted):
            guard let cipher = user.cipher else {
                self.statistics.inASNParseErrs &+= 1
                return .drop(nil)
            }
            switch cipher.open(
                encrypted,
                privacyParameters: usm.privacyParameters,
                boots: usm.authoritativeEngineBoots,
                time: usm.authoritativeEngineTime,
                into: &self.decrypted
            ) {
            case .scopedPDU(let opened):
                scoped = opened
            case .badLength:
                _ = self.statistics.increment(.decryptionErrors)
                return .drop(.decryptionErrors)
            case .unparsable:
                self.statistics.inASNParseErrs &+= 1
                return .drop(nil)
            }
        }
        return .accept(scoped, user: user.name, engineID: engineID, level: level)
    }
}
