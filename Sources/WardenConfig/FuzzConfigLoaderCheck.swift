//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

/// The check the `FuzzConfigLoader` target runs on one input (mutated YAML), and its regression
/// tests: the loader never crashes; it returns a configuration or errors; every error names the
/// file and a line and column inside the text; no error ever shows a secret's value.
public enum FuzzConfigLoaderCheck {
    public struct Violation: Error, CustomStringConvertible {
        public var description: String
    }

    /// The value of `${FUZZ_SECRET}`: it must never appear in an error.
    static let secret = "fuzz-secret-9f2c71"

    public static func run(_ bytes: UnsafeRawBufferPointer) throws(Violation) {
        let text = String(decoding: bytes, as: UTF8.self)
        // YAML's line breaks: LF, CR, CRLF, and (YAML 1.1) NEL, LS, PS; one more to be generous.
        let lines = text.reduce(1) { $1.isNewline ? $0 + 1 : $0 } + 1
        do {
            let configuration = try ConfigurationLoader.parse(
                yaml: text,
                file: "fuzz.yaml",
                environment: ["FUZZ_SECRET": Self.secret],
                // Nothing to read there: inventories and file: secrets fail as missing files.
                baseDirectory: "/nonexistent/snmpwarden-fuzz"
            )
            guard !configuration.listen.isEmpty else { throw Violation(description: "accepted with no listener") }
            let names = Set(configuration.backends.map(\.name))
            guard names.count == configuration.backends.count else {
                throw Violation(description: "accepted two back ends with one name")
            }
        } catch let errors as ConfigurationErrors {
            guard !errors.errors.isEmpty else { throw Violation(description: "refused without an error") }
            for error in errors.errors {
                // Inventories' errors name the inventory (an absolute path may name a real file).
                guard !error.file.isEmpty else { throw Violation(description: "error names no file: \(error)") }
                guard error.line >= 1, error.column >= 1, error.file != "fuzz.yaml" || error.line <= lines + 1 else {
                    throw Violation(description: "error outside the text: \(error)")
                }
                guard !error.message.isEmpty else { throw Violation(description: "an empty error message") }
                guard !error.message.contains(Self.secret) else {
                    throw Violation(description: "an error shows a secret's value: \(error)")
                }
            }
        } catch {
            throw Violation(description: "unexpected error \(error)")
        }
    }
}
