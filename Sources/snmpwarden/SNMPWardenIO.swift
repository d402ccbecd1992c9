//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

enum SNMPWardenIO {
    static func writeToStandardError(_ bytes: UnsafeMutableRawBufferPointer) -> Int {
        write(2, bytes.baseAddress, bytes.count)
    }
}
