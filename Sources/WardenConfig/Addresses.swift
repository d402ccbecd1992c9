//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Address literals through `inet_pton`, so only what the socket layer accepts is accepted.
enum AddressLiteral {
    static func ipv4(_ text: String) -> [UInt8]? {
        var address = in_addr()
        guard inet_pton(AF_INET, text, &address) == 1 else { return nil }
        return withUnsafeBytes(of: &address) { Array($0) }
    }

    static func ipv6(_ text: String) -> [UInt8]? {
        var address = in6_addr()
        guard inet_pton(AF_INET6, text, &address) == 1 else { return nil }
        return withUnsafeBytes(of: &address) { Array($0) }
    }
}

extension TransportAddress {
    /// `udp:HOST:PORT`, `udp:HOST` (port 161), `udp6:[HOST]:PORT`, `udp6:[HOST]`.
    init?(parsing text: String) {
        if text.hasPrefix("udp6:") {
            let rest = text.dropFirst(5)
            guard rest.hasPrefix("["), let close = rest.firstIndex(of: "]") else { return nil }
            let host = String(rest[rest.index(after: rest.startIndex)..<close])
            guard AddressLiteral.ipv6(host) != nil else { return nil }
            let after = rest[rest.index(after: close)...]
            var port: UInt16 = 161
            if !after.isEmpty {
                guard after.hasPrefix(":"), let value = UInt16(after.dropFirst()) else { return nil }
                port = value
            }
            self.init(family: .udp6, host: host, port: port)
        } else if text.hasPrefix("udp:") {
            let parts = text.dropFirst(4).split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 1 || parts.count == 2, AddressLiteral.ipv4(String(parts[0])) != nil else { return nil }
            var port: UInt16 = 161
            if parts.count == 2 {
                guard let value = UInt16(parts[1]) else { return nil }
                port = value
            }
            self.init(family: .udp, host: String(parts[0]), port: port)
        } else {
            return nil
        }
    }

    /// What an inventory's `address` accepts: the transport syntax, or for short a bare literal:
    /// `192.0.2.7`, `192.0.2.7:1161` (udp), `[2001:db8::7]`, `[2001:db8::7]:1161`, `2001:db8::7` (udp6).
    init?(inventory text: String) {
        if text.hasPrefix("udp:") || text.hasPrefix("udp6:") {
            self.init(parsing: text)
        } else if text.hasPrefix("[") {
            self.init(parsing: "udp6:" + text)
        } else if text.utf8.lazy.filter({ $0 == UInt8(ascii: ":") }).count > 1 {
            guard AddressLiteral.ipv6(text) != nil else { return nil }
            self.init(family: .udp6, host: text, port: 161)
        } else {
            self.init(parsing: "udp:" + text)
        }
    }
}

extension AddressPrefix {
    /// `10.0.0.0/8`, `2001:db8::/32`, or a single address.
    init?(parsing text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2 else { return nil }
        guard let address = AddressLiteral.ipv4(String(parts[0])) ?? AddressLiteral.ipv6(String(parts[0])) else {
            return nil
        }
        var length = address.count * 8
        if parts.count == 2 {
            guard let value = Int(parts[1]), value >= 0, value <= address.count * 8 else { return nil }
            length = value
        }
        self.init(address: address, length: length)
    }
}
