//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOCore
import SNMPSecurity
import SNMPWire

/// What the gateway knows of one SNMPv3 agent on one event loop: a non-authoritative USM engine
/// (``USMClient``) that learns the agent's engine ID, boots and time (RFC 3414 §4), and the
/// settings it was made for.
///
/// One per event loop and v3 back end. A class: a pending request holds its session by reference,
/// so a reload that replaces the session (another user, address or engine ID) never changes what
/// a request in flight decodes its answer with.
final class AgentSession {
    /// The agent's address and USM settings the session was made for.
    let address: SocketAddress
    let settings: BackendTarget.Agent.USM
    var client: USMClient
    private let loopIndex: Int

    init(address: SocketAddress, settings: BackendTarget.Agent.USM, loopIndex: Int, now: Int64) {
        self.address = address
        self.settings = settings
        self.loopIndex = loopIndex
        self.client = Self.client(settings, loopIndex: loopIndex, now: now)
    }

    /// Whether the session serves `agent` as it is configured now: the same address, user (name,
    /// protocols and secrets) and configured engine ID. The contextName is not the session's: a
    /// request takes it from its back end.
    func matches(_ agent: BackendTarget.Agent) -> Bool {
        guard let usm = agent.usm else { return false }
        return self.address == agent.address && self.settings.user == usm.user && self.settings.engineID == usm.engineID
    }

    /// A fresh client; with an engine ID known beforehand it is taken as the engine with boots
    /// and time 0, so that the agent's first answer is the usmStatsNotInTimeWindows Report that
    /// tells the client its boots and time (RFC 3414 §4).
    private static func client(_ settings: BackendTarget.Agent.USM, loopIndex: Int, now: Int64) -> USMClient {
        do {
            var client = try USMClient(user: settings.user, loopIndex: loopIndex)
            if let engineID = settings.engineID {
                try client.synchronise(engineID: engineID, boots: 0, time: 0, now: now)
            }
            return client
        } catch {
            // The configuration loader validated every user (USMUserConfiguration.validate) and
            // every engine ID: a user that fails here is a programmer's error.
            preconditionFailure("back-end user \(settings.user.name): \(error)")
        }
    }
}

@available(*, unavailable)
extension AgentSession: Sendable {}
