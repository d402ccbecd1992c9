//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import Foundation
import PeerSupport
import Testing
import WardenConfig

/// The configuration loader's fuzz check (`FuzzConfigLoader`), replayed: the corpus the fuzzer kept,
/// the shipped configurations, and damaged copies of them.
@Suite("FuzzConfigLoader: the corpus and damaged configurations replayed")
struct FuzzConfigLoaderTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func check(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { buffer in try FuzzConfigLoaderCheck.run(buffer) }
    }

    @Test("the kept corpus (Regression/config-corpus.hex)")
    func corpus() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "Regression/config-corpus.hex"
        ).path
        var replayed = 0
        for bytes in try Peers.hexCorpus(path) {
            #expect(throws: Never.self, "\(bytes.prefix(40))") { try Self.check(bytes) }
            replayed += 1
        }
        #expect(replayed > 0)
    }

    @Test("the shipped configurations, whole and with every line cut in half, one at a time")
    func damagedShippedConfigurations() throws {
        let directory = Self.root.appendingPathComponent("conf/examples")
        let files =
            try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".yaml") }
            .map { directory.appendingPathComponent($0).path } + [Self.root.appendingPathComponent("conf/snmpwarden.yaml").path]
        #expect(files.count >= 6)
        for file in files {
            let text = try String(contentsOfFile: file, encoding: .utf8)
            try Self.check(Array(text.utf8))
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            for (index, line) in lines.enumerated() where !line.isEmpty {
                var damaged = lines
                damaged[index] = line.prefix(line.count / 2)
                #expect(throws: Never.self, "\(file):\(index + 1)") {
                    try Self.check(Array(damaged.joined(separator: "\n").utf8))
                }
            }
        }
    }

    /// A secret's value never appears in an error, whatever the key it is misused under.
    @Test("a secret's value is never shown")
    func secretsNeverShown() throws {
        let yaml = """
            listen: [ "${FUZZ_SECRET}" ]
            users:
              - { name: "${FUZZ_SECRET}", auth: SHA, auth-key: "${FUZZ_SECRET}" }
            routes: [ { name: r, communities: [ "${FUZZ_SECRET}" ], backend: "${FUZZ_SECRET}" } ]
            notifications: { listen: [ "${FUZZ_SECRET}" ], sources: [], targets: [], routes: [] }
            """
        try Self.check(Array(yaml.utf8))
    }
}
