//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import Foundation
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Helpers to run real peers (Net-SNMP's snmpd and tools, our test responder) on loopback.
public enum Peers {
    /// A fresh temporary directory.
    public static func temporaryDirectory(_ name: String) -> String {
        let path = NSTemporaryDirectory() + "snmpwarden-\(name)-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// A UDP port that was free a moment ago on 127.0.0.1, below the kernel's ephemeral range.
    ///
    /// A port the kernel picked for a bind to port 0 is one it may hand out again at once: to the
    /// gateway's back-end sockets or to a client socket of a test running beside this one, before
    /// the peer meant for it binds it. Ports below `ip_local_port_range` are never handed out that
    /// way, and each is given once per process.
    public static func freeUDPPort() -> UInt16 {
        PortAllocator.shared.next(type: SOCK_DGRAM)
    }

    /// A TCP port that was free a moment ago on 127.0.0.1, below the kernel's ephemeral range (see
    /// ``freeUDPPort()``).
    public static func freeTCPPort() -> UInt16 {
        PortAllocator.shared.next(type: SOCK_STREAM)
    }

    /// The inputs of a kept fuzz corpus (`Regression/*.hex`): one per line in hex, `#` lines skipped.
    public static func hexCorpus(_ path: String) throws -> [[UInt8]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").filter { !$0.hasPrefix("#") }.map { line in
            var bytes: [UInt8] = []
            var index = line.startIndex
            while index < line.endIndex, let next = line.index(index, offsetBy: 2, limitedBy: line.endIndex) {
                if let byte = UInt8(line[index..<next], radix: 16) { bytes.append(byte) }
                index = next
            }
            return bytes
        }
    }

    /// Sends `request` (raw HTTP/1.1) to 127.0.0.1:`port` and returns the status code and body.
    public static func http(_ request: String, port: UInt16) throws -> (status: Int, body: String) {
        let result = try Self.run(
            "/usr/bin/env",
            [
                "python3", "-c",
                """
                import socket, sys
                s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
                s.sendall(sys.argv[2].encode().decode("unicode_escape").encode("latin-1"))
                data = b""
                while True:
                    try:
                        chunk = s.recv(65536)
                    except ConnectionResetError:  # a server that closes on bad input may reset
                        break
                    if not chunk: break
                    data += chunk
                sys.stdout.write(data.decode("utf-8", "replace"))
                """,
                "\(port)", request,
            ],
            timeout: 30
        )
        let text = result.output
        let statusLine = text.split(separator: "\r\n", maxSplits: 1).first ?? ""
        let status = statusLine.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        let body = text.range(of: "\r\n\r\n").map { String(text[$0.upperBound...]) } ?? ""
        return (status, body)
    }

    /// Where `swift build` put this package's executables (next to the test bundle).
    public static func builtProduct(_ name: String) -> String {
        let testBinary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = testBinary.deletingLastPathComponent()
        // The test bundle may be a directory (xctest) inside the build directory.
        while !FileManager.default.fileExists(atPath: directory.appendingPathComponent(name).path)
            && directory.path != "/"
        {
            directory = directory.deletingLastPathComponent()
        }
        return directory.appendingPathComponent(name).path
    }

    /// Finds a Net-SNMP program (snmpd lives in /usr/sbin, which is not always on PATH).
    public static func netSNMP(_ name: String) -> String? {
        for directory in ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"] {
            let path = directory + "/" + name
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    /// Runs a program to completion (bounded by `timeout` seconds) and returns its exit status and output.
    @discardableResult
    public static func run(
        _ path: String,
        _ arguments: [String],
        environment: [String: String] = [:],
        timeout: TimeInterval = 20
    )
        throws -> (status: Int32, output: String)
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { $1 }
        process.environment = env
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        var output = Data()
        while process.isRunning && Date() < deadline {
            output.append(pipe.fileHandleForReading.availableDataNonBlocking())
            usleep(2000)
        }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        // Not readDataToEndOfFile: this process may hold the pipe's write end too, and it would wait forever.
        output.append(pipe.fileHandleForReading.availableDataNonBlocking())
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }
}

extension FileHandle {
    /// What is available now, without blocking.
    public func availableDataNonBlocking() -> Data {
        let fd = self.fileDescriptor
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        defer { _ = fcntl(fd, F_SETFL, flags) }
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = Glibc.read(fd, &buffer, buffer.count)
            if n <= 0 { break }
            data.append(contentsOf: buffer[0..<n])
        }
        return data
    }
}

/// A long-running peer process, stopped by pid when the test ends.
///
/// Started with `posix_spawn`, not Foundation's `Process`: Foundation learns that a child ended when
/// a socket the child inherits is closed, and then waits for it in a blocking `wait4` on the one
/// thread that serves every `Process`. snmpd closes its inherited descriptors at start-up, so that
/// thread blocks on snmpd until it exits, and every other `Process` (the tools a test runs) hangs.
/// posix_spawn also gives the child an empty signal mask: a test thread blocks SIGTERM, and a child
/// would inherit that.
public final class PeerProcess {
    public let pid: pid_t
    private let logPath: String
    private var exitStatus: Int32?

    public init(_ path: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        self.logPath = NSTemporaryDirectory() + "snmpwarden-peer-\(UUID().uuidString.prefix(8)).log"
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { $1 }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, self.logPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // Nothing else of the test process's (its sockets, pipes): a peer holds only its own
        // descriptors, as it would under a supervisor.
        _ = Self.closeFrom?(&actions, 3)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGCHLD] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
        guard result == 0 else {
            throw PeerError(description: "cannot start \(path): \(String(cString: strerror(result)))")
        }
        self.pid = pid
    }

    /// glibc's posix_spawn_file_actions_addclosefrom_np (2.34 and later; not in the Glibc module's
    /// headers, which are compiled without _GNU_SOURCE).
    private static let closeFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, CInt) -> CInt)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np")
        else { return nil }
        return unsafeBitCast(
            symbol,
            to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, CInt) -> CInt).self
        )
    }()

    public struct PeerError: Error, CustomStringConvertible {
        public var description: String

        public init(description: String) {
            self.description = description
        }
    }

    /// Whether the process still runs (reaps it when it has ended).
    public var isRunning: Bool {
        if self.exitStatus != nil { return false }
        var status: Int32 = 0
        let result = waitpid(self.pid, &status, WNOHANG)
        if result == self.pid {
            self.exitStatus = Self.decode(status)
            return false
        }
        return result == 0
    }

    /// The exit status, or 128 + signal; nil while running.
    public var terminationStatus: Int32? {
        _ = self.isRunning
        return self.exitStatus
    }

    /// Waits (at most `timeout` seconds) for the process to end; returns whether it did.
    @discardableResult
    public func waitUntilExit(timeout: TimeInterval = 30) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while self.isRunning {
            if Date() > deadline { return false }
            usleep(2000)
        }
        return true
    }

    private static func decode(_ status: Int32) -> Int32 {
        let signal = status & 0x7F
        return signal == 0 ? (status >> 8) & 0xFF : 128 + signal
    }

    /// Everything the process printed so far (standard output and error).
    public var output: String {
        (try? String(contentsOfFile: self.logPath, encoding: .utf8)) ?? ""
    }

    /// Waits (at most `timeout` seconds) for a line containing `text`; returns that line.
    public func waitForLine(containing text: String, timeout: TimeInterval = 10) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let line = self.output.split(separator: "\n").first(where: { $0.contains(text) }) { return String(line) }
            if !self.isRunning { return nil }
            usleep(5000)
        }
        return nil
    }

    /// Stops the process with `signal` and waits for it (SIGKILL after 10 s if it does not end).
    public func stop(signal: Int32 = SIGKILL) {
        guard self.isRunning else { return }
        kill(self.pid, signal)
        if !self.waitUntilExit(timeout: 10) {
            kill(self.pid, SIGKILL)
            self.waitUntilExit(timeout: 10)
        }
    }

    deinit {
        self.stop(signal: SIGKILL)
        unlink(self.logPath)
    }
}

/// A blocking UDP socket on 127.0.0.1 with a receive timeout.
public final class UDPClient {
    public let fd: Int32

    /// - Parameter host: the loopback address to send from (any of 127.0.0.0/8 on Linux).
    public init(timeoutMilliseconds: Int = 1000, host: String = "127.0.0.1") {
        self.fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        precondition(self.fd >= 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr(host)
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(self.fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        var timeout = timeval(tv_sec: timeoutMilliseconds / 1000, tv_usec: (timeoutMilliseconds % 1000) * 1000)
        setsockopt(self.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit {
        close(self.fd)
    }

    public var localPort: UInt16 {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(self.fd, $0, &length) }
        }
        return UInt16(bigEndian: address.sin_port)
    }

    public func send(_ datagram: ByteBuffer, to port: UInt16) {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = datagram.withUnsafeReadableBytes { bytes in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(self.fd, bytes.baseAddress, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
    }

    /// The next datagram and the IPv4 address and port it came from, or nil after the timeout.
    public func receiveWithSource() -> (datagram: ByteBuffer, host: String, port: UInt16)? {
        var buffer = [UInt8](repeating: 0, count: 65536)
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let n = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                recvfrom(self.fd, &buffer, buffer.count, 0, $0, &length)
            }
        }
        guard n >= 0 else { return nil }
        var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
        inet_ntop(AF_INET, &address.sin_addr, &text, socklen_t(text.count))
        let host = text.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        return (ByteBuffer(bytes: buffer[0..<n]), host, UInt16(bigEndian: address.sin_port))
    }

    /// Sends to `host` (an IPv4 literal) and `port`.
    public func send(_ datagram: ByteBuffer, to port: UInt16, host: String) {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr(host)
        _ = datagram.withUnsafeReadableBytes { bytes in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(self.fd, bytes.baseAddress, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
    }

    /// The next datagram, or nil after the timeout.
    public func receive() -> ByteBuffer? {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = recv(self.fd, &buffer, buffer.count, 0)
        guard n >= 0 else { return nil }
        return ByteBuffer(bytes: buffer[0..<n])
    }
}

/// A seeded random number generator (SplitMix64) for property tests: a failing case replays from
/// its seed.
public struct SeededGenerator: RandomNumberGenerator {
    public var state: UInt64

    public init(state: UInt64) {
        self.state = state
    }

    public mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Hands out ports below the kernel's ephemeral range, each once per process, starting at a place
/// that depends on the process id (two suites at once on one host start apart). A port is handed
/// out only after a bind to it on 127.0.0.1 succeeded.
final class PortAllocator: @unchecked Sendable {
    static let shared = PortAllocator()

    private let lock = NSLock()
    private let range: Range<Int>
    private var offset: Int

    private init() {
        // "32768\t60999": the ephemeral range; ours is the 10,000 ports below it (at least 1024).
        let ephemeralLow =
            (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8))
            .flatMap { $0.split(whereSeparator: { $0 == "\t" || $0 == " " || $0 == "\n" }).first }
            .flatMap { Int($0) } ?? 32768
        let high = max(ephemeralLow, 2048)
        self.range = max(1024, high - 10_000)..<high
        self.offset = Int(getpid()) &* 7919 % self.range.count
    }

    func next(type: __socket_type) -> UInt16 {
        self.lock.lock()
        defer { self.lock.unlock() }
        for _ in 0..<self.range.count {
            let port = self.range.lowerBound + self.offset
            self.offset = (self.offset + 1) % self.range.count
            if Self.canBind(UInt16(port), type: type) { return UInt16(port) }
        }
        fatalError("no free port in \(self.range)")
    }

    private static func canBind(_ port: UInt16, type: __socket_type) -> Bool {
        let fd = socket(AF_INET, Int32(type.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = port.bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}
