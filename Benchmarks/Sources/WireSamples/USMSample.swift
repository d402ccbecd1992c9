//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOCore
import SNMPSecurity
import SNMPWire

/// An authoritative engine with one user, and an authPriv request from that user of about 200 bytes
/// (a Get of four ifTable objects), accepted once so that its response state is known.
public struct USMSample {
    public var engine: USMAuthoritativeEngine
    public let request: ByteBuffer
    public let state: USMRequestState
    public let response: PDU

    public init(auth: USMAuthProtocol, priv: USMPrivacyProtocol) {
        let user = USMUserConfiguration(
            name: "benchmark",
            auth: (auth, .passphrase("authpass-benchmark")),
            privacy: (priv, .passphrase("privpass-benchmark"))
        )
        let identity = EngineIdentity(engineID: [0x80, 0x00, 0x1F, 0x88, 0x04] + Array("bench".utf8), boots: 3)
        var engine = try! USMAuthoritativeEngine(identity: identity, users: [user])
        var client = try! USMClient(user: user)
        try! client.synchronise(engineID: identity.engineID, boots: 3, time: 10, now: 0)
        let oids: [OID] = [
            "1.3.6.1.2.1.2.2.1.2.1", "1.3.6.1.2.1.2.2.1.10.1", "1.3.6.1.2.1.2.2.1.16.1", "1.3.6.1.2.1.31.1.1.1.6.1",
        ]
        var request = ByteBuffer()
        client.encodeRequest(
            PDU(type: .get, requestID: 77, varbinds: oids.map { VarBind(oid: $0) }),
            messageID: 5,
            now: 0,
            into: &request
        )
        guard case .v3(let message) = try! SNMPMessage(decoding: request),
            case .accept(let accepted) = engine.receive(message, datagram: request, engineTime: 10)
        else { fatalError("sample request refused") }
        self.engine = engine
        self.request = request
        self.state = accepted.state
        self.response = PDU(
            type: .response,
            requestID: 77,
            varbinds: [
                VarBind(oid: oids[0], value: .string("GigabitEthernet0/1")),
                VarBind(oid: oids[1], value: .counter32(3_123_456_789)),
                VarBind(oid: oids[2], value: .counter32(2_987_654_321)),
                VarBind(oid: oids[3], value: .counter64(98_765_432_101_234)),
            ]
        )
    }
}
