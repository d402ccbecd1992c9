//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import Foundation
import PeerSupport
import Testing

/// Value rewriting against a real snmpd as the device and Net-SNMP's tools as the managers.
@Suite("Value rewriting against snmpd: redact, replace, match, synthesize, Set refused")
struct TransformGatewayTests {
    static let transforms = """
          - name: vendor
            users: [ admin ]
            context: vendor
            backend: legacy
            read-view: all
            write-view: all
            hash-key: "vendor-hash-key-0123456789"
            transform:
              - { oid: 1.3.6.1.2.1.2.2.1.6, redact: zero }
              - { oid: "1.3.6.1.2.1.4.20.1.*", redact: hash }
              - { oid: 1.3.6.1.2.1.1.4.0, replace: "noc@example.net" }
              - { oid: 1.3.6.1.2.1.1.1.0, match: "[0-9]+\\\\.[0-9]+\\\\.[0-9]+[^ ]*", with: "x" }
              - { oid: 1.3.6.1.2.1.1.9999.0, synthesize: { type: string, value: "site-ams-3" } }
        """

    @Test("ifPhysAddress zeros of the device's length, other columns unchanged; sysContact replaced; sysDescr's version stripped; a synthesized object; a Set refused")
    func againstSnmpd() throws {
        let lab = try GatewayLab(name: "transform")
        try lab.startGateway(lab.configuration(extraRoutes: Self.transforms))
        let vendor = GatewayLab.admin + ["-n", "vendor"]
        // ifTable: walk and bulk walk through the gateway against the device directly.
        let direct = WalkLine.parse(try lab.direct(["1.3.6.1.2.1.2.2.1"], tool: "snmpwalk"))
        #expect(direct.count > 10)
        for tool in ["snmpwalk", "snmpbulkwalk"] {
            let through = WalkLine.parse(try lab.throughGateway(["1.3.6.1.2.1.2.2.1"], user: vendor, tool: tool))
            #expect(through.map(\.oid) == direct.map(\.oid), "\(tool): the same objects")
            for (seen, real) in zip(through, direct) {
                if seen.oid.hasPrefix(".1.3.6.1.2.1.2.2.1.6.") {
                    // Zeros, as many as the device's address has (Net-SNMP prints an empty one as "").
                    let octets = real.value.hasPrefix("Hex-STRING: ")
                        ? real.value.dropFirst(12).split(separator: " ").count : 0
                    let zeros = octets == 0 ? "\"\"" : "Hex-STRING: " + Array(repeating: "00", count: octets).joined(separator: " ") + " "
                    #expect(seen.value == zeros || seen.value == zeros.trimmingCharacters(in: .whitespaces), "\(tool) \(seen) for \(real)")
                } else if [".1.", ".2.", ".3.", ".4.", ".7.", ".8."].contains(where: { seen.oid.hasPrefix(".1.3.6.1.2.1.2.2.1" + $0) }) {
                    // Columns that do not move between two walks: unchanged.
                    #expect(seen.value == real.value, "\(tool) \(seen.oid)")
                }
            }
        }
        // The system group: replaced contact, stripped version, the synthesized object once, in place.
        let system = WalkLine.parse(try lab.throughGateway(["1.3.6.1.2.1.1"], user: vendor, tool: "snmpbulkwalk"))
        #expect(system.first { $0.oid == ".1.3.6.1.2.1.1.4.0" }?.value == "STRING: \"noc@example.net\"")
        let description = try #require(system.first { $0.oid == ".1.3.6.1.2.1.1.1.0" }?.value)
        let realDescription = try lab.direct(["1.3.6.1.2.1.1.1.0"])
        #expect(realDescription.range(of: "[0-9]+\\.[0-9]+\\.[0-9]+", options: .regularExpression) != nil, "\(realDescription)")
        #expect(description.range(of: "[0-9]+\\.[0-9]+\\.[0-9]+", options: .regularExpression) == nil, "\(description)")
        #expect(system.filter { $0.oid == ".1.3.6.1.2.1.1.9999.0" }.map(\.value) == ["STRING: \"site-ams-3\""])
        #expect(system.map(\.oid).last == ".1.3.6.1.2.1.1.9999.0", "after everything else of the group")
        let synthesized = try lab.throughGateway(["1.3.6.1.2.1.1.9999.0"], user: vendor)
        #expect(synthesized.contains("STRING: \"site-ams-3\""), "\(synthesized)")
        // ipAddrTable: hashed addresses, never the device's, the same pseudonym in both columns.
        let addresses = WalkLine.parse(try lab.throughGateway(["1.3.6.1.2.1.4.20.1.1"], user: vendor, tool: "snmpwalk"))
        #expect(!addresses.isEmpty)
        #expect(!addresses.contains { $0.value == "IpAddress: 127.0.0.1" }, "\(addresses)")
        // A Set of the replaced object: notWritable, and the device keeps its value.
        let before = try lab.direct(["1.3.6.1.2.1.1.4.0"])
        let set = try lab.throughGateway(["1.3.6.1.2.1.1.4.0", "s", "changed"], user: vendor, tool: "snmpset")
        #expect(set.contains("notWritable"), "\(set)")
        #expect(try lab.direct(["1.3.6.1.2.1.1.4.0"]) == before)
        // Another route to the same device, without transforms: the device's own values.
        #expect(!(try lab.throughGateway(["1.3.6.1.2.1.1.4.0"], user: GatewayLab.admin)).contains("noc@example.net"))
        let (status, counters) = try lab.stopGateway()
        #expect(status == 0)
        #expect(counters["refused/vendor/write-transformed"] == "1")
    }
}
