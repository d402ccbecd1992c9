//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import Foundation
import SNMPSecurity
import SNMPWire
import WardenPolicy
import Yams

/// Reads and validates a configuration file (DESIGN.md §5).
///
/// Every problem is reported, not only the first, each as `file:line:column: message` (an inventory's
/// problems with the inventory file's name). Unknown keys are errors. Secrets (`auth-key`,
/// `priv-key`, `community`) may be written as `${ENV_VAR}` or `file:/path`, and no secret's value
/// ever appears in an error.
public enum ConfigurationLoader {
    /// Loads `path`, resolving `${VAR}` from `environment`.
    public static func load(
        path: String,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigurationErrors) -> WardenConfiguration {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8)
        else {
            throw ConfigurationErrors(errors: [
                ConfigurationError(file: path, line: 1, column: 1, message: "cannot read the file")
            ])
        }
        // A bare file name is in the current directory (not in "", which would make `x` into `/x`).
        let directory = (path as NSString).deletingLastPathComponent
        return try Self.parse(
            yaml: text,
            file: path,
            environment: environment,
            baseDirectory: directory.isEmpty ? "." : directory
        )
    }

    /// Parses configuration text; `file` names it in errors; relative paths resolve from `baseDirectory`.
    public static func parse(
        yaml: String,
        file: String,
        environment: [String: String],
        baseDirectory: String = "."
    ) throws(ConfigurationErrors) -> WardenConfiguration {
        var walker = Walker(file: file, environment: environment, baseDirectory: baseDirectory)
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw ConfigurationErrors(errors: [walker.syntaxError(error)])
        } catch {
            throw ConfigurationErrors(errors: [ConfigurationError(file: file, line: 1, column: 1, message: "\(error)")])
        }
        guard let root else {
            throw ConfigurationErrors(errors: [
                ConfigurationError(file: file, line: 1, column: 1, message: "the file is empty")
            ])
        }
        let configuration = walker.configuration(root)
        if !walker.errors.isEmpty || configuration == nil {
            throw ConfigurationErrors(errors: walker.sortedErrors())
        }
        return configuration!
    }
}

/// Walks the YAML tree, collecting errors as it goes.
struct Walker {
    let file: String
    let environment: [String: String]
    let baseDirectory: String
    var errors: [ConfigurationError] = []
    /// The files errors may name: this one first, then each inventory as it is read.
    var files: [String]
    /// Every back-end name defined so far, valid or not (so that one mistake is one error).
    var backendDefinitions: [String: BackendDefinition] = [:]
    /// Every group some back end belongs to (and those of inventories that could not be read).
    var backendGroups: Set<String> = []
    /// The inventories read, in order.
    var inventories: [Inventory] = []
    /// Secrets of inventory cells already resolved, by their text (a fleet often shares one).
    var inventorySecrets: [String: [UInt8]] = [:]
    /// The name of every user `users:` defines, valid or not (so that one mistake is one error),
    /// for the `user:` of SNMPv3 back ends.
    var definedUsers: Set<String> = []
    /// The users that are valid, by name.
    var validUsers: [String: USMUserConfiguration] = [:]

    /// Where a back end's name was first defined, and its group.
    struct BackendDefinition {
        var file: String
        var line: Int
        var group: String?
    }

    init(file: String, environment: [String: String], baseDirectory: String) {
        self.file = file
        self.environment = environment
        self.baseDirectory = baseDirectory
        self.files = [file]
    }

    /// The errors by file (in the order the files were read), then line and column.
    func sortedErrors() -> [ConfigurationError] {
        var rank: [String: Int] = [:]
        for (index, file) in self.files.enumerated() where rank[file] == nil { rank[file] = index }
        return self.errors.enumerated().sorted {
            (rank[$0.element.file] ?? 0, $0.element.line, $0.element.column, $0.offset)
                < (rank[$1.element.file] ?? 0, $1.element.line, $1.element.column, $1.offset)
        }.map(\.element)
    }

    func syntaxError(_ error: YamlError) -> ConfigurationError {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
            .composer(_, let problem, let mark, _):
            return ConfigurationError(
                file: self.file,
                line: mark.line,
                column: mark.column,
                message: "YAML: \(problem)"
            )
        default:
            return ConfigurationError(file: self.file, line: 1, column: 1, message: "YAML: \(error)")
        }
    }

    mutating func error(_ node: Node?, _ message: String) {
        let mark = node?.mark
        self.errors.append(
            ConfigurationError(file: self.file, line: mark?.line ?? 1, column: mark?.column ?? 1, message: message)
        )
    }

    /// An error in another file (an inventory).
    mutating func error(file: String, line: Int, column: Int, _ message: String) {
        self.errors.append(ConfigurationError(file: file, line: line, column: column, message: message))
    }

    // MARK: - Shapes

    /// The mapping's entries by key; unknown and repeated keys are errors.
    mutating func fields(_ node: Node, _ what: String, allowed: [String]) -> [String: (key: Node, value: Node)]? {
        guard case .mapping(let mapping) = node else {
            self.error(node, "\(what) must be a mapping")
            return nil
        }
        var result: [String: (key: Node, value: Node)] = [:]
        for (key, value) in mapping {
            guard let name = key.scalar?.string else {
                self.error(key, "\(what): keys must be plain strings")
                continue
            }
            if !allowed.contains(name) {
                self.error(key, "unknown key '\(name)' in \(what); expected one of: \(allowed.joined(separator: ", "))")
            } else if result[name] != nil {
                self.error(key, "'\(name)' appears twice in \(what)")
            } else {
                result[name] = (key, value)
            }
        }
        return result
    }

    mutating func sequence(_ node: Node, _ what: String) -> [Node]? {
        if case .sequence(let sequence) = node { return Array(sequence) }
        self.error(node, "\(what) must be a list")
        return nil
    }

    mutating func string(_ node: Node, _ what: String) -> String? {
        if case .scalar(let scalar) = node { return scalar.string }
        self.error(node, "\(what) must be a string")
        return nil
    }

    mutating func integer(_ node: Node, _ what: String, range: ClosedRange<Int>) -> Int? {
        guard case .scalar(let scalar) = node, let value = Int(scalar.string) else {
            self.error(node, "\(what) must be a whole number")
            return nil
        }
        guard range.contains(value) else {
            self.error(node, "\(what) must be from \(range.lowerBound) to \(range.upperBound)")
            return nil
        }
        return value
    }

    mutating func required(
        _ fields: [String: (key: Node, value: Node)],
        _ key: String,
        in what: String,
        at node: Node
    ) -> Node? {
        if let field = fields[key] { return field.value }
        self.error(node, "\(what) needs '\(key)'")
        return nil
    }

    /// A duration: `500ms`, `1s`, `2m`; returns milliseconds.
    mutating func duration(_ node: Node, _ what: String) -> Int? {
        guard let text = self.string(node, what) else { return nil }
        if let milliseconds = Self.milliseconds(text) { return milliseconds }
        self.error(node, "\(what) \(Self.durationRule)")
        return nil
    }

    static let durationRule = "must be a duration such as 500ms, 1s or 2m"

    /// `500ms`, `1s`, `2m` in milliseconds (at most an hour), or nil.
    static func milliseconds(_ text: String) -> Int? {
        let units: [(String, Int)] = [("ms", 1), ("s", 1000), ("m", 60_000)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            if let value = Int(text.dropLast(suffix.count)), value >= 0, value <= 3_600_000 / scale {
                return value * scale
            }
        }
        return nil
    }

    /// `${VAR}`, `file:/path` or the literal; errors never include the value.
    mutating func secret(_ node: Node, _ what: String) -> [UInt8]? {
        guard let text = self.string(node, what) else { return nil }
        switch self.secretValue(text) {
        case .success(let bytes):
            return bytes
        case .failure(let problem):
            self.error(node, "\(what): \(problem.message)")
            return nil
        }
    }

    /// Why a secret has no value; the message names the variable or the file, never a value.
    struct SecretProblem: Error {
        var message: String
    }

    /// The value of a secret written as `${VAR}`, `file:PATH` (relative to the configuration's
    /// directory, final line breaks removed) or literally.
    func secretValue(_ text: String) -> Result<[UInt8], SecretProblem> {
        if text.hasPrefix("${") && text.hasSuffix("}") {
            let name = String(text.dropFirst(2).dropLast())
            guard let value = self.environment[name] else {
                return .failure(SecretProblem(message: "environment variable \(name) is not set"))
            }
            return .success(Array(value.utf8))
        }
        if text.hasPrefix("file:") {
            var path = String(text.dropFirst(5))
            if !path.hasPrefix("/") { path = self.baseDirectory + "/" + path }
            guard let data = FileManager.default.contents(atPath: path) else {
                return .failure(SecretProblem(message: "cannot read \(path)"))
            }
            var bytes = Array(data)
            while let last = bytes.last, last == 0x0A || last == 0x0D { bytes.removeLast() }
            return .success(bytes)
        }
        return .success(Array(text.utf8))
    }

    mutating func oid(_ node: Node, _ what: String) -> OID? {
        guard let text = self.string(node, what) else { return nil }
        guard let oid = OID(dotted: text) else {
            self.error(node, "\(what): '\(text)' is not an OID (dotted numbers, at least two arcs)")
            return nil
        }
        return oid
    }

    mutating func pattern(_ node: Node, _ what: String) -> SubtreePattern? {
        guard let text = self.string(node, what) else { return nil }
        var body = Substring(text)
        if body.hasPrefix(".") { body = body.dropFirst() }
        let parts = body.split(separator: ".", omittingEmptySubsequences: false)
        var arcs: [UInt32?] = []
        for part in parts {
            if part == "*" {
                arcs.append(nil)
            } else if let arc = UInt32(part) {
                arcs.append(arc)
            } else {
                self.error(node, "\(what): '\(text)' is not an OID pattern (dotted numbers, '*' for any one arc)")
                return nil
            }
        }
        guard !arcs.isEmpty, arcs.count <= SNMPWireLimits.maximumOIDArcs else {
            self.error(node, "\(what): '\(text)' is not an OID pattern")
            return nil
        }
        return SubtreePattern(arcs: arcs)
    }

    mutating func transport(_ node: Node, _ what: String) -> TransportAddress? {
        guard let text = self.string(node, what) else { return nil }
        if let address = TransportAddress(parsing: text) { return address }
        self.error(node, "\(what): '\(text)' is not a transport address (udp:192.0.2.1:161 or udp6:[2001:db8::1]:161)")
        return nil
    }

    mutating func prefix(_ node: Node, _ what: String) -> AddressPrefix? {
        guard let text = self.string(node, what) else { return nil }
        if let prefix = AddressPrefix(parsing: text) { return prefix }
        self.error(node, "\(what): '\(text)' is not an address prefix (10.0.0.0/8 or 2001:db8::/32)")
        return nil
    }

    mutating func names(_ node: Node, _ what: String) -> [(String, Node)] {
        guard let items = self.sequence(node, what) else { return [] }
        return items.compactMap { item in self.string(item, what).map { ($0, item) } }
    }
}

// MARK: - Sections

extension Walker {
    mutating func configuration(_ root: Node) -> WardenConfiguration? {
        guard
            let top = self.fields(
                root,
                "the configuration",
                allowed: [
                    "engine", "listen", "users", "backends", "backend-sockets", "views", "routes", "limits", "ops", "audit",
                    "notifications",
                ]
            )
        else { return nil }

        var engine = EngineSettings(engineID: nil, stateDirectory: self.baseDirectory + "/state")
        if let node = top["engine"]?.value,
            let fields = self.fields(node, "engine", allowed: ["id", "state-dir", "time", "epoch"])
        {
            if let id = fields["id"]?.value, let text = self.string(id, "engine.id") {
                let hex = text.hasPrefix("0x") ? String(text.dropFirst(2)) : text
                if let bytes = EngineStateStore.unhex(Substring(hex)), EngineIdentity.isValid(engineID: bytes) {
                    engine.engineID = bytes
                } else {
                    self.error(id, "engine.id must be 5 to 32 octets in hex, not all zeros or all ones (RFC 3411)")
                }
            }
            if let directory = fields["state-dir"]?.value, let path = self.string(directory, "engine.state-dir") {
                engine.stateDirectory = path.hasPrefix("/") ? path : self.baseDirectory + "/" + path
            }
            var epoch: Int64?
            if let epochNode = fields["epoch"]?.value, let text = self.string(epochNode, "engine.epoch") {
                let formatter = ISO8601DateFormatter()
                formatter.formatOptions = [.withInternetDateTime]
                if let date = formatter.date(from: text) {
                    epoch = Int64(date.timeIntervalSince1970.rounded(.down))
                } else {
                    self.error(epochNode, "engine.epoch must be an RFC 3339 time such as 2026-01-01T00:00:00Z")
                }
            }
            if let timeNode = fields["time"]?.value, let text = self.string(timeNode, "engine.time") {
                switch text {
                case "local":
                    if let epochField = fields["epoch"] {
                        self.error(epochField.key, "engine.epoch goes with time: epoch")
                    }
                case "epoch":
                    if fields["epoch"] == nil {
                        self.error(timeNode, "engine.time: epoch needs engine.epoch (the instant engineTime counts from)")
                    }
                    if engine.engineID == nil && fields["id"] == nil {
                        self.error(
                            timeNode,
                            "engine.time: epoch needs engine.id: replicas answer as one engine only with the same ID"
                        )
                    }
                    if let epoch { engine.time = .epoch(unixSeconds: epoch) }
                default:
                    self.error(timeNode, "engine.time must be local or epoch")
                }
            } else if let epochField = fields["epoch"] {
                self.error(epochField.key, "engine.epoch goes with time: epoch")
            }
        }

        var listen: [TransportAddress] = []
        if let node = top["listen"]?.value, let items = self.sequence(node, "listen") {
            listen = items.compactMap { self.transport($0, "listen") }
            if items.isEmpty { self.error(node, "listen needs at least one address") }
        } else if top["listen"] == nil {
            self.error(root, "the configuration needs 'listen'")
        }

        let users = top["users"].map { self.users($0.value) } ?? []
        self.definedUsers = Self.definedNames(top["users"]?.value)
        self.validUsers = Dictionary(users.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let backends = top["backends"].map { self.backends($0.value) } ?? []
        let backendSockets =
            top["backend-sockets"].flatMap { self.integer($0.value, "backend-sockets", range: 1...1024) } ?? 4
        let views = top["views"].map { self.views($0.value) } ?? []
        let limits = top["limits"].map { self.limits($0.value) } ?? Limits()
        let ops = top["ops"].flatMap { self.ops($0.value) }
        var audit: String?
        if let node = top["audit"]?.value, let fields = self.fields(node, "audit", allowed: ["file"]),
            let fileNode = self.required(fields, "file", in: "audit", at: node),
            let path = self.string(fileNode, "audit.file")
        {
            if path.isEmpty {
                self.error(fileNode, "audit.file must be a path, or - for standard error")
            } else {
                audit = path == "-" || path.hasPrefix("/") ? path : self.baseDirectory + "/" + path
            }
        }
        // References are checked against every name defined, valid or not: one error per mistake
        // (back-end names, inventories' included, were collected as `backends` read them).
        let routes =
            top["routes"].map {
                self.routes(
                    $0.value,
                    users: Self.definedNames(top["users"]?.value),
                    views: Self.definedNames(top["views"]?.value)
                )
            } ?? []
        if top["routes"] == nil {
            self.error(root, "the configuration needs 'routes' (without a route nothing is forwarded)")
        }
        let notifications = top["notifications"].flatMap {
            self.notifications(
                $0.value,
                users: Self.definedNames(top["users"]?.value),
                views: Self.definedNames(top["views"]?.value)
            )
        }
        return WardenConfiguration(
            engine: engine,
            listen: listen,
            users: users,
            backends: backends,
            backendSockets: backendSockets,
            inventories: self.inventories,
            views: views,
            routes: routes,
            limits: limits,
            ops: ops,
            auditFile: audit,
            notifications: notifications
        )
    }

    /// `ops:`: the HTTP operations listener.
    mutating func ops(_ node: Node) -> OpsSettings? {
        guard let fields = self.fields(node, "ops", allowed: ["listen", "per-backend-metrics"]) else { return nil }
        var perBackendMetrics = false
        if let perBackend = fields["per-backend-metrics"]?.value,
            let text = self.string(perBackend, "ops.per-backend-metrics")
        {
            switch text {
            case "true": perBackendMetrics = true
            case "false": perBackendMetrics = false
            default: self.error(perBackend, "ops.per-backend-metrics must be true or false")
            }
        }
        guard let listenNode = self.required(fields, "listen", in: "ops", at: node),
            let text = self.string(listenNode, "ops.listen")
        else { return nil }
        guard let listen = OpsSettings.Endpoint(parsing: text) else {
            self.error(listenNode, "ops.listen: '\(text)' is not a TCP address (tcp:127.0.0.1:9161 or tcp6:[::1]:9161)")
            return nil
        }
        return OpsSettings(listen: listen, perBackendMetrics: perBackendMetrics)
    }

    /// The `name:` of every mapping in a list section.
    static func definedNames(_ node: Node?) -> Set<String> {
        guard case .sequence(let items)? = node else { return [] }
        return Set(items.compactMap { $0.mapping?["name"]?.scalar?.string })
    }

    mutating func users(_ node: Node) -> [USMUserConfiguration] {
        guard let items = self.sequence(node, "users") else { return [] }
        var users: [USMUserConfiguration] = []
        var seen: Set<String> = []
        for item in items {
            guard
                let fields = self.fields(
                    item,
                    "a user",
                    allowed: [
                        "name", "auth", "auth-key", "auth-localized-key", "priv", "priv-key", "priv-localized-key",
                    ]
                ),
                let nameNode = self.required(fields, "name", in: "a user", at: item),
                let name = self.string(nameNode, "users.name")
            else { continue }
            guard !name.isEmpty, name.utf8.count <= 32 else {
                self.error(nameNode, "user name must be 1 to 32 octets")
                continue
            }
            if !seen.insert(name).inserted { self.error(nameNode, "user '\(name)' is defined twice") }
            var user = USMUserConfiguration(name: name)
            var valid = true
            if let authNode = fields["auth"]?.value, let text = self.string(authNode, "users.auth") {
                guard let auth = USMAuthProtocol(name: text) else {
                    self.error(authNode, "user '\(name)': auth must be MD5, SHA, SHA-224, SHA-256, SHA-384 or SHA-512")
                    continue
                }
                guard let secret = self.key(fields, "auth", user: name, keyLength: auth.keyLength, at: item) else {
                    valid = false
                    continue
                }
                user.auth = (auth, secret)
            } else if fields["auth-key"] != nil || fields["auth-localized-key"] != nil {
                self.error(item, "user '\(name)': a key without 'auth'")
                valid = false
            }
            if let privNode = fields["priv"]?.value, let text = self.string(privNode, "users.priv"),
                text.lowercased() != "none"
            {
                guard let priv = USMPrivacyProtocol(name: text) else {
                    self.error(
                        privNode,
                        "user '\(name)': priv must be DES, 3DES, AES, AES-192, AES-256, AES-192-C, AES-256-C or none"
                    )
                    continue
                }
                guard let auth = user.auth?.protocol else {
                    self.error(privNode, "user '\(name)': privacy needs authentication ('auth')")
                    continue
                }
                guard let secret = self.key(fields, "priv", user: name, keyLength: auth.keyLength, at: item) else {
                    valid = false
                    continue
                }
                user.privacy = (priv, secret)
            } else if let key = fields["priv-key"] ?? fields["priv-localized-key"] {
                // A key nobody uses is a mistake (a forgotten `priv:`), not something to ignore: the
                // user would otherwise run without privacy.
                self.error(key.key, "user '\(name)': a privacy key without 'priv' (or with 'priv: none')")
                valid = false
            }
            if valid {
                do {
                    try user.validate()
                    users.append(user)
                } catch {
                    self.error(item, error.description)
                }
            }
        }
        return users
    }

    /// `auth-key` (a passphrase) or `auth-localized-key` (hex, localized to this engine's ID).
    mutating func key(
        _ fields: [String: (key: Node, value: Node)],
        _ kind: String,
        user: String,
        keyLength: Int,
        at item: Node
    ) -> USMSecret? {
        let passphrase = fields["\(kind)-key"]
        let localized = fields["\(kind)-localized-key"]
        switch (passphrase, localized) {
        case (let field?, nil):
            guard let bytes = self.secret(field.value, "user '\(user)': \(kind)-key") else { return nil }
            guard bytes.count >= USMKeyDerivation.minimumPassphraseLength else {
                self.error(
                    field.value,
                    "user '\(user)': \(kind)-key is \(bytes.count) characters; at least 8 are required (RFC 3414 §11.2)"
                )
                return nil
            }
            return .passphrase(bytes)
        case (nil, let field?):
            guard let bytes = self.secret(field.value, "user '\(user)': \(kind)-localized-key") else { return nil }
            let text = String(decoding: bytes, as: UTF8.self)
            guard let key = EngineStateStore.unhex(Substring(text.hasPrefix("0x") ? String(text.dropFirst(2)) : text)),
                key.count == keyLength
            else {
                self.error(field.value, "user '\(user)': \(kind)-localized-key must be \(keyLength) octets in hex")
                return nil
            }
            return .localizedKey(key)
        case (nil, nil):
            self.error(item, "user '\(user)': '\(kind)' needs '\(kind)-key' (or '\(kind)-localized-key')")
            return nil
        case (_?, let field?):
            self.error(field.key, "user '\(user)': give '\(kind)-key' or '\(kind)-localized-key', not both")
            return nil
        }
    }

    /// `backends:`: inline back ends and inventories (see Inventory.swift), in order.
    mutating func backends(_ node: Node) -> [Backend] {
        guard let items = self.sequence(node, "backends") else { return [] }
        var backends: [Backend] = []
        for item in items {
            if case .mapping(let mapping) = item, mapping["inventory"] != nil {
                self.inventory(item, into: &backends)
                continue
            }
            guard
                let fields = self.fields(
                    item,
                    "a backend",
                    allowed: [
                        "name", "address", "version", "community", "user", "context", "engine-id", "timeout", "retries",
                        "source", "group", "simulate", "max-in-flight",
                    ]
                ),
                let nameNode = self.required(fields, "name", in: "a backend", at: item),
                let name = self.string(nameNode, "backends.name")
            else { continue }
            var group: String?
            if let groupNode = fields["group"]?.value {
                group = self.groupName(groupNode, "backend '\(name)': group")
                if let group { self.backendGroups.insert(group) }
            }
            let unique = self.defineBackend(
                name,
                group: group,
                file: self.file,
                line: nameNode.mark?.line ?? 1,
                column: nameNode.mark?.column ?? 1
            )
            if let simulate = fields["simulate"] {
                for other in [
                    "address", "version", "community", "user", "context", "engine-id", "timeout", "retries", "source",
                    "max-in-flight",
                ] {
                    if let field = fields[other] {
                        self.error(field.key, "backend '\(name)': '\(other)' does not go with 'simulate'")
                    }
                }
                if let path = self.string(simulate.value, "backend '\(name)': simulate") {
                    let full = path.hasPrefix("/") ? path : self.baseDirectory + "/" + path
                    if FileManager.default.isReadableFile(atPath: full) {
                        if unique { backends.append(Backend(name: name, kind: .simulated(path: full), group: group)) }
                    } else {
                        self.error(simulate.value, "backend '\(name)': cannot read \(full)")
                    }
                }
                continue
            }
            let address = self.required(fields, "address", in: "backend '\(name)'", at: item).flatMap {
                self.transport($0, "backend '\(name)': address")
            }
            var version = SNMPVersion.v2c
            if let versionNode = fields["version"]?.value, let text = self.string(versionNode, "version") {
                if let value = Self.version(text) {
                    version = value
                } else {
                    self.error(versionNode, "backend '\(name)': \(Self.versionRule)")
                }
            }
            var community: [UInt8]?
            var usm: Backend.USM?
            var usmValid = true
            if version == .v3 {
                if let field = fields["community"] {
                    self.error(field.key, "backend '\(name)': 'community' does not go with version 3 (it has a 'user')")
                }
                community = []
                usm = self.backendUSM(fields, backend: name, at: item)
                usmValid = usm != nil
            } else {
                for key in ["user", "context", "engine-id"] {
                    if let field = fields[key] {
                        self.error(field.key, "backend '\(name)': '\(key)' goes with version 3 only")
                    }
                }
                community = self.required(fields, "community", in: "backend '\(name)'", at: item).flatMap {
                    self.secret($0, "backend '\(name)': community")
                }
            }
            let timeout = fields["timeout"].flatMap { self.duration($0.value, "backend '\(name)': timeout") } ?? 1000
            let retries =
                fields["retries"].flatMap { self.integer($0.value, "backend '\(name)': retries", range: 0...10) } ?? 2
            let maxInFlight =
                fields["max-in-flight"].flatMap {
                    self.integer($0.value, "backend '\(name)': max-in-flight", range: Backend.maxInFlightRange)
                } ?? Backend.defaultMaxInFlight
            var source: String?
            var sourceValid = true
            if let sourceNode = fields["source"]?.value, let text = self.string(sourceNode, "backend '\(name)': source")
            {
                if let problem = Self.sourceProblem(text, for: address) {
                    self.error(sourceNode, "backend '\(name)': \(problem)")
                    sourceValid = false
                } else {
                    source = text
                }
            }
            if let address, let community, unique, sourceValid, usmValid {
                backends.append(
                    Backend(
                        name: name,
                        kind: .agent(
                            address: address,
                            version: version,
                            community: community,
                            timeoutMilliseconds: max(timeout, 1),
                            retries: retries
                        ),
                        source: source,
                        group: group,
                        usm: usm,
                        maxInFlight: maxInFlight
                    )
                )
            }
        }
        return backends
    }

    static let versionRule = "version must be 1, 2c or 3"

    /// `1`, `2c` (`2` too) or `3`.
    static func version(_ text: String) -> SNMPVersion? {
        switch text {
        case "1": return .v1
        case "2c", "2": return .v2c
        case "3": return .v3
        default: return nil
        }
    }

    /// A `version: 3` back end's `user` (required), `context` and `engine-id`; nil after reporting
    /// what is wrong.
    mutating func backendUSM(
        _ fields: [String: (key: Node, value: Node)],
        backend name: String,
        at item: Node
    ) -> Backend.USM? {
        var valid = true
        var engineID: [UInt8]?
        if let node = fields["engine-id"]?.value, let text = self.string(node, "backend '\(name)': engine-id") {
            engineID = Self.engineID(text)
            if engineID == nil {
                self.error(node, "backend '\(name)': \(Self.engineIDRule)")
                valid = false
            }
        }
        var context = ""
        if let node = fields["context"]?.value, let text = self.string(node, "backend '\(name)': context") {
            if let problem = Self.contextProblem(text) {
                self.error(node, "backend '\(name)': \(problem)")
                valid = false
            }
            context = text
        }
        guard let userNode = self.required(fields, "user", in: "backend '\(name)' (version 3)", at: item),
            let user = self.string(userNode, "backend '\(name)': user")
        else { return nil }
        if let problem = self.backendUserProblem(user, hasEngineID: fields["engine-id"] != nil) {
            self.error(userNode, "backend '\(name)': \(problem)")
            valid = false
        }
        return valid ? Backend.USM(user: user, context: context, engineID: engineID) : nil
    }

    static let engineIDRule = "engine-id must be 5 to 32 octets in hex, not all zeros or all ones (RFC 3411)"

    /// An engine ID in hex (`0x` allowed), or nil if it is not a valid snmpEngineID.
    static func engineID(_ text: String) -> [UInt8]? {
        let hex = text.hasPrefix("0x") ? String(text.dropFirst(2)) : text
        guard let bytes = EngineStateStore.unhex(Substring(hex)), EngineIdentity.isValid(engineID: bytes) else {
            return nil
        }
        return bytes
    }

    /// What is wrong with a back end's contextName, or nil.
    static func contextProblem(_ text: String) -> String? {
        text.utf8.count <= SNMPWireLimits.maximumContextNameLength
            ? nil : "context must be at most \(SNMPWireLimits.maximumContextNameLength) octets"
    }

    /// What is wrong with `user` as an SNMPv3 back end's user, or nil.
    func backendUserProblem(_ user: String, hasEngineID: Bool) -> String? {
        guard self.definedUsers.contains(user) else { return "no user named '\(user)' in users" }
        guard let configuration = self.validUsers[user] else { return nil }  // its own error is reported
        var localized = false
        if case .localizedKey? = configuration.auth?.secret { localized = true }
        if case .localizedKey? = configuration.privacy?.secret { localized = true }
        if localized && !hasEngineID {
            return "user '\(user)' has a localized key, which is for one engine ID only: "
                + "give the agent's engine-id (or give the user passphrases)"
        }
        return nil
    }

    /// What is wrong with `source: text` for an agent at `address` (nil if unknown), or nil.
    static func sourceProblem(_ text: String, for address: TransportAddress?) -> String? {
        guard let family = Self.addressFamily(text) else {
            return "source '\(text)' is not an IP address (10.0.0.5 or 2001:db8::5)"
        }
        if let address, address.family != family {
            return "source '\(text)' is \(family == .udp ? "IPv4" : "IPv6") but the address is "
                + (address.family == .udp ? "IPv4" : "IPv6")
        }
        return nil
    }

    /// The family of an IPv4 or IPv6 address literal, or nil.
    static func addressFamily(_ text: String) -> TransportAddress.Family? {
        if AddressLiteral.ipv4(text) != nil { return .udp }
        if AddressLiteral.ipv6(text) != nil { return .udp6 }
        return nil
    }

    /// A `group:` value: a non-empty string.
    mutating func groupName(_ node: Node, _ what: String) -> String? {
        guard let text = self.string(node, what) else { return nil }
        guard !text.isEmpty else {
            self.error(node, "\(what) must not be empty")
            return nil
        }
        return text
    }

    /// Records a back end's name; false (and an error at the later one) if it was defined before.
    mutating func defineBackend(_ name: String, group: String?, file: String, line: Int, column: Int) -> Bool {
        if let first = self.backendDefinitions[name] {
            self.error(
                file: file,
                line: line,
                column: column,
                "backend '\(name)' is defined twice (first at \(first.file):\(first.line))"
            )
            return false
        }
        self.backendDefinitions[name] = BackendDefinition(file: file, line: line, group: group)
        return true
    }

    mutating func views(_ node: Node) -> [View] {
        guard let items = self.sequence(node, "views") else { return [] }
        var views: [View] = []
        var seen: Set<String> = []
        for item in items {
            guard let fields = self.fields(item, "a view", allowed: ["name", "include", "exclude"]),
                let nameNode = self.required(fields, "name", in: "a view", at: item),
                let name = self.string(nameNode, "views.name")
            else { continue }
            if !seen.insert(name).inserted { self.error(nameNode, "view '\(name)' is defined twice") }
            if name == "none" { self.error(nameNode, "'none' is reserved: it means no view") }
            let include = fields["include"].flatMap { self.sequence($0.value, "view '\(name)': include") } ?? []
            let exclude = fields["exclude"].flatMap { self.sequence($0.value, "view '\(name)': exclude") } ?? []
            views.append(
                View(
                    name: name,
                    include: include.compactMap { self.pattern($0, "view '\(name)': include") },
                    exclude: exclude.compactMap { self.pattern($0, "view '\(name)': exclude") }
                )
            )
        }
        return views
    }

    /// `routes:`; back-end names and groups are checked against ``backendDefinitions`` and ``backendGroups``.
    mutating func routes(_ node: Node, users: Set<String>, views: Set<String>) -> [Route] {
        guard let items = self.sequence(node, "routes") else { return [] }
        var routes: [Route] = []
        var seen: Set<String> = []
        for item in items {
            guard
                let fields = self.fields(
                    item,
                    "a route",
                    allowed: [
                        "name", "users", "communities", "context", "sources", "backend", "backend-group",
                        "read-view", "write-view", "rewrite", "on-timeout", "transform", "hash-key",
                    ]
                ),
                let nameNode = self.required(fields, "name", in: "a route", at: item),
                let name = self.string(nameNode, "routes.name")
            else { continue }
            if !seen.insert(name).inserted { self.error(nameNode, "route '\(name)' is defined twice") }
            var routeUsers: [String] = []
            var communities: [[UInt8]] = []
            if let communitiesNode = fields["communities"]?.value,
                let items = self.sequence(communitiesNode, "route '\(name)': communities")
            {
                communities = items.compactMap { self.secret($0, "route '\(name)': communities") }
                if items.isEmpty { self.error(communitiesNode, "route '\(name)': communities is empty") }
                if let contextNode = fields["context"] {
                    self.error(contextNode.key, "route '\(name)': 'context' is for v3 users; v1/v2c has no context")
                }
            }
            if fields["communities"] == nil && fields["users"] == nil {
                self.error(item, "route '\(name)' needs 'users' (v3) or 'communities' (v1/v2c)")
            }
            if let usersNode = fields["users"]?.value {
                for (user, userNode) in self.names(usersNode, "route '\(name)': users") {
                    if users.contains(user) {
                        routeUsers.append(user)
                    } else {
                        self.error(userNode, "route '\(name)': no user named '\(user)'")
                    }
                }
            }
            var context = Route.ContextMatch.exactly("")
            if let contextNode = fields["context"]?.value,
                let text = self.string(contextNode, "route '\(name)': context")
            {
                context = text == "*" ? .any : .exactly(text)
                if text.utf8.count > 32 {
                    self.error(contextNode, "route '\(name)': a context name has at most 32 octets")
                }
            }
            let sources =
                fields["sources"].flatMap { self.sequence($0.value, "route '\(name)': sources") }?
                .compactMap { self.prefix($0, "route '\(name)': sources") } ?? []
            let backend = self.backendChoice(fields, route: name, context: context, at: item)
            func view(_ key: String) -> String? {
                guard let viewNode = fields[key]?.value, let text = self.string(viewNode, "route '\(name)': \(key)")
                else { return nil }
                if text == "none" { return nil }
                if !views.contains(text) { self.error(viewNode, "route '\(name)': no view named '\(text)'") }
                return text
            }
            let readView = view("read-view")
            let writeView = view("write-view")
            let rewrite = fields["rewrite"].map { self.rewrites($0.value, of: "route '\(name)'") } ?? []
            var onTimeout = Route.TimeoutAction.genErr
            if let timeoutNode = fields["on-timeout"]?.value, let text = self.string(timeoutNode, "on-timeout") {
                if let action = Route.TimeoutAction(rawValue: text) {
                    onTimeout = action
                } else {
                    self.error(timeoutNode, "route '\(name)': on-timeout must be genErr or drop")
                }
            }
            var route = Route(
                name: name,
                users: routeUsers,
                communities: communities,
                context: context,
                sources: sources,
                backend: backend,
                readView: readView,
                writeView: writeView,
                rewrite: rewrite,
                onTimeout: onTimeout
            )
            if let keyNode = fields["hash-key"]?.value {
                route.hashKey = self.secret(keyNode, "route '\(name)': hash-key")
                if let key = route.hashKey, key.count < 16 {
                    self.error(keyNode, "route '\(name)': hash-key must have at least 16 octets")
                }
            }
            if let transformNode = fields["transform"]?.value {
                route.transforms = self.transforms(transformNode, route: name, hasKey: fields["hash-key"] != nil)
            }
            routes.append(route)
        }
        return routes
    }

    /// A `rewrite:` list of `{ backend: OID, manager: OID }` pairs, checked as a whole
    /// (``RoutePolicy/problem(with:)``); `owner` names the route in errors.
    mutating func rewrites(_ node: Node, of owner: String) -> [(backend: OID, manager: OID)] {
        guard let pairs = self.sequence(node, "\(owner): rewrite") else { return [] }
        var rewrite: [(backend: OID, manager: OID)] = []
        for pair in pairs {
            guard let pairFields = self.fields(pair, "a rewrite", allowed: ["backend", "manager"]),
                let b = self.required(pairFields, "backend", in: "a rewrite", at: pair).flatMap({
                    self.oid($0, "rewrite backend")
                }),
                let m = self.required(pairFields, "manager", in: "a rewrite", at: pair).flatMap({
                    self.oid($0, "rewrite manager")
                })
            else { continue }
            rewrite.append((b, m))
        }
        let rules = rewrite.map { RoutePolicy.Rewrite(backend: Array($0.backend.arcs), manager: Array($0.manager.arcs)) }
        if let problem = RoutePolicy.problem(with: rules) {
            self.error(node, "\(owner): \(problem)")
        }
        return rewrite
    }

    /// A route's `backend:` (and `backend-group:`, which goes with `backend: "{context}"` only).
    mutating func backendChoice(
        _ fields: [String: (key: Node, value: Node)],
        route name: String,
        context: Route.ContextMatch,
        at item: Node
    ) -> BackendChoice {
        let groupField = fields["backend-group"]
        guard let backendNode = self.required(fields, "backend", in: "route '\(name)'", at: item) else {
            return .named("")
        }
        if case .mapping(let mapping) = backendNode, mapping.count == 1,
            mapping.keys.first?.scalar?.string == "context"
        {
            self.error(
                backendNode,
                "route '\(name)': write backend: \"{context}\" in quotes (YAML reads {context} as a mapping)"
            )
            return .named("")
        }
        guard let text = self.string(backendNode, "route '\(name)': backend") else { return .named("") }
        guard text == "{context}" else {
            if self.backendDefinitions[text] == nil {
                self.error(backendNode, "route '\(name)': no backend named '\(text)'")
            }
            if let groupField {
                self.error(groupField.key, "route '\(name)': 'backend-group' goes only with backend: \"{context}\"")
            }
            return .named(text)
        }
        var group: String?
        if let groupField, let text = self.string(groupField.value, "route '\(name)': backend-group") {
            if !self.backendGroups.contains(text) {
                self.error(groupField.value, "route '\(name)': no backend has group '\(text)'")
            }
            group = text
        }
        if fields["communities"] != nil {
            self.error(
                backendNode,
                "route '\(name)': backend \"{context}\" picks the device by the v3 contextName; v1/v2c has no context"
            )
        } else if fields["context"] == nil {
            self.error(backendNode, "route '\(name)': a {context} route needs context: \"*\" (any) or a device name")
        } else if case .exactly(let device) = context, let contextNode = fields["context"]?.value {
            if let definition = self.backendDefinitions[device] {
                if let group, definition.group != group {
                    self.error(contextNode, "route '\(name)': backend '\(device)' is not in group '\(group)'")
                }
            } else {
                self.error(contextNode, "route '\(name)': no backend named '\(device)'")
            }
        }
        return .byContext(group: group)
    }

    mutating func limits(_ node: Node) -> Limits {
        var limits = Limits()
        guard
            let fields = self.fields(
                node,
                "limits",
                allowed: [
                    "max-repetitions", "max-varbinds", "max-pending", "max-backend-requests", "reports-per-second",
                    "reports-burst", "source-prefix-v4", "source-prefix-v6", "source-table-size",
                    "failures-before-backoff", "first-backoff", "max-backoff",
                ]
            )
        else { return limits }
        let integers: [(String, ClosedRange<Int>, WritableKeyPath<Limits, Int>)] = [
            ("reports-per-second", 1...100_000, \.reportsPerSecond), ("reports-burst", 1...100_000, \.reportsBurst),
            ("source-prefix-v4", 8...32, \.sourcePrefixV4), ("source-prefix-v6", 16...128, \.sourcePrefixV6),
            ("source-table-size", 1_024...10_000_000, \.sourceTableSize),
            ("failures-before-backoff", 1...1_000, \.failuresBeforeBackoff),
        ]
        for (key, range, path) in integers {
            if let value = fields[key].flatMap({ self.integer($0.value, "limits.\(key)", range: range) }) {
                limits[keyPath: path] = value
            }
        }
        if let value = fields["first-backoff"].flatMap({ self.duration($0.value, "limits.first-backoff") }) {
            limits.firstBackoffMilliseconds = max(1, value)
        }
        if let value = fields["max-backoff"].flatMap({ self.duration($0.value, "limits.max-backoff") }) {
            limits.maxBackoffMilliseconds = max(1, value)
        }
        if let value = fields["max-backend-requests"].flatMap({
            self.integer($0.value, "limits.max-backend-requests", range: 1...1_000)
        }) {
            limits.maxBackendRequests = value
        }
        if let value = fields["max-repetitions"].flatMap({
            self.integer($0.value, "limits.max-repetitions", range: 1...10_000)
        }) {
            limits.maxRepetitions = value
        }
        if let value = fields["max-varbinds"].flatMap({
            self.integer($0.value, "limits.max-varbinds", range: 1...10_000)
        }) {
            limits.maxVarbinds = value
        }
        if let value = fields["max-pending"].flatMap({
            self.integer($0.value, "limits.max-pending", range: 1...1_000_000)
        }) {
            limits.maxPending = value
        }
        return limits
    }
}

// MARK: - Transforms

extension Walker {
    /// `transform:` of one route: every entry checked at load time, so nothing fails at run time.
    mutating func transforms(_ node: Node, route: String, hasKey: Bool) -> [TransformEntry] {
        guard let items = self.sequence(node, "route '\(route)': transform") else { return [] }
        var entries: [TransformEntry] = []
        var synthesized: Set<String> = []
        for item in items {
            guard
                let fields = self.fields(
                    item,
                    "a transform",
                    allowed: ["oid", "redact", "replace", "type", "match", "with", "synthesize"]
                ),
                let oidNode = self.required(fields, "oid", in: "a transform", at: item),
                let pattern = self.pattern(oidNode, "route '\(route)': transform oid")
            else { continue }
            let actions = ["redact", "replace", "match", "synthesize"].filter { fields[$0] != nil }
            guard actions.count == 1 else {
                self.error(item, "route '\(route)': a transform needs exactly one of redact, replace, match (with with) or synthesize")
                continue
            }
            let known = KnownObjectTypes.type(of: pattern.arcs)
            let what = "route '\(route)': transform of \(pattern)"
            if fields["with"] != nil && actions[0] != "match" { self.error(fields["with"]!.key, "\(what): 'with' goes with 'match'") }
            if fields["type"] != nil && actions[0] != "replace" {
                self.error(fields["type"]!.key, "\(what): 'type' goes with 'replace' (synthesize names its type inside)")
            }
            switch actions[0] {
            case "redact":
                guard let text = self.string(fields["redact"]!.value, "\(what): redact") else { continue }
                switch text {
                case "zero":
                    entries.append(TransformEntry(oid: pattern, action: .zero))
                case "hash":
                    if !hasKey {
                        self.error(fields["redact"]!.value, "\(what): redact: hash needs the route's hash-key (a secret: ${ENV} or file:)")
                    }
                    entries.append(TransformEntry(oid: pattern, action: .hash))
                default:
                    self.error(fields["redact"]!.value, "\(what): redact must be zero or hash")
                }
            case "replace":
                guard let text = self.string(fields["replace"]!.value, "\(what): replace") else { continue }
                var type: ValueType?
                if let typeNode = fields["type"]?.value, let name = self.string(typeNode, "\(what): type") {
                    type = ValueType(rawValue: name)
                    if type == nil {
                        self.error(typeNode, "\(what): type must be one of \(ValueType.allCases.map(\.rawValue).joined(separator: ", "))")
                        continue
                    }
                }
                if let target = type ?? known?.type, target.value(text) == nil {
                    self.error(
                        fields["replace"]!.value,
                        "\(what): '\(text)' is not a value of type \(target.rawValue)"
                            + (type == nil ? " (\(known!.name) is one)" : "")
                    )
                    continue
                }
                entries.append(TransformEntry(oid: pattern, action: .replace(text: text, type: type)))
            case "match":
                guard let source = self.string(fields["match"]!.value, "\(what): match") else { continue }
                guard let withNode = fields["with"]?.value, let replacement = self.string(withNode, "\(what): with") else {
                    self.error(fields["match"]!.key, "\(what): match needs 'with' (the text that replaces what matches)")
                    continue
                }
                if let known, known.type != .string {
                    self.error(
                        fields["match"]!.value,
                        "\(what): a regular expression applies to strings, and \(known.name) is of type \(known.type.rawValue)"
                    )
                    continue
                }
                do {
                    _ = try ValueTransforms.CompiledPattern(source)
                } catch {
                    self.error(fields["match"]!.value, "\(what): '\(source)' is not a regular expression: \(error)")
                    continue
                }
                entries.append(TransformEntry(oid: pattern, action: .match(pattern: source, with: replacement)))
            default:
                let node = fields["synthesize"]!.value
                guard let inner = self.fields(node, "synthesize", allowed: ["type", "value"]),
                    let typeNode = self.required(inner, "type", in: "\(what): synthesize", at: node),
                    let typeName = self.string(typeNode, "\(what): synthesize type"),
                    let valueNode = self.required(inner, "value", in: "\(what): synthesize", at: node),
                    let text = self.string(valueNode, "\(what): synthesize value")
                else { continue }
                guard let type = ValueType(rawValue: typeName) else {
                    self.error(typeNode, "\(what): type must be one of \(ValueType.allCases.map(\.rawValue).joined(separator: ", "))")
                    continue
                }
                guard pattern.arcs.allSatisfy({ $0 != nil }), OID(arcs: pattern.arcs.map { $0! }) != nil else {
                    self.error(oidNode, "\(what): a synthesized object needs one OID, without '*'")
                    continue
                }
                guard type.value(text) != nil else {
                    self.error(valueNode, "\(what): '\(text)' is not a value of type \(type.rawValue)")
                    continue
                }
                if !synthesized.insert(pattern.description).inserted {
                    self.error(oidNode, "\(what): synthesized twice")
                }
                entries.append(TransformEntry(oid: pattern, action: .synthesize(type: type, value: text)))
            }
        }
        return entries
    }
}

/// The types of well-known objects, so that a transform that cannot apply to one (a regular
/// expression on an INTEGER) is an error at load time rather than a surprise at run time.
enum KnownObjectTypes {
    static let columns: [([UInt32], String, ValueType)] = {
        let system: [UInt32] = [1, 3, 6, 1, 2, 1, 1]
        let ifEntry: [UInt32] = [1, 3, 6, 1, 2, 1, 2, 2, 1]
        let ifXEntry: [UInt32] = [1, 3, 6, 1, 2, 1, 31, 1, 1, 1]
        let ipAddrEntry: [UInt32] = [1, 3, 6, 1, 2, 1, 4, 20, 1]
        var table: [([UInt32], String, ValueType)] = [
            (system + [1], "sysDescr", .string), (system + [2], "sysObjectID", .oid),
            (system + [3], "sysUpTime", .timeticks), (system + [4], "sysContact", .string),
            (system + [5], "sysName", .string), (system + [6], "sysLocation", .string),
            (system + [7], "sysServices", .integer),
            (ifEntry + [1], "ifIndex", .integer), (ifEntry + [2], "ifDescr", .string), (ifEntry + [3], "ifType", .integer),
            (ifEntry + [4], "ifMtu", .integer), (ifEntry + [5], "ifSpeed", .unsigned),
            (ifEntry + [6], "ifPhysAddress", .string), (ifEntry + [7], "ifAdminStatus", .integer),
            (ifEntry + [8], "ifOperStatus", .integer), (ifEntry + [9], "ifLastChange", .timeticks),
            (ifEntry + [21], "ifOutQLen", .unsigned),
            (ifXEntry + [1], "ifName", .string), (ifXEntry + [15], "ifHighSpeed", .unsigned),
            (ifXEntry + [18], "ifAlias", .string),
            (ipAddrEntry + [1], "ipAdEntAddr", .ipaddress), (ipAddrEntry + [2], "ipAdEntIfIndex", .integer),
            (ipAddrEntry + [3], "ipAdEntNetMask", .ipaddress),
        ]
        for column: UInt32 in [10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20] {
            table.append((ifEntry + [column], "ifTable column \(column)", .counter32))
        }
        for column: UInt32 in [6, 7, 8, 9, 10, 11, 12, 13] {
            table.append((ifXEntry + [column], "ifXTable column \(column)", .counter64))
        }
        return table
    }()

    /// The known column or scalar a pattern lies in (all of its arcs up to the column fixed).
    static func type(of pattern: [UInt32?]) -> (name: String, type: ValueType)? {
        for (column, name, type) in Self.columns where pattern.count >= column.count {
            if zip(pattern, column).allSatisfy({ $0.0 == $0.1 }) { return (name, type) }
        }
        return nil
    }
}
