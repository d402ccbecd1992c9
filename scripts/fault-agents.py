#!/usr/bin/env python3
"""Misbehaving SNMP agents for the fault mode of scripts/soak.sh (loopback, v1/v2c requests).

    fault-agents.py garbage PORT COMMUNITY LIFETIME
        Answers every request with junk, one datagram per request, chosen at random: random bytes,
        a truncated Response, a Response with a neighbouring request-id (likely pending on the same
        gateway socket for another agent), with the wrong community, with the wrong number of
        varbinds, a request PDU instead of a Response, an oversized datagram, or a correct Response
        sent from another port. Never a datagram the gateway should accept.

    fault-agents.py slow PORT UPSTREAM_PORT DELAY_MS LIFETIME
        Relays each request to the agent at 127.0.0.1:UPSTREAM_PORT DELAY_MS after it arrived, and
        its answer back at once: every answer comes DELAY_MS late.

Both stop by themselves after LIFETIME seconds and print what they did to stderr at the end.

    fault-agents.py sample LABEL=PID[:PORT] ...
        One line: LABEL=N for each process, N the datagrams the kernel dropped on the UDP sockets it
        holds (/proc/net/udp's drops: a full receive buffer), and LABEL.cpu=S, its CPU seconds so
        far. With :PORT, two drop figures: LABEL:PORT for the socket bound to that port and
        LABEL:other for the rest.

A neighbouring request-id is one below the request's (1 to 32 below) that this agent was not sent
from that address in the last 10 s: ids on one gateway socket are given in increasing order, so
such an id is pending for another agent on that socket, or for nothing. (Unless a request to this
agent was lost before it read it: then the gateway may take the answer for it. Such an answer
names other objects than were asked, so the manager sees a mismatch, never a valid answer.)

FAULT_KINDS=wrong-port,oversized (say) restricts the garbage agent to those kinds.
"""
import heapq
import os
import random
import selectors
import signal
import socket
import sys
import time


# --- BER, just enough for community messages --------------------------------------------------

def read_tlv(data, offset):
    """(tag, value start, value end) of the TLV at offset; raises ValueError if it does not fit."""
    if offset + 2 > len(data):
        raise ValueError("short")
    tag = data[offset]
    length = data[offset + 1]
    offset += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or offset + count > len(data):
            raise ValueError("length")
        length = int.from_bytes(data[offset:offset + count], "big")
        offset += count
    if offset + length > len(data):
        raise ValueError("overrun")
    return tag, offset, offset + length


def tlv(tag, value):
    n = len(value)
    if n < 0x80:
        head = bytes([tag, n])
    else:
        octets = n.to_bytes((n.bit_length() + 7) // 8, "big")
        head = bytes([tag, 0x80 | len(octets)]) + octets
    return head + value


def integer(value):
    return tlv(0x02, value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big", signed=True))


def parse_request(data):
    """(version, community, request-id, [encoded OID TLVs]) of a v1/v2c request."""
    tag, start, _ = read_tlv(data, 0)
    if tag != 0x30:
        raise ValueError("not a sequence")
    _, vs, ve = read_tlv(data, start)
    version = int.from_bytes(data[vs:ve], "big", signed=True)
    _, cs, ce = read_tlv(data, ve)
    community = bytes(data[cs:ce])
    _, ps, _ = read_tlv(data, ce)  # the PDU
    _, rs, rend = read_tlv(data, ps)
    request_id = int.from_bytes(data[rs:rend], "big", signed=True)
    _, _, offset = read_tlv(data, rend)  # error-status
    _, _, offset = read_tlv(data, offset)  # error-index
    _, offset, end = read_tlv(data, offset)  # the varbind list
    oids = []
    while offset < end:
        _, vbs, vbe = read_tlv(data, offset)
        _, _, oid_end = read_tlv(data, vbs)
        oids.append(bytes(data[vbs:oid_end]))
        offset = vbe
    return version, community, request_id, oids


def message(version, community, request_id, oids, pdu_tag=0xA2, value=None):
    value = value if value is not None else tlv(0x04, b"garbage")
    varbinds = b"".join(tlv(0x30, oid + value) for oid in oids)
    pdu = tlv(pdu_tag, integer(request_id) + integer(0) + integer(0) + tlv(0x30, varbinds))
    return tlv(0x30, integer(version) + tlv(0x04, community) + pdu)


# --- The agents ------------------------------------------------------------------------------

KINDS = [  # (name, weight)
    ("random-bytes", 15), ("truncated", 15), ("neighbour-id", 20), ("wrong-community", 15),
    ("wrong-varbind-count", 10), ("not-a-response", 10), ("wrong-port", 10), ("oversized", 5),
]


def garbage(port, community, lifetime):
    rng = random.Random(os.getpid())
    only = os.environ.get("FAULT_KINDS", "").split(",") if os.environ.get("FAULT_KINDS") else None
    names = [name for name, _ in KINDS if only is None or name in only]
    weights = [weight for name, weight in KINDS if name in names]
    listen = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listen.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    listen.bind(("127.0.0.1", port))
    listen.settimeout(0.5)
    other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other.bind(("127.0.0.1", 0))
    counts = {name: 0 for name in names}
    counts["unparsed-request"] = 0
    end = time.monotonic() + lifetime
    try:
        serve_garbage(listen, other, community, rng, names, weights, counts, end)
    finally:
        print("garbage agent:", " ".join(f"{k}={v}" for k, v in counts.items()), file=sys.stderr, flush=True)


def serve_garbage(listen, other, community, rng, names, weights, counts, end):
    seen = {}  # gateway address -> {request-id: when it came}
    next_purge = 0
    while time.monotonic() < end:
        try:
            data, source = listen.recvfrom(65535)
        except socket.timeout:
            continue
        try:
            version, _, request_id, oids = parse_request(data)
        except (ValueError, IndexError):
            counts["unparsed-request"] += 1
            continue
        now = time.monotonic()
        seen.setdefault(source, {})[request_id] = now
        if now >= next_purge:
            for asked in seen.values():
                for old in [n for n, t in asked.items() if now - t > 10]:
                    del asked[old]
            next_purge = now + 1
        kind = rng.choices(names, weights)[0]
        counts[kind] += 1
        sender = listen
        if kind == "random-bytes":
            answer = rng.randbytes(rng.randint(1, 300))
        elif kind == "truncated":
            whole = message(version, community, request_id, oids)
            answer = whole[:rng.randint(1, len(whole) - 1)]
        elif kind == "neighbour-id":
            asked = seen.setdefault(source, {})
            free = [n for n in range(request_id - 32, request_id) if n > 0 and n not in asked]
            other_names = [oid[:-1] + bytes([oid[-1] ^ 1]) for oid in oids]
            answer = message(version, community, rng.choice(free) if free else request_id - 33, other_names)
        elif kind == "wrong-community":
            answer = message(version, community + b"x", request_id, oids)
        elif kind == "wrong-varbind-count":
            answer = message(version, community, request_id, oids + oids[:1] if len(oids) < 2 else oids[:-1])
        elif kind == "not-a-response":
            answer = message(version, community, request_id, oids, pdu_tag=rng.choice([0xA0, 0xA1, 0xA3, 0xA7]))
        elif kind == "wrong-port":
            answer = message(version, community, request_id, oids)
            sender = other
        else:  # oversized: a Response of the right id, too many varbinds, as big as UDP allows
            big = oids + oids[:1]
            filler = (65000 - 64 * len(big)) // len(big)
            answer = message(version, community, request_id, big, value=tlv(0x04, rng.randbytes(filler)))
        try:
            sender.sendto(answer, source)
        except OSError:
            counts.setdefault("send-errors", 0)
            counts["send-errors"] += 1


def slow(port, upstream_port, delay_ms, lifetime):
    delay = delay_ms / 1000
    selector = selectors.DefaultSelector()
    listen = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listen.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    listen.bind(("127.0.0.1", port))
    listen.setblocking(False)
    selector.register(listen, selectors.EVENT_READ, None)
    upstreams = {}  # gateway address -> socket connected to the agent
    timers = []  # (due, sequence, gateway address, datagram)
    counts = {"relayed": 0, "answered": 0}
    end = time.monotonic() + lifetime
    try:
        relay(listen, selector, upstreams, timers, upstream_port, delay, counts, end)
    finally:
        print(f"slow agent: relayed={counts['relayed']} answered={counts['answered']} delay_ms={delay_ms}",
              file=sys.stderr, flush=True)


def relay(listen, selector, upstreams, timers, upstream_port, delay, counts, end):
    sequence = 0
    while True:
        now = time.monotonic()
        if now >= end:
            break
        while timers and timers[0][0] <= now:
            _, _, source, data = heapq.heappop(timers)
            upstream = upstreams.get(source)
            if upstream is None:
                upstream = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                upstream.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
                upstream.connect(("127.0.0.1", upstream_port))
                upstream.setblocking(False)
                upstreams[source] = upstream
                selector.register(upstream, selectors.EVENT_READ, source)
            try:
                upstream.send(data)
                counts["relayed"] += 1
            except OSError:
                pass
        timeout = min(end - now, 0.5) if not timers else max(0, timers[0][0] - now)
        for key, _ in selector.select(timeout):
            sock = key.fileobj
            while True:
                try:
                    data, source = sock.recvfrom(65535)
                except (BlockingIOError, ConnectionRefusedError):
                    break
                if key.data is None:
                    sequence += 1
                    heapq.heappush(timers, (time.monotonic() + delay, sequence, source, data))
                else:
                    try:
                        listen.sendto(data, key.data)
                        counts["answered"] += 1
                    except OSError:
                        pass


def sample(pairs):
    drops = {}
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        for line in open(table).readlines()[1:]:
            fields = line.split()
            drops[fields[9]] = (int(fields[1].split(":")[1], 16), int(fields[12]))
    out = []
    for pair in pairs:
        label, _, target = pair.partition("=")
        pid, _, port = target.partition(":")
        totals = {}
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    link = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                if link.startswith("socket:[") and link[8:-1] in drops:
                    local, dropped = drops[link[8:-1]]
                    name = label if not port else f"{label}:{port}" if str(local) == port else f"{label}:other"
                    totals[name] = totals.get(name, 0) + dropped
            stat = open(f"/proc/{pid}/stat").read().rpartition(")")[2].split()
            totals[f"{label}.cpu"] = (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            continue
        out += [f"{name}={n}" for name, n in sorted(totals.items())]
    print(" ".join(out))


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if len(sys.argv) >= 2 and sys.argv[1] == "sample":
        sample(sys.argv[2:])
        sys.exit(0)
    if len(sys.argv) == 5 and sys.argv[1] == "garbage":
        garbage(int(sys.argv[2]), sys.argv[3].encode(), float(sys.argv[4]))
    elif len(sys.argv) == 6 and sys.argv[1] == "slow":
        slow(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]))
    else:
        sys.exit(__doc__)
