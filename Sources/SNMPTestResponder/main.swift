//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

// A minimal SNMPv3 agent built from SNMPWire and SNMPSecurity, for interoperability tests with
// Net-SNMP's tools (and a way to try the USM by hand). It answers Get and GetNext for sysDescr.0,
// sysUpTime.0 and sysName.0, and nothing else.
//
//   SNMPTestResponder --state-dir DIR [--port N] [--engine-id HEX] --user NAME[:AUTH:AUTHPASS[:PRIV:PRIVPASS]]...
//
// It prints `listening 127.0.0.1:PORT engineID HEX boots N` once the engine state is durable and the
// socket is bound, then serves until killed. One thread, blocking sockets: this is a test peer,
// not the gateway.

import NIOCore
import SNMPSecurity
import SNMPWire

#if canImport(Glibc)
import Glibc
#endif

func fail(_ message: String) -> Never {
    let text = "SNMPTestResponder: \(message)\n"
    _ = text.withCString { write(2, $0, strlen($0)) }
    exit(2)
}

// Die with the process that started us (a test that is killed must not leave us behind): the
// receive loop wakes every second and exits once the parent is gone.
let parent = getppid()
// A parent may have spawned us with signals blocked; take SIGTERM and SIGINT as usual.
var unblocked = sigset_t()
sigemptyset(&unblocked)
sigprocmask(SIG_SETMASK, &unblocked, nil)

var port: UInt16 = 0
var stateDirectory: String?
var engineID: [UInt8]?
var users: [USMUserConfiguration] = []
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    switch argument {
    case "--port":
        guard let value = arguments.popFirst().flatMap({ UInt16($0) }) else { fail("--port needs a number") }
        port = value
    case "--state-dir":
        stateDirectory = arguments.popFirst()
    case "--engine-id":
        guard let text = arguments.popFirst(), let bytes = EngineStateStore.unhex(Substring(text)) else {
            fail("--engine-id needs hex")
        }
        engineID = bytes
    case "--user":
        guard let spec = arguments.popFirst() else { fail("--user needs NAME[:AUTH:PASS[:PRIV:PASS]]") }
        let parts = spec.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        var user = USMUserConfiguration(name: parts[0])
        if parts.count >= 3 {
            guard let auth = USMAuthProtocol(name: parts[1]) else { fail("unknown auth protocol \(parts[1])") }
            user.auth = (auth, .passphrase(parts[2]))
        }
        if parts.count >= 5 {
            guard let priv = USMPrivacyProtocol(name: parts[3]) else { fail("unknown privacy protocol \(parts[3])") }
            user.privacy = (priv, .passphrase(parts[4]))
        }
        users.append(user)
    default:
        fail("unknown argument \(argument)")
    }
}
guard let stateDirectory else { fail("--state-dir is required") }

let identity: EngineIdentity
do {
    identity = try EngineStateStore.start(stateDirectory: stateDirectory, configuredEngineID: engineID)
} catch {
    fail("\(error)")
}
var engine: USMAuthoritativeEngine
do {
    engine = try USMAuthoritativeEngine(identity: identity, users: users)
} catch {
    fail("\(error)")
}

let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
guard fd >= 0 else { fail("socket: \(String(cString: strerror(errno)))") }
var address = sockaddr_in()
address.sin_family = sa_family_t(AF_INET)
address.sin_port = port.bigEndian
address.sin_addr.s_addr = inet_addr("127.0.0.1")
let bound = withUnsafePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
}
guard bound == 0 else { fail("bind: \(String(cString: strerror(errno)))") }
var wake = timeval(tv_sec: 1, tv_usec: 0)
setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wake, socklen_t(MemoryLayout<timeval>.size))
var length = socklen_t(MemoryLayout<sockaddr_in>.size)
_ = withUnsafeMutablePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
}
let engineIDHex = identity.engineID.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
print("listening 127.0.0.1:\(UInt16(bigEndian: address.sin_port)) engineID \(engineIDHex) boots \(identity.boots)")
fflush(nil)

func monotonicSeconds() -> Int {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return now.tv_sec
}
let startSeconds = monotonicSeconds()
func engineTime() -> Int32 {
    Int32(clamping: monotonicSeconds() - startSeconds)
}

func answer(_ request: PDU, uptime: Int32) -> PDU {
    let objects: [(OID, SNMPValue)] = [
        ("1.3.6.1.2.1.1.1.0", .string("snmpwarden test responder")),
        ("1.3.6.1.2.1.1.3.0", .timeTicks(UInt32(uptime) &* 100)),
        ("1.3.6.1.2.1.1.5.0", .string("responder")),
    ]
    let varbinds: [VarBind] = request.varbinds.map { varbind in
        switch request.type {
        case .getNext:
            if let next = objects.first(where: { $0.0 > varbind.oid }) { return VarBind(oid: next.0, value: next.1) }
            return VarBind(oid: varbind.oid, value: .endOfMibView)
        default:
            if let found = objects.first(where: { $0.0 == varbind.oid }) {
                return VarBind(oid: found.0, value: found.1)
            }
            return VarBind(oid: varbind.oid, value: .noSuchObject)
        }
    }
    return PDU(type: .response, requestID: request.requestID, varbinds: varbinds)
}

var receiveBuffer = [UInt8](repeating: 0, count: 65536)
while true {
    var peer = sockaddr_storage()
    var peerLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
    let count = withUnsafeMutablePointer(to: &peer) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            recvfrom(fd, &receiveBuffer, receiveBuffer.count, 0, $0, &peerLength)
        }
    }
    if count < 0 {
        if errno == EAGAIN || errno == EWOULDBLOCK {
            if getppid() != parent { exit(0) }
            continue
        }
        if errno == EINTR { continue }
        fail("recvfrom: \(String(cString: strerror(errno)))")
    }
    let datagram = ByteBuffer(bytes: receiveBuffer[0..<count])
    guard case .v3(let message) = try? SNMPMessage(decoding: datagram) else {
        engine.countParseError()
        continue
    }
    var reply = ByteBuffer()
    switch engine.receive(message, datagram: datagram, engineTime: engineTime()) {
    case .accept(let request):
        guard request.scopedPDU.pdu.type == .get || request.scopedPDU.pdu.type == .getNext else { continue }
        guard
            engine.encodeResponse(
                answer(request.scopedPDU.pdu, uptime: engineTime()),
                to: request.state,
                engineTime: engineTime(),
                into: &reply
            )
        else {
            continue
        }
    case .report(let report, _):
        reply = report
    case .drop:
        continue
    }
    _ = reply.withUnsafeReadableBytes { bytes in
        withUnsafePointer(to: &peer) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(fd, bytes.baseAddress, bytes.count, 0, $0, peerLength)
            }
        }
    }
}
