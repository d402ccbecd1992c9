#!/usr/bin/env bash
# Notifications per second at saturation, and CPU per notification: snmpwarden translating v2c traps
# into SNMPv3 authPriv (SHA/AES) traps, beside snmptrapd's `forward` (which relays them as they are,
# v2c, no crypto) on the same input, in the same run.
#
# A Python sender sends the same v2c trap (4 varbinds, 130 octets) as fast as it can for SECONDS;
# a Python sink counts what arrives downstream. Each relay is measured ROUNDS × 2 times in the
# order snmptrapd, snmpwarden, snmpwarden, snmptrapd, so that the VM's drift falls on both alike.
#
#   scripts/bench-notifications.sh [SECONDS] [ROUNDS]     # default 5 s, 2 rounds
#   SNMPTRAPD_LOG=1 scripts/bench-notifications.sh ...     # snmptrapd also logs each trap to a
#                                                          # file, as it does by default
#
# Needs: the Swift toolchain, `apt-get install snmp snmpd snmptrapd`, python3.
set -euo pipefail

DURATION=${1:-5}
ROUNDS=${2:-2}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
NAME=bench-notify
# shellcheck source=scripts/lib-peers.sh
source "$ROOT/scripts/lib-peers.sh"
SNMPTRAPD=${SNMPTRAPD:-/usr/sbin/snmptrapd}
TICKS=$(getconf CLK_TCK)

# The sink counts datagrams until told to stop (SIGTERM), then writes the count.
cat > "$WORK/sink.py" <<'PY'
import signal, socket, sys
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
sock.bind(("127.0.0.1", int(sys.argv[2])))
count = 0
def stop(*_):
    with open(sys.argv[1], "w") as out:
        out.write(f"{count}\n")
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
while True:
    sock.recv(65536)
    count += 1
PY
cat > "$WORK/send.py" <<'PY'
import socket, sys, time
port, seconds = int(sys.argv[1]), float(sys.argv[2])
def tlv(tag, body): 
    n = len(body)
    return bytes([tag]) + (bytes([n]) if n < 128 else bytes([0x81, n])) + body
def oid(text):
    arcs = [int(a) for a in text.split(".")]
    out = bytes([40 * arcs[0] + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]; arc >>= 7
        while arc: chunk.insert(0, 0x80 | (arc & 0x7F)); arc >>= 7
        out += bytes(chunk)
    return tlv(6, out)
def vb(name, value): return tlv(0x30, oid(name) + value)
varbinds = (vb("1.3.6.1.2.1.1.3.0", tlv(0x43, (123456).to_bytes(3, "big")))
    + vb("1.3.6.1.6.3.1.1.4.1.0", oid("1.3.6.1.6.3.1.1.5.3"))
    + vb("1.3.6.1.2.1.2.2.1.1.3", tlv(2, b"\x03"))
    + vb("1.3.6.1.2.1.2.2.1.7.3", tlv(2, b"\x02")))
pdu = tlv(0xA7, tlv(2, b"\x01") + tlv(2, b"\x00") + tlv(2, b"\x00") + tlv(0x30, varbinds))
message = tlv(0x30, tlv(2, b"\x01") + tlv(4, b"public") + pdu)
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("127.0.0.1", 0))
address = ("127.0.0.1", port)
sent = 0
end = time.monotonic() + seconds
while time.monotonic() < end:
    for _ in range(200):
        try:
            sock.sendto(message, address); sent += 1
        except OSError:
            pass
print(sent)
PY

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

SINKPORT=$(free_port)
run_one() { # name pid port -> "sent delivered cpu_seconds"
    local pid=$2 port=$3
    python3 "$WORK/sink.py" "$WORK/count" "$SINKPORT" & local sink=$!
    sleep 0.3
    python3 "$WORK/send.py" "$port" 1 > /dev/null   # warm-up
    sleep 0.5
    kill "$sink"; wait "$sink" 2>/dev/null || true
    python3 "$WORK/sink.py" "$WORK/count" "$SINKPORT" & sink=$!
    sleep 0.3
    local before; before=$(cpu_ticks "$pid")
    local sent; sent=$(python3 "$WORK/send.py" "$port" "$DURATION")
    sleep 0.5
    local after; after=$(cpu_ticks "$pid")
    kill "$sink"; wait "$sink" 2>/dev/null || true
    local delivered; delivered=$(cat "$WORK/count")
    echo "$1 $sent $delivered $(( after - before ))"
}

# snmptrapd: forward as it is (no translation, no crypto).
TRAPD=$(free_port)
if [ "${SNMPTRAPD_LOG:-0}" = 1 ]; then
    cat > "$WORK/trapd.conf" <<EOF
authCommunity log,net public
forward default udp:127.0.0.1:$SINKPORT
EOF
else
    cat > "$WORK/trapd.conf" <<EOF
authCommunity net public
doNotLogTraps yes
forward default udp:127.0.0.1:$SINKPORT
EOF
fi
"$SNMPTRAPD" -f -C -c "$WORK/trapd.conf" -n -On -t -Lf "$WORK/trapd.log" "udp:127.0.0.1:$TRAPD" & PIDS+=($!); TRAPDPID=$!

# snmpwarden: v2c in, SNMPv3 authPriv SHA/AES trap out.
GATE=$(free_port); NOTIFY=$(free_port)
cat > "$WORK/warden.yaml" <<EOF
engine: { id: 80001f8804736e6d7077617264656e, state-dir: $WORK/warden-state }
listen: [ "udp:127.0.0.1:$GATE" ]
users:
  - { name: nms-trap, auth: SHA, auth-key: trappass123, priv: AES, priv-key: trappass123 }
backends:
  - { name: demo, simulate: $ROOT/conf/demo.snmprec }
views:
  - { name: all, include: [ 1.3 ] }
routes:
  - { name: demo, users: [ nms-trap ], backend: demo, read-view: all }
notifications:
  listen: [ "udp:127.0.0.1:$NOTIFY" ]
  source-rate: 1000000
  source-burst: 1000000
  sources:
    - { name: devices, prefixes: [ 127.0.0.0/8 ], communities: [ public ] }
  targets:
    - { name: nms, address: "udp:127.0.0.1:$SINKPORT", version: 3, user: nms-trap }
  routes:
    - { name: all, sources: [ devices ], targets: [ nms ] }
EOF
"$WARDEN" run --config "$WORK/warden.yaml" --threads 1 2> "$WORK/warden.log" & PIDS+=($!); WARDENPID=$!
sleep 1

results=()
for _ in $(seq 1 "$ROUNDS"); do
    results+=("$(run_one snmptrapd $TRAPDPID $TRAPD)")
    results+=("$(run_one snmpwarden $WARDENPID $NOTIFY)")
    results+=("$(run_one snmpwarden $WARDENPID $NOTIFY)")
    results+=("$(run_one snmptrapd $TRAPDPID $TRAPD)")
done

printf '%-11s %10s %12s %10s %14s\n' relay sent/s delivered/s "cpu %" "µs cpu/notif"
for line in "${results[@]}"; do
    read -r name sent delivered ticks <<< "$line"
    awk -v n="$name" -v s="$sent" -v d="$delivered" -v t="$ticks" -v hz="$TICKS" -v secs="$DURATION" 'BEGIN {
        cpu = t / hz
        printf "%-11s %10.0f %12.0f %10.0f %14.1f\n", n, s / secs, d / secs, 100 * cpu / secs, (d > 0 ? 1e6 * cpu / d : 0)
    }'
done
