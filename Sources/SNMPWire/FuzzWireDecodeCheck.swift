//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOCore

/// The property the fuzz target and its regression tests check for one input.
///
/// Decoding either throws ``SNMPWireError`` or yields a message that re-encodes to bytes that decode
/// to an equal message and encode to the same bytes again (canonical form is a fixed point). A
/// violation traps, which is what the fuzzer looks for.
public enum FuzzWireDecodeCheck {
    /// Runs the check; returns whether the input decoded.
    @discardableResult
    public static func run(_ input: ByteBuffer) -> Bool {
        let message: SNMPMessage
        do {
            message = try SNMPMessage(decoding: input)
        } catch {
            _ = error.description
            return false
        }
        var first = ByteBuffer()
        first.writeSNMPMessage(message)
        let again: SNMPMessage
        do {
            again = try SNMPMessage(decoding: first)
        } catch {
            fatalError("re-encoded message does not decode: \(error)")
        }
        precondition(again == message, "re-encoded message decodes to a different value")
        var second = ByteBuffer()
        second.writeSNMPMessage(again)
        precondition(first == second, "canonical encoding is not a fixed point")
        if case .v3(let v3) = message, let layout = v3.wireLayout {
            precondition(layout.message.upperBound == input.readableBytes, "layout does not cover the message")
            precondition(layout.messageData.upperBound <= input.readableBytes, "msgData outside the message")
        }
        return true
    }
}
