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

/// The two socket calls NIO does not make for us: binding a listener with the options we need, and
/// sending a reply from a chosen local address.
///
/// NIO reports the address a datagram arrived on (`.receivePacketInfo`) but does not set it on
/// writes. A listener bound to a wildcard address (`0.0.0.0`, `::`) on a multi-homed host must
/// answer from the address the manager asked, or the manager (and any stateful firewall between)
/// drops the answer; so replies on such listeners go out through `sendmsg` with `IP_PKTINFO` /
/// `IPV6_PKTINFO`, on the listener's own descriptor, from its event loop.
enum UDPSocket {
    struct SocketError: Error, CustomStringConvertible {
        var description: String
    }

    /// A UDP socket bound to `address`; `reusePort` lets each event loop bind its own (SO_REUSEPORT).
    static func bound(to address: SocketAddress, reusePort: Bool) throws(SocketError) -> CInt {
        let family = address.protocol == .inet6 ? AF_INET6 : AF_INET
        let fd = socket(family, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw SocketError(description: "socket(): \(String(cString: strerror(errno)))") }
        var one: CInt = 1
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

    /// Sends `datagram` to `destination` from `source` (the address the request arrived on).
    /// Returns false if the kernel refused (the caller counts it as a silent drop).
    static func send(
        fd: CInt,
        _ datagram: ByteBuffer,
        to destination: SocketAddress,
        from source: SocketAddress
    ) -> Bool {
        datagram.withUnsafeReadableBytes { bytes in
            destination.withSockAddr { name, nameLength in
                var iov = iovec(iov_base: UnsafeMutableRawPointer(mutating: bytes.baseAddress), iov_len: bytes.count)
                // Room for one IPv6PacketInfo control message, the larger of the two.
                let controlSize = MemoryLayout<cmsghdr>.stride + MemoryLayout<IPv6PacketInfo>.stride + 8
                return withUnsafeTemporaryAllocation(byteCount: controlSize, alignment: 8) { control in
                    control.initializeMemory(as: UInt8.self, repeating: 0)
                    var message = msghdr()
                    message.msg_name = UnsafeMutableRawPointer(mutating: name)
                    message.msg_namelen = socklen_t(nameLength)
                    return withUnsafeMutablePointer(to: &iov) { iovPointer in
                        message.msg_iov = iovPointer
                        message.msg_iovlen = 1
                        let header = control.baseAddress!.assumingMemoryBound(to: cmsghdr.self)
                        let dataOffset = MemoryLayout<cmsghdr>.stride
                        switch source {
                        case .v4(let v4):
                            var info = in_pktinfo()
                            info.ipi_spec_dst = v4.address.sin_addr
                            header.pointee.cmsg_level = Int32(IPPROTO_IP)
                            header.pointee.cmsg_type = Int32(IP_PKTINFO)
                            header.pointee.cmsg_len = dataOffset + MemoryLayout<in_pktinfo>.size
                            control.baseAddress!.advanced(by: dataOffset).storeBytes(of: info, as: in_pktinfo.self)
                            message.msg_controllen = dataOffset + MemoryLayout<in_pktinfo>.stride
                        case .v6(let v6):
                            var info = IPv6PacketInfo()
                            info.address = v6.address.sin6_addr
                            header.pointee.cmsg_level = Int32(IPPROTO_IPV6)
                            header.pointee.cmsg_type = IPv6PacketInfo.option
                            header.pointee.cmsg_len = dataOffset + MemoryLayout<IPv6PacketInfo>.size
                            control.baseAddress!.advanced(by: dataOffset).storeBytes(of: info, as: IPv6PacketInfo.self)
                            message.msg_controllen = dataOffset + MemoryLayout<IPv6PacketInfo>.stride
                        default:
                            message.msg_controllen = 0
                        }
                        // CMSG_SPACE: the data rounded up to the header's alignment.
                        message.msg_controllen = (message.msg_controllen + 7) & ~7
                        if message.msg_controllen > 0 { message.msg_control = control.baseAddress }
                        return sendmsg(fd, &message, Int32(MSG_DONTWAIT)) == bytes.count
                    }
                }
            }
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
