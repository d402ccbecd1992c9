//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The engine's identity: snmpEngineID and snmpEngineBoots (RFC 3411 §3.1.1, RFC 3414 §2.2).
public struct EngineIdentity: Hashable, Sendable {
    public var engineID: [UInt8]
    public var boots: Int32

    public init(engineID: [UInt8], boots: Int32) {
        self.engineID = engineID
        self.boots = boots
    }

    /// snmpEngineBoots latches at 2^31-1 (RFC 3414 §2.2.2): the engine then cannot authenticate.
    public static let maximumBoots = Int32.max

    /// A new engine ID in the RFC 3411 format: the enterprise number with the top bit set (8072,
    /// Net-SNMP's, as snmpd also does for generated IDs), format 0x80 (enterprise-specific random),
    /// then 12 random octets: 17 octets in all.
    public static func generateEngineID() -> [UInt8] {
        [0x80, 0x00, 0x1F, 0x88, 0x80] + OpenSSLAlgorithms.randomBytes(12)
    }

    /// Whether `engineID` is a valid SnmpEngineID (RFC 3411: 5 to 32 octets, not all zero or all 0xFF).
    public static func isValid(engineID: [UInt8]) -> Bool {
        (5...32).contains(engineID.count) && !engineID.allSatisfy { $0 == 0 } && !engineID.allSatisfy { $0 == 0xFF }
    }
}

/// Keeps the engine ID and boots in the state directory, so boots grow across restarts and kill -9.
///
/// The file `engine.state` holds two lines, `engineID <hex>` and `engineBoots <n>`. ``start(stateDirectory:configuredEngineID:)``
/// reads it, increments boots and writes it back durably (temporary file, fsync, rename, fsync of
/// the directory) before it returns, so no v3 message is ever answered under a boots value that a
/// crash could make the engine reuse. A corrupt or unwritable file is an error, never a silent
/// reset of boots (which would reopen the replay window).
public enum EngineStateStore {
    public static let fileName = "engine.state"

    /// Why the state could not be loaded or saved.
    public struct StateError: Error, Hashable, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// Loads (or creates) the state, increments boots, persists it and returns the identity to run with.
    ///
    /// - Parameter configuredEngineID: an engine ID from the configuration; it replaces a stored one
    ///   (boots then restart at 1, as the RFC allows for a new engine ID), and is stored.
    public static func start(stateDirectory: String, configuredEngineID: [UInt8]?) throws(StateError) -> EngineIdentity
    {
        if let configured = configuredEngineID, !EngineIdentity.isValid(engineID: configured) {
            throw StateError(description: "engine id must be 5 to 32 octets, not all zeros or all ones (RFC 3411)")
        }
        try Self.makeDirectory(stateDirectory)
        let path = stateDirectory + "/" + Self.fileName
        var identity: EngineIdentity
        if let text = try Self.readFile(path) {
            let stored = try Self.parse(text, path: path)
            if let configured = configuredEngineID, configured != stored.engineID {
                identity = EngineIdentity(engineID: configured, boots: 1)
            } else {
                guard stored.boots < EngineIdentity.maximumBoots else {
                    throw StateError(
                        description:
                            "\(path): engineBoots reached 2^31-1 and is latched (RFC 3414 §2.2.2); configure a new engine id"
                    )
                }
                identity = EngineIdentity(engineID: stored.engineID, boots: stored.boots + 1)
            }
        } else {
            identity = EngineIdentity(engineID: configuredEngineID ?? EngineIdentity.generateEngineID(), boots: 1)
        }
        try Self.write(identity, path: path, directory: stateDirectory)
        return identity
    }

    static func parse(_ text: String, path: String) throws(StateError) -> EngineIdentity {
        var engineID: [UInt8]? = nil
        var boots: Int32? = nil
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let fields = line.split(separator: " ")
            if fields.isEmpty { continue }
            guard fields.count == 2 else {
                throw StateError(description: "\(path):\(number + 1): expected `key value`")
            }
            switch fields[0] {
            case "engineID":
                guard let bytes = Self.unhex(fields[1]), EngineIdentity.isValid(engineID: bytes) else {
                    throw StateError(description: "\(path):\(number + 1): engineID is not a valid hex engine id")
                }
                engineID = bytes
            case "engineBoots":
                guard let value = Int32(fields[1]), value >= 1 else {
                    throw StateError(
                        description: "\(path):\(number + 1): engineBoots is not a number from 1 to 2147483647"
                    )
                }
                boots = value
            default:
                throw StateError(description: "\(path):\(number + 1): unknown key \(fields[0])")
            }
        }
        guard let engineID, let boots else {
            throw StateError(
                description:
                    "\(path): corrupt state file (needs engineID and engineBoots); refusing to reset engineBoots"
            )
        }
        return EngineIdentity(engineID: engineID, boots: boots)
    }

    /// Octets from hex digits (an even number of them), or nil.
    public static func unhex(_ text: Substring) -> [UInt8]? {
        guard text.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            guard let byte = UInt8(text[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return bytes
    }

    private static func errnoText(_ what: String, _ path: String) -> StateError {
        StateError(description: "\(path): \(what): \(String(cString: strerror(errno)))")
    }

    private static func makeDirectory(_ path: String) throws(StateError) {
        var info = stat()
        if stat(path, &info) == 0 {
            guard (info.st_mode & S_IFMT) == S_IFDIR else { throw StateError(description: "\(path): not a directory") }
            return
        }
        guard mkdir(path, 0o700) == 0 || errno == EEXIST else {
            throw Self.errnoText("cannot create state directory", path)
        }
    }

    private static func readFile(_ path: String) throws(StateError) -> String? {
        let fd = open(path, O_RDONLY)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw Self.errnoText("cannot read", path)
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(fd, &chunk, chunk.count)
            if n < 0 { throw Self.errnoText("cannot read", path) }
            if n == 0 { break }
            bytes += chunk[0..<n]
            if bytes.count > 65536 {
                throw StateError(description: "\(path): state file too large; refusing to reset engineBoots")
            }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw StateError(description: "\(path): state file is not text; refusing to reset engineBoots")
        }
        return text
    }

    private static func write(_ identity: EngineIdentity, path: String, directory: String) throws(StateError) {
        let temporary = path + ".tmp"
        let text =
            "engineID \(identity.engineID.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined())\nengineBoots \(identity.boots)\n"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw Self.errnoText("cannot write", temporary) }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(fd) == 0 else {
            close(fd)
            throw Self.errnoText("cannot write", temporary)
        }
        close(fd)
        guard rename(temporary, path) == 0 else { throw Self.errnoText("cannot replace", path) }
        let directoryFD = open(directory, O_RDONLY)
        if directoryFD >= 0 {
            _ = fsync(directoryFD)
            close(directoryFD)
        }
    }
}

/// engineBoots and engineTime derived from the wall clock since a shared epoch, so that replicas
/// with the same engine ID answer as one engine (no shared counter, no state file).
///
/// engineTime is the seconds since the epoch and engineBoots 1, until engineTime would pass
/// 2^31-1: then boots goes up and time starts again from 0 (RFC 3414 §2.2.1). Both only grow as
/// the clock does, which keeps RFC 3414's monotonicity for every replica whose clock is synced
/// (NTP skew is milliseconds against the 150-second window).
public enum EpochEngineTime {
    /// The seconds one engineBoots value lasts.
    static let period = Int64(Int32.max)

    /// engineBoots and engineTime at `unixNanoseconds` for an engine counting from `epochSeconds`;
    /// nil before the epoch.
    public static func at(unixNanoseconds: Int64, epochSeconds: Int64) -> (boots: Int32, time: Int32)? {
        let elapsed = unixNanoseconds / 1_000_000_000 - epochSeconds
        guard elapsed >= 0 else { return nil }
        let boots = min(Int64(EngineIdentity.maximumBoots), 1 + elapsed / Self.period)
        return (Int32(boots), Int32(elapsed % Self.period))
    }

    /// The monotonic instant (nanoseconds) at which engineTime was 0, given the same instant on the
    /// monotonic and the wall clock; nil before the epoch.
    public static func origin(monotonicNanoseconds: Int64, unixNanoseconds: Int64, epochSeconds: Int64) -> Int64? {
        let sinceEpoch = unixNanoseconds - epochSeconds * 1_000_000_000
        guard sinceEpoch >= 0 else { return nil }
        return monotonicNanoseconds - sinceEpoch % (Self.period * 1_000_000_000)
    }
}
