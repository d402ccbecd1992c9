//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

/// An IPv4 or IPv6 address as 128 bits, compared against prefixes without allocating.
///
/// An IPv4 address occupies the top 32 bits of ``high``.
public struct IPAddressBits: Hashable, Sendable {
    public var high: UInt64
    public var low: UInt64
    public var isIPv4: Bool

    public init(high: UInt64, low: UInt64, isIPv4: Bool) {
        self.high = high
        self.low = low
        self.isIPv4 = isIPv4
    }

    /// Exactly the 4 or 16 network-order octets given; nil for any other count.
    public init?(exactly octets: some Collection<UInt8>) {
        guard octets.count == 4 || octets.count == 16 else { return nil }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for (index, octet) in octets.enumerated() {
            if index < 8 {
                high |= UInt64(octet) << (56 - 8 * UInt64(index))
            } else {
                low |= UInt64(octet) << (56 - 8 * UInt64(index - 8))
            }
        }
        self.init(high: high, low: low, isIPv4: octets.count == 4)
    }

    /// A manager's address as routes compare it: an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`)
    /// becomes IPv4, so a route's IPv4 prefixes match managers on dual-stack sockets.
    public var canonical: IPAddressBits {
        if !self.isIPv4 && self.high == 0 && self.low >> 32 == 0xFFFF {
            return IPAddressBits(high: (self.low & 0xFFFF_FFFF) << 32, low: 0, isIPv4: true)
        }
        return self
    }
}

/// An IPv4 or IPv6 prefix, `10.0.0.0/8` or `2001:db8::/32`.
public struct AddressPrefix: Hashable, Sendable, CustomStringConvertible {
    /// 4 or 16 octets.
    public let address: [UInt8]
    public let length: Int
    private let bits: IPAddressBits
    private let maskHigh: UInt64
    private let maskLow: UInt64

    /// - Precondition: 4 octets and a length of at most 32, or 16 octets and at most 128.
    public init(address: [UInt8], length: Int) {
        precondition(
            (address.count == 4 && (0...32).contains(length)) || (address.count == 16 && (0...128).contains(length))
        )
        self.address = address
        self.length = length
        self.bits = IPAddressBits(exactly: address)!
        self.maskHigh = length >= 64 ? .max : (length == 0 ? 0 : ~(UInt64.max >> UInt64(length)))
        self.maskLow = length <= 64 ? 0 : (length >= 128 ? .max : ~(UInt64.max >> UInt64(length - 64)))
    }

    public var description: String {
        "\(self.address.count == 4 ? self.address.map(String.init).joined(separator: ".") : "IPv6")/\(self.length)"
    }

    /// Whether `candidate` lies in this prefix (an IPv4 address never lies in an IPv6 prefix).
    public func contains(_ candidate: IPAddressBits) -> Bool {
        candidate.isIPv4 == self.bits.isIPv4 && candidate.high & self.maskHigh == self.bits.high & self.maskHigh
            && candidate.low & self.maskLow == self.bits.low & self.maskLow
    }

    /// Whether `candidate` (exactly 4 or 16 octets) lies in this prefix.
    public func contains(_ candidate: [UInt8]) -> Bool {
        guard let bits = IPAddressBits(exactly: candidate) else { return false }
        return self.contains(bits)
    }
}
