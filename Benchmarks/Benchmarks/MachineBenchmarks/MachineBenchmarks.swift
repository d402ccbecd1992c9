//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import Benchmark
import NIOCore
import SNMPWire
import WardenForwarder
import WireSamples

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .throughput],
        timeUnits: .nanoseconds,
        scalingFactor: .kilo,
        maxDuration: .seconds(3),
        maxIterations: 1_000_000
    )

    // One pass-through GET per iteration: the manager's v3 authPriv Get (3 scalars) into the machine,
    // its v2c request to the agent out, the agent's Response in, the encrypted v3 answer out.
    Benchmark("Request machine: pass-through GET, v3 SHA/AES -> v2c, 3 scalars") { benchmark in
        var sample = PassThroughSample()
        var sink = PassThroughSink()
        // Warm-up: the pending table, timer heap and scratch buffers reach their working size, and
        // the answer is checked once.
        for _ in 0..<16 { sample.exchange(into: &sink) }
        guard sink.replies == 16, sink.backendRequests == 16,
            let answer = sample.decodedAnswer(sink),
            answer.varbinds.map(\.value) == PassThroughSample.values
        else { fatalError("the pass-through exchange did not answer with the agent's values") }
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            sample.exchange(into: &sink)
        }
        benchmark.stopMeasurement()
        precondition(sink.replies == sink.backendRequests && sample.machine.pendingCount == 0)
        blackHole(sink)
    }
}
