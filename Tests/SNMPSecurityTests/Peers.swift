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
enum Peers {
    /// A fresh temporary directory.
    static func temporaryDirectory(_ name: String) -> String {
        let path = NSTemporaryDirectory() + "snmpwarden-\(name)-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// A UDP port that was free a moment ago on 127.0.0.1.
    static func freeUDPPort() -> UInt16 {
        let socket = UDPClient()
        return socket.localPort
    }

    /// Where `swift build` put this package's executables (next to the test bundle).
    static func builtProduct(_ name: String) -> String {
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
    static func netSNMP(_ name: String) -> String? {
        for directory in ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"] {
            let path = directory + "/" + name
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    /// Runs a program to completion (bounded by `timeout` seconds) and returns its exit status and output.
    @discardableResult
    static func run(
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
    func availableDataNonBlocking() -> Data {
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
final class PeerProcess {
    let process = Process()
    private let pipe = Pipe()
    private var collected = Data()

    init(_ path: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        self.process.executableURL = URL(fileURLWithPath: path)
        self.process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { $1 }
        self.process.environment = env
        self.process.standardOutput = self.pipe
        self.process.standardError = self.pipe
        try self.process.run()
    }

    var pid: Int32 { self.process.processIdentifier }

    /// Everything the process printed so far.
    var output: String {
        self.collected.append(self.pipe.fileHandleForReading.availableDataNonBlocking())
        return String(decoding: self.collected, as: UTF8.self)
    }

    /// Waits (at most `timeout` seconds) for a line containing `text`; returns that line.
    func waitForLine(containing text: String, timeout: TimeInterval = 10) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let line = self.output.split(separator: "\n").first(where: { $0.contains(text) }) { return String(line) }
            if !self.process.isRunning { return nil }
            usleep(5000)
        }
        return nil
    }

    /// Stops the process with `signal` and waits for it.
    ///
    /// SIGKILL by default: a child spawned from a test thread inherits that thread's signal mask,
    /// in which the runtime blocks SIGTERM, so a plain `kill` may never arrive.
    func stop(signal: Int32 = SIGKILL) {
        if self.process.isRunning {
            kill(self.pid, signal)
            self.process.waitUntilExit()
        }
    }

    deinit {
        self.stop(signal: SIGKILL)
    }
}

/// A blocking UDP socket on 127.0.0.1 with a receive timeout.
final class UDPClient {
    let fd: Int32

    init(timeoutMilliseconds: Int = 1000) {
        self.fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        precondition(self.fd >= 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
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

    var localPort: UInt16 {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(self.fd, $0, &length) }
        }
        return UInt16(bigEndian: address.sin_port)
    }

    func send(_ datagram: ByteBuffer, to port: UInt16) {
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

    /// The next datagram, or nil after the timeout.
    func receive() -> ByteBuffer? {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = recv(self.fd, &buffer, buffer.count, 0)
        guard n >= 0 else { return nil }
        return ByteBuffer(bytes: buffer[0..<n])
    }
}
