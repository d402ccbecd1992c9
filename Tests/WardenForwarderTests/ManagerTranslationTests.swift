//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import SNMPWire
import Testing

@testable import WardenForwarder

@Suite("v1 managers: RFC 3584 translation of answers, as values")
struct ManagerTranslationTests {

    @Test(
        "v2 error-status as a v1 manager sees it (RFC 3584 §4.4)",
        arguments: [
            (0, 0), (1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 2), (7, 3), (8, 3), (9, 3), (10, 3), (11, 2), (12, 3),
            (13, 5), (14, 5), (15, 5), (16, 2), (17, 2), (18, 2),
        ]
    )
    func v1Status(v2: Int32, v1: Int32) {
        #expect(ManagerTranslation.v1Status(ErrorStatus(rawValue: v2)) == ErrorStatus(rawValue: v1))
    }

    @Test("exceptions and Counter64 become noSuchName at the first such varbind, request echoed")
    func v1Response() {
        let request = PDU(
            type: .get,
            requestID: 9,
            varbinds: [
                VarBind(oid: "1.3.6.1.2.1.1.5.0"), VarBind(oid: "1.3.6.1.2.1.31.1.1.1.6.1"),
                VarBind(oid: "1.3.6.1.2.1.1.9.0"),
            ]
        )
        var response = PDU(
            type: .response,
            requestID: 9,
            varbinds: [
                VarBind(oid: "1.3.6.1.2.1.1.5.0", value: .string("sw")),
                VarBind(oid: "1.3.6.1.2.1.31.1.1.1.6.1", value: .counter64(7)),
                VarBind(oid: "1.3.6.1.2.1.1.9.0", value: .noSuchObject),
            ]
        )
        let translated = ManagerTranslation.v1Response(response, request: request)
        #expect(
            translated.errorStatus == .noSuchName && translated.errorIndex == 2
                && translated.varbinds == request.varbinds
        )
        #expect(ManagerTranslation.counter64Positions(response) == [1])
        response.varbinds[1].value = .counter32(7)
        response.varbinds[2].value = .integer(1)
        #expect(ManagerTranslation.v1Response(response, request: request) == response)
        var failed = response
        failed.errorStatus = .notWritable
        failed.errorIndex = 3
        let mapped = ManagerTranslation.v1Response(failed, request: request)
        #expect(mapped.errorStatus == .noSuchName && mapped.errorIndex == 3)
    }
}
