//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import CDatagramIO
import Dispatch
import NIOConcurrencyHelpers
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Where a registered socket's datagrams go, and who sends what they caused.
protocol DatagramHandler: AnyObject {
    /// One datagram. `datagram` is a slice of the loop's receive buffer: the handler copies what it
    /// keeps (a retained slice costs the loop a fresh buffer for its next read). `destination` is
    /// the address the datagram was sent to, for sockets registered with packet info.
    func receive(_ datagram: ByteBuffer, from source: SocketAddress, to destination: SocketAddress?, tag: Int)

    /// A read burst is over: send what it queued.
    func readsEnded()
}

/// The data path's event loop: one thread, one epoll instance, and its UDP sockets read with
/// `recvmmsg` straight into one receive buffer, the source address kept as the kernel gave it and
/// turned into a `SocketAddress` through a small cache (so a manager or an agent that sends again
/// costs no formatting and no allocation).
///
/// NIO's datagram channels cost, per datagram, an `AddressedEnvelope`, a pipeline walk and a
/// `SocketAddress` with its host string formatted; with `recvmmsg` straight on the descriptor the
/// read path is a loop over the kernel's headers. The loop is an NIO `EventLoop` as well (tasks,
/// scheduled tasks, promises), so the control plane talks to it as to any other loop, and
/// `NIOLoopBound` holds what lives on it.
///
/// Sockets are registered, read, and closed on the loop's own thread only. Sends go through each
/// socket's ``DatagramOutbox`` (`sendmmsg`); an outbox the kernel refuses (a full send buffer)
/// waits for the socket to be writable here.
final class DatagramLoop: EventLoop, @unchecked Sendable {
    let index: Int

    // MARK: - Loop-thread state

    private let epoll: CInt
    private let wakeup: CInt
    private var thread = pthread_t()

    private final class Registration {
        let fd: CInt
        let capacity: Int
        let packetInfo: Bool
        let tag: Int
        unowned let handler: DatagramHandler
        var reading = false
        var writable: (() -> Void)?
        /// The events epoll watches for this socket (0: not in the epoll set).
        var watched: UInt32 = 0

        init(fd: CInt, capacity: Int, packetInfo: Bool, tag: Int, handler: DatagramHandler) {
            self.fd = fd
            self.capacity = capacity
            self.packetInfo = packetInfo
            self.tag = tag
            self.handler = handler
        }
    }
    private var registrations: [Registration?] = []
    private var freeTokens: [Int] = []
    private let receiver = DatagramReceiver()
    /// Handlers that read in this wakeup (flushed once each when the wakeup's events are done).
    private var readers: [DatagramHandler] = []
    private var spareTasks: [() -> Void] = []
    private var dueTimers: [Timer] = []

    /// Read calls per socket per wakeup, so that one flooded socket does not starve the others.
    static let readsPerWakeup = 4
    private static let wakeupToken = UInt64.max

    // MARK: - Shared state (under `lock`)

    private struct Timer {
        var id: UInt64
        var deadline: UInt64
        var run: () -> Void
        var cancel: () -> Void
    }
    private let lock = NIOLock()
    private var tasks: [() -> Void] = []
    private var timers: [Timer] = []
    private var nextTimerID: UInt64 = 0
    private var stopping = false
    private var stopped = false
    private var shutdownCallbacks: [(DispatchQueue, @Sendable (Error?) -> Void)] = []

    private init(index: Int, epoll: CInt, wakeup: CInt) {
        self.index = index
        self.epoll = epoll
        self.wakeup = wakeup
    }

    struct StartError: Error, CustomStringConvertible {
        var description: String
    }

    /// A loop on a thread of its own, named `snmpwarden-dp<index>`.
    static func start(index: Int) throws(StartError) -> DatagramLoop {
        let epoll = cdio_epoll_create()
        guard epoll >= 0 else { throw StartError(description: "epoll_create1: \(String(cString: strerror(errno)))") }
        let wakeup = cdio_eventfd()
        guard wakeup >= 0 else {
            Glibc.close(epoll)
            throw StartError(description: "eventfd: \(String(cString: strerror(errno)))")
        }
        guard cdio_epoll_ctl(epoll, CDIO_EPOLL_CTL_ADD, wakeup, CDIO_EPOLLIN, Self.wakeupToken) == 0 else {
            Glibc.close(epoll)
            Glibc.close(wakeup)
            throw StartError(description: "epoll_ctl: \(String(cString: strerror(errno)))")
        }
        let loop = DatagramLoop(index: index, epoll: epoll, wakeup: wakeup)
        let started = ConditionLock(value: false)
        let start = ThreadStart(loop: loop, started: started)
        var thread = pthread_t()
        let result = pthread_create(
            &thread,
            nil,
            { argument in
                let start = Unmanaged<ThreadStart>.fromOpaque(argument!).takeRetainedValue()
                start.loop.thread = pthread_self()
                cdio_set_thread_name("snmpwarden-dp\(start.loop.index)")
                start.started.lock()
                start.started.unlock(withValue: true)
                start.loop.run()
                return nil
            },
            Unmanaged.passRetained(start).toOpaque()
        )
        guard result == 0 else {
            Glibc.close(epoll)
            Glibc.close(wakeup)
            throw StartError(description: "pthread_create: \(String(cString: strerror(result)))")
        }
        pthread_detach(thread)
        started.lock(whenValue: true)
        started.unlock()
        return loop
    }

    private final class ThreadStart {
        let loop: DatagramLoop
        let started: ConditionLock<Bool>
        init(loop: DatagramLoop, started: ConditionLock<Bool>) {
            self.loop = loop
            self.started = started
        }
    }

    // MARK: - Sockets (on the loop only)

    /// Takes `fd` (a bound, non-blocking UDP socket, closed with ``close(_:)``); it is read once
    /// ``setReading(_:_:)`` says so. Datagrams longer than `capacity` arrive truncated. Returns the
    /// socket's token.
    func register(fd: CInt, capacity: Int, packetInfo: Bool, tag: Int, handler: DatagramHandler) -> Int {
        self.preconditionInEventLoop()
        precondition(capacity <= DatagramReceiver.slotSize)
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        if packetInfo {
            var one: CInt = 1
            var family = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            withUnsafeMutablePointer(to: &family) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(fd, $0, &length) }
            }
            if Int32(family.ss_family) == AF_INET6 {
                // IPV6_RECVPKTINFO (RFC 3542), 49 on Linux.
                setsockopt(fd, Int32(IPPROTO_IPV6), 49, &one, socklen_t(MemoryLayout<CInt>.size))
            } else {
                setsockopt(fd, Int32(IPPROTO_IP), IP_PKTINFO, &one, socklen_t(MemoryLayout<CInt>.size))
            }
        }
        let registration = Registration(fd: fd, capacity: capacity, packetInfo: packetInfo, tag: tag, handler: handler)
        if let token = self.freeTokens.popLast() {
            self.registrations[token] = registration
            return token
        }
        self.registrations.append(registration)
        return self.registrations.count - 1
    }

    /// Starts or stops reading a socket (stopped: datagrams wait in the kernel's buffer).
    func setReading(_ token: Int, _ reading: Bool) {
        self.preconditionInEventLoop()
        guard let registration = self.registrations[token] else { return }
        registration.reading = reading
        self.watch(registration, token: token)
    }

    /// Calls `handler` once when the socket can be written again (an outbox the kernel refused).
    func whenWritable(_ token: Int, _ handler: @escaping () -> Void) {
        self.preconditionInEventLoop()
        guard let registration = self.registrations[token] else { return }
        registration.writable = handler
        self.watch(registration, token: token)
    }

    /// An outbox for socket `token`: when the kernel takes no more (a full send buffer), what is
    /// left is sent once the socket is writable again, and `refused` counts what still cannot go.
    func outbox(for token: Int, refused: @escaping (Int) -> Void) -> DatagramOutbox {
        self.preconditionInEventLoop()
        let outbox = DatagramOutbox(fd: self.registrations[token]!.fd)
        outbox.whenBlocked = { [unowned self] outbox in
            self.whenWritable(token) { refused(outbox.flush()) }
        }
        return outbox
    }

    /// Stops reading and closes the socket.
    func close(_ token: Int) {
        self.preconditionInEventLoop()
        guard let registration = self.registrations[token] else { return }
        if registration.watched != 0 {
            _ = cdio_epoll_ctl(self.epoll, CDIO_EPOLL_CTL_DEL, registration.fd, 0, 0)
        }
        Glibc.close(registration.fd)
        self.registrations[token] = nil
        self.freeTokens.append(token)
    }

    private func watch(_ registration: Registration, token: Int) {
        let wanted = (registration.reading ? CDIO_EPOLLIN : 0) | (registration.writable != nil ? CDIO_EPOLLOUT : 0)
        guard wanted != registration.watched else { return }
        let operation: Int32
        if registration.watched == 0 {
            operation = CDIO_EPOLL_CTL_ADD
        } else if wanted == 0 {
            operation = CDIO_EPOLL_CTL_DEL
        } else {
            operation = CDIO_EPOLL_CTL_MOD
        }
        if cdio_epoll_ctl(self.epoll, operation, registration.fd, wanted, UInt64(token)) == 0 {
            registration.watched = wanted
        }
    }

    // MARK: - The loop

    private func run() {
        let capacity = 64
        let tokens = UnsafeMutablePointer<UInt64>.allocate(capacity: capacity)
        let events = UnsafeMutablePointer<UInt32>.allocate(capacity: capacity)
        defer {
            tokens.deallocate()
            events.deallocate()
        }
        while true {
            let timeout: Int32
            let stop: Bool = self.lock.withLock {
                if self.stopping { return true }
                return false
            }
            if stop { break }
            timeout = self.timeout()
            let ready = cdio_epoll_wait(self.epoll, tokens, events, Int32(capacity), timeout)
            if ready < 0 && errno != EINTR {
                // EBADF/EINVAL cannot happen with our own descriptor; do not spin if they do.
                usleep(1000)
            }
            for event in 0..<max(0, Int(ready)) {
                let token = tokens[event]
                if token == Self.wakeupToken {
                    var value: UInt64 = 0
                    _ = Glibc.read(self.wakeup, &value, 8)
                    continue
                }
                guard Int(token) < self.registrations.count, let registration = self.registrations[Int(token)] else {
                    continue
                }
                let flags = events[event]
                if flags & (CDIO_EPOLLOUT | CDIO_EPOLLERR) != 0, let writable = registration.writable {
                    registration.writable = nil
                    self.watch(registration, token: Int(token))
                    writable()
                }
                if registration.reading && flags & (CDIO_EPOLLIN | CDIO_EPOLLERR | CDIO_EPOLLHUP) != 0 {
                    self.read(registration)
                }
            }
            for reader in self.readers { reader.readsEnded() }
            self.readers.removeAll(keepingCapacity: true)
            self.runTimers()
            self.runTasks()
        }
        self.finish()
    }

    /// Reads what `registration`'s socket holds, up to ``readsPerWakeup`` vector reads.
    private func read(_ registration: Registration) {
        var any = false
        for _ in 0..<Self.readsPerWakeup {
            let count = self.receiver.receive(fd: registration.fd, capacity: registration.capacity, packetInfo: registration.packetInfo)
            if count <= 0 { break }
            any = true
            for slot in 0..<count {
                guard let (datagram, source, destination) = self.receiver.datagram(slot, packetInfo: registration.packetInfo) else {
                    continue
                }
                registration.handler.receive(datagram, from: source, to: destination, tag: registration.tag)
            }
            if count < DatagramReceiver.slots { break }
        }
        if any && !self.readers.contains(where: { $0 === registration.handler }) {
            self.readers.append(registration.handler)
        }
    }

    /// Milliseconds to the next timer (rounded up), 0 with tasks waiting, -1 with neither.
    private func timeout() -> Int32 {
        self.lock.withLock {
            if !self.tasks.isEmpty { return 0 }
            guard var earliest = self.timers.first?.deadline else { return -1 }
            for timer in self.timers where timer.deadline < earliest { earliest = timer.deadline }
            let now = NIODeadline.now().uptimeNanoseconds
            guard earliest > now else { return 0 }
            return Int32(clamping: (earliest - now + 999_999) / 1_000_000)
        }
    }

    private func runTimers() {
        let now = NIODeadline.now().uptimeNanoseconds
        self.lock.withLock {
            var index = 0
            while index < self.timers.count {
                if self.timers[index].deadline <= now {
                    self.dueTimers.append(self.timers.remove(at: index))
                } else {
                    index += 1
                }
            }
        }
        guard !self.dueTimers.isEmpty else { return }
        self.dueTimers.sort { $0.deadline < $1.deadline || ($0.deadline == $1.deadline && $0.id < $1.id) }
        for timer in self.dueTimers { timer.run() }
        self.dueTimers.removeAll(keepingCapacity: true)
    }

    private func runTasks() {
        self.lock.withLock { swap(&self.tasks, &self.spareTasks) }
        guard !self.spareTasks.isEmpty else { return }
        for task in self.spareTasks { task() }
        self.spareTasks.removeAll(keepingCapacity: true)
    }

    private func wake() {
        var one: UInt64 = 1
        _ = Glibc.write(self.wakeup, &one, 8)
    }

    /// After the loop: the tasks already queued run, scheduled ones fail, every socket closes.
    private func finish() {
        self.runTasks()
        let (timers, callbacks) = self.lock.withLock {
            self.stopped = true
            defer {
                self.timers = []
                self.shutdownCallbacks = []
            }
            return (self.timers, self.shutdownCallbacks)
        }
        for timer in timers { timer.cancel() }
        for token in self.registrations.indices where self.registrations[token] != nil { self.close(token) }
        Glibc.close(self.epoll)
        Glibc.close(self.wakeup)
        for (queue, callback) in callbacks { queue.async { callback(nil) } }
    }

    // MARK: - EventLoop

    var inEventLoop: Bool { pthread_equal(pthread_self(), self.thread) != 0 }

    func execute(_ task: @escaping @Sendable () -> Void) {
        let accepted = self.lock.withLock {
            guard !self.stopped else { return false }
            self.tasks.append(task)
            return true
        }
        if accepted && !self.inEventLoop { self.wake() }
    }

    @discardableResult
    func scheduleTask<T>(deadline: NIODeadline, _ task: @escaping @Sendable () throws -> T) -> Scheduled<T> {
        let promise: EventLoopPromise<T> = self.makePromise()
        let run = Unchecked {
            do {
                // On the loop: the promise completes here, whatever the value's type.
                promise.assumeIsolatedUnsafeUnchecked().succeed(try task())
            } catch {
                promise.fail(error)
            }
        }
        let id: UInt64? = self.lock.withLock {
            guard !self.stopped else { return nil }
            self.nextTimerID &+= 1
            self.timers.append(
                Timer(
                    id: self.nextTimerID,
                    deadline: deadline.uptimeNanoseconds,
                    run: run.value,
                    cancel: { promise.fail(EventLoopError.cancelled) }
                )
            )
            return self.nextTimerID
        }
        guard let id else {
            promise.fail(EventLoopError.shutdown)
            return Scheduled(promise: promise, cancellationTask: {})
        }
        if !self.inEventLoop { self.wake() }
        return Scheduled(promise: promise) { [self] in
            let removed: Timer? = self.lock.withLock {
                guard let index = self.timers.firstIndex(where: { $0.id == id }) else { return nil }
                return self.timers.remove(at: index)
            }
            removed?.cancel()
        }
    }

    @discardableResult
    func scheduleTask<T>(in delay: TimeAmount, _ task: @escaping @Sendable () throws -> T) -> Scheduled<T> {
        self.scheduleTask(deadline: .now() + delay, task)
    }

    func shutdownGracefully(queue: DispatchQueue, _ callback: @escaping @Sendable (Error?) -> Void) {
        let already = self.lock.withLock {
            if self.stopped { return true }
            self.stopping = true
            self.shutdownCallbacks.append((queue, callback))
            return false
        }
        if already {
            queue.async { callback(nil) }
        } else {
            self.wake()
        }
    }

    func next() -> EventLoop { self }

    func any() -> EventLoop { self }

    func makeIterator() -> EventLoopIterator { EventLoopIterator([self]) }

    private struct Unchecked<Value>: @unchecked Sendable {
        var value: Value
        init(_ value: Value) { self.value = value }
    }
}

/// The loop's receive side: one buffer cut into ``slots`` slots, the kernel's message headers for
/// a vector read into them, and a cache of the source addresses seen. Used on its loop only.
final class DatagramReceiver {
    /// Datagrams per `recvmmsg`.
    static let slots = 16
    /// The largest datagram a slot holds (a UDP payload over IPv4 is at most 65,507 octets).
    static let slotSize = 65_536
    private static let controlSize = 64

    private var buffer: ByteBuffer
    private let headers: UnsafeMutablePointer<cdio_mmsghdr>
    private let vectors: UnsafeMutablePointer<iovec>
    private let names: UnsafeMutablePointer<sockaddr_storage>
    private let controls: UnsafeMutableRawPointer
    private var addresses = AddressCache()

    init() {
        self.buffer = ByteBufferAllocator().buffer(capacity: Self.slots * Self.slotSize)
        self.headers = .allocate(capacity: Self.slots)
        self.vectors = .allocate(capacity: Self.slots)
        self.names = .allocate(capacity: Self.slots)
        self.controls = .allocate(byteCount: Self.slots * Self.controlSize, alignment: 8)
    }

    deinit {
        self.headers.deallocate()
        self.vectors.deallocate()
        self.names.deallocate()
        self.controls.deallocate()
    }

    /// One vector read: the number of datagrams now in the slots (0 when the socket had none).
    func receive(fd: CInt, capacity: Int, packetInfo: Bool) -> Int {
        // Unique again once the handlers dropped their slices: clear() then keeps the storage.
        self.buffer.clear()
        let headers = self.headers
        let vectors = self.vectors
        let names = self.names
        let controls = self.controls
        let received: CInt = self.buffer.withUnsafeMutableWritableBytes { bytes in
            for slot in 0..<Self.slots {
                vectors[slot] = iovec(iov_base: bytes.baseAddress! + slot * Self.slotSize, iov_len: capacity)
                var header = msghdr()
                header.msg_name = UnsafeMutableRawPointer(names + slot)
                header.msg_namelen = socklen_t(MemoryLayout<sockaddr_storage>.size)
                header.msg_iov = vectors + slot
                header.msg_iovlen = 1
                if packetInfo {
                    header.msg_control = controls + slot * Self.controlSize
                    header.msg_controllen = Self.controlSize
                }
                headers[slot] = cdio_mmsghdr(header: header, length: 0)
            }
            while true {
                let count = cdio_recvmmsg(fd, headers, UInt32(Self.slots))
                if count < 0 && errno == EINTR { continue }
                return count
            }
        }
        // Errors (EAGAIN, or an ICMP error the socket reports once) read nothing.
        guard received > 0 else { return 0 }
        self.buffer.moveWriterIndex(to: Self.slots * Self.slotSize)
        return Int(received)
    }

    /// Datagram `slot` of the last read, its source and (with packet info) its destination; nil
    /// for an address family other than IPv4 and IPv6.
    func datagram(_ slot: Int, packetInfo: Bool) -> (ByteBuffer, SocketAddress, SocketAddress?)? {
        let length = Int(self.headers[slot].length)
        guard let source = self.addresses.address(UnsafeRawPointer(self.names + slot)) else { return nil }
        var destination: SocketAddress?
        if packetInfo {
            destination = self.destination(self.headers[slot].header)
        }
        let datagram = self.buffer.getSlice(at: slot * Self.slotSize, length: length)!
        return (datagram, source, destination)
    }

    /// The address an IP_PKTINFO or IPV6_PKTINFO control message names.
    private func destination(_ header: msghdr) -> SocketAddress? {
        guard let control = header.msg_control else { return nil }
        let length = Int(header.msg_controllen)
        let headerSize = MemoryLayout<cmsghdr>.stride
        var offset = 0
        while offset + headerSize <= length {
            let message = (control + offset).load(as: cmsghdr.self)
            let messageLength = Int(message.cmsg_len)
            guard messageLength >= headerSize, offset + messageLength <= length else { return nil }
            let data = control + offset + headerSize
            if message.cmsg_level == Int32(IPPROTO_IP) && message.cmsg_type == Int32(IP_PKTINFO) {
                let info = data.loadUnaligned(as: in_pktinfo.self)
                var address = sockaddr_in()
                address.sin_family = sa_family_t(AF_INET)
                address.sin_addr = info.ipi_addr
                return withUnsafeBytes(of: &address) { self.addresses.address($0.baseAddress!) }
            }
            if message.cmsg_level == Int32(IPPROTO_IPV6) && message.cmsg_type == IPv6PacketInfo.option {
                let info = data.loadUnaligned(as: IPv6PacketInfo.self)
                var address = sockaddr_in6()
                address.sin6_family = sa_family_t(AF_INET6)
                address.sin6_addr = info.address
                return withUnsafeBytes(of: &address) { self.addresses.address($0.baseAddress!) }
            }
            offset += (messageLength + 7) & ~7
        }
        return nil
    }
}

/// The `SocketAddress` of each source address recently seen, direct-mapped by a hash of the raw
/// `sockaddr`: a manager or agent that sends again gets the same value (no allocation, no
/// formatting). A collision replaces the entry.
struct AddressCache {
    private struct Key: Equatable {
        var high: UInt64
        var low: UInt64
        var rest: UInt64
    }
    private static let size = 256
    private var keys = [Key](repeating: Key(high: 0, low: 0, rest: 0), count: AddressCache.size)
    private var values = [SocketAddress?](repeating: nil, count: AddressCache.size)

    /// The address at `raw` (a `sockaddr_in` or `sockaddr_in6`), nil for another family.
    mutating func address(_ raw: UnsafeRawPointer) -> SocketAddress? {
        let family = Int32(raw.load(as: sa_family_t.self))
        let key: Key
        switch family {
        case AF_INET:
            let address = raw.load(as: sockaddr_in.self)
            key = Key(high: 0, low: UInt64(address.sin_addr.s_addr), rest: UInt64(address.sin_port) << 8 | 4)
        case AF_INET6:
            let address = raw.load(as: sockaddr_in6.self)
            let (high, low) = withUnsafeBytes(of: address.sin6_addr) {
                ($0.loadUnaligned(fromByteOffset: 0, as: UInt64.self), $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            }
            key = Key(high: high, low: low, rest: UInt64(address.sin6_scope_id) << 32 | UInt64(address.sin6_port) << 8 | 6)
        default:
            return nil
        }
        let mixed = (key.high ^ key.low.rotated(17) ^ key.rest.rotated(41)) &* 0x9E37_79B9_7F4A_7C15
        let slot = Int(mixed >> 56)
        if let value = self.values[slot], self.keys[slot] == key { return value }
        let value: SocketAddress
        if family == AF_INET {
            value = SocketAddress(raw.load(as: sockaddr_in.self), host: "")
        } else {
            value = SocketAddress(raw.load(as: sockaddr_in6.self), host: "")
        }
        self.keys[slot] = key
        self.values[slot] = value
        return value
    }
}

extension UInt64 {
    fileprivate func rotated(_ count: UInt64) -> UInt64 { (self << count) | (self >> (64 - count)) }
}

/// The data path's loops, started together and stopped together.
public struct DatagramLoopGroup: Sendable {
    /// The default number of loops: one per CPU the process may use — its CPU affinity (taskset,
    /// systemd's `CPUAffinity=`) and its cgroup's CPU quota or cpuset (a Kubernetes CPU limit),
    /// whichever is smaller. A gateway alone on a host gets every core; one given fewer CPUs
    /// follows.
    public static var defaultLoopCount: Int {
        let affinity = Int(cdio_available_cpus())
        let cores = System.coreCount
        return max(1, min(64, affinity > 0 ? min(affinity, cores) : cores))
    }

    let loops: [DatagramLoop]

    init(loops count: Int) throws(DatagramLoop.StartError) {
        var loops: [DatagramLoop] = []
        do {
            for index in 0..<count { loops.append(try DatagramLoop.start(index: index)) }
        } catch {
            for loop in loops { loop.shutdownGracefully { _ in } }
            throw error
        }
        self.loops = loops
    }

    /// A group of loops already started.
    init(started loops: [DatagramLoop]) {
        self.loops = loops
    }

    /// Stops every loop (their sockets close) and waits until their threads are done.
    func shutdownGracefully() async throws {
        for loop in self.loops {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                loop.shutdownGracefully(queue: .global()) { _ in continuation.resume() }
            }
        }
    }
}
