//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOCore
import SNMPWire
import Testing

@testable import SNMPSecurity

/// Bad input at the authoritative engine: each gives the RFC's Report or a counted drop, never a
/// response carrying data.
@Suite("USM negative cases")
struct NegativeTests {
    static let bob = user(.sha256, .aes128, name: "bob")

    /// The Report's usmStats OID and value, and its security level.
    func report(_ action: USMInboundAction) throws -> (USMReportKind, SNMPv3Flags, [VarBind]) {
        guard case .report(let bytes, let kind) = action, case .v3(let message) = try SNMPMessage(decoding: bytes)
        else {
            throw USMUserError(description: "expected a Report, got \(action)")
        }
        let scoped = try #require(message.scopedPDU)
        #expect(scoped.pdu.type == .report)
        return (kind, message.flags, scoped.pdu.varbinds)
    }

    @Test func wrongAuthKey() throws {
        var pair = try Pair(Self.bob)
        try pair.discover()
        var impostor = Self.bob
        impostor.auth = (.sha256, .passphrase("not-bobs-key"))
        pair.client = try USMClient(user: impostor)
        try pair.discover()
        let (kind, flags, varbinds) = try self.report(try pair.toEngine(pair.request(sysDescrGet)))
        #expect(kind == .wrongDigests && flags == [])
        #expect(varbinds == [VarBind(oid: "1.3.6.1.6.3.15.1.1.5.0", value: .counter32(1))])
        #expect(pair.engine.statistics.wrongDigests == 1)
    }

    @Test("a wrong privacy key is dropped without a Report, as Net-SNMP does")
    func wrongPrivKey() throws {
        var pair = try Pair(Self.bob)
        var impostor = Self.bob
        impostor.privacy = (.aes128, .passphrase("not-bobs-privacy"))
        pair.client = try USMClient(user: impostor)
        try pair.discover()
        guard case .drop(.scopedPDUParseError) = try pair.toEngine(pair.request(sysDescrGet)) else {
            Issue.record("expected a drop")
            return
        }
        #expect(pair.engine.statistics.inASNParseErrs == 1)
    }

    @Test func unknownUser() throws {
        var pair = try Pair(Self.bob)
        try pair.discover()
        pair.client = try USMClient(user: user(.sha256, .aes128, name: "mallory"))
        try pair.discover()
        let (kind, flags, _) = try self.report(try pair.toEngine(pair.request(sysDescrGet)))
        #expect(kind == .unknownUserNames && flags == [])
        #expect(pair.engine.statistics.unknownUserNames == 1)
    }

    @Test("stale boots, and time outside 150 s: an authenticated Report the manager resynchronises from")
    func notInTimeWindow() throws {
        var pair = try Pair(Self.bob, boots: 9)
        try pair.discover()
        // The client believes boots is 8: the engine has restarted since.
        try pair.client.synchronise(engineID: pair.engine.identity.engineID, boots: 8, time: 30, now: pair.now)
        let action = try pair.toEngine(pair.request(sysDescrGet))
        let (kind, flags, _) = try self.report(action)
        #expect(kind == .notInTimeWindows)
        #expect(flags == [.authenticated], "sent authNoPriv so that its boots and time can be trusted")
        guard case .report(let bytes, _) = action else { return }
        guard case .report(_, .notInTimeWindows, _) = pair.client.receive(bytes, now: pair.now) else {
            Issue.record("client did not resynchronise")
            return
        }
        #expect(pair.client.boots == 9)
        guard case .response = try pair.roundTrip(sysDescrGet, answer: answerSysDescr) else {
            Issue.record("no response after resynchronising")
            return
        }
    }

    @Test("a captured message replayed after more than 150 s is refused")
    func replayAfterTheWindow() throws {
        var pair = try Pair(Self.bob)
        try pair.discover()
        let captured = pair.request(sysDescrGet)
        guard case .accept = try pair.toEngine(captured) else {
            Issue.record("first delivery refused")
            return
        }
        pair.now += 150
        guard case .accept = try pair.toEngine(captured) else {
            Issue.record("refused inside the window")
            return
        }
        pair.now += 1
        let (kind, _, _) = try self.report(try pair.toEngine(captured))
        #expect(kind == .notInTimeWindows)
        #expect(pair.engine.statistics.notInTimeWindows == 1)
    }

    @Test("boots at 2^31-1 latch: nothing authenticates")
    func latchedBoots() throws {
        var pair = try Pair(Self.bob, boots: EngineIdentity.maximumBoots)
        try pair.discover()
        let (kind, _, _) = try self.report(try pair.toEngine(pair.request(sysDescrGet)))
        #expect(kind == .notInTimeWindows)
    }

    @Test("a level the user is not configured for is refused")
    func unsupportedLevel() throws {
        var pair = try Pair(Self.bob)
        pair.client = try USMClient(user: Self.bob, level: .authNoPriv)
        try pair.discover()
        let (kind, _, _) = try self.report(try pair.toEngine(pair.request(sysDescrGet)))
        #expect(kind == .unsupportedSecLevels)
        // And noAuthNoPriv under bob's name gets no data either.
        pair.client = try USMClient(user: Self.bob, level: .noAuthNoPriv)
        try pair.discover()
        let (again, _, _) = try self.report(try pair.toEngine(pair.request(sysDescrGet)))
        #expect(again == .unsupportedSecLevels)
        #expect(pair.engine.statistics.unsupportedSecLevels == 2)
    }

    /// Rewrites the request's USM parameters and re-encodes it with the original (now wrong or
    /// recomputed) MAC.
    func tamper(_ pair: inout Pair, _ change: (inout USMSecurityParameters) -> Void) throws -> ByteBuffer {
        guard case .v3(var message) = try SNMPMessage(decoding: pair.request(sysDescrGet)),
            case .usm(var usm) = message.securityParameters
        else { throw USMUserError(description: "not v3") }
        change(&usm)
        message.securityParameters = .usm(usm)
        return encodeV3(message)
    }

    @Test("privacy parameters of the wrong length: usmStatsDecryptionErrors, after authentication")
    func wrongPrivacyParameterLength() throws {
        var pair = try Pair(Self.bob)
        try pair.discover()
        // Change the length and re-sign, so that the MAC is right and the decryption check is reached.
        let keys = try Self.bob.localized(to: pair.engine.identity.engineID)
        let tampered = try self.tamper(&pair) { $0.privacyParameters = ByteBuffer(bytes: [1, 2, 3, 4, 5, 6, 7]) }
        let signed = resign(tampered, with: keys)
        let (kind, _, _) = try self.report(try pair.toEngine(signed))
        #expect(kind == .decryptionErrors)
        #expect(pair.engine.statistics.decryptionErrors == 1)
    }

    @Test("truncated authentication parameters are a wrong digest")
    func truncatedAuthenticationParameters() throws {
        var pair = try Pair(Self.bob)
        try pair.discover()
        let tampered = try self.tamper(&pair) {
            $0.authenticationParameters = $0.authenticationParameters.getSlice(at: 0, length: 11)!
        }
        let (kind, _, _) = try self.report(try pair.toEngine(tampered))
        #expect(kind == .wrongDigests)
    }

    @Test("privacy without authentication is an invalid message: counted, no Report")
    func privWithoutAuth() throws {
        var pair = try Pair(Self.bob)
        try pair.discover()
        guard case .v3(var message) = try SNMPMessage(decoding: pair.request(sysDescrGet)) else { return }
        message.flags = [.privacy, .reportable]
        guard case .drop(.invalidFlags) = try pair.toEngine(encodeV3(message)) else {
            Issue.record("not dropped")
            return
        }
        #expect(pair.engine.statistics.invalidMsgs == 1)
    }

    @Test("no Report for a message that is not reportable")
    func notReportable() throws {
        var pair = try Pair(Self.bob)
        guard case .v3(var probe) = try SNMPMessage(decoding: USMClient.discoveryRequest(messageID: 5, requestID: 5))
        else { return }
        probe.flags = []
        guard case .drop(.notReportable(.unknownEngineIDs)) = try pair.toEngine(encodeV3(probe)) else {
            Issue.record("a non-reportable probe was answered")
            return
        }
        #expect(pair.engine.statistics.unknownEngineIDs == 1)
    }

    @Test("another security model is counted and dropped")
    func unknownSecurityModel() throws {
        var pair = try Pair(Self.bob)
        guard case .v3(var probe) = try SNMPMessage(decoding: USMClient.discoveryRequest(messageID: 5, requestID: 5))
        else { return }
        probe.securityModel = 4
        probe.securityParameters = .other(ByteBuffer())
        guard case .drop(.unknownSecurityModel(4)) = try pair.toEngine(encodeV3(probe)) else {
            Issue.record("not dropped")
            return
        }
        #expect(pair.engine.statistics.unknownSecurityModels == 1)
    }

    @Test("a plaintext scoped PDU under authPriv flags is not served")
    func plaintextUnderPrivacy() throws {
        var pair = try Pair(Self.bob)
        try pair.discover()
        var plainClient = try USMClient(user: user(.sha256, nil, name: "bob"))
        try plainClient.synchronise(engineID: pair.engine.identity.engineID, boots: 7, time: 0, now: pair.now)
        var out = ByteBuffer()
        plainClient.encodeRequest(sysDescrGet, messageID: 9, now: pair.now, into: &out)
        guard case .v3(var message) = try SNMPMessage(decoding: out) else { return }
        message.flags = [.authenticated, .privacy, .reportable]
        let keys = try Self.bob.localized(to: pair.engine.identity.engineID)
        let action = try pair.toEngine(resign(encodeV3(message), with: keys))
        let (kind, _, _) = try self.report(action)
        #expect(kind == .decryptionErrors)
    }

    @Test("responses that do not fit msgMaxSize become tooBig, or are dropped and counted")
    func msgMaxSize() throws {
        var pair = try Pair(Self.bob)
        try pair.discover()
        guard case .accept(var request) = try pair.toEngine(pair.request(sysDescrGet)) else {
            Issue.record("refused")
            return
        }
        let big = PDU(
            type: .response,
            requestID: 4242,
            varbinds: (0..<40).map {
                VarBind(
                    oid: OID(arcs: [1, 3, 6, 1, 2, 1, 2, 2, 1, 2, UInt32($0)])!,
                    value: .string(String(repeating: "x", count: 40))
                )
            }
        )
        request.state.maxSize = 484
        var out = ByteBuffer()
        #expect(pair.engine.encodeResponse(big, to: request.state, engineTime: pair.engineTime, into: &out))
        #expect(out.readableBytes <= 484)
        guard case .response(_, let scoped) = pair.client.receive(out, now: pair.now) else {
            Issue.record("unreadable")
            return
        }
        #expect(scoped.pdu.errorStatus == .tooBig && scoped.pdu.varbinds.isEmpty && scoped.pdu.requestID == 4242)
        request.state.maxSize = 60
        var none = ByteBuffer()
        #expect(!pair.engine.encodeResponse(big, to: request.state, engineTime: pair.engineTime, into: &none))
        #expect(none.readableBytes == 0)
        #expect(pair.engine.statistics.silentDrops == 1)
    }
}

func encodeV3(_ message: SNMPv3Message) -> ByteBuffer {
    var out = ByteBuffer()
    out.writeSNMPv3Message(message)
    return out
}

/// Recomputes the MAC of an encoded message with `keys`.
func resign(_ datagram: ByteBuffer, with keys: USMLocalizedUser) -> ByteBuffer {
    guard case .v3(let message) = try? SNMPMessage(decoding: datagram),
        let range = message.wireLayout?.authenticationParameters
    else {
        return datagram
    }
    var copy = datagram
    copy.withUnsafeMutableReadableBytes { bytes in
        let mac = UnsafeMutableRawBufferPointer(rebasing: bytes[range])
        keys.authenticator!.mac(UnsafeRawBufferPointer(bytes), zeroing: range, into: mac)
    }
    return copy
}
