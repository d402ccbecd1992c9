//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Log lines on standard error: human-readable by default, one JSON object per line with `json`.
///
/// Text: `2026-11-21T02:05:45.123Z info snmpwarden: listening [address=udp:0.0.0.0:161]`.
/// JSON: `{"time":"…","level":"info","label":"snmpwarden","message":"listening","address":"…"}`.
/// Callers never put secrets in messages or metadata; this handler writes what it is given.
public struct WardenLogHandler: LogHandler {
    public enum Format: String, Sendable, CaseIterable {
        case text
        case json
    }

    public var metadataProvider: Logger.MetadataProvider?
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    private let label: String
    private let format: Format

    public init(label: String, format: Format, level: Logger.Level) {
        self.label = label
        self.format = format
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = self.metadata
        if let provided = self.metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        let time = Self.timestamp()
        var line: String
        switch self.format {
        case .text:
            line = "\(time) \(event.level) \(self.label): \(event.message)"
            if !merged.isEmpty {
                line +=
                    " [" + merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
                    + "]"
            }
        case .json:
            var object: [(String, String)] = [
                ("time", time), ("level", "\(event.level)"), ("label", self.label), ("message", "\(event.message)"),
            ]
            object += merged.sorted { $0.key < $1.key }.map { ($0.key, "\($0.value)") }
            line = "{" + object.map { "\(Self.quote($0.0)):\(Self.quote($0.1))" }.joined(separator: ",") + "}"
        }
        line += "\n"
        line.withUTF8 { bytes in
            // One write(2) per line: lines from several threads do not interleave.
            _ = write(STDERR_FILENO, bytes.baseAddress, bytes.count)
        }
    }

    /// A JSON string literal (RFC 8259 §7).
    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
            parts.tm_year + 1900,
            parts.tm_mon + 1,
            parts.tm_mday,
            parts.tm_hour,
            parts.tm_min,
            parts.tm_sec,
            now.tv_nsec / 1_000_000
        )
    }
}
