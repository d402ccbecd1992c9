//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOCore
import PeerSupport
import Testing

@testable import WardenServer

#if canImport(Glibc)
import Glibc
#endif

/// The outbox on real loopback sockets: every datagram arrives, whole and in order, however many
/// sendmmsg batches it takes; a wildcard socket sends from the address it is told.
@Suite("Datagram outbox")
struct DatagramOutboxTests {
    @Test("150 datagrams of varied sizes arrive whole and in order, across sendmmsg batches")
    func manyDatagrams() throws {
        let receiver = UDPClient()
        let destination = try SocketAddress(ipAddress: "127.0.0.1", port: Int(receiver.localPort))
        let fd = try UDPSocket.bound(to: try SocketAddress(ipAddress: "127.0.0.1", port: 0), reusePort: false)
        defer { close(fd) }
        let outbox = DatagramOutbox(fd: fd)
        var generator = SeededGenerator(state: 3)
        var sent: [[UInt8]] = []
        var refused = 0
        for index in 0..<150 {
            let length = Int.random(in: 1...1000, using: &generator)
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &+ index) }
            sent.append(bytes)
            refused += outbox.enqueue(ByteBuffer(bytes: bytes), to: destination)
            // Read in two rounds of 75, so the receive buffer never overflows; the outbox sends by
            // itself when 64 are queued, and the rest on flush.
            if index % 75 == 74 {
                refused += outbox.flush()
                for expected in sent[(index - 74)...index] {
                    let datagram = try #require(receiver.receive())
                    #expect(Array(buffer: datagram) == expected)
                }
            }
        }
        #expect(refused == 0)
        #expect(outbox.isEmpty)
    }

    @Test("a wildcard socket sends from the address given (IP_PKTINFO)")
    func sourceAddress() throws {
        let receiver = UDPClient()
        let fd = try UDPSocket.bound(to: try SocketAddress(ipAddress: "0.0.0.0", port: 0), reusePort: false)
        defer { close(fd) }
        var bound = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        let port = Int(UInt16(bigEndian: bound.sin_port))
        let outbox = DatagramOutbox(fd: fd)
        let destination = try SocketAddress(ipAddress: "127.0.0.1", port: Int(receiver.localPort))
        for source in ["127.0.0.2", "127.0.0.3"] {
            _ = outbox.enqueue(
                ByteBuffer(string: source),
                to: destination,
                from: try SocketAddress(ipAddress: source, port: port)
            )
        }
        #expect(outbox.flush() == 0)
        for source in ["127.0.0.2", "127.0.0.3"] {
            let received = try #require(receiver.receiveWithSource())
            #expect(String(buffer: received.datagram) == source)
            #expect(received.host == source)
            #expect(Int(received.port) == port)
        }
    }

    @Test("a datagram the kernel refuses is counted and the others still go")
    func refusedDatagram() throws {
        let receiver = UDPClient()
        let destination = try SocketAddress(ipAddress: "127.0.0.1", port: Int(receiver.localPort))
        let fd = try UDPSocket.bound(to: try SocketAddress(ipAddress: "127.0.0.1", port: 0), reusePort: false)
        defer { close(fd) }
        let outbox = DatagramOutbox(fd: fd)
        _ = outbox.enqueue(ByteBuffer(string: "first"), to: destination)
        // Larger than any UDP datagram: EMSGSIZE.
        _ = outbox.enqueue(ByteBuffer(repeating: 0, count: 70_000), to: destination)
        _ = outbox.enqueue(ByteBuffer(string: "third"), to: destination)
        #expect(outbox.flush() == 1)
        #expect(receiver.receive().map { String(buffer: $0) } == "first")
        #expect(receiver.receive().map { String(buffer: $0) } == "third")
    }
}
