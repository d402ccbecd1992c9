// swift-tools-version:6.1
//===----------------------------------------------------------------------===//
//
// snmpwarden micro-benchmarks (package-benchmark). A package of its own so that the product's
// `swift build` does not build the benchmark framework.
//
//   cd Benchmarks && swift package --allow-writing-to-package-directory benchmark
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import PackageDescription

let package = Package(
    name: "snmpwarden-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "snmpwarden", path: ".."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(
            url: "https://github.com/ordo-one/package-benchmark.git",
            from: "1.38.1",
            traits: ["MallocInterposer"]
        ),
    ],
    targets: [
        .target(
            name: "WireSamples",
            dependencies: [
                .product(name: "SNMPWire", package: "snmpwarden"),
                .product(name: "SNMPSecurity", package: "snmpwarden"),
                .product(name: "WardenForwarder", package: "snmpwarden"),
                .product(name: "WardenPolicy", package: "snmpwarden"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Sources/WireSamples"
        ),
        .executableTarget(
            name: "WireBenchmarks",
            dependencies: [
                "WireSamples",
                .product(name: "Benchmark", package: "package-benchmark"),
                .product(name: "SNMPWire", package: "snmpwarden"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Benchmarks/WireBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
        .executableTarget(
            name: "USMBenchmarks",
            dependencies: [
                "WireSamples",
                .product(name: "Benchmark", package: "package-benchmark"),
                .product(name: "SNMPWire", package: "snmpwarden"),
                .product(name: "SNMPSecurity", package: "snmpwarden"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Benchmarks/USMBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
        // The request machine's pass-through GET: allocations and CPU per request.
        .executableTarget(
            name: "MachineBenchmarks",
            dependencies: [
                "WireSamples",
                .product(name: "Benchmark", package: "package-benchmark"),
                .product(name: "SNMPWire", package: "snmpwarden"),
                .product(name: "WardenForwarder", package: "snmpwarden"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Benchmarks/MachineBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
        .executableTarget(
            name: "PolicyBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "package-benchmark"),
                .product(name: "SNMPWire", package: "snmpwarden"),
                .product(name: "WardenPolicy", package: "snmpwarden"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Benchmarks/PolicyBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
        // Keeps K requests in flight against an agent or proxy and prints one JSON line.
        .executableTarget(
            name: "LoadGenerator",
            dependencies: [
                .product(name: "SNMPWire", package: "snmpwarden"),
                .product(name: "SNMPSecurity", package: "snmpwarden"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Sources/LoadGenerator"
        ),
        // The MachineBenchmarks exchange in a plain loop: thread CPU time per GET, and a fixed
        // workload for callgrind.
        .executableTarget(
            name: "MachineProfile",
            dependencies: ["WireSamples"],
            path: "Sources/MachineProfile"
        ),
        .executableTarget(
            name: "WireProfile",
            dependencies: [
                "WireSamples",
                .product(name: "SNMPSecurity", package: "snmpwarden"),
                .product(name: "SNMPWire", package: "snmpwarden"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Sources/WireProfile"
        ),
    ],
    swiftLanguageModes: [.v6]
)
