//===----------------------------------------------------------------------===//
//
// This source file is part of the snmpwarden open source project
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

import NIOCore

/// # SNMPWire
///
/// A BER codec written for SNMP on `ByteBuffer`, and the SNMP data model: ``OID``, ``SNMPValue``,
/// ``VarBind``, ``PDU``, ``TrapV1PDU``, ``CommunityMessage`` (SNMPv1/v2c) and ``SNMPv3Message``.
///
/// The module has no sockets and no clock. Every decoded value is a *slice* of the datagram it came
/// from, so decoding a Response with any number of varbinds costs one allocation (the varbind
/// array); encoding writes canonical minimal BER into one buffer in one pass.
///
/// ## Decoding rules
///
/// Strict where safety needs it, tolerant where real agents are sloppy. Every rejection is a thrown
/// ``SNMPWireError`` carrying the byte offset (from the first byte of the message) of the element
/// that failed and a ``SNMPWireError/Reason``; nothing traps and nothing reads out of bounds.
///
/// Accepted although not canonical (real agents send them):
/// - length octets in long form when the short form would do, and long forms with leading zero
///   octets, up to ``SNMPWireLimits/maximumLengthOctets`` (4) length octets;
/// - Counter32, Gauge32/Unsigned32 and TimeTicks of exactly 4 content octets with the top bit set
///   (a raw unsigned value where BER wants a leading `00`); likewise Counter64 of 8 octets;
/// - INTEGER-family contents padded with redundant leading `00`/`FF` octets, as long as the value
///   still fits its type and the content is no longer than the type allows;
/// - an OBJECT IDENTIFIER with no content octets (read as the empty OID).
///
/// Rejected:
/// - indefinite lengths (`80`), more than 4 length octets, a length that runs past its enclosing
///   element or the datagram;
/// - bytes left over after the message, or after the last field of any SEQUENCE;
/// - nesting of constructed elements deeper than ``SNMPWireLimits/maximumNestingDepth``; the SNMP
///   grammar itself never nests deeper than 5, and a constructed element where the grammar wants a
///   primitive is an unknown tag;
/// - OIDs over ``SNMPWireLimits/maximumOIDArcs`` arcs, with a sub-identifier over 2^32-1, with a
///   non-minimal sub-identifier (a leading `80` octet) or whose last octet has the continuation bit;
/// - integers that overflow their type: INTEGER (Integer32) over 4 octets, a negative Counter32,
///   Gauge32, TimeTicks or Counter64, more than 5 (9 for Counter64) content octets;
/// - a zero-length INTEGER, a NULL or exception with content, an IpAddress that is not 4 octets;
/// - any tag the grammar does not allow at that position (high-tag-number forms included), for
///   example NsapAddress or a v2 PDU inside an SNMPv1 message;
/// - fields over their SNMP size limits (``SNMPWireLimits``) and v3 header values out of range
///   (msgID and boots/time negative, msgMaxSize under 484, msgFlags not one octet).
///
/// ## Encoding
///
/// Canonical minimal BER: definite lengths in the fewest octets, minimal integers and
/// sub-identifiers; a value decoded from canonical input re-encodes byte for byte. A varbind list,
/// the hot part of every message, is sized first and written with exact lengths in one raw write;
/// the enclosing PDU, message and v3 header use `ByteBuffer.writeLengthPrefixed(strategy:)`, which
/// writes content once and moves it only when the reserved length octets were a wrong guess.
///
/// ## Performance
///
/// Decoding reads through one raw pointer per message and makes one allocation (the varbind array);
/// see `Benchmarks/` and the README for figures.
public enum SNMPWireLimits {
    /// At most this many length octets after `0x8N` (4 gives lengths up to 2^32-1; X.690 §8.1.3.5).
    public static let maximumLengthOctets = 4
    /// Constructed elements nest at most this deep. SNMP needs 5: message, ScopedPDU, PDU,
    /// VarBindList, VarBind (the USM SEQUENCE inside msgSecurityParameters counts as level 2).
    public static let maximumNestingDepth = 8
    /// Arcs in an OBJECT IDENTIFIER (RFC 2578 §3.5: "at most 128 sub-identifiers").
    public static let maximumOIDArcs = 128
    /// The smallest msgMaxSize a v3 message may declare (RFC 3412 §6: `msgMaxSize (484..2147483647)`).
    public static let minimumMessageMaxSize: Int32 = 484
    /// SnmpEngineID is `OCTET STRING (SIZE(5..32))` (RFC 3411); empty is allowed on the wire for discovery.
    public static let maximumEngineIDLength = 32
    /// usmUserName and contextName are `SnmpAdminString (SIZE(0..32))` (RFC 3414, RFC 3415).
    public static let maximumUserNameLength = 32
    /// See ``maximumUserNameLength``.
    public static let maximumContextNameLength = 32
    /// Communities are `OCTET STRING`; snmpCommunityName is `SIZE(0..255)` (RFC 3584 §5.1).
    public static let maximumCommunityLength = 255
    /// Authentication parameters: the longest USM MAC is 48 octets (HMAC-SHA-512, RFC 7860); leave room.
    public static let maximumAuthenticationParametersLength = 64
    /// Privacy parameters are 8 octets for every USM cipher; the USM layer checks the exact length.
    public static let maximumPrivacyParametersLength = 64
}
