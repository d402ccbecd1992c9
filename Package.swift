// swift-tools-version:6.1
//===----------------------------------------------------------------------===//
//
// snmpwarden — an SNMPv3 proxy forwarder and application-layer firewall.
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import PackageDescription

/// The modules on the packet path, in release builds: their state lives in values and in classes
/// owned by one event loop each, so no access can overlap, and the dynamic exclusivity checks cost
/// 4-7% of the gateway's CPU in the profile. Debug builds (the tests) keep the checks. Cross-module
/// optimisation lets the gateway specialise the generic codec and pending-table code it calls.
let dataPathSettings: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked", "-cross-module-optimization"], .when(configuration: .release))
]

let package = Package(
    name: "snmpwarden",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "snmpwarden", targets: ["snmpwarden"]),
        .library(name: "SNMPWire", targets: ["SNMPWire"]),
        .library(name: "SNMPSecurity", targets: ["SNMPSecurity"]),
        .library(name: "WardenPolicy", targets: ["WardenPolicy"]),
        .library(name: "WardenForwarder", targets: ["WardenForwarder"]),
        // libFuzzer entry point: build with
        // `swift build -c debug --sanitize=fuzzer --sanitize=address --product FuzzWireDecode`.
        .executable(name: "FuzzWireDecode", targets: ["FuzzWireDecode"]),
        .executable(name: "FuzzUSMInbound", targets: ["FuzzUSMInbound"]),
        .executable(name: "FuzzRequestMachine", targets: ["FuzzRequestMachine"]),
        .executable(name: "FuzzConfigLoader", targets: ["FuzzConfigLoader"]),
        .executable(name: "FuzzNotificationMachine", targets: ["FuzzNotificationMachine"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        // Test-only: an independent ASN.1 parser used as an oracle for our BER output.
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
    ],
    targets: [
        // OpenSSL 3 libcrypto (Debian: libssl-dev): HMAC, DES/3DES/AES, digests, RNG.
        .systemLibrary(
            name: "COpenSSL",
            path: "Sources/COpenSSL",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        .target(
            name: "SNMPSecurity",
            dependencies: ["SNMPWire", "COpenSSL", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: dataPathSettings
        ),
        // Views, rewrites and the walk over the manager's OID space (pure).
        .target(
            name: "WardenPolicy",
            dependencies: ["SNMPWire", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: dataPathSettings
        ),
        // The request state machine: request-id mapping, retries, RFC 3584 translation, filtered walks (pure).
        .target(
            name: "WardenForwarder",
            dependencies: [
                "SNMPWire", "SNMPSecurity", "WardenPolicy", .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: dataPathSettings
        ),
        // Simulated back ends: snmprec files answered as an SNMPv2c agent would (pure).
        .target(
            name: "WardenSimulator",
            dependencies: ["SNMPWire", .product(name: "NIOCore", package: "swift-nio")]
        ),
        // The configuration file (YAML): parsing and validation, every error with file:line:column.
        .target(
            name: "WardenConfig",
            dependencies: ["SNMPWire", "SNMPSecurity", "WardenPolicy", .product(name: "Yams", package: "Yams")]
        ),
        // The Linux calls of the data path's own event loop (epoll, eventfd, recvmmsg, sendmmsg),
        // which the Glibc module does not declare.
        .target(name: "CDatagramIO"),
        // The I/O layer: listeners, back-end sockets, timers, lifecycle (DESIGN.md §2).
        .target(
            name: "WardenServer",
            dependencies: [
                "CDatagramIO", "SNMPWire", "SNMPSecurity", "WardenConfig", "WardenForwarder", "WardenPolicy", "WardenSimulator",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: dataPathSettings
        ),
        .target(
            name: "SNMPWire",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: dataPathSettings
        ),
        .executableTarget(
            name: "snmpwarden",
            dependencies: [
                "SNMPWire",
                "WardenConfig",
                "WardenServer",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // A minimal SNMPv3 agent for interoperability tests with Net-SNMP (see its main.swift).
        .executableTarget(
            name: "SNMPTestResponder",
            dependencies: ["SNMPWire", "SNMPSecurity", .product(name: "NIOCore", package: "swift-nio")]
        ),
        // A minimal SNMPv3 manager with one engine cache over several sockets, for the replica tests.
        .executableTarget(
            name: "SNMPTestManager",
            dependencies: ["SNMPWire", "SNMPSecurity", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .executableTarget(
            name: "FuzzUSMInbound",
            dependencies: ["SNMPWire", "SNMPSecurity", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .executableTarget(
            name: "FuzzRequestMachine",
            dependencies: ["WardenForwarder", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .executableTarget(
            name: "FuzzNotificationMachine",
            dependencies: ["WardenForwarder", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .executableTarget(
            name: "FuzzConfigLoader",
            dependencies: ["WardenConfig"]
        ),
        .executableTarget(
            name: "FuzzWireDecode",
            dependencies: ["SNMPWire", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .testTarget(
            name: "SNMPWireTests",
            dependencies: [
                "SNMPWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            exclude: ["Fixtures", "Regression"]
        ),
        // Helpers that start real peers (Net-SNMP, our own executables) on loopback, for tests only.
        .target(
            name: "PeerSupport",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")],
            path: "Tests/PeerSupport"
        ),
        .testTarget(
            name: "SNMPSecurityTests",
            dependencies: [
                "PeerSupport",
                "SNMPSecurity",
                "SNMPWire",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            exclude: ["Regression"]
        ),
        .testTarget(
            name: "WardenForwarderTests",
            dependencies: [
                "PeerSupport", "WardenForwarder", "WardenPolicy", "WardenSimulator", "SNMPWire", "SNMPSecurity",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            exclude: ["Regression"]
        ),
        .testTarget(
            name: "WardenPolicyTests",
            dependencies: ["PeerSupport", "WardenPolicy", "SNMPWire", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .testTarget(
            name: "WardenSimulatorTests",
            dependencies: ["WardenSimulator", "SNMPWire", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .testTarget(
            name: "WardenConfigTests",
            dependencies: ["PeerSupport", "WardenConfig", "SNMPSecurity", "SNMPWire"],
            exclude: ["Regression"]
        ),
        .testTarget(
            name: "WardenServerTests",
            dependencies: [
                "PeerSupport", "WardenServer", "WardenConfig", "SNMPWire", "SNMPSecurity",
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "snmpwardenTests",
            dependencies: [
                "snmpwarden",
                "WardenConfig",
                "SNMPWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
