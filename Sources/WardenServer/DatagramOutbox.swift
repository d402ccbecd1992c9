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

/// The datagrams one socket sends during a read burst, handed to the kernel in one `sendmmsg`
/// when the burst ends.
///
/// NIO's write path costs an envelope, a pipeline walk and a pending-write entry per datagram; the
/// profile put it at a tenth of the gateway's time. The outbox copies each payload into one slab
/// (so the encoder's scratch buffer is free again at once), keeps the addresses, and writes on the
/// socket's descriptor from its own event loop. When the kernel's send buffer is full (EAGAIN),
/// what is left goes through the channel after all, so NIO waits for writability as before.
///
/// Used on one event loop only.
final class DatagramOutbox {
    /// Datagrams per `sendmmsg`; a fuller outbox is sent at once.
    static let capacity = 64

    let fd: CInt
    /// The fallback for a full send buffer; nil where NIO cannot send (wildcard listeners need a
    /// source address, which NIO's writes do not set).
    private let channel: Channel?

    private struct Entry {
        var offset: Int
        var length: Int
        var destination: SocketAddress
        /// The local address to send from (IP_PKTINFO / IPV6_PKTINFO), for wildcard listeners.
        var source: SocketAddress?
    }
    private var entries: [Entry] = []
    private var slab: [UInt8] = []

    private let headers: UnsafeMutablePointer<MultipleMessageHeader>
    private let vectors: UnsafeMutablePointer<iovec>
    private let names: UnsafeMutablePointer<sockaddr_storage>
    /// One CMSG_SPACE(in6_pktinfo) per datagram.
    private let controls: UnsafeMutableRawPointer
    private static let controlSpace = (MemoryLayout<cmsghdr>.stride + MemoryLayout<IPv6PacketInfo>.stride + 7) & ~7

    init(fd: CInt, channel: Channel?) {
        self.fd = fd
        self.channel = channel
        self.entries.reserveCapacity(Self.capacity)
        self.slab.reserveCapacity(16_384)
        self.headers = .allocate(capacity: Self.capacity)
        self.vectors = .allocate(capacity: Self.capacity)
        self.names = .allocate(capacity: Self.capacity)
        self.controls = .allocate(byteCount: Self.capacity * Self.controlSpace, alignment: 8)
    }

    deinit {
        self.headers.deallocate()
        self.vectors.deallocate()
        self.names.deallocate()
        self.controls.deallocate()
    }

    var isEmpty: Bool { self.entries.isEmpty }

    /// Whether the owning loop has this outbox on its list to flush (set and cleared by the loop, so
    /// an outbox that sent itself when full is not listed twice).
    var isScheduled = false

    /// Queues `datagram` for `destination`; sends at once when the outbox is full. Returns the
    /// number of datagrams the kernel refused (the caller counts them).
    func enqueue(_ datagram: ByteBuffer, to destination: SocketAddress, from source: SocketAddress? = nil) -> Int {
        let offset = self.slab.count
        datagram.withUnsafeReadableBytes { self.slab.append(contentsOf: $0) }
        self.entries.append(
            Entry(offset: offset, length: datagram.readableBytes, destination: destination, source: source)
        )
        return self.entries.count == Self.capacity ? self.flush() : 0
    }

    /// Sends what is queued. Returns the number of datagrams the kernel refused for good (not
    /// counting those handed to NIO because the send buffer was full).
    func flush() -> Int {
        guard !self.entries.isEmpty else { return 0 }
        var refused = 0
        var next = 0
        self.slab.withUnsafeMutableBytes { slab in
            let count = self.entries.count
            for index in 0..<count {
                self.prepare(index, slab: slab)
            }
            while next < count {
                let sent = Self.sendmmsg(
                    self.fd,
                    UnsafeMutableRawPointer(self.headers + next),
                    UInt32(count - next),
                    Int32(MSG_DONTWAIT)
                )
                if sent > 0 {
                    next += Int(sent)
                    continue
                }
                let error = errno
                if error == EINTR { continue }
                if error == EAGAIN || error == EWOULDBLOCK || error == ENOBUFS { break }
                // This datagram cannot go (no route, too large...): skip it, send the rest.
                refused += 1
                next += 1
            }
        }
        if next < self.entries.count {
            refused += self.handOver(from: next)
        }
        self.entries.removeAll(keepingCapacity: true)
        self.slab.removeAll(keepingCapacity: true)
        return refused
    }

    private func prepare(_ index: Int, slab: UnsafeMutableRawBufferPointer) {
        let entry = self.entries[index]
        self.vectors[index] = iovec(iov_base: slab.baseAddress! + entry.offset, iov_len: entry.length)
        let name = UnsafeMutableRawPointer(self.names + index)
        let nameLength = entry.destination.withSockAddr { pointer, length in
            name.copyMemory(from: pointer, byteCount: length)
            return length
        }
        var message = msghdr()
        message.msg_name = name
        message.msg_namelen = socklen_t(nameLength)
        message.msg_iov = self.vectors + index
        message.msg_iovlen = 1
        if let source = entry.source {
            let control = self.controls + index * Self.controlSpace
            let length = Self.writePacketInfo(source, into: control)
            if length > 0 {
                message.msg_control = control
                message.msg_controllen = length
            }
        }
        self.headers[index] = MultipleMessageHeader(header: message, length: 0)
    }

    /// One IP_PKTINFO or IPV6_PKTINFO control message naming `source`; returns its CMSG_SPACE.
    private static func writePacketInfo(_ source: SocketAddress, into control: UnsafeMutableRawPointer) -> Int {
        control.initializeMemory(as: UInt8.self, repeating: 0, count: Self.controlSpace)
        let header = control.assumingMemoryBound(to: cmsghdr.self)
        let dataOffset = MemoryLayout<cmsghdr>.stride
        let dataLength: Int
        switch source {
        case .v4(let v4):
            var info = in_pktinfo()
            info.ipi_spec_dst = v4.address.sin_addr
            header.pointee.cmsg_level = Int32(IPPROTO_IP)
            header.pointee.cmsg_type = Int32(IP_PKTINFO)
            dataLength = MemoryLayout<in_pktinfo>.size
            (control + dataOffset).storeBytes(of: info, as: in_pktinfo.self)
        case .v6(let v6):
            var info = IPv6PacketInfo()
            info.address = v6.address.sin6_addr
            header.pointee.cmsg_level = Int32(IPPROTO_IPV6)
            header.pointee.cmsg_type = IPv6PacketInfo.option
            dataLength = MemoryLayout<IPv6PacketInfo>.size
            (control + dataOffset).storeBytes(of: info, as: IPv6PacketInfo.self)
        default:
            return 0
        }
        header.pointee.cmsg_len = dataOffset + dataLength
        return (dataOffset + dataLength + 7) & ~7
    }

    /// The send buffer is full: NIO queues the rest and sends it when the socket is writable.
    private func handOver(from first: Int) -> Int {
        guard let channel = self.channel else { return self.entries.count - first }
        for entry in self.entries[first...] {
            let datagram = self.slab.withUnsafeBytes {
                ByteBuffer(bytes: UnsafeRawBufferPointer(rebasing: $0[entry.offset..<(entry.offset + entry.length)]))
            }
            channel.write(AddressedEnvelope(remoteAddress: entry.destination, data: datagram), promise: nil)
        }
        channel.flush()
        return 0
    }
}

@available(*, unavailable)
extension DatagramOutbox: Sendable {}

/// `struct mmsghdr` (sendmmsg(2)), which Glibc declares only under _GNU_SOURCE: the same layout.
struct MultipleMessageHeader {
    var header: msghdr
    var length: UInt32
}

extension DatagramOutbox {
    /// glibc's sendmmsg, also hidden behind _GNU_SOURCE; present in every glibc since 2.14.
    static let sendmmsg: @convention(c) (CInt, UnsafeMutableRawPointer, UInt32, CInt) -> CInt = {
        guard
            let function = glibcFunction(
                "sendmmsg",
                as: (@convention(c) (CInt, UnsafeMutableRawPointer, UInt32, CInt) -> CInt).self
            )
        else { fatalError("glibc without sendmmsg") }
        return function
    }()
}

/// The outboxes an event loop wrote to since its last flush: each is sent once per read batch (and
/// after each timer tick), so the kernel gets several datagrams per sendmmsg. Counts the datagrams
/// the kernel refused.
struct WriteBatch {
    private var unflushed: [DatagramOutbox] = []
    private(set) var sendFailures: UInt64 = 0

    mutating func enqueue(
        _ datagram: ByteBuffer,
        to destination: SocketAddress,
        from source: SocketAddress? = nil,
        in outbox: DatagramOutbox
    ) {
        if !outbox.isScheduled {
            outbox.isScheduled = true
            self.unflushed.append(outbox)
        }
        self.sendFailures &+= UInt64(outbox.enqueue(datagram, to: destination, from: source))
    }

    /// Sends what was queued.
    mutating func flush() {
        guard !self.unflushed.isEmpty else { return }
        for outbox in self.unflushed {
            outbox.isScheduled = false
            self.sendFailures &+= UInt64(outbox.flush())
        }
        self.unflushed.removeAll(keepingCapacity: true)
    }

    /// A datagram that could not even be queued (its socket is gone).
    mutating func countFailure() {
        self.sendFailures &+= 1
    }
}

/// A glibc function the Glibc module's headers do not declare (they are compiled without
/// _GNU_SOURCE), looked up by name in the running process.
func glibcFunction<Function>(_ name: String, as type: Function.Type) -> Function? {
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { return nil }
    return unsafeBitCast(symbol, to: type)
}
