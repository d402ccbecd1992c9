//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import Foundation
import NIOCore
import SNMPSecurity
import SNMPWire
import WardenConfig
import WardenPolicy
import WardenSimulator

/// A configuration resolved for running: socket addresses, back ends by index, simulated devices
/// loaded. Immutable and shared by every event loop (DESIGN.md §3: the configuration snapshot).
public struct GatewayPlan: Sendable {
    /// A back end as the data path uses it.
    public struct BackendPlan: Sendable {
        public enum Kind: Sendable {
            case agent(
                address: SocketAddress,
                version: SNMPVersion,
                community: ByteBuffer,
                timeout: Int64,
                retries: Int
            )
            case simulated(SimulatedAgent)
        }

        public var name: String
        public var kind: Kind
    }

    /// A route as the data path uses it.
    public struct RoutePlan: Sendable {
        public var name: String
        public var backend: Int
        /// Views (compiled) and rewrites.
        public var policy: RoutePolicy
        public var dropOnTimeout: Bool
    }

    public var configuration: WardenConfiguration
    public var listeners: [SocketAddress]
    public var backends: [BackendPlan]
    public var routes: [RoutePlan]
    public var routeTable: RouteTable
    public var limits: Limits

    /// A start-up problem that is not in the configuration's syntax (a listener that is not an
    /// address, an snmprec file that does not parse).
    public struct PlanError: Error, CustomStringConvertible {
        public var description: String
    }

    public init(_ configuration: WardenConfiguration) throws(PlanError) {
        self.configuration = configuration
        self.limits = configuration.limits
        self.listeners = []
        for listen in configuration.listen {
            self.listeners.append(try Self.socketAddress(listen))
        }
        self.backends = []
        var backendIndex: [String: Int] = [:]
        for backend in configuration.backends {
            backendIndex[backend.name] = self.backends.count
            switch backend.kind {
            case .agent(let address, let version, let community, let timeout, let retries):
                self.backends.append(
                    BackendPlan(
                        name: backend.name,
                        kind: .agent(
                            address: try Self.socketAddress(address),
                            version: version,
                            community: ByteBuffer(bytes: community),
                            timeout: Int64(timeout) * 1_000_000,
                            retries: retries
                        )
                    )
                )
            case .simulated(let path):
                guard let data = FileManager.default.contents(atPath: path) else {
                    throw PlanError(description: "backend '\(backend.name)': cannot read \(path)")
                }
                do {
                    let objects = try SNMPRec.parse(String(decoding: data, as: UTF8.self))
                    self.backends.append(
                        BackendPlan(name: backend.name, kind: .simulated(SimulatedAgent(objects: objects)))
                    )
                } catch {
                    throw PlanError(description: "backend '\(backend.name)': \(path): \(error)")
                }
            }
        }
        // Each view compiled once, shared by the routes that name it.
        var views: [String: ViewPolicy] = [:]
        for view in configuration.views {
            views[view.name] = ViewPolicy(include: view.include.map(\.arcs), exclude: view.exclude.map(\.arcs))
        }
        self.routes = try configuration.routes.map { route throws(PlanError) in
            guard case .named(let backendName) = route.backend else {
                throw PlanError(
                    description: "route '\(route.name)': backend \"{context}\" is not supported by this build yet"
                )
            }
            return RoutePlan(
                name: route.name,
                backend: backendIndex[backendName]!,
                policy: RoutePolicy(
                    readView: route.readView.flatMap { views[$0] },
                    writeView: route.writeView.flatMap { views[$0] },
                    rewrites: route.rewrite.map {
                        RoutePolicy.Rewrite(backend: Array($0.backend.arcs), manager: Array($0.manager.arcs))
                    }
                ),
                dropOnTimeout: route.onTimeout == .drop
            )
        }
        self.routeTable = RouteTable(routes: configuration.routes)
    }

    static func socketAddress(_ transport: TransportAddress) throws(PlanError) -> SocketAddress {
        do {
            return try SocketAddress(ipAddress: transport.host, port: Int(transport.port))
        } catch {
            throw PlanError(description: "\(transport): not an IP address")
        }
    }
}
