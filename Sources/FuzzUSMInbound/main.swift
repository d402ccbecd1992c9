//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOCore
import SNMPSecurity
import SNMPWire

#if canImport(Glibc)
import Glibc
#endif

/// libFuzzer entry point: arbitrary bytes into the authoritative USM engine. Messages that decode
/// are re-signed with the user's key when they name a known user, so the fuzzer also reaches
/// timeliness, decryption and the parsing of decrypted garbage, not only the MAC check.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let input = ByteBuffer(bytes: UnsafeRawBufferPointer(start: start, count: count))
    FuzzUSMInboundCheck.run(input)
    return 0
}

/// Called by libFuzzer before fuzzing: with `FUZZ_USM_SEEDS=DIR` in the environment, writes one
/// valid request per user there (the seed corpus `scripts/fuzz.sh` starts from).
@_cdecl("LLVMFuzzerInitialize")
public func initialize(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>
) -> CInt {
    guard let directory = getenv("FUZZ_USM_SEEDS").map({ String(cString: $0) }) else { return 0 }
    for (index, seed) in FuzzUSMInboundCheck.seedRequests().enumerated() {
        let path = "\(directory)/seed-\(index)"
        guard let file = fopen(path, "wb") else { continue }
        seed.withUnsafeReadableBytes { _ = fwrite($0.baseAddress, 1, $0.count, file) }
        fclose(file)
    }
    return 0
}
