//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOConcurrencyHelpers
import NIOCore
import SNMPSecurity
import WardenForwarder

#if canImport(Glibc)
import Glibc
#endif

/// The audit log: one JSON object per line, for refusals, authentication failures, reloads, start
/// and stop (`audit.file`; `-` is standard error). Events from the data path are rate-limited before
/// they get here (at most one per kind, source and route or user a minute); none carries a secret.
public final class AuditLog: Sendable {
    private let fd: CInt
    private let lock = NIOLock()

    /// Opens `path` for appending (created with mode 0600), or standard error for `-`.
    public init(path: String) throws(AuditLogError) {
        if path == "-" {
            self.fd = 2
        } else {
            let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                throw AuditLogError(description: "audit.file: cannot open \(path): \(String(cString: strerror(errno)))")
            }
            self.fd = fd
        }
    }

    deinit {
        if self.fd != 2 { close(self.fd) }
    }

    /// Writes one event: `{"time": …, "event": name, …fields}`.
    public func write(_ event: String, _ fields: [(String, String)]) {
        var wall = timespec()
        clock_gettime(CLOCK_REALTIME, &wall)
        var time = tm()
        var seconds = wall.tv_sec
        gmtime_r(&seconds, &time)
        let stamp =
            "\(time.tm_year + 1900)-\(Self.two(time.tm_mon + 1))-\(Self.two(time.tm_mday))T"
            + "\(Self.two(time.tm_hour)):\(Self.two(time.tm_min)):\(Self.two(time.tm_sec))."
            + String(String(wall.tv_nsec / 1_000_000 + 1000).dropFirst()) + "Z"
        var line = "{\"time\":\"\(stamp)\",\"event\":\(Self.quoted(event))"
        for (key, value) in fields {
            line += ",\(Self.quoted(key)):\(Self.quoted(value))"
        }
        line += "}\n"
        let bytes = Array(line.utf8)
        self.lock.withLock {
            var written = 0
            while written < bytes.count {
                let result = bytes[written...].withUnsafeBytes { Glibc.write(self.fd, $0.baseAddress, $0.count) }
                if result < 0 && errno == EINTR { continue }
                guard result > 0 else { return }
                written += result
            }
        }
    }

    /// The event as the audit log writes it.
    public func write(_ event: AuditEvent) {
        switch event {
        case .noRoute(let source, let user, let context):
            self.write("no-route", [("source", Self.describe(source)), ("user", user), ("context", context)])
        case .noDevice(let route, let source, let user, let context):
            self.write(
                "no-device",
                [("route", route), ("source", Self.describe(source)), ("user", user), ("context", context)]
            )
        case .communityRefused(let source, let version):
            self.write("community-refused", [("source", Self.describe(source)), ("version", "\(version)")])
        case .refused(let route, let reason, let user, let context, let source, let oid):
            self.write(
                "refused",
                [
                    ("route", route), ("reason", reason), ("user", user), ("context", context),
                    ("source", Self.describe(source)), ("oid", oid?.description ?? ""),
                ]
            )
        case .pendingOverflow(let backend):
            self.write("pending-overflow", [("backend", backend)])
        case .authenticationFailure(let source, let user, let kind):
            self.write(
                "authentication-failure",
                [("source", Self.describe(source)), ("user", user), ("reason", "\(kind)")]
            )
        }
    }

    static func describe(_ address: SocketAddress) -> String { GatewayLoop.describe(address) }

    private static func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }

    /// A JSON string: quotes, backslashes and control characters escaped (names from the network
    /// may hold anything).
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// The audit file cannot be opened.
public struct AuditLogError: Error, CustomStringConvertible {
    public var description: String
}
