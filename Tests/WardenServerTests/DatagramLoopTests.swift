//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOConcurrencyHelpers
import NIOCore
import PeerSupport
import Testing

@testable import WardenServer

#if canImport(Glibc)
import Glibc
#endif

/// The data path's own event loop on real loopback sockets: recvmmsg into one shared buffer, the
/// source and destination addresses as the kernel gave them, timers and tasks as NIO's loops run
/// them, and a clean stop.
@Suite("Datagram loop")
struct DatagramLoopTests {
    /// Records what the loop hands over (on the loop's thread).
    final class Collector: DatagramHandler {
        var datagrams: [(bytes: [UInt8], source: SocketAddress, destination: SocketAddress?, tag: Int)] = []
        /// The first datagram as the loop handed it: a slice of the loop's buffer, kept.
        var kept: ByteBuffer?
        var readBursts = 0

        func receive(_ datagram: ByteBuffer, from source: SocketAddress, to destination: SocketAddress?, tag: Int) {
            if self.kept == nil { self.kept = datagram }
            self.datagrams.append((Array(buffer: datagram), source, destination, tag))
        }

        func readsEnded() {
            self.readBursts += 1
        }
    }

    /// Polls `condition` on the loop until it holds (at most `seconds`).
    static func await(
        _ loop: DatagramLoop,
        seconds: Int = 5,
        _ condition: @escaping @Sendable () -> Bool
    ) async throws -> Bool {
        let clock = ContinuousClock()
        let end = clock.now + .seconds(seconds)
        while clock.now < end {
            if try await loop.submit(condition).get() { return true }
            try await Task.sleep(for: .milliseconds(5))
        }
        return false
    }

    static func port(of fd: CInt) -> Int {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    @Test("datagrams from two senders arrive whole, in order, with their source; a kept slice stays intact")
    func receivesWithSources() async throws {
        let loop = try DatagramLoop.start(index: 0)
        defer { loop.shutdownGracefully { _ in } }
        let fd = try UDPSocket.bound(to: try SocketAddress(ipAddress: "127.0.0.1", port: 0), reusePort: false)
        let port = Self.port(of: fd)
        let collector = Collector()
        nonisolated(unsafe) let handler = collector
        try await loop.submit {
            let token = loop.register(fd: fd, capacity: 2048, packetInfo: false, tag: 7, handler: handler)
            loop.setReading(token, true)
        }.get()
        let first = UDPClient(host: "127.0.0.1")
        let second = UDPClient(host: "127.0.0.2")
        var generator = SeededGenerator(state: 11)
        var sent: [UInt16: [[UInt8]]] = [:]
        for index in 0..<200 {
            let client = index % 2 == 0 ? first : second
            let length = Int.random(in: 1...2000, using: &generator)
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ index) }
            sent[client.localPort, default: []].append(bytes)
            client.send(ByteBuffer(bytes: bytes), to: UInt16(port), host: "127.0.0.1")
        }
        #expect(try await Self.await(loop) { handler.datagrams.count >= 200 })
        let (datagrams, kept, bursts) = try await loop.submit {
            (handler.datagrams, handler.kept.map { Array(buffer: $0) }, handler.readBursts)
        }.get()
        #expect(datagrams.count == 200)
        #expect(bursts >= 1)
        var received: [UInt16: [[UInt8]]] = [:]
        for datagram in datagrams {
            #expect(datagram.tag == 7)
            #expect(datagram.destination == nil)
            let expectedHost = datagram.source.port == Int(first.localPort) ? "127.0.0.1" : "127.0.0.2"
            #expect(datagram.source.ipAddress == expectedHost)
            received[UInt16(datagram.source.port!), default: []].append(datagram.bytes)
        }
        #expect(received == sent)
        // Written over by 199 reads since: the kept slice must still hold the first datagram.
        #expect(kept == sent[first.localPort]?.first)
    }

    @Test("a wildcard socket reports the address each datagram was sent to (IP_PKTINFO)")
    func packetInfo() async throws {
        let loop = try DatagramLoop.start(index: 1)
        defer { loop.shutdownGracefully { _ in } }
        let fd = try UDPSocket.bound(to: try SocketAddress(ipAddress: "0.0.0.0", port: 0), reusePort: false)
        let port = Self.port(of: fd)
        let collector = Collector()
        nonisolated(unsafe) let handler = collector
        try await loop.submit {
            let token = loop.register(fd: fd, capacity: 2048, packetInfo: true, tag: 0, handler: handler)
            loop.setReading(token, true)
        }.get()
        let client = UDPClient()
        for host in ["127.0.0.3", "127.0.0.4"] {
            client.send(ByteBuffer(string: host), to: UInt16(port), host: host)
        }
        #expect(try await Self.await(loop) { handler.datagrams.count >= 2 })
        let datagrams = try await loop.submit { handler.datagrams }.get()
        for datagram in datagrams {
            #expect(datagram.destination?.ipAddress == String(decoding: datagram.bytes, as: UTF8.self))
        }
    }

    @Test("scheduled tasks run in deadline order on the loop; a cancelled one fails its future")
    func timersAndTasks() async throws {
        let loop = try DatagramLoop.start(index: 2)
        defer { loop.shutdownGracefully { _ in } }
        #expect(!loop.inEventLoop)
        let order = NIOLockedValueBox<[Int]>([])
        let now = NIODeadline.now()
        let late = loop.scheduleTask(deadline: now + .milliseconds(60)) {
            order.withLockedValue { $0.append(3) }
            return loop.inEventLoop
        }
        let cancelled = loop.scheduleTask(deadline: now + .milliseconds(40)) { order.withLockedValue { $0.append(99) } }
        let early = loop.scheduleTask(deadline: now + .milliseconds(20)) { order.withLockedValue { $0.append(1) } }
        let middle = loop.scheduleTask(in: .milliseconds(30)) { order.withLockedValue { $0.append(2) } }
        cancelled.cancel()
        #expect(try await late.futureResult.get())
        try await early.futureResult.get()
        try await middle.futureResult.get()
        await #expect(throws: EventLoopError.cancelled) { try await cancelled.futureResult.get() }
        #expect(order.withLockedValue { $0 } == [1, 2, 3])
        #expect(NIODeadline.now() >= now + .milliseconds(60))
        // A task from another thread runs on the loop.
        #expect(try await loop.submit { loop.inEventLoop }.get())
    }

    @Test("stopping closes every socket and fails the scheduled tasks")
    func shutdown() async throws {
        let loop = try DatagramLoop.start(index: 3)
        let fd = try UDPSocket.bound(to: try SocketAddress(ipAddress: "127.0.0.1", port: 0), reusePort: false)
        let port = Self.port(of: fd)
        let collector = Collector()
        nonisolated(unsafe) let handler = collector
        try await loop.submit {
            let token = loop.register(fd: fd, capacity: 2048, packetInfo: false, tag: 0, handler: handler)
            loop.setReading(token, true)
        }.get()
        let pending = loop.scheduleTask(in: .seconds(60)) {}
        let outcome = NIOLockedValueBox<Result<Void, Error>?>(nil)
        pending.futureResult.whenComplete { result in outcome.withLockedValue { $0 = result } }
        try await DatagramLoopGroup(started: [loop]).shutdownGracefully()
        // (A stopped loop runs nothing more: the outcome was recorded as it stopped.)
        let recorded = try #require(outcome.withLockedValue { $0 })
        #expect(throws: EventLoopError.cancelled) { try recorded.get() }
        // The port is free again: the loop closed its socket.
        let again = try UDPSocket.bound(to: try SocketAddress(ipAddress: "127.0.0.1", port: port), reusePort: false)
        close(again)
    }

    @Test("a full send buffer: the outbox keeps what is left and sends it, in order, once the socket is writable")
    func blockedOutbox() async throws {
        let loop = try DatagramLoop.start(index: 4)
        defer { loop.shutdownGracefully { _ in } }
        // AF_UNIX datagrams, unlike UDP on loopback, stay charged to the sender until they are read:
        // a small send buffer fills, and the kernel answers EAGAIN.
        let path = Peers.temporaryDirectory("blocked-outbox") + "/receiver"
        let receiver = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(receiver) }
        let destination = try SocketAddress(unixDomainSocketPath: path)
        _ = destination.withSockAddr { pointer, length in bind(receiver, pointer, socklen_t(length)) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(receiver, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let sender = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var sendBuffer: CInt = 4096
        setsockopt(sender, SOL_SOCKET, SO_SNDBUF, &sendBuffer, socklen_t(MemoryLayout<CInt>.size))
        let collector = Collector()
        nonisolated(unsafe) let handler = collector
        let count = 300
        let results = NIOLockedValueBox((blocked: 0, refused: 0, leftAfterFirstFlush: 0))
        try await loop.submit {
            let token = loop.register(fd: sender, capacity: 2048, packetInfo: false, tag: 0, handler: handler)
            let outbox = loop.outbox(for: token) { refused in results.withLockedValue { $0.refused += refused } }
            // Counted, then handed on to what the loop set up (waiting for writability).
            let resume = outbox.whenBlocked!
            outbox.whenBlocked = { outbox in
                results.withLockedValue { $0.blocked += 1 }
                resume(outbox)
            }
            var refused = 0
            for index in 0..<count {
                refused += outbox.enqueue(ByteBuffer(repeating: UInt8(index % 251), count: 1000), to: destination)
            }
            refused += outbox.flush()
            results.withLockedValue {
                $0.refused += refused
                $0.leftAfterFirstFlush = outbox.count
            }
        }.get()
        #expect(results.withLockedValue { $0.blocked } >= 1)
        #expect(results.withLockedValue { $0.leftAfterFirstFlush } > 0)
        // Reading frees the sender's buffer: the loop sends the rest as the socket becomes writable.
        var buffer = [UInt8](repeating: 0, count: 2048)
        for index in 0..<count {
            let received = recv(receiver, &buffer, buffer.count, 0)
            #expect(received == 1000, "datagram \(index)")
            guard received == 1000 else { break }
            #expect(buffer[0] == UInt8(index % 251) && buffer[999] == UInt8(index % 251), "datagram \(index) out of order")
        }
        #expect(results.withLockedValue { $0.refused } == 0)
    }

    @Test("the address cache gives NIO's own address for every source, across collisions")
    func addressCache() throws {
        var cache = AddressCache()
        var addresses: [SocketAddress] = []
        for index in 0..<2000 {
            let host = index % 3 == 0 ? "2001:db8::\(String(index, radix: 16))" : "10.0.\(index / 256).\(index % 256)"
            addresses.append(try SocketAddress(ipAddress: host, port: 1024 + index % 7))
        }
        for round in 0..<2 {
            for address in addresses {
                let cached = address.withSockAddr { pointer, _ in cache.address(UnsafeRawPointer(pointer)) }
                #expect(cached == address, "round \(round): \(address)")
                #expect(cached?.ipAddress == address.ipAddress && cached?.port == address.port)
            }
        }
    }
}
