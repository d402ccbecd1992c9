//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import Foundation
import NIOCore
import PeerSupport
import SNMPSecurity
import SNMPWire
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Hostile input at the front end and from back ends")
struct HostileInputTests {
    /// Garbage and malformed BER at the front end; a fake back end that answers from the wrong port,
    /// with the wrong community, a wrong request-id and garbage before the right answer; and a
    /// SIGTERM while that request is pending, which must still be answered before the exit.
    @Test("garbage, forged back-end answers and a graceful stop with a request in flight")
    func hostileInputAndGracefulStop() throws {
        let lab = try GatewayLab(name: "hostile")
        let fake = UDPClient(timeoutMilliseconds: 5000)
        try lab.startGateway(
            lab.configuration(
                extraBackends:
                    "  - { name: fake, address: \"udp:127.0.0.1:\(fake.localPort)\", version: 2c, community: fakecomm, timeout: 8s, retries: 0 }",
                extraRoutes: "  - { name: fake, users: [ noc ], context: fake, backend: fake, read-view: all }"
            )
        )

        // 1. Thousands of hostile datagrams at the front end.
        var random = SeededGenerator(state: 842)
        // From an address of its own: the manager's walk below must not share its limits.
        let attacker = UDPClient(host: "127.0.0.9")
        var samples: [ByteBuffer] = [USMClient.discoveryRequest(messageID: 7, requestID: 9)]
        var v2c = ByteBuffer()
        v2c.writeCommunityMessage(
            CommunityMessage(
                version: .v2c,
                community: "public",
                pdu: PDU(type: .get, requestID: 1, varbinds: [VarBind(oid: "1.3.6.1.2.1.1.5.0")])
            )
        )
        samples.append(v2c)
        var sent = 0
        for round in 0..<3000 {
            var bytes: [UInt8]
            switch round % 3 {
            case 0:
                // Random bytes, sometimes starting like a SEQUENCE.
                bytes = (0..<Int.random(in: 1...300, using: &random)).map { _ in
                    UInt8.random(in: 0...255, using: &random)
                }
                if round % 2 == 0 { bytes[0] = 0x30 }
            case 1:
                // A real message truncated or with a flipped byte.
                let sample = samples[round % samples.count]
                bytes = Array(buffer: sample)
                if Bool.random(using: &random) {
                    bytes.removeLast(Int.random(in: 1..<bytes.count, using: &random))
                } else {
                    bytes[Int.random(in: 0..<bytes.count, using: &random)] ^= UInt8.random(in: 1...255, using: &random)
                }
            default:
                // Lengths that claim more than there is, deep nesting.
                bytes = [0x30, 0x84, 0x7F, 0xFF, 0xFF, 0xFF] + Array(repeating: 0x30, count: 200) + [0x80]
            }
            attacker.send(ByteBuffer(bytes: bytes), to: lab.gatewayPort)
            sent += 1
            if round % 200 == 0 { usleep(2000) }  // let the socket buffer drain now and then
        }
        // Still serving: a whole walk after the flood.
        let walk = WalkLine.parse(try lab.throughGateway(["1.3.6.1.2.1.1"], tool: "snmpwalk"))
        #expect(walk.count > 5, "the gateway stopped answering after the flood")

        // 2. A request to the fake back end.
        let snmpget = try #require(Peers.netSNMP("snmpget"))
        let manager = try PeerProcess(
            snmpget,
            GatewayLab.noc + [
                "-On", "-r", "0", "-t", "20", "-n", "fake", "udp:127.0.0.1:\(lab.gatewayPort)", "1.3.6.1.2.1.1.5.0",
            ],
            environment: lab.environment
        )
        let received = try #require(fake.receiveWithSource(), "the fake back end got no request")
        guard case .community(let request) = try SNMPMessage(decoding: received.datagram),
            case .pdu(let asked) = request.pdu
        else {
            Issue.record("not a community message")
            return
        }
        #expect(request.version == .v2c && request.community == ByteBuffer(string: "fakecomm") && asked.type == .get)
        func answer(
            community: String = "fakecomm",
            requestID: Int32 = asked.requestID,
            type: PDUType = .response
        ) -> ByteBuffer {
            var buffer = ByteBuffer()
            buffer.writeCommunityMessage(
                CommunityMessage(
                    version: .v2c,
                    community: community,
                    pdu: PDU(
                        type: type,
                        requestID: requestID,
                        varbinds: [VarBind(oid: "1.3.6.1.2.1.1.5.0", value: .string("fake-answer"))]
                    )
                )
            )
            return buffer
        }
        // From another port: ignored.
        UDPClient().send(answer(), to: received.port, host: received.host)
        // Wrong community, wrong request-id, not a Response, garbage: ignored.
        fake.send(answer(community: "guess"), to: received.port, host: received.host)
        fake.send(answer(requestID: asked.requestID &+ 1), to: received.port, host: received.host)
        fake.send(answer(type: .getNext), to: received.port, host: received.host)
        fake.send(ByteBuffer(bytes: [0x30, 0x03, 0x02, 0x01]), to: received.port, host: received.host)
        // And a thousand more datagrams of garbage from the agent's own address and port.
        for round in 0..<1000 {
            var bytes = Array(buffer: answer())
            bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
            bytes.removeLast(Int.random(in: 1..<bytes.count, using: &random))
            fake.send(ByteBuffer(bytes: bytes), to: received.port, host: received.host)
            if round % 200 == 0 { usleep(2000) }
        }

        // 3. SIGTERM while the request is pending: the gateway stops reading but waits for it.
        let gateway = try #require(lab.gateway)
        kill(gateway.pid, SIGTERM)
        #expect(gateway.waitForLine(containing: "\"stopping") != nil)
        usleep(200_000)
        #expect(gateway.isRunning, "the gateway exited with a request pending")
        #expect(manager.isRunning, "the manager got an answer from a forged response")
        fake.send(answer(), to: received.port, host: received.host)
        #expect(manager.waitUntilExit(timeout: 10))
        #expect(manager.output.contains("STRING: \"fake-answer\""), "\(manager.output)")

        let (status, counters) = try lab.stopGateway()
        #expect(status == 0)
        #expect(counters["backend_wrong_source"] == "1")
        #expect(counters["backend_wrong_community"] == "1")
        #expect(counters["backend_unmatched"] == "1")
        // Two forged datagrams above, and the truncated ones that reached the gateway (a burst may lose some).
        let malformed = counters["backend_malformed"].flatMap(Int.init) ?? 0
        #expect(malformed > 500 && malformed <= 1002, "backend_malformed \(malformed)")
        #expect(counters["backend_responses"].flatMap(Int.init) ?? 0 >= 1)
        let inPackets = counters["in_packets"].flatMap(Int.init) ?? 0
        let parseErrors = counters["in_parse_errors"].flatMap(Int.init) ?? 0
        // Every datagram that reached the gateway was counted somewhere; most were not SNMP at all.
        #expect(inPackets > 1000 && inPackets <= sent + 100, "in_packets \(inPackets)")
        #expect(parseErrors > 500, "in_parse_errors \(parseErrors)")
    }

    /// A listener on 0.0.0.0 answers from the address the request was sent to (packet info), here
    /// 127.0.0.2, not from the address the kernel would pick for the reply (127.0.0.1).
    @Test("a wildcard listener replies from the address the request arrived on")
    func wildcardListenerRepliesFromTheRightAddress() throws {
        let lab = try GatewayLab(name: "wildcard")
        try lab.startGateway(lab.configuration(listen: ["udp:0.0.0.0:\(lab.gatewayPort)"]))
        let client = UDPClient(timeoutMilliseconds: 3000)
        for host in ["127.0.0.2", "127.0.0.1"] {
            client.send(USMClient.discoveryRequest(messageID: 1, requestID: 2), to: lab.gatewayPort, host: host)
            let reply = try #require(client.receiveWithSource(), "no reply via \(host)")
            #expect(reply.host == host)
            #expect(reply.port == lab.gatewayPort)
        }
        // And Net-SNMP's tools work through it.
        let output = try lab.throughGateway(["1.3.6.1.2.1.1.5.0"], address: "udp:127.0.0.2:\(lab.gatewayPort)")
        #expect(output.contains("legacy-switch"), "\(output)")
    }
}
