//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import Foundation
import SNMPWire
import Testing
import WardenConfig

/// A configuration file and its inventories in a temporary directory, removed by ``remove()``.
struct InventoryLab {
    let directory: String
    static let environment = ["FLEET": "fleet-community-value", "OTHER": "other-community-value"]

    init(_ files: [String: String]) throws {
        self.directory = NSTemporaryDirectory() + "snmpwarden-inventory-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: self.directory, withIntermediateDirectories: true)
        for (name, text) in files {
            try text.write(toFile: self.directory + "/" + name, atomically: true, encoding: .utf8)
        }
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: self.directory)
    }

    /// Loads `warden.yaml`.
    func load() throws(ConfigurationErrors) -> WardenConfiguration {
        try ConfigurationLoader.load(path: self.directory + "/warden.yaml", environment: Self.environment)
    }

    /// The errors of loading `warden.yaml`, in the order reported, with the directory written `DIR`.
    func errors() -> [String] {
        do {
            _ = try self.load()
            return []
        } catch {
            return error.errors.map { $0.description.replacingOccurrences(of: self.directory, with: "DIR") }
        }
    }

    /// Writes the files, returns the errors of loading `warden.yaml`, and removes the directory.
    static func errors(_ files: [String: String]) throws -> [String] {
        let lab = try InventoryLab(files)
        defer { lab.remove() }
        return lab.errors()
    }
}

/// The agent fields of a back end, or nil for a simulated one.
func agent(
    _ backend: Backend
) -> (address: String, version: SNMPVersion, community: String, timeout: Int, retries: Int)? {
    guard case .agent(let address, let version, let community, let timeout, let retries) = backend.kind else {
        return nil
    }
    return (address.description, version, String(decoding: community, as: UTF8.self), timeout, retries)
}

@Suite("Inventories")
struct InventoryTests {
    static let addressRule =
        "is not an address (192.0.2.1, 192.0.2.1:161, [2001:db8::1]:161, udp:192.0.2.1:161 or udp6:[2001:db8::1]:161)"

    @Test("a CSV inventory: BOM, CRLF, comments, blank lines, quotes, any column order, defaults and overrides")
    func csvInventory() throws {
        let csv = [
            "\u{FEFF}# fleet export",
            "name, address ,version,community,timeout,retries,source,max-in-flight",
            "",
            "sw-1,192.0.2.1,,,,,,",
            "   # an indented comment",
            "\"sw-2\",  \"192.0.2.2:1161\" ,1,\"pub\"\"lic\",500ms,0,,1",
            "sw-3,[2001:db8::3],2c,,2s,,2001:db8::5,",
            "\"sw,4\",udp:192.0.2.4:162,,file:sw4.community,,,,",
            "sw-5,2001:db8::5,,${OTHER},,10,2001:db8::5,0",
            "sw-6,udp6:[2001:db8::6]:1161,,,,,  2001:db8::5  ,",
        ].joined(separator: "\r\n")
        let lab = try InventoryLab([
            "devices.csv": csv,
            "sw4.community": "from-a-file\n",
            "warden.yaml": """
            listen: [udp:127.0.0.1:1161]
            users: [{ name: noc }]
            backends:
              - { name: core, address: "udp:192.0.2.100:161", community: c, group: core, source: 10.0.0.5 }
              - inventory: devices.csv
                group: access
                defaults: { version: 2c, community: "${FLEET}", timeout: 750ms, retries: 3, source: 10.0.0.5, max-in-flight: 4 }
              - { name: edge, address: "udp:192.0.2.200:161", community: c }
            routes:
              - { name: fleet, users: [noc], context: "*", backend: "{context}", backend-group: access }
              - { name: one, users: [noc], context: one, backend: sw-2 }
            """,
        ])
        defer { lab.remove() }
        let configuration = try lab.load()
        let backends = configuration.backends
        #expect(backends.map(\.name) == ["core", "sw-1", "sw-2", "sw-3", "sw,4", "sw-5", "sw-6", "edge"])
        #expect(backends.map(\.group) == ["core", "access", "access", "access", "access", "access", "access", nil])
        #expect(backends.map(\.maxInFlight) == [64, 4, 1, 4, 4, 0, 4, 64])
        #expect(
            backends.map(\.source) == [
                "10.0.0.5", "10.0.0.5", "10.0.0.5", "2001:db8::5", "10.0.0.5", "2001:db8::5", "2001:db8::5", nil,
            ]
        )
        #expect(
            configuration.inventories == [
                Inventory(path: lab.directory + "/devices.csv", group: "access", backends: 1..<7)
            ]
        )

        let sw1 = try #require(agent(backends[1]))
        #expect(sw1.address == "udp:192.0.2.1:161" && sw1.version == .v2c && sw1.community == "fleet-community-value")
        #expect(sw1.timeout == 750 && sw1.retries == 3)
        let sw2 = try #require(agent(backends[2]))
        #expect(sw2.address == "udp:192.0.2.2:1161" && sw2.version == .v1 && sw2.community == "pub\"lic")
        #expect(sw2.timeout == 500 && sw2.retries == 0)
        let sw3 = try #require(agent(backends[3]))
        #expect(sw3.address == "udp6:[2001:db8::3]:161" && sw3.version == .v2c && sw3.timeout == 2000)
        let sw4 = try #require(agent(backends[4]))
        #expect(sw4.address == "udp:192.0.2.4:162" && sw4.community == "from-a-file")
        let sw5 = try #require(agent(backends[5]))
        #expect(sw5.address == "udp6:[2001:db8::5]:161" && sw5.community == "other-community-value")
        #expect(sw5.retries == 10)
        let sw6 = try #require(agent(backends[6]))
        #expect(sw6.address == "udp6:[2001:db8::6]:1161")

        #expect(configuration.routes[0].backend == .byContext(group: "access"))
        #expect(configuration.routes[0].context == .any)
        #expect(configuration.routes[1].backend == .named("sw-2"))
        #expect(configuration.backendSockets == 4)
    }

    @Test("a YAML inventory: a list of devices with the same keys, defaults filling what is missing")
    func yamlInventory() throws {
        let lab = try InventoryLab([
            "aps.yml": """
            # access points
            - { name: ap-1, address: 192.0.2.31 }
            - name: ap-2
              address: "udp6:[2001:db8::32]:1161"
              version: 1
              community: literal-community
              timeout: 3s
              retries: 5
              source: "2001:db8::5"
            - { name: ap-3, address: "[2001:db8::33]", community: "" }
            """,
            "warden.yaml": """
            listen: [udp:127.0.0.1:1161]
            users: [{ name: noc }]
            backends:
              - { inventory: aps.yml, defaults: { community: "${FLEET}", version: 1 } }
            routes: [{ name: ap, users: [noc], context: ap-2, backend: "{context}" }]
            """,
        ])
        defer { lab.remove() }
        let configuration = try lab.load()
        #expect(configuration.backends.map(\.name) == ["ap-1", "ap-2", "ap-3"])
        #expect(configuration.backends.allSatisfy { $0.group == nil })
        #expect(configuration.backends.map(\.source) == [nil, "2001:db8::5", nil])
        let ap1 = try #require(agent(configuration.backends[0]))
        #expect(ap1.address == "udp:192.0.2.31:161" && ap1.version == .v1 && ap1.community == "fleet-community-value")
        #expect(ap1.timeout == 1000 && ap1.retries == 2)
        let ap2 = try #require(agent(configuration.backends[1]))
        #expect(ap2.address == "udp6:[2001:db8::32]:1161" && ap2.version == .v1)
        #expect(ap2.community == "literal-community" && ap2.timeout == 3000 && ap2.retries == 5)
        let ap3 = try #require(agent(configuration.backends[2]))
        #expect(ap3.address == "udp6:[2001:db8::33]:161" && ap3.community == "fleet-community-value")
        #expect(configuration.routes[0].backend == .byContext(group: nil))
        #expect(configuration.routes[0].context == .exactly("ap-2"))
        #expect(configuration.inventories.map(\.backends) == [0..<3])
    }

    @Test("a mixed fleet: v3 devices take the user and context of their row or the defaults, v2c ones the community")
    func v3Devices() throws {
        let lab = try InventoryLab([
            "devices.csv": """
            name,address,version,user,context,community
            sw-1,192.0.2.1,3,,,
            sw-2,192.0.2.2,3,other,vrf-red,
            sw-3,192.0.2.3,2c,,,
            sw-4,192.0.2.4,,,,${OTHER}
            """,
            "aps.yaml": """
            - { name: ap-1, address: 192.0.2.31, version: 3, user: other }
            """,
            "warden.yaml": """
            listen: [udp:127.0.0.1:1161]
            users:
              - { name: noc }
              - { name: fleet-user, auth: SHA-256, auth-key: fleet-auth-pass, priv: AES, priv-key: fleet-priv-pass }
              - { name: other, auth: SHA, auth-key: other-auth-pass }
            backends:
              - inventory: devices.csv
                defaults: { community: "${FLEET}", user: fleet-user, context: vrf-blue }
              - { inventory: aps.yaml }
            routes: [{ name: fleet, users: [noc], context: "*", backend: "{context}" }]
            """,
        ])
        defer { lab.remove() }
        let backends = try lab.load().backends
        #expect(backends.map(\.name) == ["sw-1", "sw-2", "sw-3", "sw-4", "ap-1"])
        #expect(
            backends.map(\.usm) == [
                Backend.USM(user: "fleet-user", context: "vrf-blue"), Backend.USM(user: "other", context: "vrf-red"),
                nil, nil, Backend.USM(user: "other"),
            ]
        )
        #expect(backends.map { agent($0)?.version } == [.v3, .v3, .v2c, .v2c, .v3])
        #expect(
            backends.map { agent($0)?.community } == [
                "", "", "fleet-community-value", "other-community-value", "",
            ]
        )
    }

    /// The main file of most error cases: one CSV inventory `devices.csv` in group `access`.
    static func main(defaults: String = "{ community: \"${FLEET}\" }") -> String {
        """
        listen: [udp:127.0.0.1:1161]
        users: [{ name: noc }]
        backends:
          - { inventory: devices.csv, group: access, defaults: \(defaults) }
        routes: [{ name: fleet, users: [noc], context: "*", backend: "{context}", backend-group: access }]
        """
    }

    /// Broken inventories and the exact errors expected, in the order reported.
    static let broken: [(String, [String: String], [String])] = [
        (
            "header: an unknown column, a repeated one, a required one missing",
            ["warden.yaml": main(), "devices.csv": "name,addr,name,community\nsw-1,192.0.2.1,x,y\n"],
            [
                "DIR/devices.csv:1:1: the header has no 'address' column (name and address are required)",
                "DIR/devices.csv:1:6: unknown column 'addr' in the header; expected some of: name, address, version, community, user, context, timeout, retries, source, max-in-flight",
                "DIR/devices.csv:1:11: column 'name' appears twice in the header",
            ]
        ),
        (
            "rows: every bad cell where it starts",
            [
                "warden.yaml": main(defaults: "{ community: \"${FLEET}\", source: 10.0.0.5 }"),
                "devices.csv": """
                name,address,version,timeout,retries,source
                sw-1,192.0.2.1,4,soon,11,10.0.0.300
                sw-2,192.0.2.2
                ,192.0.2.3,,,,
                sw-4,,,,,
                sw-5,300.1.1.1,,,,
                sw-6,192.0.2.6,,,x,2001:db8::9
                sw-7,[2001:db8::7],,,,
                sw-8,192.0.2.8,,,,
                """,
            ],
            [
                "DIR/devices.csv:2:16: backend 'sw-1': version must be 1, 2c or 3",
                "DIR/devices.csv:2:18: backend 'sw-1': timeout must be a duration such as 500ms, 1s or 2m",
                "DIR/devices.csv:2:23: backend 'sw-1': retries must be from 0 to 10",
                "DIR/devices.csv:2:26: backend 'sw-1': source '10.0.0.300' is not an IP address (10.0.0.5 or 2001:db8::5)",
                "DIR/devices.csv:3:1: this row has 2 fields; the header names 6 columns",
                "DIR/devices.csv:4:1: a device needs a name",
                "DIR/devices.csv:5:6: backend 'sw-4' needs an address",
                "DIR/devices.csv:6:6: backend 'sw-5': address: '300.1.1.1' \(addressRule)",
                "DIR/devices.csv:7:18: backend 'sw-6': retries must be a whole number",
                "DIR/devices.csv:7:20: backend 'sw-6': source '2001:db8::9' is IPv6 but the address is IPv4",
                "DIR/devices.csv:8:6: backend 'sw-7': source '10.0.0.5' (from the inventory's defaults) is IPv4 but the address is IPv6",
            ]
        ),
        (
            "max-in-flight cells: out of range, not a number",
            [
                "warden.yaml": main(),
                "devices.csv": """
                name,address,max-in-flight
                sw-1,192.0.2.1,65536
                sw-2,192.0.2.2,many
                sw-3,192.0.2.3,-1
                """,
            ],
            [
                "DIR/devices.csv:2:16: backend 'sw-1': max-in-flight must be from 0 to 65535",
                "DIR/devices.csv:3:16: backend 'sw-2': max-in-flight must be a whole number",
                "DIR/devices.csv:4:16: backend 'sw-3': max-in-flight must be from 0 to 65535",
            ]
        ),
        (
            "quoting: text after a closing quote, a line break inside quotes, an unclosed quote",
            [
                "warden.yaml": main(),
                "devices.csv": """
                # comment
                name,address
                "sw-1" x,192.0.2.1
                "sw
                2",bad
                 sw-3 , "192.0.2.3
                sw-4,192.0.2.4
                """,
            ],
            [
                "DIR/devices.csv:3:8: after a closing quote, expected a comma or the end of the line",
                "DIR/devices.csv:5:4: backend 'sw\n2': address: 'bad' \(addressRule)",
                "DIR/devices.csv:6:9: this quoted field is not closed (a '\"' is missing)",
            ]
        ),
        (
            "community: neither in the row nor in the defaults; a variable that is not set",
            [
                "warden.yaml": """
                listen: [udp:127.0.0.1:1161]
                users: [{ name: noc }]
                backends:
                  - { inventory: devices.csv, group: access }
                  - inventory: more.csv
                routes: [{ name: fleet, users: [noc], context: "*", backend: "{context}", backend-group: access }]
                """,
                "devices.csv": "name,address,community\nsw-1,192.0.2.1,\nsw-2,192.0.2.2,${NOT_SET_ANYWHERE}\n"
                    + "sw-3,192.0.2.3,${FLEET}\n",
                "more.csv": "name,address\n  sw-4,192.0.2.4\n",
            ],
            [
                "DIR/devices.csv:2:16: backend 'sw-1' needs a community (in its row or in the inventory's defaults)",
                "DIR/devices.csv:3:16: backend 'sw-2': community: environment variable NOT_SET_ANYWHERE is not set",
                "DIR/more.csv:2:3: backend 'sw-4' needs a community (in its row or in the inventory's defaults)",
            ]
        ),
        (
            "the item in the main file: a missing file, a wrong extension, unknown keys, bad defaults",
            [
                "warden.yaml": """
                listen: [udp:127.0.0.1:1161]
                users: [{ name: noc }]
                backends:
                  - inventory: missing.csv
                    group: gone
                  - inventory: devices.txt
                  - { inventory: devices.csv, name: x, defaults: { community: c, port: 161, version: 4, source: nowhere } }
                  - { inventory: devices.csv }
                routes: [{ name: r, users: [noc], context: "*", backend: "{context}", backend-group: gone }]
                """,
                "devices.csv": "name,address\nsw-1,192.0.2.1\n",
            ],
            [
                "DIR/warden.yaml:4:16: inventory: cannot read DIR/missing.csv",
                "DIR/warden.yaml:6:16: inventory 'devices.txt' must be a .csv, .yaml or .yml file",
                "DIR/warden.yaml:7:31: unknown key 'name' in an inventory item; expected one of: inventory, group, defaults",
                "DIR/warden.yaml:7:66: unknown key 'port' in the defaults of inventory 'devices.csv'; expected one of: version, community, user, context, timeout, retries, source, max-in-flight",
                "DIR/warden.yaml:7:86: the defaults of inventory 'devices.csv': version must be 1, 2c or 3",
                "DIR/warden.yaml:7:97: the defaults of inventory 'devices.csv': source 'nowhere' is not an IP address (10.0.0.5 or 2001:db8::5)",
                "DIR/warden.yaml:8:18: inventory DIR/devices.csv is listed twice",
            ]
        ),
        (
            "names are unique across inline back ends and every inventory",
            [
                "warden.yaml": """
                listen: [udp:127.0.0.1:1161]
                users: [{ name: noc }]
                backends:
                  - { name: sw-1, address: "udp:192.0.2.1:161", community: c }
                  - { inventory: a.csv, defaults: { community: c } }
                  - { inventory: b.yaml, defaults: { community: c } }
                  - { name: sw-3, simulate: /dev/null }
                routes: [{ name: r, users: [noc], backend: sw-2 }]
                """,
                "a.csv": "name,address\nsw-1,192.0.2.1\nsw-2,192.0.2.2\nsw-2,192.0.2.22\n",
                "b.yaml": "- { name: sw-3, address: 192.0.2.3 }\n- { name: sw-2, address: 192.0.2.4 }\n",
            ],
            [
                "DIR/warden.yaml:7:13: backend 'sw-3' is defined twice (first at DIR/b.yaml:1)",
                "DIR/a.csv:2:1: backend 'sw-1' is defined twice (first at DIR/warden.yaml:4)",
                "DIR/a.csv:4:1: backend 'sw-2' is defined twice (first at DIR/a.csv:3)",
                "DIR/b.yaml:2:11: backend 'sw-2' is defined twice (first at DIR/a.csv:3)",
            ]
        ),
        (
            "a YAML inventory: unknown keys, values that are not strings, devices that are not mappings",
            [
                "warden.yaml": """
                listen: [udp:127.0.0.1:1161]
                users: [{ name: noc }]
                backends:
                  - { inventory: b.yaml, defaults: { community: c } }
                  - { inventory: c.yaml, defaults: { community: c } }
                routes: [{ name: r, users: [noc], context: ap-2, backend: "{context}" }]
                """,
                "b.yaml": """
                - { name: ap-1, address: 192.0.2.31, colour: red }
                - name: ap-2
                  address: [192.0.2.32]
                - just-a-string
                - { address: 192.0.2.34 }
                - { name: ap-5, address: 192.0.2.35, retries: -1 }
                """,
                "c.yaml": "name: not-a-list\n",
            ],
            [
                "DIR/b.yaml:1:38: unknown key 'colour' in a device; expected one of: name, address, version, community, user, context, timeout, retries, source, max-in-flight",
                "DIR/b.yaml:3:12: 'address' must be a string",
                "DIR/b.yaml:4:3: a device must be a mapping",
                "DIR/b.yaml:5:3: a device needs a name",
                "DIR/b.yaml:6:47: backend 'ap-5': retries must be from 0 to 10",
                "DIR/c.yaml:1:1: a YAML inventory (a list of devices) must be a list",
            ]
        ),
        (
            "a YAML inventory that is not YAML (the open flow mapping runs to the end of the file)",
            [
                "warden.yaml": """
                listen: [udp:127.0.0.1:1161]
                backends: [{ inventory: b.yaml, group: g, defaults: { community: c } }]
                routes: []
                """,
                "b.yaml": "- { name: x, address: 192.0.2.1\n- y\n",
            ],
            ["DIR/b.yaml:3:1: YAML: did not find expected ',' or '}'"]
        ),
        (
            "routes with backend \"{context}\", backend-group",
            [
                "warden.yaml": """
                listen: [udp:127.0.0.1:1161]
                users: [{ name: noc }]
                backends:
                  - { name: core, address: "udp:192.0.2.1:161", community: c, group: core }
                  - { inventory: devices.csv, group: access, defaults: { community: c } }
                routes:
                  - { name: r1, users: [noc], backend: "{context}" }
                  - { name: r2, users: [noc], context: sw-9, backend: "{context}" }
                  - { name: r3, users: [noc], context: core, backend: "{context}", backend-group: access }
                  - { name: r4, users: [noc], context: "*", backend: "{context}", backend-group: nobody }
                  - { name: r5, users: [noc], backend: core, backend-group: access }
                  - { name: r6, users: [noc], context: "*", backend: {context} }
                  - { name: r7, communities: [public], backend: "{context}" }
                  - { name: ok1, users: [noc], context: sw-1, backend: "{context}", backend-group: access }
                """,
                "devices.csv": "name,address\nsw-1,192.0.2.11\nsw-2,192.0.2.12\n",
            ],
            [
                "DIR/warden.yaml:7:40: route 'r1': a {context} route needs context: \"*\" (any) or a device name",
                "DIR/warden.yaml:8:40: route 'r2': no backend named 'sw-9'",
                "DIR/warden.yaml:9:40: route 'r3': backend 'core' is not in group 'access'",
                "DIR/warden.yaml:10:82: route 'r4': no backend has group 'nobody'",
                "DIR/warden.yaml:11:46: route 'r5': 'backend-group' goes only with backend: \"{context}\"",
                "DIR/warden.yaml:12:54: route 'r6': write backend: \"{context}\" in quotes (YAML reads {context} as a mapping)",
                "DIR/warden.yaml:13:49: route 'r7': backend \"{context}\" picks the device by the v3 contextName; v1/v2c has no context",
            ]
        ),
        (
            "a group no back end has: the inventory is empty",
            [
                "warden.yaml": main(),
                "devices.csv": "# nobody yet\nname,address,community\n",
            ],
            ["DIR/warden.yaml:5:90: route 'fleet': no backend has group 'access'"]
        ),
        (
            "source: its family and simulate; group: not empty",
            [
                "warden.yaml": """
                listen: [udp:127.0.0.1:1161]
                backends:
                  - { name: a, address: "udp:192.0.2.1:161", community: c, source: "2001:db8::5" }
                  - { name: b, simulate: /dev/null, source: 10.0.0.5 }
                  - { name: c, address: "udp6:[2001:db8::1]:161", community: c, source: 10.0.0.5, group: "" }
                routes: []
                """
            ],
            [
                "DIR/warden.yaml:3:68: backend 'a': source '2001:db8::5' is IPv6 but the address is IPv4",
                "DIR/warden.yaml:4:37: backend 'b': 'source' does not go with 'simulate'",
                "DIR/warden.yaml:5:73: backend 'c': source '10.0.0.5' is IPv4 but the address is IPv6",
                "DIR/warden.yaml:5:90: backend 'c': group must not be empty",
            ]
        ),
        (
            "SNMPv3 devices: a user that is not in users:, none at all, a community, columns of v3 on a v2c device",
            [
                "warden.yaml": """
                listen: [udp:127.0.0.1:1161]
                users: [{ name: noc }, { name: keyed, auth: MD5, auth-localized-key: 00112233445566778899aabbccddeeff }]
                backends:
                  - { inventory: devices.csv, group: access, defaults: { community: c, user: ghost, context: "" } }
                  - { inventory: more.csv, defaults: { user: keyed } }
                routes: [{ name: fleet, users: [noc], context: "*", backend: "{context}", backend-group: access }]
                """,
                "devices.csv": """
                name,address,version,user,context,community
                sw-1,192.0.2.1,3,,,
                sw-2,192.0.2.2,3,nobody,0123456789012345678901234567890123,x
                sw-3,192.0.2.3,2c,noc,ctx,
                """,
                "more.csv": "name,address,version\nsw-9,192.0.2.9,3\n",
            ],
            [
                "DIR/warden.yaml:4:78: the defaults of inventory 'devices.csv': no user named 'ghost' in users",
                "DIR/warden.yaml:5:46: the defaults of inventory 'more.csv': user 'keyed' has a localized key, which is for one engine ID only: give the agent's engine-id (or give the user passphrases)",
                "DIR/devices.csv:3:18: backend 'sw-2': no user named 'nobody' in users",
                "DIR/devices.csv:3:25: backend 'sw-2': context must be at most 32 octets",
                "DIR/devices.csv:3:60: backend 'sw-2': 'community' does not go with version 3 (it has a 'user')",
                "DIR/devices.csv:4:19: backend 'sw-3': 'user' goes with version 3 only",
                "DIR/devices.csv:4:23: backend 'sw-3': 'context' goes with version 3 only",
            ]
        ),
    ]

    @Test("broken inventories: every error, with the inventory's file:line:column", arguments: broken)
    func brokenInventory(label: String, files: [String: String], expected: [String]) throws {
        let actual = try InventoryLab.errors(files)
        #expect(actual == expected, "\(label)")
    }

    @Test("no secret value appears in an inventory's errors")
    func secretsStaySecret() throws {
        let errors = try InventoryLab.errors([
            "warden.yaml": Self.main(defaults: "{ community: \"${FLEET}\", timeout: never }"),
            "devices.csv":
                "name,address,community,version\nsw-1,192.0.2.1,${OTHER},9\nsw-2,192.0.2.2,literal-secret,9\n"
                + "sw-3,192.0.2.3,${NOT_SET_EITHER},\n",
        ])
        #expect(errors.count == 4)
        #expect(errors.contains { $0.contains("environment variable NOT_SET_EITHER is not set") })
        let text = errors.joined(separator: "\n")
        for secret in InventoryLab.environment.values { #expect(!text.contains(secret)) }
        #expect(!text.contains("literal-secret"))
    }

    @Test("routes may name an inventory's devices; {context} routes with a device name or any")
    func routesToInventoryDevices() throws {
        let lab = try InventoryLab([
            "devices.csv": "name,address\nsw-1,192.0.2.11\nsw-2,192.0.2.12\n",
            "warden.yaml": """
            listen: [udp:127.0.0.1:1161]
            users: [{ name: noc }]
            backends:
              - { name: core, address: "udp:192.0.2.1:161", community: c, group: core }
              - { inventory: devices.csv, group: access, defaults: { community: c } }
            routes:
              - { name: ok1, users: [noc], context: sw-1, backend: "{context}", backend-group: access }
              - { name: ok2, users: [noc], context: core, backend: "{context}" }
              - { name: ok3, users: [noc], backend: sw-2 }
              - { name: ok4, users: [noc], context: "*", backend: "{context}" }
              - { name: ok5, users: [noc], context: "*", backend: "{context}", backend-group: core }
            """,
        ])
        defer { lab.remove() }
        let routes = try lab.load().routes
        #expect(
            routes.map(\.backend) == [
                .byContext(group: "access"), .byContext(group: nil), .named("sw-2"), .byContext(group: nil),
                .byContext(group: "core"),
            ]
        )
        #expect(routes.map(\.context) == [.exactly("sw-1"), .exactly("core"), .exactly(""), .any, .any])
    }

    @Test(
        "backend-sockets: 4 by default, 1 to 1024",
        arguments: [("", 4), ("backend-sockets: 1\n", 1), ("backend-sockets: 1024\n", 1024)]
    )
    func backendSockets(line: String, expected: Int) throws {
        let lab = try InventoryLab(["warden.yaml": "listen: [udp:127.0.0.1:1161]\n\(line)routes: []\n"])
        defer { lab.remove() }
        #expect(try lab.load().backendSockets == expected)
    }

    @Test(
        "backend-sockets out of range",
        arguments: [
            ("0", "backend-sockets must be from 1 to 1024"), ("1025", "backend-sockets must be from 1 to 1024"),
            ("many", "backend-sockets must be a whole number"),
        ]
    )
    func backendSocketsOutOfRange(value: String, message: String) throws {
        let errors = try InventoryLab.errors([
            "warden.yaml": "listen: [udp:127.0.0.1:1161]\nbackend-sockets: \(value)\nroutes: []\n"
        ])
        #expect(errors == ["DIR/warden.yaml:2:18: \(message)"])
    }

    @Test("ten thousand devices load, in order, the last one right")
    func tenThousandDevices() throws {
        var csv = "# generated\nname,address,retries\n"
        for index in 1...10_000 {
            csv += "dev-\(index),10.\(index >> 16).\((index >> 8) & 255).\(index & 255),\n"
        }
        csv += "\"dev-last\",198.51.100.254:1161,7\n"
        let lab = try InventoryLab([
            "fleet.csv": csv,
            "warden.yaml": """
            listen: [udp:127.0.0.1:1161]
            users: [{ name: noc }]
            backends:
              - { name: core, address: "udp:192.0.2.1:161", community: c }
              - { inventory: fleet.csv, group: fleet, defaults: { community: "${FLEET}", source: 10.0.0.5 } }
            routes: [{ name: fleet, users: [noc], context: "*", backend: "{context}", backend-group: fleet }]
            """,
        ])
        defer { lab.remove() }
        let start = ContinuousClock.now
        let configuration = try lab.load()
        print("10,001 devices loaded in \(ContinuousClock.now - start)")
        #expect(configuration.backends.count == 10_002)
        #expect(configuration.inventories.map(\.backends) == [1..<10_002])
        #expect(configuration.backends[1].name == "dev-1" && configuration.backends[10_000].name == "dev-10000")
        #expect(agent(configuration.backends[10_000])?.address == "udp:10.0.39.16:161")
        let last = configuration.backends[10_001]
        #expect(last.name == "dev-last" && last.group == "fleet" && last.source == "10.0.0.5")
        let fields = try #require(agent(last))
        #expect(fields.address == "udp:198.51.100.254:1161" && fields.retries == 7)
        #expect(fields.community == "fleet-community-value" && fields.version == .v2c && fields.timeout == 1000)
    }
}
