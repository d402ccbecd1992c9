//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOCore
import SNMPWire

/// The check the `FuzzUSMInbound` target runs on one input; its regression tests run it too.
///
/// One engine with a user per privacy protocol (and an authNoPriv and a noAuthNoPriv user) takes the
/// input. Whatever it decides must be consistent: a Report must decode and be a Report, an accepted
/// message must carry a scoped PDU whose response encodes and fits, and nothing may trap.
public enum FuzzUSMInboundCheck {
    public static let engineID: [UInt8] = [0x80, 0x00, 0x1F, 0x88, 0x04] + Array("fuzz".utf8)
    public static let users: [USMUserConfiguration] =
        [
            USMUserConfiguration(name: "plain"),
            USMUserConfiguration(name: "auth", auth: (.sha1, .passphrase("authpass-fuzz"))),
        ]
        + USMPrivacyProtocol.allCases.map {
            USMUserConfiguration(
                name: $0.rawValue,
                auth: (.sha256, .passphrase("authpass-fuzz")),
                privacy: ($0, .passphrase("privpass-fuzz"))
            )
        }

    nonisolated(unsafe) private static var engine = try! USMAuthoritativeEngine(
        identity: EngineIdentity(engineID: engineID, boots: 3),
        users: users
    )
    nonisolated(unsafe) private static var keys: [ByteBuffer: USMLocalizedUser] = Dictionary(
        uniqueKeysWithValues: users.map { user in
            let localized = try! user.localized(to: engineID)
            return (localized.nameBytes, localized)
        }
    )

    /// What the engine made of an input.
    public enum Outcome: Hashable, Sendable {
        case undecodable, accepted, reported, dropped
    }

    /// Runs the check. Not thread-safe: libFuzzer calls it from one thread, tests from one test.
    @discardableResult
    public static func run(_ input: ByteBuffer) -> Outcome {
        guard case .v3(let decoded) = try? SNMPMessage(decoding: input) else {
            Self.engine.countParseError()
            return .undecodable
        }
        var datagram = input
        if let usm = decoded.usm, let keys = Self.keys[usm.userName], let authenticator = keys.authenticator,
            let range = decoded.wireLayout?.authenticationParameters, range.count == authenticator.auth.macLength
        {
            datagram.withUnsafeMutableReadableBytes { bytes in
                let mac = UnsafeMutableRawBufferPointer(rebasing: bytes[range])
                authenticator.mac(UnsafeRawBufferPointer(bytes), zeroing: range, into: mac)
            }
        }
        guard case .v3(let message) = try? SNMPMessage(decoding: datagram) else {
            preconditionFailure("re-signing changed the structure")
        }
        switch Self.engine.receive(message, datagram: datagram, engineTime: message.usm?.authoritativeEngineTime ?? 0) {
        case .accept(let request):
            var out = ByteBuffer()
            let response = PDU(
                type: .response,
                requestID: request.scopedPDU.pdu.requestID,
                varbinds: request.scopedPDU.pdu.varbinds
            )
            if Self.engine.encodeResponse(response, to: request.state, engineTime: 0, into: &out) {
                precondition(out.readableBytes <= max(Int(request.state.maxSize), 0), "response larger than msgMaxSize")
                guard case .v3 = try? SNMPMessage(decoding: out) else {
                    preconditionFailure("response does not decode")
                }
            }
            return .accepted
        case .report(let report, let kind):
            guard case .v3(let reply) = try? SNMPMessage(decoding: report), let scoped = reply.scopedPDU,
                scoped.pdu.type == .report, scoped.pdu.varbinds.first?.oid == kind.oid,
                reply.messageID == message.messageID
            else { preconditionFailure("malformed Report") }
            return .reported
        case .drop:
            return .dropped
        }
    }
}

extension FuzzUSMInboundCheck {
    /// One valid request per user, at the user's level: seeds for the fuzzer and for the regression tests.
    public static func seedRequests() -> [ByteBuffer] {
        Self.users.enumerated().map { index, user in
            var client = try! USMClient(user: user)
            try! client.synchronise(engineID: Self.engineID, boots: 3, time: 100, now: 0)
            var out = ByteBuffer()
            let pdu = PDU(
                type: index % 2 == 0 ? .get : .getBulk,
                requestID: Int32(index),
                varbinds: [VarBind(oid: "1.3.6.1.2.1.1.1.0"), VarBind(oid: "1.3.6.1.2.1.2.2.1.10")]
            )
            client.encodeRequest(pdu, messageID: Int32(index + 1), now: 0, into: &out)
            return out
        } + [USMClient.discoveryRequest(messageID: 99, requestID: 99)]
    }
}
