//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOCore
import SNMPWire

/// What an incoming message meant to a ``USMClient``.
public enum USMClientEvent {
    /// An authentic, timely response (or a Report other than the ones USM handles itself).
    case response(messageID: Int32, ScopedPDU)
    /// A usmStats Report: for unknownEngineIDs and notInTimeWindows the client has learned the
    /// engine's ID, boots and time and the request can be sent again.
    case report(messageID: Int32, USMReportKind?, ScopedPDU)
    /// Refused: the reason (wrong digest, outside the time window, undecryptable, not SNMPv3 USM…).
    case invalid(String)
}

/// The User-based Security Model as a non-authoritative engine: a manager talking to one agent
/// (RFC 3414 §3.1 for requests, §3.2 and §4 for responses, Reports and discovery).
///
/// Like ``USMAuthoritativeEngine`` it owns no socket and reads no clock: `now` is the caller's
/// monotonic time in seconds. Keys are localized when the engine ID is learned.
public struct USMClient {
    public let user: USMUserConfiguration
    public let level: USMSecurityLevel
    public private(set) var engineID: [UInt8]?
    public private(set) var boots: Int32 = 0
    /// snmpEngineTime at ``syncedAt``.
    private var time: Int32 = 0
    private var syncedAt: Int64 = 0
    private var latestReceivedTime: Int32 = 0
    private var keys: USMLocalizedUser?
    private var salts: SaltGenerator

    /// A client for `user` at `level` (the user's own level by default).
    ///
    /// - Parameter loopIndex: the event loop the client runs on (0 to 63), in the top bits of its
    ///   privacy salts, so that clients of the same user and agent on different loops never share a salt.
    public init(user: USMUserConfiguration, level: USMSecurityLevel? = nil, loopIndex: Int = 0) throws(USMUserError) {
        try user.validate()
        self.user = user
        self.level = level ?? user.level
        self.salts = SaltGenerator(loopIndex: loopIndex)
        guard self.level <= user.level else {
            throw USMUserError(description: "user \(user.name) has no keys for \(self.level)")
        }
    }

    /// snmpEngineTime of the agent as this client estimates it now.
    public func estimatedEngineTime(now: Int64) -> Int32 {
        Int32(clamping: Int64(self.time) + max(0, now - self.syncedAt))
    }

    /// The discovery probe (RFC 3414 §4): noAuthNoPriv, reportable, empty engine ID and user name,
    /// a Get with no varbinds. The agent answers with a usmStatsUnknownEngineIDs Report.
    public static func discoveryRequest(messageID: Int32, requestID: Int32) -> ByteBuffer {
        let message = SNMPv3Message(
            messageID: messageID,
            maxSize: USMAuthoritativeEngine.maximumMessageSize,
            flags: .reportable,
            securityParameters: .usm(
                USMSecurityParameters(
                    authoritativeEngineID: ByteBuffer(),
                    authoritativeEngineBoots: 0,
                    authoritativeEngineTime: 0,
                    userName: ByteBuffer()
                )
            ),
            data: .plaintext(
                ScopedPDU(
                    contextEngineID: ByteBuffer(),
                    contextName: ByteBuffer(),
                    pdu: PDU(type: .get, requestID: requestID, varbinds: [])
                )
            )
        )
        var out = ByteBuffer()
        out.writeSNMPv3Message(message)
        return out
    }

    /// Sets the agent's engine ID, boots and time (from discovery, or known beforehand as with
    /// `snmpget -e`), localizing the keys when the engine ID changes.
    public mutating func synchronise(engineID: [UInt8], boots: Int32, time: Int32, now: Int64) throws(USMUserError) {
        if engineID != self.engineID || self.keys == nil {
            self.keys = try self.user.localized(to: engineID)
            self.engineID = engineID
        }
        self.boots = boots
        self.time = time
        self.latestReceivedTime = time
        self.syncedAt = now
    }

    /// Encodes a request at the client's level; the engine must be known (``synchronise``).
    public mutating func encodeRequest(
        _ pdu: PDU,
        messageID: Int32,
        contextName: ByteBuffer = ByteBuffer(),
        now: Int64,
        into buffer: inout ByteBuffer
    ) {
        guard let engineID = self.engineID, let keys = self.keys else {
            preconditionFailure("discover the engine before sending requests")
        }
        let engineIDBuffer = ByteBuffer(bytes: engineID)
        let scoped = ScopedPDU(contextEngineID: engineIDBuffer, contextName: contextName, pdu: pdu)
        let time = self.estimatedEngineTime(now: now)
        var data = ScopedPDUData.plaintext(scoped)
        var privacyParameters = ByteBuffer()
        if self.level == .authPriv, let cipher = keys.cipher {
            var plaintext = ByteBuffer()
            var ciphertext = ByteBuffer()
            cipher.seal(
                scoped,
                boots: self.boots,
                time: time,
                salts: &self.salts,
                plaintext: &plaintext,
                salt: &privacyParameters,
                ciphertext: &ciphertext
            )
            data = .encrypted(ciphertext)
        }
        let macLength = self.level == .noAuthNoPriv ? 0 : keys.auth!.macLength
        let message = SNMPv3Message(
            messageID: messageID,
            maxSize: USMAuthoritativeEngine.maximumMessageSize,
            flags: self.level.flags.union(pdu.type.isConfirmed ? .reportable : []),
            securityParameters: .usm(
                USMSecurityParameters(
                    authoritativeEngineID: engineIDBuffer,
                    authoritativeEngineBoots: self.level == .noAuthNoPriv ? 0 : self.boots,
                    authoritativeEngineTime: self.level == .noAuthNoPriv ? 0 : time,
                    userName: keys.nameBytes,
                    authenticationParameters: USMZeros.buffer(count: macLength),
                    privacyParameters: privacyParameters
                )
            ),
            data: data
        )
        let start = buffer.writerIndex
        let (written, layout) = buffer.writeSNMPv3Message(message)
        if self.level != .noAuthNoPriv, let authenticator = keys.authenticator,
            let range = layout.authenticationParameters
        {
            authenticator.sign(&buffer, messageAt: start, length: written, macRange: range)
        }
    }

    /// Processes a response or Report from the agent.
    public mutating func receive(_ datagram: ByteBuffer, now: Int64) -> USMClientEvent {
        let message: SNMPv3Message
        do {
            guard case .v3(let decoded) = try SNMPMessage(decoding: datagram) else { return .invalid("not SNMPv3") }
            message = decoded
        } catch {
            return .invalid("parse error: \(error)")
        }
        return self.receive(message, datagram: datagram, now: now)
    }

    /// Processes a response or Report from the agent, already decoded from `datagram` (whose
    /// readable bytes are the whole message: the MAC is checked over them).
    public mutating func receive(_ message: SNMPv3Message, datagram: ByteBuffer, now: Int64) -> USMClientEvent {
        guard let level = USMSecurityLevel(flags: message.flags), let usm = message.usm,
            let macRange = message.wireLayout?.authenticationParameters
        else { return .invalid("not a valid USM message") }
        let engineID = Array(usm.authoritativeEngineID.readableBytesView)

        if level == .noAuthNoPriv {
            // Unauthenticated: only Reports may change what we know, and only discovery may set the engine.
            guard let scoped = message.scopedPDU else { return .invalid("noAuthNoPriv message with encrypted data") }
            let kind = scoped.pdu.varbinds.first.flatMap { USMReportKind(reportOID: $0.oid) }
            if scoped.pdu.type == .report {
                // Only while no engine is known: an unauthenticated Report must not move a known
                // engine's clock (RFC 3414 §3.2 step 7b learns it from authentic messages only).
                if kind == .unknownEngineIDs, self.engineID == nil {
                    do {
                        try self.synchronise(
                            engineID: engineID,
                            boots: usm.authoritativeEngineBoots,
                            time: usm.authoritativeEngineTime,
                            now: now
                        )
                    } catch {
                        return .invalid("\(error)")
                    }
                }
                return .report(messageID: message.messageID, kind, scoped)
            }
            guard self.level == .noAuthNoPriv else {
                return .invalid("unauthenticated response to an authenticated request")
            }
            return .response(messageID: message.messageID, scoped)
        }

        guard let keys = self.keys, engineID == self.engineID, let authenticator = keys.authenticator else {
            return .invalid("authenticated message from an unknown engine")
        }
        let authentic = datagram.withUnsafeReadableBytes { authenticator.verify($0, macRange: macRange) }
        guard authentic else { return .invalid("wrong digest") }

        // RFC 3414 §3.2 step 7b: the non-authoritative engine's clock.
        let msgBoots = usm.authoritativeEngineBoots
        let msgTime = usm.authoritativeEngineTime
        let isTimeReport: Bool = {
            guard let scoped = message.scopedPDU, scoped.pdu.type == .report, let first = scoped.pdu.varbinds.first
            else {
                return false
            }
            return USMReportKind(reportOID: first.oid) == .notInTimeWindows
        }()
        if isTimeReport || msgBoots > self.boots || (msgBoots == self.boots && msgTime > self.latestReceivedTime) {
            self.boots = msgBoots
            self.time = msgTime
            self.latestReceivedTime = msgTime
            self.syncedAt = now
        }
        if isTimeReport, let scoped = message.scopedPDU {
            return .report(messageID: message.messageID, .notInTimeWindows, scoped)
        }
        let cachedTime = self.estimatedEngineTime(now: now)
        if self.boots == EngineIdentity.maximumBoots || msgBoots < self.boots
            || (msgBoots == self.boots && Int64(msgTime) < Int64(cachedTime) - Int64(USMAuthoritativeEngine.timeWindow))
        {
            return .invalid("not in time window")
        }

        let scoped: ScopedPDU
        switch message.data {
        case .plaintext(let plain):
            guard level == .authNoPriv else { return .invalid("privacy flag with a plaintext scoped PDU") }
            scoped = plain
        case .encrypted(let encrypted):
            guard level == .authPriv, let cipher = keys.cipher else { return .invalid("cannot decrypt") }
            var plaintext = ByteBuffer()
            switch cipher.open(
                encrypted,
                privacyParameters: usm.privacyParameters,
                boots: msgBoots,
                time: msgTime,
                into: &plaintext
            ) {
            case .scopedPDU(let opened): scoped = opened
            case .badLength: return .invalid("decryption error")
            case .unparsable: return .invalid("decrypted scoped PDU does not parse (wrong privacy key?)")
            }
        }
        if scoped.pdu.type == .report {
            let kind = scoped.pdu.varbinds.first.flatMap { USMReportKind(reportOID: $0.oid) }
            return .report(messageID: message.messageID, kind, scoped)
        }
        return .response(messageID: message.messageID, scoped)
    }
}
