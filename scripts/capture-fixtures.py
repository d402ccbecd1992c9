#!/usr/bin/env python3
"""Capture real SNMP datagrams exchanged by Net-SNMP tools and daemons.

Starts a private snmpd and snmptrapd on 127.0.0.1 (free ports, own config
files and persistent directory in a temporary directory), puts an in-process
UDP relay between the Net-SNMP command-line tools and the daemons, runs a fixed
list of scenarios and writes every datagram that crossed the relay to
Tests/SNMPWireTests/Fixtures/<scenario>-<kind>.hex, plus a README.md index.

Python 3.11 standard library only.  Usage (from the repository root or
anywhere):

    python3 scripts/capture-fixtures.py

Fixture file format: lines starting with '#' are comments; all other lines are
lowercase hex digits (32 bytes per line) to be concatenated.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import os
import re
import select
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(REPO, "Tests", "SNMPWireTests", "Fixtures")
GENERATED_MARK = "# generated-by: scripts/capture-fixtures.py"

SNMPD = shutil.which("snmpd") or "/usr/sbin/snmpd"
SNMPTRAPD = shutil.which("snmptrapd") or "/usr/sbin/snmptrapd"

ENGINE_ID_TEXT = "fixturesagent"
# Net-SNMP builds "engineID <text>" as: 0x80 | enterprise 8072, format 4 (text), text.
ENGINE_ID_HEX = "80001f8804" + ENGINE_ID_TEXT.encode().hex()

USERS = {
    "fixuser": dict(level="authPriv", auth="SHA-256", auth_pass="authpass123",
                    priv="AES (AES-128-CFB)", priv_pass="privpass123"),
    "fixuser2": dict(level="authNoPriv", auth="SHA (HMAC-SHA-96)", auth_pass="authpass123",
                     priv="none", priv_pass=""),
    "fixuser3": dict(level="noAuthNoPriv", auth="none", auth_pass="", priv="none", priv_pass=""),
}

SYS_DESCR = "snmpwarden fixture agent"

# hashlib name, HMAC truncation length (msgAuthenticationParameters size), priv key length
AUTH_ALGS = {"SHA-256": ("sha256", 24), "SHA (HMAC-SHA-96)": ("sha1", 12)}
PRIV_KEY_LEN = {"AES (AES-128-CFB)": 16}


def localized_key(hash_name: str, password: str, engine_id: bytes) -> bytes:
    """RFC 3414 A.2 / RFC 7860 password-to-key, then key localization."""
    pw = password.encode()
    ku = hashlib.new(hash_name, (pw * (1048576 // len(pw) + 1))[:1048576]).digest()
    return hashlib.new(hash_name, ku + engine_id + ku).digest()


def _aes_tables() -> list[int]:
    def rotl8(x: int, k: int) -> int:
        return ((x << k) | (x >> (8 - k))) & 0xFF
    sbox = [0] * 256
    p = q = 1
    while True:
        p = p ^ ((p << 1) & 0xFF) ^ (0x1B if p & 0x80 else 0)
        q ^= q << 1
        q ^= q << 2
        q ^= q << 4
        q &= 0xFF
        if q & 0x80:
            q ^= 0x09
        sbox[p] = q ^ rotl8(q, 1) ^ rotl8(q, 2) ^ rotl8(q, 3) ^ rotl8(q, 4) ^ 0x63
        if p == 1:
            break
    sbox[0] = 0x63
    return sbox


_SBOX = _aes_tables()


def _xtime(a: int) -> int:
    return ((a << 1) ^ 0x1B) & 0xFF if a & 0x80 else a << 1


def aes128_encrypt_block(key: bytes, block: bytes) -> bytes:
    """Plain AES-128 forward cipher (FIPS 197); only needed for CFB decryption."""
    w = [list(key[i:i + 4]) for i in range(0, 16, 4)]
    rcon = 1
    for i in range(4, 44):
        t = list(w[i - 1])
        if i % 4 == 0:
            t = [_SBOX[b] for b in t[1:] + t[:1]]
            t[0] ^= rcon
            rcon = _xtime(rcon)
        w.append([a ^ b for a, b in zip(w[i - 4], t)])
    rk = [sum(w[4 * r:4 * r + 4], []) for r in range(11)]
    st = [b ^ k for b, k in zip(block, rk[0])]
    for rnd in range(1, 11):
        st = [_SBOX[b] for b in st]
        st = [st[(r + 4 * ((c + r) % 4))] for c in range(4) for r in range(4)]
        if rnd != 10:
            out = []
            for c in range(4):
                a = st[4 * c:4 * c + 4]
                x = a[0] ^ a[1] ^ a[2] ^ a[3]
                out += [a[r] ^ x ^ _xtime(a[r] ^ a[(r + 1) % 4]) for r in range(4)]
            st = out
        st = [b ^ k for b, k in zip(st, rk[rnd])]
    return bytes(st)


def aes128_cfb_decrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    out, prev = bytearray(), iv
    for i in range(0, len(data), 16):
        chunk = data[i:i + 16]
        ks = aes128_encrypt_block(key, prev)
        out += bytes(a ^ b for a, b in zip(chunk, ks))
        prev = chunk
    return bytes(out)


def usm_keys(user: str) -> dict[str, bytes]:
    u = USERS[user]
    out: dict[str, bytes] = {}
    if u["auth"] in AUTH_ALGS:
        alg = AUTH_ALGS[u["auth"]][0]
        eid = bytes.fromhex(ENGINE_ID_HEX)
        out["auth"] = localized_key(alg, u["auth_pass"], eid)
        if u["priv"] in PRIV_KEY_LEN:
            # Net-SNMP derives the AES key with the user's auth hash, truncated.
            out["priv"] = localized_key(alg, u["priv_pass"], eid)[:PRIV_KEY_LEN[u["priv"]]]
    return out

DEADLINE_CMD = 30.0       # seconds a single tool invocation may take
DEADLINE_START = 10.0     # seconds a daemon may take to come up
SETTLE = 0.3              # seconds to wait for late datagrams after a command


# --------------------------------------------------------------------------
# helpers


def free_udp_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def tool_version(prog: str) -> str:
    try:
        out = subprocess.run([prog, "--version"], capture_output=True, text=True, timeout=10)
        m = re.search(r"version:\s*([\d.]+)", out.stdout + out.stderr, re.I)
        return m.group(1) if m else "unknown"
    except Exception:
        return "unknown"


def daemon_version(prog: str) -> str:
    try:
        out = subprocess.run([prog, "-v"], capture_output=True, text=True, timeout=10)
        m = re.search(r"version:\s*([\d.]+)", out.stdout + out.stderr, re.I)
        return m.group(1) if m else "unknown"
    except Exception:
        return "unknown"


# --------------------------------------------------------------------------
# minimal BER decoder, only used to label files and write human summaries

PDU_NAMES = {
    0xA0: "GetRequest", 0xA1: "GetNextRequest", 0xA2: "Response", 0xA3: "SetRequest",
    0xA4: "Trap(v1)", 0xA5: "GetBulkRequest", 0xA6: "InformRequest",
    0xA7: "SNMPv2-Trap", 0xA8: "Report",
}
TYPE_NAMES = {
    0x02: "INTEGER", 0x04: "OCTET STRING", 0x05: "NULL", 0x06: "OBJECT IDENTIFIER",
    0x40: "IpAddress", 0x41: "Counter32", 0x42: "Gauge32", 0x43: "TimeTicks",
    0x44: "Opaque", 0x46: "Counter64", 0x80: "noSuchObject", 0x81: "noSuchInstance",
    0x82: "endOfMibView",
}
ERRORS = ["noError", "tooBig", "noSuchName", "badValue", "readOnly", "genErr", "noAccess",
          "wrongType", "wrongLength", "wrongEncoding", "wrongValue", "noCreation",
          "inconsistentValue", "resourceUnavailable", "commitFailed", "undoFailed",
          "authorizationError", "notWritable", "inconsistentName"]
KNOWN_OIDS = {
    "1.3.6.1.6.3.15.1.1.1.0": "usmStatsUnsupportedSecLevels",
    "1.3.6.1.6.3.15.1.1.2.0": "usmStatsNotInTimeWindows",
    "1.3.6.1.6.3.15.1.1.3.0": "usmStatsUnknownUserNames",
    "1.3.6.1.6.3.15.1.1.4.0": "usmStatsUnknownEngineIDs",
    "1.3.6.1.6.3.15.1.1.5.0": "usmStatsWrongDigests",
    "1.3.6.1.6.3.15.1.1.6.0": "usmStatsDecryptionErrors",
    "1.3.6.1.6.3.12.1.4.0": "snmpUnknownContexts",
    "1.3.6.1.6.3.11.2.1.3.0": "snmpUnknownPDUHandlers",
}


class BERError(Exception):
    pass


def ber_tlv(buf: bytes, pos: int) -> tuple[int, bytes, int]:
    if pos + 2 > len(buf):
        raise BERError("truncated")
    tag = buf[pos]
    ln = buf[pos + 1]
    pos += 2
    if ln & 0x80:
        n = ln & 0x7F
        if n == 0 or n > 4 or pos + n > len(buf):
            raise BERError("bad length")
        ln = int.from_bytes(buf[pos:pos + n], "big")
        pos += n
    if pos + ln > len(buf):
        raise BERError("truncated value")
    return tag, buf[pos:pos + ln], pos + ln


def ber_seq(content: bytes) -> list[tuple[int, bytes]]:
    out, pos = [], 0
    while pos < len(content):
        tag, val, pos = ber_tlv(content, pos)
        out.append((tag, val))
    return out


def ber_int(v: bytes) -> int:
    return int.from_bytes(v, "big", signed=True) if v else 0


def ber_oid(v: bytes) -> str:
    if not v:
        return ""
    arcs, cur = [], 0
    for b in v:
        cur = (cur << 7) | (b & 0x7F)
        if not b & 0x80:
            arcs.append(cur)
            cur = 0
    first = arcs[0]
    head = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    return ".".join(str(a) for a in head + arcs[1:])


def show_value(tag: int, v: bytes) -> str:
    name = TYPE_NAMES.get(tag, f"tag0x{tag:02x}")
    if tag in (0x02,):
        return f"{name} {ber_int(v)}"
    if tag in (0x41, 0x42, 0x43, 0x46):
        return f"{name} {int.from_bytes(v, 'big')}"
    if tag == 0x04:
        try:
            s = v.decode("ascii")
            if all(32 <= ord(c) < 127 for c in s):
                return f'{name} "{s}"'
        except UnicodeDecodeError:
            pass
        return f"{name} 0x{v.hex()}"
    if tag == 0x06:
        return f"{name} {ber_oid(v)}"
    if tag == 0x40:
        return f"{name} {'.'.join(str(b) for b in v)}"
    return name


def show_varbinds(content: bytes) -> list[str]:
    out = []
    for _, vb in ber_seq(content):
        parts = ber_seq(vb)
        oid = ber_oid(parts[0][1])
        label = KNOWN_OIDS.get(oid)
        oid_s = f"{oid} ({label})" if label else oid
        out.append(f"{oid_s} = {show_value(parts[1][0], parts[1][1])}")
    return out


def decode_pdu(tag: int, content: bytes) -> dict:
    d = {"pdu": PDU_NAMES.get(tag, f"pdu0x{tag:02x}"), "tag": tag}
    items = ber_seq(content)
    if tag == 0xA4:
        d["enterprise"] = ber_oid(items[0][1])
        d["agent_addr"] = ".".join(str(b) for b in items[1][1])
        d["generic"] = ber_int(items[2][1])
        d["specific"] = ber_int(items[3][1])
        d["timestamp"] = int.from_bytes(items[4][1], "big")
        d["varbinds"] = show_varbinds(items[5][1])
        return d
    d["request_id"] = ber_int(items[0][1])
    if tag == 0xA5:
        d["non_repeaters"] = ber_int(items[1][1])
        d["max_repetitions"] = ber_int(items[2][1])
    else:
        es = ber_int(items[1][1])
        d["error_status"] = ERRORS[es] if 0 <= es < len(ERRORS) else str(es)
        d["error_status_code"] = es
        d["error_index"] = ber_int(items[2][1])
    d["varbinds"] = show_varbinds(items[3][1])
    return d


def decode_message(buf: bytes) -> dict:
    """Best-effort decode; returns dict with at least 'summary'."""
    try:
        tag, content, end = ber_tlv(buf, 0)
        if tag != 0x30 or end != len(buf):
            raise BERError("not a single SEQUENCE")
        items = ber_seq(content)
        version = ber_int(items[0][1])
        if version in (0, 1):
            d = {"version": "v1" if version == 0 else "v2c",
                 "community": items[1][1].decode("latin-1")}
            d.update(decode_pdu(items[2][0], items[2][1]))
        elif version == 3:
            hdr = ber_seq(items[1][1])
            flags = hdr[2][1][0] if hdr[2][1] else 0
            sp = ber_seq(ber_tlv(items[2][1], 0)[1])
            d = {"version": "v3", "msg_id": ber_int(hdr[0][1]),
                 "max_size": ber_int(hdr[1][1]), "flags": flags,
                 "security_model": ber_int(hdr[3][1]),
                 "engine_id": sp[0][1].hex(), "engine_boots": ber_int(sp[1][1]),
                 "engine_time": ber_int(sp[2][1]),
                 "user": sp[3][1].decode("latin-1"),
                 "auth_params": sp[4][1], "priv_params": sp[5][1]}
            if items[3][0] == 0x04:
                d["encrypted"] = True
                d["pdu"] = "encrypted scopedPDU"
            else:
                sc = ber_seq(items[3][1])
                d["context_engine_id"] = sc[0][1].hex()
                d["context_name"] = sc[1][1].decode("latin-1")
                d.update(decode_pdu(sc[2][0], sc[2][1]))
        else:
            raise BERError(f"unknown version {version}")
    except (BERError, IndexError, ValueError) as e:
        return {"summary": f"undecodable ({e})", "pdu": "?"}
    d["summary"] = summarize(d)
    return d


def summarize(d: dict) -> str:
    s = f"SNMP{d['version']} "
    if d["version"] == "v3":
        lvl = {0: "noAuthNoPriv", 1: "authNoPriv", 3: "authPriv"}.get(d["flags"] & 3, "?")
        rep = ",reportable" if d["flags"] & 4 else ""
        s += (f"[{lvl}{rep} msgID={d['msg_id']} engineID={d['engine_id'] or '(empty)'} "
              f"boots={d['engine_boots']} time={d['engine_time']} user={d['user'] or '(empty)'}")
        if "context_name" in d:
            s += f" contextName={d['context_name']!r}"
        s += "] "
    else:
        s += f"community={d['community']} "
    s += d["pdu"]
    if d.get("encrypted"):
        return s
    if d["tag"] == 0xA4:
        s += (f" enterprise={d['enterprise']} agent-addr={d['agent_addr']} generic={d['generic']}"
              f" specific={d['specific']} time-stamp={d['timestamp']}")
    elif d["tag"] == 0xA5:
        s += f" reqid={d['request_id']} non-repeaters={d['non_repeaters']} max-repetitions={d['max_repetitions']}"
    else:
        s += f" reqid={d['request_id']} error-status={d['error_status']}({d['error_status_code']}) error-index={d['error_index']}"
    return s


# --------------------------------------------------------------------------
# UDP relay


@dataclass
class Datagram:
    scenario: str
    direction: str        # "to-daemon" or "from-daemon"
    target: str           # "agent" or "trapd"
    data: bytes
    t: float


class Relay(threading.Thread):
    """Forwards datagrams: tool -> listen port -> daemon, daemon -> tool."""

    def __init__(self, targets: dict[str, int]):
        super().__init__(daemon=True)
        self.lock = threading.Lock()
        self.scenario = "(none)"
        self.records: list[Datagram] = []
        self.stop_ev = threading.Event()
        self.listen: dict[str, socket.socket] = {}
        self.ports: dict[str, int] = {}
        self.dest: dict[str, tuple[str, int]] = {}
        # upstream socket -> (target name, client address)
        self.up: dict[socket.socket, tuple[str, tuple[str, int]]] = {}
        self.up_by_client: dict[tuple[str, tuple[str, int]], socket.socket] = {}
        for name, port in targets.items():
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))
            self.listen[name] = s
            self.ports[name] = s.getsockname()[1]
            self.dest[name] = ("127.0.0.1", port)

    def set_scenario(self, name: str) -> None:
        with self.lock:
            self.scenario = name

    def _record(self, direction: str, target: str, data: bytes) -> None:
        with self.lock:
            self.records.append(Datagram(self.scenario, direction, target, data, time.time()))

    def run(self) -> None:
        while not self.stop_ev.is_set():
            socks = list(self.listen.values()) + list(self.up.keys())
            r, _, _ = select.select(socks, [], [], 0.1)
            for s in r:
                try:
                    data, addr = s.recvfrom(65535)
                except OSError:
                    continue
                if s in self.up:
                    target, client = self.up[s]
                    self._record("from-daemon", target, data)
                    self.listen[target].sendto(data, client)
                    continue
                target = next(n for n, ls in self.listen.items() if ls is s)
                key = (target, addr)
                u = self.up_by_client.get(key)
                if u is None:
                    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    u.bind(("127.0.0.1", 0))
                    self.up[u] = key
                    self.up_by_client[key] = u
                self._record("to-daemon", target, data)
                u.sendto(data, self.dest[target])

    def close(self) -> None:
        self.stop_ev.set()
        self.join(timeout=5)
        for s in list(self.listen.values()) + list(self.up.keys()):
            s.close()


# --------------------------------------------------------------------------
# daemons


class Daemon:
    def __init__(self, name: str, argv: list[str], log: str, env: dict[str, str]):
        self.name, self.argv, self.log, self.env = name, argv, log, env
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(self.argv, env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + DEADLINE_START
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.read_log()}")
            if "NET-SNMP version" in self.read_log():
                time.sleep(0.2)
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start within {DEADLINE_START}s:\n{self.read_log()}")

    def read_log(self) -> str:
        try:
            with open(self.log, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)


# --------------------------------------------------------------------------
# scenarios


@dataclass
class Scenario:
    name: str
    target: str                  # "agent" or "trapd"
    argv: list[str]              # "{PORT}" is replaced by the relay port
    note: str = ""
    v3_user: str | None = None
    names: list[str] | None = None  # explicit file names, in datagram order
    expect_reply: bool = True
    outputs: list[tuple[str, Datagram, dict]] = field(default_factory=list)
    stdout: str = ""
    rc: int | None = None


COMMON = ["-On", "-r", "0", "-t", "3"]   # numeric OIDs, no retransmissions, 3 s timeout
A = "127.0.0.1:{PORT}"


def scenarios(engine_hex: str) -> list[Scenario]:
    e = "0x" + engine_hex
    v1 = ["-v1", "-c", "public"]
    v2 = ["-v2c", "-c", "public"]
    return [
        Scenario("get-v1", "agent", ["snmpget", *v1, *COMMON, A,
                 "1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.3.0"]),
        Scenario("get-v2c", "agent", ["snmpget", *v2, *COMMON, A,
                 "1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.3.0", "1.3.6.1.2.1.1.4.0", "1.3.6.1.2.1.1.6.0"]),
        Scenario("get-v2c-missing", "agent", ["snmpget", *v2, *COMMON, A,
                 "1.3.6.1.2.1.1.99.0", "1.3.6.1.2.1.1.1.99"]),
        Scenario("get-v1-missing", "agent", ["snmpget", *v1, *COMMON, A, "1.3.6.1.2.1.1.99.0"],
                 note="v1 Response with error-status noSuchName, error-index 1, varbinds echoed; "
                      "with a single varbind snmpget has nothing left to retry"),
        Scenario("get-v1-missing-fixup", "agent", ["snmpget", *v1, *COMMON, A,
                 "1.3.6.1.2.1.1.99.0", "1.3.6.1.2.1.1.4.0"],
                 note="v1 noSuchName on the first of two varbinds; snmpget re-sends "
                      "the request without the failing varbind (PDU fix-up)"),
        Scenario("getnext-v2c", "agent", ["snmpgetnext", *v2, *COMMON, A,
                 "1.3.6.1.2.1.1", "1.3.6.1.2.1.2.2.1.1"]),
        Scenario("getnext-v2c-end", "agent", ["snmpgetnext", *v2, *COMMON, A, "1.3.6.1.6.3.999"]),
        Scenario("getbulk-v2c", "agent", ["snmpbulkget", *v2, *COMMON, "-Cn1", "-Cr10", A,
                 "1.3.6.1.2.1.1.3", "1.3.6.1.2.1.2.2.1.2", "1.3.6.1.2.1.2.2.1.10"]),
        Scenario("getbulk-v2c-counter64", "agent", ["snmpbulkget", *v2, *COMMON, "-Cn0", "-Cr5", A,
                 "1.3.6.1.2.1.31.1.1.1.6"]),
        Scenario("getnext-v2c-ipaddress", "agent", ["snmpgetnext", *v2, *COMMON, A,
                 "1.3.6.1.2.1.4.20.1.1"]),
        Scenario("get-v2c-oid-gauge", "agent", ["snmpget", *v2, *COMMON, A,
                 "1.3.6.1.2.1.1.2.0", "1.3.6.1.2.1.2.2.1.5.1"]),
        Scenario("set-v2c", "agent", ["snmpset", "-v2c", "-c", "private", *COMMON, A,
                 "1.3.6.1.2.1.1.5.0", "s", "fixture-name"]),
        Scenario("set-v2c-notwritable", "agent", ["snmpset", "-v2c", "-c", "private", *COMMON, A,
                 "1.3.6.1.2.1.1.1.0", "s", "new-descr"],
                 note="v2c error-status notWritable(17), error-index 1"),
        Scenario("set-v1-readonly", "agent", ["snmpset", "-v1", "-c", "private", *COMMON, A,
                 "1.3.6.1.2.1.1.1.0", "s", "new-descr"],
                 note="snmpd maps notWritable to the v1 error noSuchName(2) (RFC 2576 4.3), "
                      "not readOnly(4)"),
        Scenario("trap-v1", "trapd", ["snmptrap", *v1, "-On", A, "1.3.6.1.4.1.8072.2.3",
                 "127.0.0.1", "6", "17", "", "1.3.6.1.2.1.1.5.0", "s", "trap-test"],
                 expect_reply=False, note="one-way, no reply"),
        Scenario("trap-v1-generic", "trapd", ["snmptrap", *v1, "-On", A, "", "127.0.0.1",
                 "2", "0", "", "1.3.6.1.2.1.2.2.1.1.3", "i", "3"], expect_reply=False,
                 note="enterprise '' makes snmptrap use its default enterprise 1.3.6.1.4.1.3.1.1; "
                      "time-stamp '' is the sending host's uptime; one-way, no reply"),
        Scenario("trap-v2c", "trapd", ["snmptrap", *v2, "-On", A, "", "1.3.6.1.6.3.1.1.5.3",
                 "1.3.6.1.2.1.2.2.1.1.3", "i", "3", "1.3.6.1.2.1.1.5.0", "s", "hello"],
                 expect_reply=False, note="one-way, no reply; snmptrap prepends sysUpTime.0 and "
                                          "snmpTrapOID.0"),
        Scenario("inform-v2c", "trapd", ["snmpinform", *v2, *COMMON, A, "", "1.3.6.1.6.3.1.1.5.3",
                 "1.3.6.1.2.1.2.2.1.1.3", "i", "3", "1.3.6.1.2.1.1.5.0", "s", "hello"]),
        Scenario("v3-authpriv", "agent", ["snmpget", "-v3", "-l", "authPriv", "-u", "fixuser",
                 "-a", "SHA-256", "-A", "authpass123", "-x", "AES", "-X", "privpass123",
                 *COMMON, A, "1.3.6.1.2.1.1.1.0"], v3_user="fixuser",
                 note="engine-id discovery (noAuthNoPriv, empty engine id and user -> "
                      "usmStatsUnknownEngineIDs Report carrying boots/time), then the encrypted get",
                 names=["v3-discovery-request", "v3-discovery-report",
                        "v3-authpriv-get-request", "v3-authpriv-get-response"]),
        Scenario("v3-unknown-user", "agent", ["snmpget", "-v3", "-l", "noAuthNoPriv", "-u",
                 "nosuchuser", "-e", e, *COMMON, A, "1.3.6.1.2.1.1.1.0"]),
        Scenario("v3-authnopriv", "agent", ["snmpget", "-v3", "-l", "authNoPriv", "-u", "fixuser2",
                 "-a", "SHA", "-A", "authpass123", "-e", e, *COMMON, A, "1.3.6.1.2.1.1.1.0"],
                 v3_user="fixuser2",
                 note="-e skips engine-id discovery, so the first authenticated request carries "
                      "boots=0 time=0 and snmpd answers with a usmStatsNotInTimeWindows Report "
                      "(time synchronisation); snmpget then re-sends with the agent's boots/time"),
        Scenario("v3-noauth", "agent", ["snmpget", "-v3", "-l", "noAuthNoPriv", "-u", "fixuser3",
                 "-e", e, "-n", "", *COMMON, A, "1.3.6.1.2.1.1.1.0"], v3_user="fixuser3",
                 note="plaintext scopedPDU, default (empty) context"),
        Scenario("v3-noauth-context", "agent", ["snmpget", "-v3", "-l", "noAuthNoPriv", "-u",
                 "fixuser3", "-e", e, "-n", "somecontext", *COMMON, A, "1.3.6.1.2.1.1.1.0"],
                 v3_user="fixuser3",
                 note="snmpd parses the request but sends nothing back for an unknown context "
                      "(it only increments snmpUnknownContexts, as RFC 3413 3.2 step 5 says); "
                      "only the request exists, snmpget times out"),
    ]


def kind_of(dg: Datagram, dec: dict) -> str:
    tag = dec.get("tag")
    if dg.direction == "to-daemon":
        if tag in (0xA4, 0xA7):
            return "notification"
        return "request"
    if tag == 0xA8:
        return "report"
    return "response"


def assign_names(sc: Scenario, dgs: list[Datagram]) -> list[tuple[str, Datagram, dict]]:
    decoded = [decode_message(d.data) for d in dgs]
    if sc.names and len(sc.names) == len(dgs):
        return [(n, d, dec) for n, d, dec in zip(sc.names, dgs, decoded)]
    if sc.names:
        print(f"  note: {sc.name}: {len(dgs)} datagrams, expected {len(sc.names)}; "
              "using generic names", file=sys.stderr)
    kinds = [kind_of(d, dec) for d, dec in zip(dgs, decoded)]
    total = {k: kinds.count(k) for k in set(kinds)}
    seen: dict[str, int] = {}
    out = []
    for k, d, dec in zip(kinds, dgs, decoded):
        seen[k] = seen.get(k, 0) + 1
        name = f"{sc.name}-{k}" if total[k] == 1 else f"{sc.name}-{k}-{seen[k]}"
        out.append((name, d, dec))
    return out


# --------------------------------------------------------------------------
# output


def hex_lines(data: bytes) -> list[str]:
    h = data.hex()
    return [h[i:i + 64] for i in range(0, len(h), 64)]


def direction_text(dg: Datagram) -> str:
    if dg.target == "agent":
        return ("manager -> agent (Net-SNMP tool -> snmpd)" if dg.direction == "to-daemon"
                else "agent -> manager (snmpd -> Net-SNMP tool)")
    return ("notification originator -> receiver (Net-SNMP tool -> snmptrapd)"
            if dg.direction == "to-daemon"
            else "receiver -> notification originator (snmptrapd -> Net-SNMP tool)")


def command_text(sc: Scenario) -> str:
    return "MIBS= " + " ".join(shlex.quote(a.replace("{PORT}", "PORT")) for a in sc.argv)


def write_fixture(path: str, sc: Scenario, idx: int, total: int, dg: Datagram, dec: dict,
                  versions: dict[str, str], date: str) -> None:
    tool = sc.argv[0]
    daemon = "snmpd" if sc.target == "agent" else "snmptrapd"
    lines = [
        f"# snmpwarden SNMP wire fixture: {os.path.basename(path)}",
        GENERATED_MARK,
        f"# scenario: {sc.name} (datagram {idx} of {total} captured for this command)",
        f"# command: {command_text(sc)}",
        f"# direction: {direction_text(dg)}",
        f"# peers: {tool} (Net-SNMP {versions['tools']}) <-> {daemon} (Net-SNMP {versions['daemons']})",
        "# transport: UDP over 127.0.0.1, captured by an in-process relay (payload only)",
        f"# captured: {date}",
        f"# length: {len(dg.data)} bytes",
        f"# decoded: {dec['summary']}",
    ]
    for vb in dec.get("varbinds", []):
        lines.append(f"#   varbind: {vb}")
    if sc.note:
        lines.append(f"# note: {sc.note}")
    if sc.v3_user:
        lines += usm_header(sc.v3_user, dg, dec)
    lines += hex_lines(dg.data)
    with open(path, "w", encoding="ascii") as f:
        f.write("\n".join(lines) + "\n")


def usm_header(user: str, dg: Datagram, dec: dict) -> list[str]:
    u = USERS[user]
    keys = usm_keys(user)
    lines = [
        f"# usm-user: {user} (securityLevel {u['level']})",
        f"# usm-auth: {u['auth']} password {u['auth_pass']!r}" if u["auth_pass"] else "# usm-auth: none",
        f"# usm-priv: {u['priv']} password {u['priv_pass']!r}" if u["priv_pass"] else "# usm-priv: none",
        f"# agent-engine-id: {ENGINE_ID_HEX} (snmpd.conf: engineID {ENGINE_ID_TEXT})",
    ]
    if "auth" in keys:
        lines.append(f"# usm-auth-key-localized: {keys['auth'].hex()}")
    if "priv" in keys:
        lines.append(f"# usm-priv-key-localized: {keys['priv'].hex()} "
                     "(password-to-key with the auth hash, truncated to 16 bytes)")
    ap = dec.get("auth_params", b"")
    if ap:
        alg, n = AUTH_ALGS[u["auth"]]
        pos = dg.data.find(ap)
        if pos < 0 or dg.data.find(ap, pos + 1) >= 0:
            ok = "could not locate msgAuthenticationParameters uniquely"
        else:
            zeroed = dg.data[:pos] + bytes(len(ap)) + dg.data[pos + len(ap):]
            mac = hmac.new(keys["auth"], zeroed, alg).digest()[:n]
            ok = "verified" if mac == ap else f"MISMATCH (computed {mac.hex()})"
        lines.append(f"# usm-msgAuthenticationParameters: {ap.hex()} (HMAC-{alg.upper()} "
                     f"truncated to {n} bytes over the message with this field zeroed: {ok})")
    pp = dec.get("priv_params", b"")
    if pp and dec.get("encrypted"):
        iv = (dec["engine_boots"].to_bytes(4, "big") + dec["engine_time"].to_bytes(4, "big") + pp)
        lines.append(f"# usm-msgPrivacyParameters (salt): {pp.hex()}")
        lines.append(f"# usm-aes-cfb128-iv: {iv.hex()} (engineBoots(4) || engineTime(4) || salt(8))")
        try:
            tag, content, _ = ber_tlv(dg.data, 0)
            ct = ber_seq(content)[3][1]
            pt = aes128_cfb_decrypt(keys["priv"], iv, ct)
            _, sc_body, end = ber_tlv(pt, 0)
            sc = ber_seq(sc_body)
            pdu = decode_pdu(sc[2][0], sc[2][1])
            lines.append(f"# usm-decrypted-scopedPDU: contextEngineID={sc[0][1].hex()} "
                         f"contextName={sc[1][1].decode('latin-1')!r} {pdu['pdu']} "
                         f"reqid={pdu['request_id']} error-status={pdu.get('error_status')}"
                         f" ({len(pt)} bytes, {len(pt) - end} trailing)")
            for vb in pdu["varbinds"]:
                lines.append(f"#   decrypted varbind: {vb}")
            lines.append("# usm-decrypted-scopedPDU-hex (comment only, not part of the datagram):")
            lines += ["#   " + h for h in hex_lines(pt)]
            dec["decrypted"] = pdu
        except (BERError, IndexError, ValueError) as e:
            lines.append(f"# usm-decrypted-scopedPDU: decryption failed ({e})")
    return lines


def check_persisted_keys(persist: str) -> None:
    """Cross-check our key derivation against what snmpd persisted."""
    try:
        with open(os.path.join(persist, "snmpd.conf"), encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        print("warning: snmpd persistent file not found; key cross-check skipped", file=sys.stderr)
        return
    for user in USERS:
        keys = usm_keys(user)
        m = re.search(rf'^usmUser \S+ \S+ \S+ "{user}" .*$', text, re.M)
        if not m:
            continue
        line = m.group(0)
        for k, v in keys.items():
            if "0x" + v.hex() not in line:
                print(f"warning: {user} {k} key differs from snmpd's persisted key", file=sys.stderr)
            else:
                print(f"ok: {user} localized {k} key matches snmpd's persisted key", file=sys.stderr)


def clean_old_fixtures() -> None:
    os.makedirs(FIXTURES, exist_ok=True)
    for fn in os.listdir(FIXTURES):
        if not fn.endswith(".hex"):
            continue
        p = os.path.join(FIXTURES, fn)
        with open(p, encoding="ascii", errors="replace") as f:
            if GENERATED_MARK in f.read(4096):
                os.remove(p)


def write_readme(scs: list[Scenario], versions: dict[str, str], date: str) -> None:
    out = [
        "# SNMP wire fixtures",
        "",
        "Real SNMP datagrams exchanged on 127.0.0.1 between the Net-SNMP "
        f"{versions['tools']} command-line tools and a private `snmpd` / `snmptrapd` "
        f"(Net-SNMP {versions['daemons']}), captured by a UDP relay in "
        "`scripts/capture-fixtures.py`. Captured: " + date + ".",
        "",
        "## Format",
        "",
        "One datagram (the UDP payload, i.e. one BER-encoded SNMP message) per file. "
        "Lines starting with `#` are comments (command, direction, peers, date, a decoded "
        "summary, and for SNMPv3 the USM user, protocols, passwords and the agent's engine id). "
        "All other lines are lowercase hex digits, 32 bytes per line; concatenate them.",
        "",
        "## Regenerate",
        "",
        "```sh",
        "python3 scripts/capture-fixtures.py",
        "```",
        "",
        "Needs `snmpd`, `snmptrapd` and the Net-SNMP tools (Debian/Ubuntu: `apt-get install snmp snmpd "
        "snmptrapd`). Everything runs on free loopback ports with configuration and persistent "
        "state in a temporary directory. Request IDs, msgIDs, sysUpTime/time-stamps, interface "
        "counters, engineBoots/engineTime, salts and HMACs change on every run.",
        "",
        "## Agent setup",
        "",
        f"* `engineID {ENGINE_ID_TEXT}` -> snmpEngineID `{ENGINE_ID_HEX}`",
        "* communities: `public` (read-only), `private` (read-write), from 127.0.0.1",
        f"* `sysDescr {SYS_DESCR}`, `sysContact ops@example.net`, `sysLocation lab-rack-1`; "
        "sysName is not configured, so it is writable (`set-v2c`)",
        "* USM users: `fixuser` SHA-256/`authpass123` + AES-128/`privpass123` (authPriv); "
        "`fixuser2` SHA-1 (HMAC-SHA-96)/`authpass123` (authNoPriv); `fixuser3` (noAuthNoPriv)",
        "* snmptrapd: `authCommunity log,execute,net public`, `disableAuthorization yes`",
        "* localized USM keys (engine id above; cross-checked against snmpd's persistent usmUser rows): "
        + "; ".join(f"`{u}` {k} `{v.hex()}`" for u in USERS for k, v in usm_keys(u).items()),
        "",
        "All commands run with `MIBS=` (no MIB files) and numeric OIDs; `PORT` stands for the relay port.",
        "",
        "## Files",
        "",
    ]
    for sc in scs:
        out.append(f"### {sc.name}")
        out.append("")
        out.append(f"`{command_text(sc)}`")
        out.append("")
        if sc.note:
            out.append(f"Note: {sc.note}.")
            out.append("")
        if not sc.outputs:
            out.append("No datagrams captured.")
            out.append("")
            continue
        for name, dg, dec in sc.outputs:
            arrow = "->" if dg.direction == "to-daemon" else "<-"
            out.append(f"* `{name}.hex` ({arrow} {len(dg.data)} bytes): {dec['summary']}")
            for vb in dec.get("varbinds", []):
                out.append(f"  * {vb}")
            if "decrypted" in dec:
                p = dec["decrypted"]
                out.append(f"  * decrypted: {p['pdu']} reqid={p['request_id']} "
                           f"error-status={p.get('error_status')}")
                for vb in p["varbinds"]:
                    out.append(f"  * {vb}")
        if sc.expect_reply and all(d.direction == "to-daemon" for _, d, _ in sc.outputs):
            out.append("* (no reply: the daemon did not answer; the tool timed out)")
        out.append("")
    with open(os.path.join(FIXTURES, "README.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(out))


# --------------------------------------------------------------------------
# main


def main() -> int:
    versions = {"tools": tool_version("snmpget"), "daemons": daemon_version(SNMPD)}
    date = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    tmp = tempfile.mkdtemp(prefix="snmpwarden-capture-")
    persist = os.path.join(tmp, "persist")
    confdir = os.path.join(tmp, "conf")
    os.makedirs(persist)
    os.makedirs(confdir)
    env = dict(os.environ)
    env.update(MIBS="", MIBDIRS=confdir, SNMPCONFPATH=confdir, SNMP_PERSISTENT_DIR=persist)
    env.pop("SNMP_PERSISTENT_FILE", None)

    agent_port, trapd_port = free_udp_port(), free_udp_port()
    snmpd_conf = os.path.join(tmp, "snmpd.conf")
    with open(snmpd_conf, "w") as f:
        f.write(f"""\
[snmp] persistentDir {persist}
agentAddress udp:127.0.0.1:{agent_port}
rocommunity public 127.0.0.1
rwcommunity private 127.0.0.1
engineID {ENGINE_ID_TEXT}
createUser fixuser SHA-256 "authpass123" AES "privpass123"
createUser fixuser2 SHA "authpass123"
createUser fixuser3
rouser fixuser priv
rouser fixuser2 auth
rouser fixuser3 noauth
sysDescr {SYS_DESCR}
sysContact ops@example.net
sysLocation lab-rack-1
""")
    trapd_conf = os.path.join(tmp, "snmptrapd.conf")
    with open(trapd_conf, "w") as f:
        f.write(f"""\
[snmp] persistentDir {persist}
authCommunity log,execute,net public
disableAuthorization yes
""")

    snmpd = Daemon("snmpd", [SNMPD, "-f", "-C", "-c", snmpd_conf, "-Lf",
                             os.path.join(tmp, "snmpd.log")], os.path.join(tmp, "snmpd.log"), env)
    trapd = Daemon("snmptrapd", [SNMPTRAPD, "-f", "-C", "-c", trapd_conf, "-n", "-Lf",
                                 os.path.join(tmp, "snmptrapd.log"), f"udp:127.0.0.1:{trapd_port}"],
                   os.path.join(tmp, "snmptrapd.log"), env)
    relay = Relay({"agent": agent_port, "trapd": trapd_port})
    ok = True
    try:
        snmpd.start()
        trapd.start()
        relay.start()
        print(f"tmp={tmp} snmpd pid={snmpd.proc.pid} port={agent_port} "
              f"snmptrapd pid={trapd.proc.pid} port={trapd_port} relay={relay.ports}",
              file=sys.stderr)
        scs = scenarios(ENGINE_ID_HEX)
        for sc in scs:
            port = relay.ports[sc.target]
            argv = [a.replace("{PORT}", str(port)) for a in sc.argv]
            relay.set_scenario(sc.name)
            try:
                p = subprocess.run(argv, env=env, capture_output=True, text=True,
                                   timeout=DEADLINE_CMD)
                sc.rc, sc.stdout = p.returncode, (p.stdout + p.stderr).strip()
            except subprocess.TimeoutExpired:
                sc.rc, sc.stdout = None, "(timed out)"
            time.sleep(SETTLE)
            relay.set_scenario("(none)")
            with relay.lock:
                dgs = [d for d in relay.records if d.scenario == sc.name]
            sc.outputs = assign_names(sc, dgs)
            print(f"== {sc.name}: rc={sc.rc}, {len(dgs)} datagrams\n   "
                  + sc.stdout.replace("\n", "\n   "), file=sys.stderr)
            if not dgs:
                ok = False
        stray = [d for d in relay.records if d.scenario == "(none)"]
        if stray:
            print(f"warning: {len(stray)} datagrams arrived outside any scenario", file=sys.stderr)
    except Exception:
        print("snmpd log:\n" + snmpd.read_log(), file=sys.stderr)
        print("snmptrapd log:\n" + trapd.read_log(), file=sys.stderr)
        raise
    finally:
        relay.close() if relay.is_alive() else None
        trapd.stop()
        snmpd.stop()
    check_persisted_keys(persist)   # snmpd writes its persistent file on shutdown

    clean_old_fixtures()
    count = 0
    for sc in scs:
        for i, (name, dg, dec) in enumerate(sc.outputs, 1):
            write_fixture(os.path.join(FIXTURES, name + ".hex"), sc, i, len(sc.outputs), dg, dec,
                          versions, date)
            count += 1
    write_readme(scs, versions, date)
    if os.environ.get("CAPTURE_KEEP_TMP"):
        print(f"kept {tmp}", file=sys.stderr)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"wrote {count} fixture files to {FIXTURES}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
