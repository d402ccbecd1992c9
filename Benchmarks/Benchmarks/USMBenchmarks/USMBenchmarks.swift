//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import Benchmark
import NIOCore
import SNMPSecurity
import SNMPWire
import WireSamples

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .throughput],
        timeUnits: .nanoseconds,
        scalingFactor: .kilo,
        maxDuration: .seconds(3),
        maxIterations: 1_000_000
    )

    for (auth, priv) in [(USMAuthProtocol.sha256, USMPrivacyProtocol.aes128), (.sha1, .des), (.sha512, .aes256)] {
        let sample = USMSample(auth: auth, priv: priv)
        let label = "\(auth.rawValue)/\(priv.rawValue)"

        Benchmark("USM inbound \(label): decode + verify + decrypt (\(sample.request.readableBytes) B)") { benchmark in
            var engine = sample.engine
            for _ in benchmark.scaledIterations {
                guard case .v3(let message) = try SNMPMessage(decoding: sample.request) else { fatalError() }
                blackHole(engine.receive(message, datagram: sample.request, engineTime: 10))
            }
        }

        Benchmark("USM outbound \(label): encrypt + sign a response (reused buffer)") { benchmark in
            var engine = sample.engine
            var out = ByteBuffer()
            out.reserveCapacity(2048)
            for _ in benchmark.scaledIterations {
                out.clear()
                blackHole(engine.encodeResponse(sample.response, to: sample.state, engineTime: 10, into: &out))
            }
        }
    }
}
