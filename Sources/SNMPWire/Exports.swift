//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOCore

@_exported import struct NIOCore.ByteBuffer
@_exported import protocol NIOCore.NIOBinaryIntegerEncodingStrategy
