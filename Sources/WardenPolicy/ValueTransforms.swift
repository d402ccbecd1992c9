//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOCore
import SNMPWire

/// The value types a transform can name (`type:` of `replace` and `synthesize`).
public enum ValueType: String, CaseIterable, Hashable, Sendable {
    case string, integer, unsigned, counter32, counter64, timeticks, ipaddress, oid

    /// The value `text` stands for in this type; nil when it is not one.
    public func value(_ text: String) -> SNMPValue? {
        switch self {
        case .string: return .octetString(ByteBuffer(string: text))
        case .integer: return Int32(text).map { .integer($0) }
        case .unsigned: return UInt32(text).map { .gauge32($0) }
        case .counter32: return UInt32(text).map { .counter32($0) }
        case .counter64: return UInt64(text).map { .counter64($0) }
        case .timeticks: return UInt32(text).map { .timeTicks($0) }
        case .ipaddress:
            let parts = text.split(separator: ".", omittingEmptySubsequences: false).compactMap { UInt8($0) }
            guard parts.count == 4 else { return nil }
            return .ipAddress(IPv4Address(parts[0], parts[1], parts[2], parts[3]))
        case .oid: return OID(dotted: text).map { .objectIdentifier($0) }
        }
    }

    /// The type of `value`, where it has one of these.
    public init?(of value: SNMPValue) {
        switch value {
        case .octetString: self = .string
        case .integer: self = .integer
        case .gauge32: self = .unsigned
        case .counter32: self = .counter32
        case .counter64: self = .counter64
        case .timeTicks: self = .timeticks
        case .ipAddress: self = .ipaddress
        case .objectIdentifier: self = .oid
        default: return nil
        }
    }
}

/// A route's value rewriting: transforms of the values an agent answers, by OID subtree or pattern
/// (`*` arcs as in views), and objects the agent does not have (DESIGN.md §4, the rewrite
/// pipeline). Everything is in the agent's names (back-end OIDs), applied to the agent's answer
/// before views and name rewrites.
///
/// - `redact: zero` keeps the type and length: zero octets, 0.0.0.0, 0, `0.0`.
/// - `redact: hash` is a keyed hash of the value, of its own type and length (an IpAddress stays 4
///   octets, a MAC 6): stable across requests and replicas with the same key, so rows still join.
/// - `replace` puts a fixed value in, in the value's own type unless a `type` is named.
/// - `match`/`with` replaces what a regular expression matches in a string value.
/// - `synthesize` answers an object the agent does not have, at its place in walks.
///
/// Immutable and shared by every event loop; compiled once per configuration.
public final class ValueTransforms: Sendable {
    public enum Action: Sendable {
        case zero
        case hash
        /// A fixed value: `value` when a type was named (or known), else `text` in the value's type.
        case replace(text: String, value: SNMPValue?)
        case match(CompiledPattern, with: String)
    }

    /// A regular expression compiled once (matching does not change it).
    public struct CompiledPattern: @unchecked Sendable {
        public let source: String
        let regex: Regex<AnyRegexOutput>

        public init(_ source: String) throws {
            self.source = source
            self.regex = try Regex(source)
            // Compile now, not on the first answer.
            _ = "".contains(self.regex)
        }
    }

    public struct Rule: Sendable {
        /// nil arcs are `*`.
        public var pattern: [UInt32?]
        public var action: Action

        public init(pattern: [UInt32?], action: Action) {
            self.pattern = pattern
            self.action = action
        }

        /// Whether `oid` lies in the pattern's subtree (decoded as it goes: no arc array).
        func matches(_ oid: OID) -> Bool {
            var arcs = oid.arcs.makeIterator()
            for arc in self.pattern {
                guard let next = arcs.next() else { return false }
                if let arc, arc != next { return false }
            }
            return true
        }
    }

    public let rules: [Rule]
    /// Synthesized objects in OID order.
    public let synthesized: [VarBind]
    /// The keyed hash behind `redact: hash` (HMAC with the route's key), or nil when no rule hashes.
    private let keyedHash: (@Sendable ([UInt8]) -> [UInt8])?

    public init(rules: [Rule], synthesized: [VarBind], keyedHash: (@Sendable ([UInt8]) -> [UInt8])?) {
        precondition(
            keyedHash != nil || !rules.contains { if case .hash = $0.action { return true } else { return false } },
            "redact: hash needs a key"
        )
        self.rules = rules
        self.synthesized = synthesized.sorted { $0.oid < $1.oid }
        self.keyedHash = keyedHash
    }

    /// Whether a Set of `oid` touches a transformed or synthesized object (refused, notWritable).
    public func isRewritten(_ oid: OID) -> Bool {
        if self.synthesizedValue(oid) != nil { return true }
        return self.rules.contains { $0.matches(oid) }
    }

    /// The value of the synthesized object `oid`, or nil.
    public func synthesizedValue(_ oid: OID) -> SNMPValue? {
        var low = 0
        var high = self.synthesized.count
        while low < high {
            let middle = (low + high) / 2
            if self.synthesized[middle].oid < oid { low = middle + 1 } else { high = middle }
        }
        return low < self.synthesized.count && self.synthesized[low].oid == oid ? self.synthesized[low].value : nil
    }

    /// The first synthesized object after `oid`, or nil.
    public func synthesized(after oid: OID) -> VarBind? {
        var low = 0
        var high = self.synthesized.count
        while low < high {
            let middle = (low + high) / 2
            if self.synthesized[middle].oid <= oid { low = middle + 1 } else { high = middle }
        }
        return low < self.synthesized.count ? self.synthesized[low] : nil
    }

    /// The value the manager gets for the agent's `value` of `oid`: the first matching rule's, or the
    /// value as it is. Exceptions pass unchanged.
    public func apply(_ oid: OID, _ value: SNMPValue) -> SNMPValue {
        if value.isException || value == .null { return value }
        guard let rule = self.rules.first(where: { $0.matches(oid) }) else { return value }
        switch rule.action {
        case .zero:
            return Self.zero(value)
        case .hash:
            return self.hash(value)
        case .replace(let text, let fixed):
            if let fixed { return fixed }
            // In the value's own type; a text that is not one never lets the original through.
            if let type = ValueType(of: value), let replaced = type.value(text) { return replaced }
            return Self.zero(value)
        case .match(let pattern, let replacement):
            guard case .octetString(let bytes) = value else { return value }
            let text = String(decoding: bytes.readableBytesView, as: UTF8.self)
            // Nothing matched: the octets as they were (a binary value keeps its bytes).
            guard text.contains(pattern.regex) else { return value }
            return .octetString(ByteBuffer(string: text.replacing(pattern.regex, with: replacement)))
        }
    }

    /// The same type and length, every octet or number zero.
    static func zero(_ value: SNMPValue) -> SNMPValue {
        switch value {
        case .integer: return .integer(0)
        case .octetString(let bytes): return .octetString(ByteBuffer(repeating: 0, count: bytes.readableBytes))
        case .objectIdentifier: return .objectIdentifier("0.0")
        case .ipAddress: return .ipAddress(IPv4Address(rawValue: 0))
        case .counter32: return .counter32(0)
        case .gauge32: return .gauge32(0)
        case .timeTicks: return .timeTicks(0)
        case .opaque(let bytes): return .opaque(ByteBuffer(repeating: 0, count: bytes.readableBytes))
        case .counter64: return .counter64(0)
        default: return value
        }
    }

    /// A keyed hash of the value (its tag and content), as many octets as the value has.
    func hash(_ value: SNMPValue) -> SNMPValue {
        guard let keyedHash = self.keyedHash else { return Self.zero(value) }
        var content: [UInt8] = [value.tag]
        func stream(_ count: Int) -> [UInt8] {
            // HMAC in counter mode: as many octets as needed, the same for the same value.
            var output: [UInt8] = []
            var counter: UInt8 = 0
            while output.count < count {
                output += keyedHash(content + [counter])
                counter &+= 1
            }
            return Array(output.prefix(count))
        }
        func number<T: FixedWidthInteger>(_ type: T.Type) -> T {
            stream(MemoryLayout<T>.size).reduce(T.zero) { $0 << 8 | T(truncatingIfNeeded: $1) }
        }
        switch value {
        case .integer(let v):
            content += withUnsafeBytes(of: v.bigEndian) { Array($0) }
            return .integer(number(Int32.self))
        case .octetString(let bytes):
            content += bytes.readableBytesView
            return .octetString(ByteBuffer(bytes: stream(bytes.readableBytes)))
        case .opaque(let bytes):
            content += bytes.readableBytesView
            return .opaque(ByteBuffer(bytes: stream(bytes.readableBytes)))
        case .ipAddress(let address):
            content += withUnsafeBytes(of: address.rawValue.bigEndian) { Array($0) }
            return .ipAddress(IPv4Address(rawValue: number(UInt32.self)))
        case .counter32(let v):
            content += withUnsafeBytes(of: v.bigEndian) { Array($0) }
            return .counter32(number(UInt32.self))
        case .gauge32(let v):
            content += withUnsafeBytes(of: v.bigEndian) { Array($0) }
            return .gauge32(number(UInt32.self))
        case .timeTicks(let v):
            content += withUnsafeBytes(of: v.bigEndian) { Array($0) }
            return .timeTicks(number(UInt32.self))
        case .counter64(let v):
            content += withUnsafeBytes(of: v.bigEndian) { Array($0) }
            return .counter64(number(UInt64.self))
        case .objectIdentifier(let oid):
            // As many arcs as the OID has, under 1.3 so that it stays a valid OID.
            let arcs = Array(oid.arcs)
            content += arcs.flatMap { withUnsafeBytes(of: $0.bigEndian) { Array($0) } }
            let bytes = stream(4 * max(0, arcs.count - 2))
            var hashed: [UInt32] = [1, 3]
            for index in stride(from: 0, to: bytes.count, by: 4) {
                hashed.append(bytes[index..<(index + 4)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
            }
            return .objectIdentifier(OID(arcs: Array(hashed.prefix(max(2, arcs.count)))) ?? "0.0")
        default:
            return value
        }
    }
}

extension ByteBuffer {
    init(repeating byte: UInt8, count: Int) {
        self.init(bytes: [UInt8](repeating: byte, count: count))
    }
}
