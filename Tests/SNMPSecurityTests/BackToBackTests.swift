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

/// Every auth × priv combination the engine supports (noAuthNoPriv and authNoPriv included).
let allCombinations: [(USMAuthProtocol?, USMPrivacyProtocol?)] =
    [(nil, nil)]
    + USMAuthProtocol.allCases.flatMap { auth in [(auth, nil)] + USMPrivacyProtocol.allCases.map { (auth, $0) } }

func user(_ auth: USMAuthProtocol?, _ priv: USMPrivacyProtocol?, name: String? = nil) -> USMUserConfiguration {
    let name = name ?? "u-\(auth?.rawValue ?? "none")-\(priv?.rawValue ?? "none")"
    return USMUserConfiguration(
        name: name,
        auth: auth.map { ($0, .passphrase("authpass-\(name)")) },
        privacy: priv.map { ($0, .passphrase("privpass-\(name)")) }
    )
}

/// One gateway-side engine and a manager, talking without sockets; `now` is a simulated clock.
struct Pair {
    var engine: USMAuthoritativeEngine
    var client: USMClient
    var now: Int64 = 1000
    var bootTime: Int64 = 1000
    var messageID: Int32 = 100

    init(_ user: USMUserConfiguration, others: [USMUserConfiguration] = [], boots: Int32 = 7) throws {
        let identity = EngineIdentity(
            engineID: [0x80, 0x00, 0x1F, 0x88, 0x04] + Array("warden-test".utf8),
            boots: boots
        )
        self.engine = try USMAuthoritativeEngine(identity: identity, users: [user] + others)
        self.client = try USMClient(user: user)
    }

    var engineTime: Int32 { Int32(self.now - self.bootTime) }

    /// Delivers a datagram to the engine.
    mutating func toEngine(_ datagram: ByteBuffer) throws -> USMInboundAction {
        guard case .v3(let message) = try SNMPMessage(decoding: datagram) else {
            throw USMUserError(description: "not v3")
        }
        return self.engine.receive(message, datagram: datagram, engineTime: self.engineTime)
    }

    mutating func discover() throws {
        let probe = USMClient.discoveryRequest(messageID: 1, requestID: 1)
        guard case .report(let report, .unknownEngineIDs) = try self.toEngine(probe) else {
            throw USMUserError(description: "no discovery report")
        }
        guard case .report(_, .unknownEngineIDs, _) = self.client.receive(report, now: self.now) else {
            throw USMUserError(description: "client did not take the report")
        }
    }

    mutating func request(_ pdu: PDU) -> ByteBuffer {
        self.messageID += 1
        var out = ByteBuffer()
        self.client.encodeRequest(pdu, messageID: self.messageID, now: self.now, into: &out)
        return out
    }

    /// Request → engine → response → client; returns what the client made of it.
    mutating func roundTrip(_ pdu: PDU, answer: (PDU) -> PDU) throws -> USMClientEvent {
        let datagram = self.request(pdu)
        switch try self.toEngine(datagram) {
        case .accept(let request):
            var out = ByteBuffer()
            let response = answer(request.scopedPDU.pdu)
            #expect(self.engine.encodeResponse(response, to: request.state, engineTime: self.engineTime, into: &out))
            return self.client.receive(out, now: self.now)
        case .report(let report, _):
            return self.client.receive(report, now: self.now)
        case .drop(let reason):
            return .invalid("dropped: \(reason)")
        }
    }
}

func answerSysDescr(_ request: PDU) -> PDU {
    PDU(
        type: .response,
        requestID: request.requestID,
        varbinds: request.varbinds.map { VarBind(oid: $0.oid, value: .string("snmpwarden")) }
    )
}

let sysDescrGet = PDU(type: .get, requestID: 4242, varbinds: [VarBind(oid: "1.3.6.1.2.1.1.1.0")])

@Suite("USM back to back")
struct BackToBackTests {
    @Test(
        "discovery, then a Get answered at the user's level",
        arguments: allCombinations.map { "\($0.0?.rawValue ?? "none")/\($0.1?.rawValue ?? "none")" }
    )
    func combination(label: String) throws {
        let parts = label.split(separator: "/").map(String.init)
        let auth = USMAuthProtocol(name: parts[0])
        let priv = USMPrivacyProtocol(name: parts[1])
        var pair = try Pair(user(auth, priv))
        try pair.discover()
        #expect(pair.client.boots == 7)
        // Several messages through the same contexts: the IV must be reset each time.
        for i in 0..<3 {
            var pdu = sysDescrGet
            pdu.requestID += Int32(i)
            guard case .response(_, let scoped) = try pair.roundTrip(pdu, answer: answerSysDescr) else {
                Issue.record("no response for \(label)")
                return
            }
            #expect(scoped.pdu.requestID == pdu.requestID)
            #expect(scoped.pdu.varbinds == [VarBind(oid: "1.3.6.1.2.1.1.1.0", value: .string("snmpwarden"))])
        }
        // The request really was encrypted when privacy was on.
        let datagram = pair.request(sysDescrGet)
        guard case .v3(let message) = try SNMPMessage(decoding: datagram) else { return }
        if priv != nil {
            guard case .encrypted = message.data else {
                Issue.record("plaintext with privacy")
                return
            }
        } else {
            #expect(message.scopedPDU != nil)
        }
        #expect(pair.engine.statistics == USMStatistics(unknownEngineIDs: 1))
    }

    @Test("the MAC covers the ciphertext: every flipped bit there is a wrong digest")
    func macCoversTheMessage() throws {
        var pair = try Pair(user(.sha256, .aes128))
        try pair.discover()
        let datagram = Array(pair.request(sysDescrGet).readableBytesView)
        guard case .v3(let message) = try SNMPMessage(decoding: ByteBuffer(bytes: datagram)) else { return }
        let encrypted = message.wireLayout!.messageData
        var wrongDigests = 0
        for index in encrypted {  // flips in the ciphertext still decode as a message
            var mutated = datagram
            mutated[index] ^= 0x01
            if case .report(_, .wrongDigests) = try pair.toEngine(ByteBuffer(bytes: mutated)) { wrongDigests += 1 }
        }
        #expect(wrongDigests == encrypted.count)
        #expect(pair.engine.statistics.wrongDigests == UInt32(encrypted.count))
    }
}

extension USMStatistics {
    init(unknownEngineIDs: UInt32) {
        self.init()
        self.unknownEngineIDs = unknownEngineIDs
    }
}
