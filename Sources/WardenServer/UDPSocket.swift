//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Binding a socket with the options we need, which NIO's bootstrap does not set; NIO then takes the
/// bound descriptor (`withBoundSocket`), and ``DatagramOutbox`` writes on it.
///
/// NIO reports the address a datagram arrived on (`.receivePacketInfo`) but does not set it on
/// writes. A listener bound to a wildcard address (`0.0.0.0`, `::`) on a multi-homed host must
/// answer from the address the manager asked, or the manager (and any stateful firewall between)
/// drops the answer; the outbox sends such replies with `IP_PKTINFO` / `IPV6_PKTINFO`.
enum UDPSocket {
    struct SocketError: Error, CustomStringConvertible {
        var description: String
    }

    /// The receive buffer asked for every socket (SO_RCVBUF). The kernel's default, 208 KiB, holds
    /// about 256 small datagrams, or 3 of 64 KiB: at 10,000 requests a second, a listener whose
    /// loop is held up for 25 ms (descheduled on a busy host) drops requests, and three oversized
    /// datagrams from one agent fill a back-end socket that every agent's answers share. The kernel
    /// grants at most `net.core.rmem_max` (doubled for its bookkeeping); nothing fails if that is less.
    static let receiveBufferBytes: CInt = 4 << 20

    /// A UDP socket bound to `address`; `reusePort` lets each event loop bind its own (SO_REUSEPORT).
    static func bound(to address: SocketAddress, reusePort: Bool) throws(SocketError) -> CInt {
        let family = address.protocol == .inet6 ? AF_INET6 : AF_INET
        let fd = socket(family, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw SocketError(description: "socket(): \(String(cString: strerror(errno)))") }
        var one: CInt = 1
        var receiveBuffer = Self.receiveBufferBytes
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receiveBuffer, socklen_t(MemoryLayout<CInt>.size))
        // No SO_REUSEADDR: a second gateway (or snmpd) on the same port must fail to start, not share it.
        if reusePort {
            setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, socklen_t(MemoryLayout<CInt>.size))
        }
        if family == AF_INET6 {
            // udp6 is IPv6 only (as in Net-SNMP), so `udp:0.0.0.0:161` and `udp6:[::]:161` can both be bound.
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<CInt>.size))
        }
        let result = address.withSockAddr { pointer, length in bind(fd, pointer, socklen_t(length)) }
        guard result == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw SocketError(description: "cannot bind \(GatewayLoop.describe(address)): \(reason)")
        }
        return fd
    }

    /// Whether `address` is the wildcard of its family.
    static func isWildcard(_ address: SocketAddress) -> Bool {
        switch address {
        case .v4(let v4): return v4.address.sin_addr.s_addr == 0
        case .v6(let v6):
            return withUnsafeBytes(of: v6.address.sin6_addr) { $0.allSatisfy { $0 == 0 } }
        default: return false
        }
    }
}

/// `struct in6_pktinfo` (RFC 3542 §6.1), which Glibc declares only under _GNU_SOURCE.
struct IPv6PacketInfo {
    var address = in6_addr()
    var interfaceIndex: UInt32 = 0

    /// IPV6_PKTINFO on Linux.
    static let option: Int32 = 50
}
