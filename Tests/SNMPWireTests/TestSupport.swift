//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import Foundation
import NIOCore

@testable import SNMPWire

/// Bytes from hex text; whitespace is ignored. Traps on bad hex (test data is ours).
func decodeHex(_ hex: String) -> [UInt8] {
    let digits = hex.filter { !$0.isWhitespace }
    precondition(digits.count % 2 == 0, "odd hex: \(hex)")
    var result: [UInt8] = []
    var index = digits.startIndex
    while index < digits.endIndex {
        let next = digits.index(index, offsetBy: 2)
        result.append(UInt8(digits[index..<next], radix: 16)!)
        index = next
    }
    return result
}

func buffer(hex: String) -> ByteBuffer {
    ByteBuffer(bytes: decodeHex(hex))
}

func hex(_ buffer: ByteBuffer) -> String {
    buffer.readableBytesView.map { String(format: "%02x", $0) }.joined()
}

func hex(_ bytes: [UInt8]) -> String {
    bytes.map { String(format: "%02x", $0) }.joined()
}

/// Encodes a message into a fresh buffer.
func encode(_ message: SNMPMessage) -> ByteBuffer {
    var buffer = ByteBuffer()
    buffer.writeSNMPMessage(message)
    return buffer
}

/// Decoding that must fail; returns the error.
func decodeError(_ bytes: ByteBuffer) -> SNMPWireError? {
    do {
        _ = try SNMPMessage(decoding: bytes)
        return nil
    } catch {
        return error
    }
}

/// One captured datagram from `Fixtures/` (see its README for how they were made).
struct Fixture: CustomStringConvertible, Sendable {
    var name: String
    var bytes: [UInt8]
    /// The `# key: value` header lines, in order.
    var header: [(key: String, value: String)]
    /// The comment lines that describe the decoded message, as the capture script's independent decoder wrote them.
    var decodedLines: [String]

    var description: String { self.name }

    func headerValue(_ key: String) -> String? {
        self.header.first { $0.key == key }?.value
    }

    static let directory: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures")

    static func load(_ name: String) -> Fixture {
        let url = Self.directory.appendingPathComponent(name.hasSuffix(".hex") ? name : name + ".hex")
        let text = try! String(contentsOf: url, encoding: .utf8)
        var hexText = ""
        var header: [(String, String)] = []
        var decoded: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            if line.hasPrefix("#") {
                let body = line.dropFirst().trimmingCharacters(in: .whitespaces)
                if body.hasPrefix("decoded:") {
                    decoded.append(String(body.dropFirst("decoded:".count)).trimmingCharacters(in: .whitespaces))
                } else if body.hasPrefix("varbind:") {
                    decoded.append(String(body))
                }
                if let colon = body.firstIndex(of: ":") {
                    header.append(
                        (String(body[..<colon]), body[body.index(after: colon)...].trimmingCharacters(in: .whitespaces))
                    )
                }
            } else {
                hexText += line
            }
        }
        return Fixture(
            name: url.deletingPathExtension().lastPathComponent,
            bytes: decodeHex(hexText),
            header: header,
            decodedLines: decoded
        )
    }

    static let allNames: [String] = {
        let names = try! FileManager.default.contentsOfDirectory(atPath: Self.directory.path)
        return names.filter { $0.hasSuffix(".hex") }.map { String($0.dropLast(4)) }.sorted()
    }()

    static let all: [Fixture] = allNames.map { load($0) }
}

/// A small, fast, seedable generator (SplitMix64) so property tests are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) {
        self.state = seed
    }

    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Runs `body` with a reader over `buffer` (the decoder's primitives, for tests of single elements).
func withReader<T>(_ buffer: ByteBuffer, _ body: (inout BERReader) throws -> T) throws -> T {
    try buffer.withUnsafeReadableBytes { bytes in
        var reader = BERReader(message: buffer, bytes: bytes, position: 0, end: bytes.count, depth: 0)
        return try body(&reader)
    }
}
