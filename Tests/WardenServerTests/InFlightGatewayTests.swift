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
    /// A v2c Get of sysName.0.
    static func getSysName(community: String, requestID: Int32) -> ByteBuffer {
        var datagram = ByteBuffer()
        datagram.writeCommunityMessage(
            CommunityMessage(
                version: .v2c,
                community: ByteBuffer(string: community),
                pdu: .pdu(PDU(type: .get, requestID: requestID, varbinds: [VarBind(oid: "1.3.6.1.2.1.1.5.0", value: .null)]))
            )
        )
        return datagram
    }

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
            client.send(Self.getSysName(community: "burstpub", requestID: Int32(id)), to: lab.gatewayPort)
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

    @Test("a device that does not answer, max-in-flight 1: /metrics shows 3 pending of which 2 queued, then 0 and 0")
    func queuedGauge() throws {
        let lab = try GatewayLab(name: "in-flight-gauge")
        let dead = UDPClient()  // bound, never answers
        let opsPort = Peers.freeTCPPort()
        let backends = """
              - { name: mute, address: "udp:127.0.0.1:\(dead.localPort)", version: 2c, community: x, timeout: 3s, retries: 0, max-in-flight: 1 }
            """
        let routes = """
              - { name: mute, communities: [ mutepub ], backend: mute, read-view: all, on-timeout: drop }
            """
        try lab.startGateway(
            lab.configuration(extraBackends: backends, communityRoutes: routes) + "ops: { listen: \"tcp:127.0.0.1:\(opsPort)\" }\n",
            threads: 1
        )
        let before = try OpsTests.scrape(port: opsPort)
        #expect(before["snmpwarden_queued_requests{}"] == 0)

        let client = UDPClient(timeoutMilliseconds: 100)
        for id in 1...3 {
            client.send(Self.getSysName(community: "mutepub", requestID: Int32(id)), to: lab.gatewayPort)
        }
        // One request went to the device; the other two wait for it (3 s, well past these scrapes).
        var during: [String: Double] = [:]
        for _ in 0..<50 {
            during = try OpsTests.scrape(port: opsPort)
            if during["snmpwarden_pending_requests{}"] == 3 { break }
        }
        #expect(during["snmpwarden_pending_requests{}"] == 3, "\(during)")
        #expect(during["snmpwarden_queued_requests{}"] == 2, "\(during)")
        #expect(dead.receive() != nil, "the first request reached the device")
        #expect(dead.receive() == nil, "only one at a time")

        // All three end at the budget (the first as a timeout, the two others when their wait ends).
        var after: [String: Double] = [:]
        for _ in 0..<100 {
            after = try OpsTests.scrape(port: opsPort)
            if after["snmpwarden_pending_requests{}"] == 0 { break }
            usleep(100_000)
        }
        #expect(after["snmpwarden_pending_requests{}"] == 0 && after["snmpwarden_queued_requests{}"] == 0, "\(after)")
        let (status, counters) = try lab.stopGateway()
        #expect(status == 0)
        // The two waited. A waiter whose budget runs out a moment after the first request's timeout
        // may be sent before its own deadline is due: each of them was either sent or timed out waiting.
        let sent = Int(counters["backend_requests"] ?? "") ?? 0
        let waitTimeouts = Int(counters["backend_wait_timeouts"] ?? "") ?? 0
        #expect(counters["backend_waits"] == "2" && waitTimeouts >= 1 && sent + waitTimeouts == 3, "\(counters)")
    }
}
