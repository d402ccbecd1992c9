//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOCore
import SNMPWire

/// The snmprec format of snmpsim: one object per line, `OID|TAG|VALUE`.
///
/// TAG is the BER tag in decimal: 2 INTEGER, 4 OCTET STRING, 5 NULL, 6 OBJECT IDENTIFIER,
/// 64 IpAddress, 65 Counter32, 66 Gauge32, 67 TimeTicks, 68 Opaque, 70 Counter64. A tag followed
/// by `x` carries its value in hex (`4x|00001b2c3d4e` for a MAC address). snmpsim's variation
/// modules (`4:numeric|…`) are not supported and are refused. Empty lines and lines starting with
/// `#` are skipped.
public enum SNMPRec {
    /// A line that cannot be read.
    public struct ParseError: Error, Hashable, Sendable, CustomStringConvertible {
        public var line: Int
        public var message: String
        public var description: String { "line \(self.line): \(self.message)" }
    }

    /// Parses a whole file; records come back sorted by OID, duplicates refused.
    public static func parse(_ text: String) throws(ParseError) -> [VarBind] {
        var records: [VarBind] = []
        var number = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            number += 1
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(separator: "|", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { throw ParseError(line: number, message: "expected OID|TAG|VALUE") }
            guard let oid = OID(dotted: fields[0]) else {
                throw ParseError(line: number, message: "'\(fields[0])' is not an OID")
            }
            var tagText = fields[1]
            let isHex = tagText.hasSuffix("x")
            if isHex { tagText = tagText.dropLast() }
            guard let tag = Int(tagText) else {
                throw ParseError(
                    line: number,
                    message: "tag '\(fields[1])' is not supported (variation modules are not)"
                )
            }
            let value = try Self.value(tag: tag, hex: isHex, text: String(fields[2]), line: number)
            records.append(VarBind(oid: oid.compacted(), value: value))
        }
        records.sort { $0.oid < $1.oid }
        for index in records.indices.dropFirst() where records[index].oid == records[index - 1].oid {
            throw ParseError(line: 0, message: "\(records[index].oid) appears twice")
        }
        return records
    }

    static func bytes(hex: Bool, _ text: String, line: Int) throws(ParseError) -> [UInt8] {
        guard hex else { return Array(text.utf8) }
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { throw ParseError(line: line, message: "odd number of hex digits") }
        var result: [UInt8] = []
        result.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = hexValue(digits[index]), let low = hexValue(digits[index + 1]) else {
                throw ParseError(line: line, message: "'\(text)' is not hex")
            }
            result.append(high << 4 | low)
            index += 2
        }
        return result
    }

    private static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return digit - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    static func value(tag: Int, hex: Bool, text: String, line: Int) throws(ParseError) -> SNMPValue {
        func number<T: FixedWidthInteger>(_: T.Type) throws(ParseError) -> T {
            guard let value = T(text) else {
                throw ParseError(line: line, message: "'\(text)' is not a valid \(T.self) for tag \(tag)")
            }
            return value
        }
        switch tag {
        case 2: return .integer(try number(Int32.self))
        case 4: return .octetString(ByteBuffer(bytes: try Self.bytes(hex: hex, text, line: line)))
        case 5: return .null
        case 6:
            guard let oid = OID(dotted: text) else { throw ParseError(line: line, message: "'\(text)' is not an OID") }
            return .objectIdentifier(oid.compacted())
        case 64:
            if hex {
                let octets = try Self.bytes(hex: true, text, line: line)
                guard octets.count == 4 else { throw ParseError(line: line, message: "an IpAddress has 4 octets") }
                return .ipAddress(IPv4Address(octets[0], octets[1], octets[2], octets[3]))
            }
            let parts = text.split(separator: ".").compactMap { UInt8($0) }
            guard parts.count == 4 else { throw ParseError(line: line, message: "'\(text)' is not an IPv4 address") }
            return .ipAddress(IPv4Address(parts[0], parts[1], parts[2], parts[3]))
        case 65: return .counter32(try number(UInt32.self))
        case 66: return .gauge32(try number(UInt32.self))
        case 67: return .timeTicks(try number(UInt32.self))
        case 68: return .opaque(ByteBuffer(bytes: try Self.bytes(hex: hex, text, line: line)))
        case 70: return .counter64(try number(UInt64.self))
        default: throw ParseError(line: line, message: "tag \(tag) is not an SNMP value type")
        }
    }
}
