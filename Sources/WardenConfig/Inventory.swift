//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import Foundation
import SNMPWire
import Yams

/// The keys of one inventory device: CSV columns or YAML keys.
enum InventoryColumn: Int, CaseIterable {
    case name, address, version, community, user, context, timeout, retries, source, maxInFlight

    /// The name in a CSV header or a YAML device.
    var key: String {
        switch self {
        case .name: return "name"
        case .address: return "address"
        case .version: return "version"
        case .community: return "community"
        case .user: return "user"
        case .context: return "context"
        case .timeout: return "timeout"
        case .retries: return "retries"
        case .source: return "source"
        case .maxInFlight: return "max-in-flight"
        }
    }

    init?(key: String) {
        guard let column = Self.allCases.first(where: { $0.key == key }) else { return nil }
        self = column
    }

    static let keys = Self.allCases.map(\.key)
}

/// One value of an inventory device and where it is written (1-based line and column).
struct InventoryCell {
    var text: String
    var line: Int
    var column: Int
}

/// An inventory's `defaults:`, already validated: what a device's empty cell takes.
struct InventoryDefaults {
    var version = SNMPVersion.v2c
    var community: [UInt8]?
    /// `community` was written (its error, if it had no value, was reported once at the defaults).
    var hasCommunity = false
    /// The user of `version: 3` devices (checked at the defaults).
    var user: String?
    /// `user` was written (its error, if it was not valid, was reported once at the defaults).
    var hasUser = false
    /// The contextName of `version: 3` devices.
    var context = ""
    var timeoutMilliseconds = 1000
    var retries = 2
    var source: String?
    var sourceFamily: TransportAddress.Family?
    var maxInFlight = Backend.defaultMaxInFlight
}

// MARK: - Inventory items of `backends:`

extension Walker {
    /// `- inventory: FILE` with optional `group:` and `defaults:`: its devices are appended to `backends`.
    mutating func inventory(_ item: Node, into backends: inout [Backend]) {
        guard
            let fields = self.fields(item, "an inventory item", allowed: ["inventory", "group", "defaults"]),
            let pathNode = fields["inventory"]?.value,
            let written = self.string(pathNode, "inventory")
        else { return }
        var group: String?
        if let groupNode = fields["group"]?.value {
            group = self.groupName(groupNode, "inventory '\(written)': group")
        }
        var defaults = InventoryDefaults()
        if let defaultsNode = fields["defaults"]?.value {
            defaults = self.inventoryDefaults(defaultsNode, inventory: written)
        }
        let lowercased = written.lowercased()
        let isCSV = lowercased.hasSuffix(".csv")
        guard isCSV || lowercased.hasSuffix(".yaml") || lowercased.hasSuffix(".yml") else {
            self.error(pathNode, "inventory '\(written)' must be a .csv, .yaml or .yml file")
            if let group { self.backendGroups.insert(group) }
            return
        }
        let path = written.hasPrefix("/") ? written : self.baseDirectory + "/" + written
        if self.inventories.contains(where: { $0.path == path }) {
            self.error(pathNode, "inventory \(path) is listed twice")
            return
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            self.error(pathNode, "inventory: cannot read \(path)")
            // Routes that name the group are not wrong because the file is missing.
            if let group { self.backendGroups.insert(group) }
            return
        }
        self.files.append(path)
        let first = backends.count
        let namesBefore = self.backendDefinitions.count
        let context = InventoryContext(path: path, group: group, defaults: defaults)
        let readable: Bool
        if isCSV {
            readable = self.csvInventory(Array(data), context, into: &backends)
        } else {
            readable = self.yamlInventory(data, context, into: &backends)
        }
        if let group, !readable || self.backendDefinitions.count > namesBefore {
            self.backendGroups.insert(group)
        }
        self.inventories.append(Inventory(path: path, group: group, backends: first..<backends.count))
    }

    /// What every device of one inventory shares.
    struct InventoryContext {
        var path: String
        var group: String?
        var defaults: InventoryDefaults
    }

    /// `defaults: { version, community, user, context, timeout, retries, source, max-in-flight }`, errors at the main
    /// file's nodes. A default `community` is for the v1/v2c devices and a default `user` and
    /// `context` for the v3 ones, so one inventory may hold both.
    mutating func inventoryDefaults(_ node: Node, inventory: String) -> InventoryDefaults {
        var defaults = InventoryDefaults()
        let what = "the defaults of inventory '\(inventory)'"
        guard
            let fields = self.fields(
                node,
                what,
                allowed: ["version", "community", "user", "context", "timeout", "retries", "source", "max-in-flight"]
            )
        else { return defaults }
        if let versionNode = fields["version"]?.value, let text = self.string(versionNode, "\(what): version") {
            if let version = Self.version(text) {
                defaults.version = version
            } else {
                self.error(versionNode, "\(what): \(Self.versionRule)")
            }
        }
        if let communityNode = fields["community"]?.value {
            defaults.hasCommunity = true
            defaults.community = self.secret(communityNode, "\(what): community")
        }
        if let userNode = fields["user"]?.value {
            defaults.hasUser = true
            if let text = self.string(userNode, "\(what): user") {
                if let problem = self.backendUserProblem(text, hasEngineID: false) {
                    self.error(userNode, "\(what): \(problem)")
                } else {
                    defaults.user = text
                }
            }
        }
        if let contextNode = fields["context"]?.value, let text = self.string(contextNode, "\(what): context") {
            if let problem = Self.contextProblem(text) {
                self.error(contextNode, "\(what): \(problem)")
            } else {
                defaults.context = text
            }
        }
        if let timeout = fields["timeout"].flatMap({ self.duration($0.value, "\(what): timeout") }) {
            defaults.timeoutMilliseconds = max(timeout, 1)
        }
        if let retries = fields["retries"].flatMap({ self.integer($0.value, "\(what): retries", range: 0...10) }) {
            defaults.retries = retries
        }
        if let bound = fields["max-in-flight"].flatMap({
            self.integer($0.value, "\(what): max-in-flight", range: Backend.maxInFlightRange)
        }) {
            defaults.maxInFlight = bound
        }
        if let sourceNode = fields["source"]?.value, let text = self.string(sourceNode, "\(what): source") {
            if let family = Self.addressFamily(text) {
                defaults.source = text
                defaults.sourceFamily = family
            } else if let problem = Self.sourceProblem(text, for: nil) {
                self.error(sourceNode, "\(what): \(problem)")
            }
        }
        return defaults
    }

    // MARK: - CSV

    /// A CSV inventory: a header naming the columns, then one device a row. False if it could not be read as CSV.
    mutating func csvInventory(_ bytes: [UInt8], _ context: InventoryContext, into backends: inout [Backend]) -> Bool {
        var reader = CSVReader(bytes)
        defer {
            for problem in reader.problems {
                self.error(file: context.path, line: problem.line, column: problem.column, problem.message)
            }
        }
        guard let header = reader.next() else { return true }
        // Which device key each position holds; nil for a column that is in error.
        var columns: [InventoryColumn?] = []
        var seen: Set<InventoryColumn> = []
        for field in header.fields {
            guard let column = InventoryColumn(key: field.value) else {
                self.error(
                    file: context.path,
                    line: field.line,
                    column: field.column,
                    "unknown column '\(field.value)' in the header; expected some of: "
                        + InventoryColumn.keys.joined(separator: ", ")
                )
                columns.append(nil)
                continue
            }
            if !seen.insert(column).inserted {
                self.error(
                    file: context.path,
                    line: field.line,
                    column: field.column,
                    "column '\(field.value)' appears twice in the header"
                )
                columns.append(nil)
                continue
            }
            columns.append(column)
        }
        if header.isBroken { return false }
        var complete = true
        for required in [InventoryColumn.name, .address] where !seen.contains(required) {
            self.error(
                file: context.path,
                line: header.line,
                column: header.column,
                "the header has no '\(required.key)' column (name and address are required)"
            )
            complete = false
        }
        guard complete else { return false }
        var cells = [InventoryCell?](repeating: nil, count: InventoryColumn.allCases.count)
        while let record = reader.next() {
            if record.isBroken { continue }
            guard record.fields.count == columns.count else {
                self.error(
                    file: context.path,
                    line: record.line,
                    column: record.column,
                    "this row has \(record.fields.count) fields; the header names \(columns.count) columns"
                )
                continue
            }
            for index in cells.indices { cells[index] = nil }
            for (field, column) in zip(record.fields, columns) {
                if let column {
                    cells[column.rawValue] = InventoryCell(text: field.value, line: field.line, column: field.column)
                }
            }
            if let backend = self.inventoryDevice(cells, line: record.line, column: record.column, context) {
                backends.append(backend)
            }
        }
        return true
    }

    // MARK: - YAML

    /// A YAML inventory: a list of mappings with a CSV inventory's keys. False if it is not YAML.
    mutating func yamlInventory(_ data: Data, _ context: InventoryContext, into backends: inout [Backend]) -> Bool {
        // The shapes are checked by a walker of the inventory file, so that errors name it.
        var walker = Walker(file: context.path, environment: self.environment, baseDirectory: self.baseDirectory)
        defer { self.errors += walker.errors }
        guard let text = String(data: data, encoding: .utf8) else {
            walker.error(nil, "the inventory is not UTF-8 text")
            return false
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            walker.errors.append(walker.syntaxError(error))
            return false
        } catch {
            walker.error(nil, "YAML: \(error)")
            return false
        }
        guard let root, let items = walker.sequence(root, "a YAML inventory (a list of devices)") else {
            return root == nil
        }
        var cells = [InventoryCell?](repeating: nil, count: InventoryColumn.allCases.count)
        for item in items {
            guard let fields = walker.fields(item, "a device", allowed: InventoryColumn.keys) else { continue }
            for index in cells.indices { cells[index] = nil }
            var valid = true
            for (key, field) in fields {
                guard let column = InventoryColumn(key: key) else { continue }
                guard case .scalar(let scalar) = field.value else {
                    walker.error(field.value, "'\(key)' must be a string")
                    valid = false
                    continue
                }
                let mark = field.value.mark
                cells[column.rawValue] = InventoryCell(
                    text: scalar.string,
                    line: mark?.line ?? 1,
                    column: mark?.column ?? 1
                )
            }
            let mark = item.mark
            guard valid else {
                // Its name is still defined, so that a route naming it is not a second error.
                if let name = cells[InventoryColumn.name.rawValue], !name.text.isEmpty {
                    _ = self.defineBackend(
                        name.text,
                        group: context.group,
                        file: context.path,
                        line: name.line,
                        column: name.column
                    )
                }
                continue
            }
            if let backend = self.inventoryDevice(cells, line: mark?.line ?? 1, column: mark?.column ?? 1, context) {
                backends.append(backend)
            }
        }
        return true
    }

    // MARK: - Devices

    /// One device from its cells (by ``InventoryColumn``; nil or empty: the default), or nil after
    /// reporting what is wrong with it at `context.path` and the cell's line and column (the
    /// device's, `line` and `column`, for a value that has no cell).
    mutating func inventoryDevice(
        _ cells: [InventoryCell?],
        line deviceLine: Int,
        column deviceColumn: Int,
        _ context: InventoryContext
    ) -> Backend? {
        let path = context.path
        func given(_ column: InventoryColumn) -> InventoryCell? {
            guard let cell = cells[column.rawValue], !cell.text.isEmpty else { return nil }
            return cell
        }
        /// Where to report a missing value: its empty cell if there is one, else the device.
        func place(_ column: InventoryColumn) -> (line: Int, column: Int) {
            cells[column.rawValue].map { ($0.line, $0.column) } ?? (deviceLine, deviceColumn)
        }
        guard let nameCell = given(.name) else {
            let at = place(.name)
            self.error(file: path, line: at.line, column: at.column, "a device needs a name")
            return nil
        }
        let name = nameCell.text
        var valid = self.defineBackend(
            name,
            group: context.group,
            file: path,
            line: nameCell.line,
            column: nameCell.column
        )
        func problem(_ cell: InventoryCell, _ message: String) {
            self.error(file: path, line: cell.line, column: cell.column, "backend '\(name)': \(message)")
            valid = false
        }
        /// Column `column`'s whole number in `range`; nil (with the problem reported) or no cell.
        func wholeNumber(_ column: InventoryColumn, in range: ClosedRange<Int>) -> Int? {
            guard let cell = given(column) else { return nil }
            guard let value = Int(cell.text) else {
                problem(cell, "\(column.key) must be a whole number")
                return nil
            }
            guard range.contains(value) else {
                problem(cell, "\(column.key) must be from \(range.lowerBound) to \(range.upperBound)")
                return nil
            }
            return value
        }

        var address: TransportAddress?
        if let cell = given(.address) {
            address = TransportAddress(inventory: cell.text)
            if address == nil {
                problem(
                    cell,
                    "address: '\(cell.text)' is not an address (192.0.2.1, 192.0.2.1:161, [2001:db8::1]:161, "
                        + "udp:192.0.2.1:161 or udp6:[2001:db8::1]:161)"
                )
            }
        } else {
            let at = place(.address)
            self.error(file: path, line: at.line, column: at.column, "backend '\(name)' needs an address")
            valid = false
        }

        var version = context.defaults.version
        if let cell = given(.version) {
            if let value = Self.version(cell.text) { version = value } else { problem(cell, Self.versionRule) }
        }

        var community = context.defaults.community
        var usm: Backend.USM?
        if version == .v3 {
            // The user, from the row or the defaults; a community is for v1 and v2c only.
            if let cell = given(.community) {
                problem(cell, "'community' does not go with version 3 (it has a 'user')")
            }
            var user = context.defaults.user
            if let cell = given(.user) {
                if let message = self.backendUserProblem(cell.text, hasEngineID: false) {
                    problem(cell, message)
                    user = nil
                } else {
                    user = cell.text
                }
            } else if !context.defaults.hasUser {
                let at = place(.user)
                self.error(
                    file: path,
                    line: at.line,
                    column: at.column,
                    "backend '\(name)' (version 3) needs a user (in its row or in the inventory's defaults)"
                )
                valid = false
            }
            var contextName = context.defaults.context
            if let cell = given(.context) {
                if let message = Self.contextProblem(cell.text) {
                    problem(cell, message)
                } else {
                    contextName = cell.text
                }
            }
            if let user {
                usm = Backend.USM(user: user, context: contextName)
            } else {
                valid = false
            }
            community = []
        } else {
            for column in [InventoryColumn.user, .context] {
                if let cell = given(column) { problem(cell, "'\(column.key)' goes with version 3 only") }
            }
            if let cell = given(.community) {
                if let known = self.inventorySecrets[cell.text] {
                    community = known
                } else {
                    switch self.secretValue(cell.text) {
                    case .success(let bytes):
                        self.inventorySecrets[cell.text] = bytes
                        community = bytes
                    case .failure(let secretProblem):
                        problem(cell, "community: \(secretProblem.message)")
                    }
                }
            } else if !context.defaults.hasCommunity {
                let at = place(.community)
                self.error(
                    file: path,
                    line: at.line,
                    column: at.column,
                    "backend '\(name)' needs a community (in its row or in the inventory's defaults)"
                )
                valid = false
            }
        }

        var timeout = context.defaults.timeoutMilliseconds
        if let cell = given(.timeout) {
            if let value = Self.milliseconds(cell.text) {
                timeout = max(value, 1)
            } else {
                problem(cell, "timeout \(Self.durationRule)")
            }
        }

        let retries = wholeNumber(.retries, in: 0...10) ?? context.defaults.retries
        let maxInFlight = wholeNumber(.maxInFlight, in: Backend.maxInFlightRange) ?? context.defaults.maxInFlight

        var source = context.defaults.source
        if let cell = given(.source) {
            if let message = Self.sourceProblem(cell.text, for: address) {
                problem(cell, message)
            } else {
                source = cell.text
            }
        } else if let source, let family = context.defaults.sourceFamily, let address, address.family != family,
            let cell = given(.address)
        {
            problem(
                cell,
                "source '\(source)' (from the inventory's defaults) is \(family == .udp ? "IPv4" : "IPv6") "
                    + "but the address is \(address.family == .udp ? "IPv4" : "IPv6")"
            )
        }

        guard valid, let address, let community else { return nil }
        return Backend(
            name: name,
            kind: .agent(
                address: address,
                version: version,
                community: community,
                timeoutMilliseconds: timeout,
                retries: retries
            ),
            source: source,
            group: context.group,
            usm: usm,
            maxInFlight: maxInFlight
        )
    }
}

// MARK: - CSV reading

/// RFC 4180-style records read from bytes, each field with the 1-based line and column (in
/// characters) where it starts.
///
/// Blank lines and lines whose first non-space character is `#` are skipped. Fields are separated by
/// commas; a field may be double-quoted (`""` is a quote inside, and line breaks may be too); spaces
/// around an unquoted field, and around a quoted one's quotes, are not part of it. A UTF-8 byte
/// order mark at the start is ignored. Lines end with LF, CR LF or CR.
struct CSVReader {
    struct Field {
        var value: String
        var line: Int
        var column: Int
    }

    struct Record {
        var fields: [Field]
        /// Where the record's first field starts.
        var line: Int
        var column: Int
        /// A problem was reported for it (``CSVReader/problems``): not to be used.
        var isBroken: Bool
    }

    struct Problem {
        var line: Int
        var column: Int
        var message: String
    }

    private static let comma = UInt8(ascii: ",")
    private static let quote = UInt8(ascii: "\"")
    private static let space = UInt8(ascii: " ")
    private static let tab = UInt8(ascii: "\t")
    private static let lineFeed = UInt8(ascii: "\n")
    private static let carriageReturn = UInt8(ascii: "\r")
    private static let hash = UInt8(ascii: "#")

    private let bytes: [UInt8]
    private var index = 0
    private var line = 1
    private var column = 1
    private(set) var problems: [Problem] = []

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { self.index = 3 }
    }

    /// The next record that is not blank or a comment; nil at the end.
    mutating func next() -> Record? {
        while self.index < self.bytes.count {
            var probe = self.index
            while probe < self.bytes.count, self.bytes[probe] == Self.space || self.bytes[probe] == Self.tab {
                probe += 1
            }
            if probe == self.bytes.count {
                self.index = probe
                return nil
            }
            let byte = self.bytes[probe]
            if byte == Self.lineFeed || byte == Self.carriageReturn || byte == Self.hash {
                self.index = probe
                while self.index < self.bytes.count, !self.atLineEnd { self.index += 1 }
                self.endLine()
                continue
            }
            return self.record()
        }
        return nil
    }

    private var atLineEnd: Bool {
        let byte = self.bytes[self.index]
        return byte == Self.lineFeed || byte == Self.carriageReturn
    }

    /// Consumes the line end at `index` (if any) and starts the next line.
    private mutating func endLine() {
        guard self.index < self.bytes.count else { return }
        if self.bytes[self.index] == Self.carriageReturn, self.index + 1 < self.bytes.count,
            self.bytes[self.index + 1] == Self.lineFeed
        {
            self.index += 1
        }
        self.index += 1
        self.line += 1
        self.column = 1
    }

    /// Moves past one byte of the current line, counting characters (UTF-8 lead bytes) as columns.
    private mutating func advance() {
        if self.bytes[self.index] & 0xC0 != 0x80 { self.column += 1 }
        self.index += 1
    }

    private mutating func skipSpaces() {
        while self.index < self.bytes.count, self.bytes[self.index] == Self.space || self.bytes[self.index] == Self.tab
        {
            self.index += 1
            self.column += 1
        }
    }

    private mutating func problem(line: Int, column: Int, _ message: String) {
        self.problems.append(Problem(line: line, column: column, message: message))
    }

    private mutating func record() -> Record {
        var record = Record(fields: [], line: self.line, column: self.column, isBroken: false)
        while true {
            self.skipSpaces()
            if record.fields.isEmpty {
                record.line = self.line
                record.column = self.column
            }
            let line = self.line
            let column = self.column
            var value: String?
            if self.index < self.bytes.count, self.bytes[self.index] == Self.quote {
                guard let quoted = self.quotedField(line: line, column: column) else {
                    record.isBroken = true
                    return record
                }
                value = quoted
                self.skipSpaces()
                if self.index < self.bytes.count, self.bytes[self.index] != Self.comma, !self.atLineEnd {
                    self.problem(
                        line: self.line,
                        column: self.column,
                        "after a closing quote, expected a comma or the end of the line"
                    )
                    record.isBroken = true
                    while self.index < self.bytes.count, self.bytes[self.index] != Self.comma, !self.atLineEnd {
                        self.advance()
                    }
                }
            } else {
                let start = self.index
                var end = start
                while self.index < self.bytes.count {
                    let byte = self.bytes[self.index]
                    if byte == Self.comma || byte == Self.lineFeed || byte == Self.carriageReturn { break }
                    if byte != Self.space && byte != Self.tab { end = self.index + 1 }
                    self.advance()
                }
                value = String(validating: self.bytes[start..<end], as: UTF8.self)
            }
            if let value {
                record.fields.append(Field(value: value, line: line, column: column))
            } else {
                self.problem(line: line, column: column, "this field is not UTF-8 text")
                record.isBroken = true
                record.fields.append(Field(value: "", line: line, column: column))
            }
            if self.index < self.bytes.count, self.bytes[self.index] == Self.comma {
                self.advance()
                continue
            }
            self.endLine()
            return record
        }
    }

    /// A quoted field from its opening quote at `index`; nil (after reporting it) if it is not closed.
    private mutating func quotedField(line: Int, column: Int) -> String? {
        self.advance()
        var value: [UInt8] = []
        while self.index < self.bytes.count {
            let byte = self.bytes[self.index]
            if byte == Self.quote {
                if self.index + 1 < self.bytes.count, self.bytes[self.index + 1] == Self.quote {
                    value.append(Self.quote)
                    self.index += 2
                    self.column += 2
                    continue
                }
                self.advance()
                return String(validating: value, as: UTF8.self)
            }
            value.append(byte)
            if byte == Self.lineFeed
                || (byte == Self.carriageReturn
                    && !(self.index + 1 < self.bytes.count && self.bytes[self.index + 1] == Self.lineFeed))
            {
                self.index += 1
                self.line += 1
                self.column = 1
            } else if byte == Self.carriageReturn {
                self.index += 1
            } else {
                self.advance()
            }
        }
        self.problem(line: line, column: column, "this quoted field is not closed (a '\"' is missing)")
        return nil
    }
}
