//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import CDatagramIO
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
/// what is left stays queued (at most ``maximumBacklog`` datagrams) and the outbox asks its owner,
/// through ``whenBlocked``, to flush it again once the socket is writable.
///
/// Used on one event loop only.
final class DatagramOutbox {
    /// Datagrams per `sendmmsg`; a fuller outbox is sent at once.
    static let capacity = 64
    /// Datagrams kept while the socket is not writable; more are refused (and counted).
    static let maximumBacklog = 4096

    let fd: CInt
    /// Called when the kernel refused to take more (EAGAIN): the owner flushes again when the
    /// socket is writable. Without it, what the kernel refused is dropped and counted.
    var whenBlocked: ((DatagramOutbox) -> Void)?
    /// Waiting for the socket to be writable: the owner's flush, not a read burst's, sends.
    private(set) var isBlocked = false

    private struct Entry {
        var offset: Int
        var length: Int
        var destination: SocketAddress
        /// The local address to send from (IP_PKTINFO / IPV6_PKTINFO), for wildcard listeners.
        var source: SocketAddress?
    }
    private var entries: [Entry] = []
    private var slab: [UInt8] = []

    private let headers: UnsafeMutablePointer<cdio_mmsghdr>
    private let vectors: UnsafeMutablePointer<iovec>
    private let names: UnsafeMutablePointer<sockaddr_storage>
    /// One CMSG_SPACE(in6_pktinfo) per datagram.
    private let controls: UnsafeMutableRawPointer
    private static let controlSpace = (MemoryLayout<cmsghdr>.stride + MemoryLayout<IPv6PacketInfo>.stride + 7) & ~7

    init(fd: CInt) {
        self.fd = fd
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

    /// Datagrams queued.
    var count: Int { self.entries.count }

    /// Whether the owning loop has this outbox on its list to flush (set and cleared by the loop, so
    /// an outbox that sent itself when full is not listed twice).
    var isScheduled = false

    /// Queues `datagram` for `destination`; sends at once when the outbox is full. Returns the
    /// number of datagrams the kernel refused (the caller counts them).
    func enqueue(_ datagram: ByteBuffer, to destination: SocketAddress, from source: SocketAddress? = nil) -> Int {
        if self.isBlocked && self.entries.count >= Self.maximumBacklog { return 1 }
        let offset = self.slab.count
        datagram.withUnsafeReadableBytes { self.slab.append(contentsOf: $0) }
        self.entries.append(
            Entry(offset: offset, length: datagram.readableBytes, destination: destination, source: source)
        )
        return !self.isBlocked && self.entries.count >= Self.capacity ? self.flush() : 0
    }

    /// Sends what is queued. Returns the number of datagrams the kernel refused for good (not
    /// counting those kept for when the socket is writable again).
    func flush() -> Int {
        self.isBlocked = false
        guard !self.entries.isEmpty else { return 0 }
        var refused = 0
        var next = 0
        let count = self.entries.count
        self.slab.withUnsafeMutableBytes { slab in
            sending: while next < count {
                let chunk = min(Self.capacity, count - next)
                for index in 0..<chunk {
                    self.prepare(next + index, slot: index, slab: slab)
                }
                var done = 0
                while done < chunk {
                    let sent = cdio_sendmmsg(self.fd, self.headers + done, UInt32(chunk - done))
                    if sent > 0 {
                        done += Int(sent)
                        continue
                    }
                    let error = errno
                    if error == EINTR { continue }
                    if error == EAGAIN || error == EWOULDBLOCK || error == ENOBUFS {
                        next += done
                        break sending
                    }
                    // This datagram cannot go (no route, too large...): skip it, send the rest.
                    refused += 1
                    done += 1
                }
                next += done
            }
        }
        if next < count {
            guard let whenBlocked = self.whenBlocked else {
                refused += count - next
                self.removeAll()
                return refused
            }
            // Keep what is left, from its first byte on.
            let first = self.entries[next].offset
            self.slab.removeSubrange(0..<first)
            self.entries.removeSubrange(0..<next)
            for index in self.entries.indices { self.entries[index].offset -= first }
            self.isBlocked = true
            whenBlocked(self)
            return refused
        }
        self.removeAll()
        return refused
    }

    private func removeAll() {
        self.entries.removeAll(keepingCapacity: true)
        self.slab.removeAll(keepingCapacity: true)
    }

    private func prepare(_ index: Int, slot: Int, slab: UnsafeMutableRawBufferPointer) {
        let entry = self.entries[index]
        self.vectors[slot] = iovec(iov_base: slab.baseAddress! + entry.offset, iov_len: entry.length)
        let name = UnsafeMutableRawPointer(self.names + slot)
        let nameLength = entry.destination.withSockAddr { pointer, length in
            name.copyMemory(from: pointer, byteCount: length)
            return length
        }
        var message = msghdr()
        message.msg_name = name
        message.msg_namelen = socklen_t(nameLength)
        message.msg_iov = self.vectors + slot
        message.msg_iovlen = 1
        if let source = entry.source {
            let control = self.controls + slot * Self.controlSpace
            let length = Self.writePacketInfo(source, into: control)
            if length > 0 {
                message.msg_control = control
                message.msg_controllen = length
            }
        }
        self.headers[slot] = cdio_mmsghdr(header: message, length: 0)
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
}

@available(*, unavailable)
extension DatagramOutbox: Sendable {}

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
            // A blocked outbox is flushed when its socket is writable again.
            if !outbox.isBlocked { self.sendFailures &+= UInt64(outbox.flush()) }
        }
        self.unflushed.removeAll(keepingCapacity: true)
    }

    /// Datagrams that could not even be queued (their socket is gone), or that a blocked outbox
    /// could not send once its socket was writable again.
    mutating func countFailure(_ count: Int = 1) {
        self.sendFailures &+= UInt64(count)
    }
}

/// A glibc function the Glibc module's headers do not declare (they are compiled without
/// _GNU_SOURCE), looked up by name in the running process.
func glibcFunction<Function>(_ name: String, as type: Function.Type) -> Function? {
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { return nil }
    return unsafeBitCast(symbol, to: type)
}
