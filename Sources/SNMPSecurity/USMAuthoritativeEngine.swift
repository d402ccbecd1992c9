//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOCore
import SNMPWire

/// What to do with an incoming v3 message.
public enum USMInboundAction {
    /// Authentic, timely, decrypted: serve it, and answer with ``USMAuthoritativeEngine/encodeResponse(_:to:engineTime:into:)``.
    case accept(USMIncomingRequest)
    /// Send this Report (already encoded) back to where the message came from.
    case report(ByteBuffer, USMReportKind)
    /// Say nothing; the reason is counted.
    case drop(USMDropReason)
}

/// Why a message was dropped without a Report.
public enum USMDropReason: Hashable, Sendable {
    /// privFlag without authFlag (RFC 3412 §7.2 step 5d): snmpInvalidMsgs.
    case invalidFlags
    /// msgSecurityModel is not USM: snmpUnknownSecurityModels.
    case unknownSecurityModel(Int32)
    /// A check failed and the message was not reportable (RFC 3412 §7.1): the usmStats counter named.
    case notReportable(USMReportKind)
    /// The scoped PDU did not parse (after decryption: usually a wrong privacy key): snmpInASNParseErrs.
    case scopedPDUParseError
    /// The response would not fit the manager's msgMaxSize, not even as tooBig: snmpSilentDrops.
    case responseTooLarge
}

/// An accepted request and what its response needs.
public struct USMIncomingRequest {
    public var scopedPDU: ScopedPDU
    public var state: USMRequestState
    /// The user the request was authenticated as, with this engine's keys for it: a response secured
    /// with it is right even if the engine's users change before the response is sent (a reload).
    public var user: USMLocalizedUser
}

/// The security state a response is built from (RFC 3412 §7.1 "stateReference").
public struct USMRequestState: Hashable, Sendable {
    public var messageID: Int32
    /// The largest message the manager accepts.
    public var maxSize: Int32
    public var level: USMSecurityLevel
    /// msgUserName, as the request carried it.
    public var userName: ByteBuffer
    public var contextEngineID: ByteBuffer
    public var contextName: ByteBuffer
}

/// The User-based Security Model as the authoritative engine: the gateway's side towards managers.
///
/// A value that processes messages and returns actions (RFC 3414 §3.2 for incoming messages, §3.1
/// for responses); it owns no socket and reads no clock: the caller passes snmpEngineTime. One per
/// event loop: ``copy(loopIndex:)`` gives another loop its own OpenSSL contexts, scratch buffers and
/// salt sequence.
public struct USMAuthoritativeEngine {
    public let identity: EngineIdentity
    private let engineIDBuffer: ByteBuffer
    private var users: [ByteBuffer: USMLocalizedUser]
    public private(set) var statistics = USMStatistics()
    private var salts: SaltGenerator
    private var plaintext = ByteBuffer()
    private var ciphertext = ByteBuffer()
    private var decrypted = ByteBuffer()
    /// The decrypted scoped PDU's varbind array, reused like `decrypted`.
    private var decryptedVarbinds = SNMPDecodingScratch()
    private var salt = ByteBuffer()

    /// The time window for authenticated messages (RFC 3414 §3.2 step 7: 150 seconds).
    public static let timeWindow: Int32 = 150
    /// The msgMaxSize this engine announces: the largest UDP payload over IPv4.
    public static let maximumMessageSize: Int32 = 65507

    /// Localizes every user to the engine ID (a millisecond or so per passphrase).
    public init(identity: EngineIdentity, users: [USMUserConfiguration], loopIndex: Int = 0) throws(USMUserError) {
        self.identity = identity
        self.engineIDBuffer = ByteBuffer(bytes: identity.engineID)
        var localized: [ByteBuffer: USMLocalizedUser] = [:]
        for user in users {
            let keys = try user.localized(to: identity.engineID)
            guard localized[keys.nameBytes] == nil else {
                throw USMUserError(description: "user \(user.name) is configured twice")
            }
            localized[keys.nameBytes] = keys
        }
        self.users = localized
        self.salts = SaltGenerator(loopIndex: loopIndex)
    }

    private init(copying other: USMAuthoritativeEngine, loopIndex: Int) {
        self.identity = other.identity
        self.engineIDBuffer = other.engineIDBuffer
        self.users = other.users.mapValues { $0.copy() }
        self.salts = SaltGenerator(loopIndex: loopIndex)
    }

    /// The same engine for another event loop: fresh contexts, no key derivation.
    public func copy(loopIndex: Int) -> USMAuthoritativeEngine {
        USMAuthoritativeEngine(copying: self, loopIndex: loopIndex)
    }

    /// This engine with another set of users (a reload): the identity, the counters and the salt
    /// sequence go on; users whose name and keys did not change keep their contexts.
    public func replacingUsers(with users: USMAuthoritativeEngine) -> USMAuthoritativeEngine {
        precondition(users.identity.engineID == self.identity.engineID)
        var next = self
        next.users = users.users.mapValues { user in
            if let current = self.users[user.nameBytes], current.hasSameKeys(as: user) { return current }
            return user.copy()
        }
        return next
    }

    /// Counts a datagram that did not decode (snmpInASNParseErrs), so every counter lives here.
    public mutating func countParseError() {
        self.statistics.inASNParseErrs &+= 1
    }

    /// Counts a response that could not be sent at all (snmpSilentDrops).
    public mutating func countSilentDrop() {
        self.statistics.silentDrops &+= 1
    }

    // MARK: - Incoming (RFC 3414 §3.2)

    /// Authenticates, checks timeliness and decrypts one decoded message.
    ///
    /// - Parameters:
    ///   - datagram: the bytes `message` was decoded from (the MAC covers them).
    ///   - engineTime: snmpEngineTime now, in seconds since this engine's boot.
    public mutating func receive(_ message: SNMPv3Message, datagram: ByteBuffer, engineTime: Int32) -> USMInboundAction
    {
        guard let level = USMSecurityLevel(flags: message.flags) else {
            self.statistics.invalidMsgs &+= 1
            return .drop(.invalidFlags)
        }
        guard message.securityModel == SNMPv3Message.userBasedSecurityModel, let usm = message.usm,
            let layout = message.wireLayout, let macRange = layout.authenticationParameters
        else {
            self.statistics.unknownSecurityModels &+= 1
            return .drop(.unknownSecurityModel(message.securityModel))
        }

        // Step 3: the engine ID (empty for discovery).
        guard usm.authoritativeEngineID == self.engineIDBuffer else {
            return self.fail(.unknownEngineIDs, message, engineTime: engineTime)
        }
        // Step 4: the user.
        guard let user = self.users[usm.userName] else {
            return self.fail(.unknownUserNames, message, engineTime: engineTime)
        }
        // Step 5: the level. A user is served at the level it is configured for and no other: a
        // user with keys that sends noAuthNoPriv would otherwise be trusted on its name alone.
        guard level == user.level else {
            return self.fail(.unsupportedSecLevels, message, engineTime: engineTime)
        }
        if let authenticator = user.authenticator {
            // Step 6: the MAC, over the datagram with the MAC field taken as zeros.
            let authentic = datagram.withUnsafeReadableBytes { authenticator.verify($0, macRange: macRange) }
            guard authentic else { return self.fail(.wrongDigests, message, engineTime: engineTime) }
            // Step 7: timeliness.
            let boots = self.identity.boots
            guard boots < EngineIdentity.maximumBoots, usm.authoritativeEngineBoots == boots,
                abs(Int64(usm.authoritativeEngineTime) - Int64(engineTime)) <= Int64(Self.timeWindow)
            else {
                // Sent authNoPriv so that the manager can trust the boots and time in it and resynchronise.
                return self.fail(.notInTimeWindows, message, engineTime: engineTime, signedFor: user)
            }
        }
        // Step 8: privacy.
        let scoped: ScopedPDU
        if let cipher = user.cipher {
            guard case .encrypted(let encrypted) = message.data else {
                return self.fail(.decryptionErrors, message, engineTime: engineTime)
            }
            switch cipher.open(
                encrypted,
                privacyParameters: usm.privacyParameters,
                boots: usm.authoritativeEngineBoots,
                time: usm.authoritativeEngineTime,
                into: &self.decrypted,
                varbinds: &self.decryptedVarbinds
            ) {
            case .scopedPDU(let opened):
                scoped = opened
            case .badLength:
                return self.fail(.decryptionErrors, message, engineTime: engineTime)
            case .unparsable:
                // CFB turns a wrong key into garbage without an error; Net-SNMP drops such messages
                // without a Report too.
                self.statistics.inASNParseErrs &+= 1
                return .drop(.scopedPDUParseError)
            }
        } else {
            guard case .plaintext(let plain) = message.data else {
                self.statistics.inASNParseErrs &+= 1
                return .drop(.scopedPDUParseError)
            }
            scoped = plain
        }
        let state = USMRequestState(
            messageID: message.messageID,
            maxSize: message.maxSize,
            level: level,
            userName: user.nameBytes,
            contextEngineID: scoped.contextEngineID,
            contextName: scoped.contextName
        )
        return .accept(USMIncomingRequest(scopedPDU: scoped, state: state, user: user))
    }

    /// Counts a failed check and answers with a Report when the message asked for one (RFC 3412 §7.1).
    private mutating func fail(
        _ kind: USMReportKind,
        _ message: SNMPv3Message,
        engineTime: Int32,
        signedFor user: USMLocalizedUser? = nil
    ) -> USMInboundAction {
        let value = self.statistics.increment(kind)
        guard message.flags.contains(.reportable) else { return .drop(.notReportable(kind)) }
        let request = message.scopedPDU
        let pdu = PDU(
            type: .report,
            requestID: request?.pdu.requestID ?? 0,
            varbinds: [VarBind(oid: kind.oid, value: .counter32(value))]
        )
        let scoped = ScopedPDU(
            contextEngineID: self.engineIDBuffer,
            contextName: request?.contextName ?? ByteBuffer(),
            pdu: pdu
        )
        let state = USMRequestState(
            messageID: message.messageID,
            maxSize: Self.maximumMessageSize,
            level: user == nil ? .noAuthNoPriv : .authNoPriv,
            userName: message.usm?.userName ?? ByteBuffer(),
            contextEngineID: scoped.contextEngineID,
            contextName: scoped.contextName
        )
        var out = ByteBuffer()
        self.encode(scoped, state: state, user: user, engineTime: engineTime, into: &out)
        return .report(out, kind)
    }

    // MARK: - Outgoing (RFC 3414 §3.1)

    /// Encodes the response to a request accepted by ``receive(_:datagram:engineTime:)`` at the
    /// request's security level, into `buffer`.
    ///
    /// If the response is larger than the manager's msgMaxSize it is replaced by a tooBig with no
    /// varbinds (RFC 3416 §4.2.1); if even that does not fit, nothing is written, snmpSilentDrops
    /// counts it and the result is false. With `trimToFit` (a GetBulk response, RFC 3416 §4.2.3)
    /// varbinds are dropped from the end instead, as many as needed.
    @discardableResult
    public mutating func encodeResponse(
        _ pdu: PDU,
        to request: USMRequestState,
        engineTime: Int32,
        into buffer: inout ByteBuffer,
        trimToFit: Bool = false
    ) -> Bool {
        let user = request.level == .noAuthNoPriv ? nil : self.users[request.userName]
        precondition(request.level == .noAuthNoPriv || user != nil, "a response for a user this engine does not know")
        return self.encodeResponse(pdu, to: request, user: user, engineTime: engineTime, into: &buffer, trimToFit: trimToFit)
    }

    /// The same, secured with `user`'s keys as the request was accepted with
    /// (``USMIncomingRequest/user``), whether or not this engine still has that user.
    ///
    /// - Parameter varBindList: the varbind list as the content octets an agent sent, written as
    ///   they are (see `ByteBuffer.writePDU(_:varBindList:)`), unless the response must be trimmed.
    @discardableResult
    public mutating func encodeResponse(
        _ pdu: PDU,
        to request: USMRequestState,
        user: USMLocalizedUser?,
        engineTime: Int32,
        into buffer: inout ByteBuffer,
        trimToFit: Bool = false,
        varBindList: ByteBuffer? = nil
    ) -> Bool {
        let user = request.level == .noAuthNoPriv ? nil : user
        precondition(request.level == .noAuthNoPriv || user != nil, "a secured response needs the user's keys")
        let start = buffer.writerIndex
        let scoped = ScopedPDU(contextEngineID: request.contextEngineID, contextName: request.contextName, pdu: pdu)
        let limit = Int(request.maxSize)
        let size = self.encode(
            scoped,
            state: request,
            user: user,
            engineTime: engineTime,
            into: &buffer,
            varBindList: varBindList
        )
        if size <= limit {
            return true
        }
        buffer.moveWriterIndex(to: start)
        if trimToFit && !pdu.varbinds.isEmpty {
            // The largest prefix of the varbinds that fits: a binary search over encodings (rare path).
            var fits = 0
            var tooLarge = pdu.varbinds.count
            while tooLarge - fits > 1 {
                let middle = (fits + tooLarge) / 2
                var shorter = scoped
                shorter.pdu.varbinds = Array(pdu.varbinds[0..<middle])
                let size = self.encode(shorter, state: request, user: user, engineTime: engineTime, into: &buffer)
                buffer.moveWriterIndex(to: start)
                if size <= limit { fits = middle } else { tooLarge = middle }
            }
            // Even none: GetBulk never answers tooBig (RFC 3416 §4.2.3), it answers fewer varbinds.
            var shorter = scoped
            shorter.pdu.varbinds = Array(pdu.varbinds[0..<fits])
            if self.encode(shorter, state: request, user: user, engineTime: engineTime, into: &buffer) <= limit {
                return true
            }
            buffer.moveWriterIndex(to: start)
        }
        var tooBig = pdu
        tooBig.errorStatus = .tooBig
        tooBig.errorIndex = 0
        tooBig.varbinds = []
        let small = ScopedPDU(contextEngineID: request.contextEngineID, contextName: request.contextName, pdu: tooBig)
        if self.encode(small, state: request, user: user, engineTime: engineTime, into: &buffer) <= limit {
            return true
        }
        buffer.moveWriterIndex(to: start)
        self.statistics.silentDrops &+= 1
        return false
    }

    /// Writes one outgoing message: encrypts the scoped PDU when the level asks for privacy, then
    /// writes the message with a zeroed MAC and fills the MAC in place. Returns the bytes written.
    @discardableResult
    private mutating func encode(
        _ scoped: ScopedPDU,
        state: USMRequestState,
        user: USMLocalizedUser?,
        engineTime: Int32,
        into buffer: inout ByteBuffer,
        varBindList: ByteBuffer? = nil
    ) -> Int {
        let boots = self.identity.boots
        let data: ScopedPDUData
        var privacyParameters = USMZeros.buffer(count: 0)
        if state.level == .authPriv, let cipher = user?.cipher {
            cipher.seal(
                scoped,
                boots: boots,
                time: engineTime,
                salts: &self.salts,
                plaintext: &self.plaintext,
                salt: &self.salt,
                ciphertext: &self.ciphertext,
                varBindList: varBindList
            )
            privacyParameters = self.salt
            data = .encrypted(self.ciphertext)
        } else {
            data = .plaintext(scoped)
        }
        let macLength = state.level == .noAuthNoPriv ? 0 : (user?.auth?.macLength ?? 0)
        let message = SNMPv3Message(
            messageID: state.messageID,
            maxSize: Self.maximumMessageSize,
            flags: state.level.flags,
            securityParameters: .usm(
                USMSecurityParameters(
                    authoritativeEngineID: self.engineIDBuffer,
                    authoritativeEngineBoots: boots,
                    authoritativeEngineTime: engineTime,
                    userName: state.userName,
                    authenticationParameters: USMZeros.buffer(count: macLength),
                    privacyParameters: privacyParameters
                )
            ),
            data: data
        )
        let start = buffer.writerIndex
        let (written, layout) = buffer.writeSNMPv3Message(message, varBindList: varBindList)
        if let authenticator = user?.authenticator, state.level != .noAuthNoPriv,
            let range = layout.authenticationParameters
        {
            authenticator.sign(&buffer, messageAt: start, length: written, macRange: range)
        }
        return written
    }
}

/// Zero-filled buffers for the MAC placeholder, one per length, shared.
enum USMZeros {
    private static let buffers: [ByteBuffer] = (0...64).map { ByteBuffer(repeating: 0, count: $0) }

    static func buffer(count: Int) -> ByteBuffer { Self.buffers[count] }
}

/// Privacy salts that never repeat within one engine boot and event loop (RFC 3826 §3.1.2.1,
/// RFC 3414 §8.1.1.1): a counter from a random start, with the loop index in the top bits.
struct SaltGenerator {
    private var counter: UInt64
    private let loopBits: UInt64
    private let loopBits32: UInt32

    init(loopIndex: Int) {
        precondition(loopIndex >= 0 && loopIndex < 64, "at most 64 event loops")
        var start: UInt64 = 0
        for byte in OpenSSLAlgorithms.randomBytes(8) { start = start << 8 | UInt64(byte) }
        self.counter = start
        self.loopBits = UInt64(loopIndex) << 56
        self.loopBits32 = UInt32(loopIndex) << 26
    }

    /// AES: 64 bits, the top 8 the loop; 2^56 messages per loop before the counter could come round.
    mutating func next64() -> UInt64 {
        self.counter &+= 1
        return self.loopBits | (self.counter & 0x00FF_FFFF_FFFF_FFFF)
    }

    /// DES/3DES: 32 bits after the boots, the top 6 the loop: 2^26 messages per loop and boot before
    /// a salt could repeat (the RFC's 32-bit field allows no more).
    mutating func next32() -> UInt32 {
        self.counter &+= 1
        return self.loopBits32 | UInt32(truncatingIfNeeded: self.counter & 0x03FF_FFFF)
    }
}
