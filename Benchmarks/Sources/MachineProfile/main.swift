//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

// The MachineBenchmarks exchange (one pass-through GET through the request machine) in a plain
// loop, for measurements that package-benchmark's do not give on this VM: thread CPU time per GET
// (the cpuTotal metric counts 10 ms ticks), and a fixed amount of work for
// `valgrind --tool=callgrind` (instructions per GET: run with two counts and take the difference).
//
//   .build/release/MachineProfile [GETs per round, default 200000] [rounds, default 5]

import WireSamples

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

let arguments = CommandLine.arguments.dropFirst()
let perRound = arguments.first.flatMap { Int($0) } ?? 200_000
let rounds = arguments.dropFirst().first.flatMap { Int($0) } ?? 5

func nanoseconds(_ clock: clockid_t) -> Int64 {
    var time = timespec()
    clock_gettime(clock, &time)
    return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
}

var sample = PassThroughSample()
var sink = PassThroughSink()
for _ in 0..<1000 { sample.exchange(into: &sink) }
guard let answer = sample.decodedAnswer(sink), answer.varbinds.map(\.value) == PassThroughSample.values else {
    fatalError("the pass-through exchange did not answer with the agent's values")
}
var cpu: [Double] = []
var wall: [Double] = []
for _ in 0..<rounds {
    let cpuStart = nanoseconds(CLOCK_THREAD_CPUTIME_ID)
    let wallStart = nanoseconds(CLOCK_MONOTONIC)
    for _ in 0..<perRound { sample.exchange(into: &sink) }
    cpu.append(Double(nanoseconds(CLOCK_THREAD_CPUTIME_ID) - cpuStart) / Double(perRound))
    wall.append(Double(nanoseconds(CLOCK_MONOTONIC) - wallStart) / Double(perRound))
}
guard sink.replies == sink.backendRequests && sample.machine.pendingCount == 0 else {
    let counters = sample.machine.counters.fields.filter { $0.1 != 0 }
    fatalError(
        "\(sink.replies) replies, \(sink.backendRequests) back-end requests, \(sink.others) other actions; \(counters)"
    )
}
func format(_ values: [Double]) -> String {
    values.map { String(Int($0.rounded())) }.joined(separator: " ")
}
print(
    "GETs \(perRound) x \(rounds): CPU ns/GET min \(Int(cpu.min()!.rounded())) [\(format(cpu))]; wall ns/GET min \(Int(wall.min()!.rounded())) [\(format(wall))]"
)
