//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOCore
import SNMPWire

/// libFuzzer entry point: decode arbitrary bytes as an SNMP message. Whatever decodes must re-encode
/// canonically, decode again to the same value, and a second encoding must be byte-identical.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let input = ByteBuffer(bytes: UnsafeRawBufferPointer(start: start, count: count))
    FuzzWireDecodeCheck.run(input)
    return 0
}
