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

@Suite("Responses and the manager's msgMaxSize")
struct ResponseSizeTests {
    /// A GetBulk-sized answer: `count` varbinds of about 40 octets each.
    static func bulkAnswer(requestID: Int32, count: Int) -> PDU {
        PDU(
            type: .response,
            requestID: requestID,
            varbinds: (0..<count).map {
                VarBind(
                    oid: OID(arcs: [1, 3, 6, 1, 2, 1, 2, 2, 1, 2, UInt32($0 + 1)])!,
                    value: .string("interface number \($0 + 1)")
                )
            }
        )
    }

    /// RFC 3416 §4.2.3: a GetBulk response that does not fit loses varbinds from the end, as few as
    /// possible; other responses become tooBig (§4.2.1).
    @Test(
        "GetBulk answers are trimmed from the end to the largest prefix that fits",
        arguments: [(USMAuthProtocol?.some(.sha256), USMPrivacyProtocol?.some(.aes128)), (.sha1, .des), (.md5, nil)]
    )
    func trimToFit(auth: USMAuthProtocol?, priv: USMPrivacyProtocol?) throws {
        var pair = try Pair(user(auth, priv))
        try pair.discover()
        let datagram = pair.request(PDU.getBulk(requestID: 5, nonRepeaters: 0, maxRepetitions: 100, varbinds: []))
        guard case .accept(var request) = try pair.toEngine(datagram) else {
            Issue.record("not accepted")
            return
        }
        for limit: Int32 in [484, 1000, 1500] {
            request.state.maxSize = limit
            let answer = Self.bulkAnswer(requestID: 5, count: 100)
            var out = ByteBuffer()
            #expect(
                pair.engine.encodeResponse(
                    answer,
                    to: request.state,
                    engineTime: pair.engineTime,
                    into: &out,
                    trimToFit: true
                )
            )
            #expect(out.readableBytes <= Int(limit))
            guard case .response(_, let scoped) = pair.client.receive(out, now: pair.now) else {
                Issue.record("the manager could not read the trimmed response")
                continue
            }
            let kept = scoped.pdu.varbinds.count
            #expect(kept > 0 && kept < 100)
            #expect(scoped.pdu.varbinds == Array(answer.varbinds[0..<kept]), "not a prefix")
            #expect(scoped.pdu.errorStatus == .noError)
            // One more varbind would not have fitted.
            var longer = answer
            longer.varbinds = Array(answer.varbinds[0...kept])
            var probe = ByteBuffer()
            #expect(pair.engine.encodeResponse(longer, to: request.state, engineTime: pair.engineTime, into: &probe))
            guard case .response(_, let tooBig) = pair.client.receive(probe, now: pair.now) else { continue }
            #expect(tooBig.pdu.errorStatus == .tooBig, "\(kept + 1) varbinds fitted in \(limit) octets")
        }
    }
}
