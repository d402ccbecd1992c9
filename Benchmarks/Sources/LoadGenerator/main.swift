//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

// A load generator for SNMP agents and proxies: keeps K requests in flight over S UDP sockets for
// T seconds (after W seconds of warm-up), GET / GETNEXT / GETBULK, v2c or v3 with any auth/priv,
// validates every response, and prints one JSON line (`--rate R` paces the requests at R per second,
// still with at most K in flight):
//
//   {"target":…,"sent":…,"ok":…,"errors":{"timeout":…,"error_status":…,"mismatch":…,"invalid":…},
//    "req_per_s":…,"latency_us":{"p50":…,"p90":…,"p99":…,"max":…},"cpu":{"PID":{"seconds":…,"us_per_request":…}}}
//
// The manager side is our own SNMPWire and SNMPSecurity; the sockets are SwiftNIO's, all on one
// event loop, so the generator needs one core. Everything is bounded: it stops after W + T seconds.
//
//   LoadGenerator --target udp:127.0.0.1:16161 --version 3 --user u --auth SHA --auth-pass … \
//       --priv AES --priv-pass … --op get --oid 1.3.6.1.2.1.1.1.0 --oid 1.3.6.1.2.1.1.5.0 \
//       --in-flight 32 --sockets 4 --duration 10 --warmup 2 --pid 1234

import Foundation
import NIOCore
import NIOPosix
import SNMPSecurity
import SNMPWire

#if canImport(Glibc)
import Glibc
#endif

// MARK: - Options

struct Options {
    var target = "udp:127.0.0.1:161"
    var version = "2c"
    var community = "public"
    var user = ""
    var auth: USMAuthProtocol?
    var authPass = ""
    var priv: USMPrivacyProtocol?
    var privPass = ""
    var context = ""
    var op = "get"
    var oids: [OID] = []
    var repetitions: Int32 = 20
    var inFlight = 32
    var sockets = 4
    var duration = 10.0
    var warmup = 2.0
    var timeoutMilliseconds = 2000
    var pids: [Int32] = []
    var label = ""
    /// Requests per second over all sockets; 0: as fast as the window allows.
    var rate = 0.0

    static func parse(_ arguments: [String]) -> Options {
        var options = Options()
        var iterator = arguments.dropFirst().makeIterator()
        func value(_ name: String) -> String {
            guard let value = iterator.next() else { fail("\(name) needs a value") }
            return value
        }
        while let argument = iterator.next() {
            switch argument {
            case "--target": options.target = value(argument)
            case "--version": options.version = value(argument)
            case "--community": options.community = value(argument)
            case "--user": options.user = value(argument)
            case "--auth":
                let name = value(argument)
                guard let auth = USMAuthProtocol(rawValue: name) else { fail("unknown auth \(name)") }
                options.auth = auth
            case "--auth-pass": options.authPass = value(argument)
            case "--priv":
                let name = value(argument)
                guard let priv = USMPrivacyProtocol(rawValue: name) else { fail("unknown priv \(name)") }
                options.priv = priv
            case "--priv-pass": options.privPass = value(argument)
            case "--context": options.context = value(argument)
            case "--op": options.op = value(argument)
            case "--oid":
                let text = value(argument)
                guard let oid = OID(dotted: text) else { fail("not an OID: \(text)") }
                options.oids.append(oid)
            case "--repetitions": options.repetitions = Int32(value(argument)) ?? 20
            case "--in-flight": options.inFlight = max(1, Int(value(argument)) ?? 32)
            case "--sockets": options.sockets = max(1, Int(value(argument)) ?? 4)
            case "--duration": options.duration = min(600, Double(value(argument)) ?? 10)
            case "--warmup": options.warmup = min(60, Double(value(argument)) ?? 2)
            case "--timeout-ms": options.timeoutMilliseconds = Int(value(argument)) ?? 2000
            case "--pid": options.pids.append(Int32(value(argument)) ?? 0)
            case "--label": options.label = value(argument)
            case "--rate": options.rate = max(0, Double(value(argument)) ?? 0)
            default: fail("unknown option \(argument)")
            }
        }
        if options.oids.isEmpty { fail("give at least one --oid") }
        options.sockets = min(options.sockets, options.inFlight)
        return options
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("LoadGenerator: \(message)\n".utf8))
    exit(2)
}

// MARK: - CPU of other processes

/// utime + stime of a process, in seconds (/proc/PID/stat fields 14 and 15).
func cpuSeconds(_ pid: Int32) -> Double? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = text.lastIndex(of: ")")
    else { return nil }
    let fields = text[text.index(after: close)...].split(separator: " ")
    // fields[0] is the state (field 3); utime is field 14, stime field 15.
    guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

// MARK: - The run

/// Shared by the handlers; used on the one event loop only.
final class Run {
    let options: Options
    let start = NIODeadline.now()
    var measuring = false
    var stopped = false
    var sent = 0
    var ok = 0
    var timeouts = 0
    var errorStatus = 0
    var mismatches = 0
    var invalid = 0
    /// Responses over the whole run, warm-up included (for per-request counts read outside the window).
    var answered = 0
    var latencies: [UInt32] = []
    var firstError: String?

    init(options: Options) {
        self.options = options
        self.latencies.reserveCapacity(1 << 20)
    }

    func record(_ kind: String, _ detail: String) {
        if self.firstError == nil { self.firstError = "\(kind): \(detail)" }
    }
}

final class LoadHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    let run: Run
    let target: SocketAddress
    let window: Int
    var client: USMClient?
    var discovered = false
    /// By request-id (v2c) or msgID (v3): when it was sent.
    var pending: [Int32: UInt64] = [:]
    var nextID = Int32.random(in: 1...1_000_000)
    var buffer = ByteBuffer()
    var context: ChannelHandlerContext?
    /// With --rate: this socket's share per second, and the requests it may send now (a token
    /// bucket refilled every millisecond, holding at most a few milliseconds' worth).
    let rate: Double
    var tokens = 0.0
    var refilledAt = NIODeadline.now().uptimeNanoseconds

    init(run: Run, target: SocketAddress, window: Int, rate: Double) {
        self.run = run
        self.target = target
        self.window = window
        self.rate = rate
        if run.options.version == "3" {
            let options = run.options
            let user = USMUserConfiguration(
                name: options.user,
                auth: options.auth.map { ($0, .passphrase(options.authPass)) },
                privacy: options.priv.map { ($0, .passphrase(options.privPass)) }
            )
            do {
                self.client = try USMClient(user: user)
            } catch {
                fail("user: \(error)")
            }
        }
    }

    var seconds: Int64 { Int64(NIODeadline.now().uptimeNanoseconds / 1_000_000_000) }

    func channelActive(context: ChannelHandlerContext) {
        self.context = context
        if self.client != nil {
            self.write(USMClient.discoveryRequest(messageID: 1, requestID: 1))
        } else {
            self.discovered = true
            self.fill()
        }
    }

    func write(_ datagram: ByteBuffer) {
        self.context?.writeAndFlush(
            NIOAny(AddressedEnvelope(remoteAddress: self.target, data: datagram)),
            promise: nil
        )
    }

    func fill() {
        // Nothing before the engine is known (a slow target may leave the first probe unanswered
        // past the timeout: expire() probes again).
        guard self.discovered else { return }
        guard self.rate > 0 else {
            while !self.run.stopped && self.pending.count < self.window { self.sendOne() }
            return
        }
        while !self.run.stopped && self.pending.count < self.window && self.tokens >= 1 {
            self.tokens -= 1
            self.sendOne()
        }
    }

    /// Adds the tokens earned since the last refill, then sends what they allow.
    func refill() {
        let now = NIODeadline.now().uptimeNanoseconds
        self.tokens = min(self.tokens + self.rate * Double(now - self.refilledAt) / 1e9, max(1, self.rate / 200))
        self.refilledAt = now
        self.fill()
    }

    func request(id: Int32) -> PDU {
        let varbinds = self.run.options.oids.map { VarBind(oid: $0) }
        switch self.run.options.op {
        case "getnext": return PDU(type: .getNext, requestID: id, varbinds: varbinds)
        case "getbulk":
            return PDU.getBulk(
                requestID: id,
                nonRepeaters: 0,
                maxRepetitions: self.run.options.repetitions,
                varbinds: varbinds
            )
        default: return PDU(type: .get, requestID: id, varbinds: varbinds)
        }
    }

    func sendOne() {
        self.nextID = self.nextID == Int32.max ? 1 : self.nextID + 1
        let id = self.nextID
        self.buffer.clear()
        if var client = self.client {
            client.encodeRequest(
                self.request(id: id),
                messageID: id,
                contextName: ByteBuffer(string: self.run.options.context),
                now: self.seconds,
                into: &self.buffer
            )
            self.client = client
        } else {
            self.buffer.writeCommunityMessage(
                CommunityMessage(version: .v2c, community: self.run.options.community, pdu: self.request(id: id))
            )
        }
        self.pending[id] = NIODeadline.now().uptimeNanoseconds
        if self.run.measuring { self.run.sent += 1 }
        self.write(self.buffer)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let datagram = self.unwrapInboundIn(data).data
        let now = NIODeadline.now().uptimeNanoseconds
        var id: Int32
        var pdu: PDU
        if var client = self.client {
            let event = client.receive(datagram, now: self.seconds)
            self.client = client
            switch event {
            case .report(let messageID, let kind, _):
                // Discovery, or a time-window resync: (re)send.
                if !self.discovered {
                    self.discovered = true
                    self.fill()
                } else if self.pending.removeValue(forKey: messageID) != nil {
                    self.run.record("report", "\(String(describing: kind))")
                    self.sendOne()
                }
                return
            case .invalid(let reason):
                if self.run.measuring { self.run.invalid += 1 }
                self.run.record("invalid", reason)
                return
            case .response(let messageID, let scoped):
                id = messageID
                pdu = scoped.pdu
            }
        } else {
            guard case .community(let message)? = try? SNMPMessage(decoding: datagram),
                case .pdu(let decoded) = message.pdu
            else {
                if self.run.measuring { self.run.invalid += 1 }
                return
            }
            id = decoded.requestID
            pdu = decoded
        }
        guard let sentAt = self.pending.removeValue(forKey: id) else { return }  // late: already timed out
        self.run.answered += 1
        if self.run.measuring {
            if let problem = self.validate(pdu, id: id) {
                if pdu.errorStatus != .noError { self.run.errorStatus += 1 } else { self.run.mismatches += 1 }
                self.run.record("response", problem)
            } else {
                self.run.ok += 1
                self.run.latencies.append(UInt32(min(UInt64(UInt32.max), (now - sentAt) / 1000)))
            }
        }
        self.fill()
    }

    /// A Response with error-status 0, the request-id, and the varbinds the operation promises.
    func validate(_ pdu: PDU, id: Int32) -> String? {
        guard pdu.type == .response else { return "PDU \(pdu.type)" }
        guard pdu.errorStatus == .noError else { return "error-status \(pdu.errorStatus)" }
        guard pdu.requestID == id else { return "request-id \(pdu.requestID), expected \(id)" }
        let asked = self.run.options.oids
        switch self.run.options.op {
        case "getnext":
            guard pdu.varbinds.count == asked.count else { return "\(pdu.varbinds.count) varbinds" }
            for (answer, question) in zip(pdu.varbinds, asked) where !(question < answer.oid) {
                return "\(answer.oid) does not follow \(question)"
            }
        case "getbulk":
            let expected = asked.count * Int(self.run.options.repetitions)
            guard pdu.varbinds.count == expected || pdu.varbinds.contains(where: { $0.value == .endOfMibView })
            else { return "\(pdu.varbinds.count) varbinds, expected \(expected)" }
            for index in asked.count..<pdu.varbinds.count
            where !(pdu.varbinds[index - asked.count].oid < pdu.varbinds[index].oid)
                && pdu.varbinds[index].value != .endOfMibView
            {
                return "column not increasing at \(pdu.varbinds[index].oid)"
            }
        default:
            guard pdu.varbinds.map(\.oid) == asked else { return "names differ" }
            if let exception = pdu.varbinds.first(where: { $0.value.isException }) { return "\(exception)" }
        }
        return nil
    }

    /// Requests unanswered after the timeout are counted and replaced.
    func expire() {
        let limit = UInt64(self.run.options.timeoutMilliseconds) * 1_000_000
        let now = NIODeadline.now().uptimeNanoseconds
        let late = self.pending.filter { now - $0.value > limit }.map(\.key)
        for id in late {
            self.pending.removeValue(forKey: id)
            if self.run.measuring { self.run.timeouts += 1 }
        }
        if !self.discovered && self.client != nil, now - self.run.start.uptimeNanoseconds > limit {
            self.write(USMClient.discoveryRequest(messageID: 1, requestID: 1))
        }
        self.fill()
    }
}

// MARK: - Main

let options = Options.parse(CommandLine.arguments)
let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
let loop = group.next()
let parts = options.target.split(separator: ":", maxSplits: 1)
guard parts.count == 2 else { fail("target is udp:HOST:PORT or udp6:[HOST]:PORT") }
var hostPort = String(parts[1])
var host: String
var port: Int
if hostPort.hasPrefix("[") {
    let close = hostPort.firstIndex(of: "]")!
    host = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
    port = Int(hostPort[hostPort.index(close, offsetBy: 2)...]) ?? 161
} else {
    let pieces = hostPort.split(separator: ":")
    host = String(pieces[0])
    port = Int(pieces.last!) ?? 161
}
let target = try SocketAddress(ipAddress: host, port: port)
let run = Run(options: options)
var handlers: [NIOLoopBound<LoadHandler>] = []
var channels: [Channel] = []
for index in 0..<options.sockets {
    let window = options.inFlight / options.sockets + (index < options.inFlight % options.sockets ? 1 : 0)
    let rate = options.rate / Double(options.sockets)
    let bound = try loop.submit {
        NIOLoopBound(LoadHandler(run: run, target: target, window: window, rate: rate), eventLoop: loop)
    }.wait()
    handlers.append(bound)
    let channel = try DatagramBootstrap(group: loop)
        .channelOption(.socketOption(.so_rcvbuf), value: 4 << 20)
        .channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(bound.value) }
        }
        .bind(host: target.protocol == .inet6 ? "::1" : "127.0.0.1", port: 0)
        .wait()
    channels.append(channel)
}
let ticker = loop.scheduleRepeatedTask(initialDelay: .milliseconds(100), delay: .milliseconds(100)) { _ in
    for handler in handlers { handler.value.expire() }
}
let pacer: RepeatedTask? =
    options.rate > 0
    ? loop.scheduleRepeatedTask(initialDelay: .milliseconds(1), delay: .milliseconds(1)) { _ in
        for handler in handlers { handler.value.refill() }
    } : nil

Thread.sleep(forTimeInterval: options.warmup)
let cpuBefore = options.pids.map { cpuSeconds($0) }
let measuredFrom = NIODeadline.now()
try loop.submit { run.measuring = true }.wait()
Thread.sleep(forTimeInterval: options.duration)
try loop.submit {
    run.measuring = false
    run.stopped = true
}.wait()
let elapsed = Double((NIODeadline.now() - measuredFrom).nanoseconds) / 1e9
let cpuAfter = options.pids.map { cpuSeconds($0) }
// Requests still out when the window closed: wait for their answers (up to the timeout); those
// that never come are lost.
var unanswered = 0
let drainUntil = NIODeadline.now() + .milliseconds(Int64(options.timeoutMilliseconds))
repeat {
    unanswered = try loop.submit { handlers.reduce(0) { $0 + $1.value.pending.count } }.wait()
    if unanswered > 0 { Thread.sleep(forTimeInterval: 0.01) }
} while unanswered > 0 && NIODeadline.now() < drainUntil
ticker.cancel()
pacer?.cancel()
for channel in channels { try? channel.close().wait() }
try? group.syncShutdownGracefully()

let sorted = run.latencies.sorted()
func percentile(_ p: Double) -> UInt32 {
    sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
}
var cpu: [String] = []
for (index, pid) in options.pids.enumerated() {
    if let before = cpuBefore[index], let after = cpuAfter[index] {
        let seconds = after - before
        let perRequest = run.ok > 0 ? seconds / Double(run.ok) * 1e6 : 0
        cpu.append(
            "\"\(pid)\":{\"seconds\":\(String(format: "%.3f", seconds)),\"us_per_request\":\(String(format: "%.2f", perRequest))}"
        )
    }
}
var line = "{"
line +=
    "\"label\":\"\(options.label)\",\"target\":\"\(options.target)\",\"op\":\"\(options.op)\",\"version\":\"\(options.version)\","
line +=
    "\"in_flight\":\(options.inFlight),\"sockets\":\(options.sockets),\"seconds\":\(String(format: "%.2f", elapsed)),"
line +=
    "\"sent\":\(run.sent),\"ok\":\(run.ok),\"answered_with_warmup\":\(run.answered),\"unanswered_at_end\":\(unanswered),"
line +=
    "\"errors\":{\"timeout\":\(run.timeouts),\"error_status\":\(run.errorStatus),\"mismatch\":\(run.mismatches),\"invalid\":\(run.invalid)},"
line += "\"req_per_s\":\(String(format: "%.0f", Double(run.ok) / elapsed)),"
line +=
    "\"latency_us\":{\"p50\":\(percentile(0.5)),\"p90\":\(percentile(0.9)),\"p99\":\(percentile(0.99)),\"max\":\(sorted.last ?? 0)},"
line += "\"cpu\":{\(cpu.joined(separator: ","))}"
if let first = run.firstError { line += ",\"first_error\":\"\(first.replacingOccurrences(of: "\"", with: "'"))\"" }
line += "}"
print(line)
