//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import Foundation
import Glibc
import NIOCore
import PeerSupport
import SNMPWire
import Testing

@Suite("max-in-flight against a real snmpd")
struct InFlightGatewayTests {
    @Test("a burst of 200 Gets to a back end with max-in-flight 2: all answered right, each sent once, most of them after waiting")
    func burstWaitsForTheAgent() throws {
        let lab = try GatewayLab(name: "in-flight")
        let backends = """
              - { name: serial, address: "udp:127.0.0.1:\(lab.backendPort)", version: 2c, community: \(GatewayLab.community), timeout: 2s, retries: 1, max-in-flight: 2 }
            """
        let routes = """
              - { name: burst, communities: [ burstpub ], backend: serial, read-view: all }
            """
        try lab.startGateway(lab.configuration(extraBackends: backends, communityRoutes: routes), threads: 1)
        let before = try lab.backendInPackets()

        // 200 requests in one burst, from one socket, before reading any answer.
        let client = UDPClient(timeoutMilliseconds: 5000)
        let count = 200
        for id in 1...count {
            var datagram = ByteBuffer()
            datagram.writeCommunityMessage(
                CommunityMessage(
                    version: .v2c,
                    community: ByteBuffer(string: "burstpub"),
                    pdu: .pdu(PDU(type: .get, requestID: Int32(id), varbinds: [VarBind(oid: "1.3.6.1.2.1.1.5.0", value: .null)]))
                )
            )
            client.send(datagram, to: lab.gatewayPort)
        }
        var answered = Set<Int32>()
        while answered.count < count, let (datagram, _, _) = client.receiveWithSource() {
            guard case .community(let message) = try SNMPMessage(decoding: datagram), case .pdu(let pdu) = message.pdu
            else {
                Issue.record("not a community response")
                continue
            }
            #expect(pdu.type == .response && pdu.errorStatus == .noError)
            #expect(pdu.varbinds.first?.value == .string("legacy-switch"))
            answered.insert(pdu.requestID)
        }
        #expect(answered == Set(1...Int32(count)), "\(count - answered.count) not answered")

        // snmpd saw each request once (no retransmission: none was dropped), plus the reading Get.
        #expect(try lab.backendInPackets() - before == count + 1)
        let (status, counters) = try lab.stopGateway()
        #expect(status == 0)
        #expect(counters["backend_requests"] == "\(count)" && counters["backend_retransmissions"] == "0")
        let waits = Int(counters["backend_waits"] ?? "") ?? 0
        #expect(waits >= count / 2, "only \(waits) of \(count) waited")
        #expect(counters["backend_wait_timeouts"] == "0" && counters["backend_timeouts"] == "0")
    }
}
