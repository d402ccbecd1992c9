//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import Foundation
import NIOCore
import Testing

@testable import WardenServer

#if canImport(Glibc)
import Glibc
#endif

/// The gateway's listeners and back-end sockets ask for a 4 MiB receive buffer: with the kernel's
/// default (208 KiB, about 256 small datagrams) a listener whose loop is held up for a few tens of
/// milliseconds drops requests, which the soak's fault mode showed.
@Suite("UDP sockets")
struct UDPSocketTests {
    /// What the kernel grants for a request of `bytes`: twice the request, at most twice rmem_max.
    static func granted(_ bytes: CInt) -> CInt {
        let text = (try? String(contentsOfFile: "/proc/sys/net/core/rmem_max", encoding: .utf8)) ?? ""
        let maximum = CInt(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 212_992
        return 2 * min(bytes, maximum)
    }

    @Test("a bound socket has the receive buffer asked for, within net.core.rmem_max")
    func receiveBufferSize() throws {
        for address in ["127.0.0.1", "::1"] {
            let fd = try UDPSocket.bound(to: try SocketAddress(ipAddress: address, port: 0), reusePort: false)
            defer { close(fd) }
            var size: CInt = 0
            var length = socklen_t(MemoryLayout<CInt>.size)
            #expect(getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, &length) == 0)
            #expect(size == Self.granted(UDPSocket.receiveBufferBytes), "\(address)")
        }
    }

    @Test("400 requests arriving while nobody reads are all kept (the default buffer keeps about 256)")
    func burstIsKept() throws {
        let fd = try UDPSocket.bound(to: try SocketAddress(ipAddress: "127.0.0.1", port: 0), reusePort: false)
        defer { close(fd) }
        var local = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        let sender = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(sender) }
        // About the size of an SNMPv3 authPriv Get of three scalars.
        let request = [UInt8](repeating: 0x30, count: 150)
        for _ in 0..<400 {
            let sent = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(sender, request, request.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            #expect(sent == request.count)
        }
        var received = 0
        var buffer = [UInt8](repeating: 0, count: 2048)
        while recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT)) > 0 { received += 1 }
        #expect(received == 400)
    }
}
