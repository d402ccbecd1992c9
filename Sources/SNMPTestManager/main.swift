//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

// A minimal SNMPv3 manager for tests of replicas: it learns an engine's ID, boots and time once
// (discovery against one address), keeps that one engine cache, and sends Gets from several
// sockets (several source ports, so a load balancer spreads them) to another address. It counts
// answers, Reports by kind and timeouts, and prints them as one JSON line.
//
//   SNMPTestManager --learn-from HOST:PORT --target HOST:PORT --user NAME:AUTH:AUTHPASS[:PRIV:PRIVPASS]
//       [--requests N] [--sockets M] [--interval-ms T] [--timeout-ms T] [--oid OID]
//
// One thread, blocking sockets: a test peer, not the gateway.

import NIOCore
import SNMPSecurity
import SNMPWire

#if canImport(Glibc)
import Glibc
#endif

func fail(_ message: String) -> Never {
    let text = "SNMPTestManager: \(message)\n"
    _ = text.withCString { write(2, $0, strlen($0)) }
    exit(2)
}

func endpoint(_ text: String) -> sockaddr_in {
    let parts = text.split(separator: ":")
    guard parts.count == 2, let port = UInt16(parts[1]) else { fail("\(text): not HOST:PORT") }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    guard inet_pton(AF_INET, String(parts[0]), &address.sin_addr) == 1 else { fail("\(text): not an IPv4 address") }
    return address
}

var learnFrom: sockaddr_in?
var target: sockaddr_in?
var user: USMUserConfiguration?
var requests = 100
var socketCount = 8
var intervalMilliseconds = 0
var timeoutMilliseconds = 1000
var oid: OID = "1.3.6.1.2.1.1.5.0"
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    guard let value = arguments.popFirst() else { fail("\(argument) needs a value") }
    switch argument {
    case "--learn-from": learnFrom = endpoint(value)
    case "--target": target = endpoint(value)
    case "--requests": requests = Int(value) ?? requests
    case "--sockets": socketCount = max(1, Int(value) ?? socketCount)
    case "--interval-ms": intervalMilliseconds = Int(value) ?? 0
    case "--timeout-ms": timeoutMilliseconds = Int(value) ?? timeoutMilliseconds
    case "--oid":
        guard let parsed = OID(dotted: value) else { fail("--oid: not an OID") }
        oid = parsed
    case "--user":
        let parts = value.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        var configuration = USMUserConfiguration(name: parts[0])
        if parts.count >= 3, let auth = USMAuthProtocol(name: parts[1]) {
            configuration.auth = (auth, .passphrase(Array(parts[2].utf8)))
        }
        if parts.count >= 5, let priv = USMPrivacyProtocol(name: parts[3]) {
            configuration.privacy = (priv, .passphrase(Array(parts[4].utf8)))
        }
        user = configuration
    default: fail("unknown option \(argument)")
    }
}
guard let learnFrom, let target, let user else { fail("--learn-from, --target and --user are needed") }

func monotonicSeconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Int64(now.tv_sec)
}

func openSocket(timeoutMilliseconds: Int) -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    guard fd >= 0 else { fail("socket()") }
    var timeout = timeval(tv_sec: timeoutMilliseconds / 1000, tv_usec: (timeoutMilliseconds % 1000) * 1000)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    return fd
}

func send(_ datagram: ByteBuffer, on fd: Int32, to address: sockaddr_in) {
    var address = address
    _ = datagram.withUnsafeReadableBytes { bytes in
        withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(fd, bytes.baseAddress, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
    }
}

func receive(on fd: Int32) -> ByteBuffer? {
    var buffer = [UInt8](repeating: 0, count: 65536)
    let count = recv(fd, &buffer, buffer.count, 0)
    return count > 0 ? ByteBuffer(bytes: buffer[0..<count]) : nil
}

var client: USMClient
do {
    client = try USMClient(user: user)
} catch {
    fail("\(error)")
}
// Discovery against one address only: the engine cache this manager keeps from now on.
let learner = openSocket(timeoutMilliseconds: timeoutMilliseconds)
var learned = false
for attempt in 0..<5 where !learned {
    send(USMClient.discoveryRequest(messageID: Int32(attempt + 1), requestID: Int32(attempt + 1)), on: learner, to: learnFrom)
    if let datagram = receive(on: learner), case .report(_, .unknownEngineIDs, _) = client.receive(datagram, now: monotonicSeconds()) {
        learned = client.engineID != nil
    }
}
guard learned else { fail("no discovery answer from the engine to learn from") }

let sockets = (0..<socketCount).map { _ in openSocket(timeoutMilliseconds: timeoutMilliseconds) }
var ok = 0
var timeouts = 0
var invalid = 0
var reports: [String: Int] = [:]
for index in 0..<requests {
    let fd = sockets[index % sockets.count]
    let messageID = Int32(1000 + index)
    var datagram = ByteBuffer()
    client.encodeRequest(
        PDU(type: .get, requestID: messageID, varbinds: [VarBind(oid: oid)]),
        messageID: messageID,
        now: monotonicSeconds(),
        into: &datagram
    )
    send(datagram, on: fd, to: target)
    var answered = false
    while !answered {
        guard let answer = receive(on: fd) else {
            timeouts += 1
            break
        }
        switch client.receive(answer, now: monotonicSeconds()) {
        case .response(let id, let scoped) where id == messageID:
            if scoped.pdu.errorStatus == .noError { ok += 1 } else { invalid += 1 }
            answered = true
        case .report(let id, let kind, _) where id == messageID:
            reports["\(kind.map { "\($0)" } ?? "other")", default: 0] += 1
            answered = true
        case .response, .report:
            continue  // a late answer to an earlier request on this socket
        case .invalid:
            invalid += 1
            answered = true
        }
    }
    if intervalMilliseconds > 0 { usleep(UInt32(intervalMilliseconds) * 1000) }
}
let reportText = reports.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value)" }.joined(separator: ",")
print("{\"ok\":\(ok),\"timeouts\":\(timeouts),\"invalid\":\(invalid),\"reports\":{\(reportText)}}")
