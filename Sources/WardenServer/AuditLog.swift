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

    /// Writes one event: `{"time": …, "event": name, …fields}` (the log handler's time format and
    /// JSON quoting, so both streams read alike).
    public func write(_ event: String, _ fields: [(String, String)]) {
        var line = "{\"time\":\(Self.quoted(WardenLogHandler.timestamp())),\"event\":\(Self.quoted(event))"
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
        case .authenticationBackoff(let source, let user, let seconds):
            self.write(
                "authentication-backoff",
                [("source", Self.describe(source)), ("user", user), ("seconds", "\(seconds)")]
            )
        case .backendReport(let backend, let user, let reason):
            self.write("backend-report", [("backend", backend), ("user", user), ("reason", reason)])
        }
    }

    static func describe(_ address: SocketAddress) -> String { GatewayLoop.describe(address) }

    static func quoted(_ text: String) -> String { WardenLogHandler.quote(text) }
}

/// The audit file cannot be opened.
public struct AuditLogError: Error, CustomStringConvertible {
    public var description: String
}
