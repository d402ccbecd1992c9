#!/usr/bin/env bash
# A fleet behind one gateway, measured: 1, 1,000 and 10,000 devices from an inventory behind one
# `backend: "{context}"` route, and 10,000 devices written out as 10,000 back ends and 10,000 routes
# (the shape that used to scan its routes). For each: start-up time (to the `listening` line),
# `snmpwarden check` time, descriptors, RSS, and the gateway's CPU per GET for the first, middle
# and last device, with one real snmpd (v2c) behind it listening on 20 ports (device i is on port
# i mod 20, so neighbouring devices are different agents).
#
#   scripts/bench-fleet.sh [SECONDS]        # per GET run (default 5)
#   THREADS=2 scripts/bench-fleet.sh        # event loops of the gateway (default 1)
#
# Needs: the Swift toolchain, `apt-get install snmp snmpd`, python3. Everything it starts is
# stopped by pid when it ends; its files live in a temporary directory.
set -euo pipefail

DURATION=${1:-5}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
NAME=fleet
# shellcheck source=scripts/lib-peers.sh
source "$ROOT/scripts/lib-peers.sh"

PORTS=()
for _ in $(seq 1 20); do PORTS+=("$(free_port)"); done
LISTEN=$(printf 'udp:127.0.0.1:%s,' "${PORTS[@]}")
LISTEN=${LISTEN%,}
printf '[snmp] persistentDir %s\nrocommunity backpub 127.0.0.1\n' "$WORK/back" > "$WORK/back.conf"
"$SNMPD" -f -C -c "$WORK/back.conf" -Lf "$WORK/back.log" "$LISTEN" & PIDS+=($!)
for _ in $(seq 1 100); do
    snmpget -v2c -c backpub -r 0 -t 1 "udp:127.0.0.1:${PORTS[19]}" 1.3.6.1.2.1.1.5.0 >/dev/null 2>&1 && break
    sleep 0.1
done

# header FILE PORT: listener, user and view.
header() {
    printf '%s\n' \
        "engine: { state-dir: ${1%.yaml}-state }" \
        "listen: [ \"udp:127.0.0.1:$2\" ]" \
        "users:" \
        "  - { name: benchuser, auth: SHA, auth-key: authpass123, priv: AES, priv-key: privpass123 }" \
        "views:" \
        "  - { name: all, include: [ 1.3 ] }" > "$1"
}

# by_context NAME N PORT: N devices in NAME.csv and one route.
by_context() {
    python3 -c '
import sys
n, ports = int(sys.argv[1]), sys.argv[2:]
print("name,address")
for i in range(n): print(f"dev{i},udp:127.0.0.1:{ports[i % len(ports)]}")' "$2" "${PORTS[@]}" > "$WORK/$1.csv"
    header "$WORK/$1.yaml" "$3"
    printf '%s\n' \
        "backends:" \
        "  - inventory: $1.csv" \
        "    group: fleet" \
        "    defaults: { version: 2c, community: backpub, timeout: 1s, retries: 1 }" \
        "routes:" \
        "  - { name: fleet, users: [ benchuser ], context: \"*\", backend: \"{context}\", backend-group: fleet, read-view: all }" \
        >> "$WORK/$1.yaml"
}

# one_route_each NAME N PORT: N back ends and N routes written out in the configuration.
one_route_each() {
    header "$WORK/$1.yaml" "$3"
    python3 -c '
import sys
n, ports = int(sys.argv[1]), sys.argv[2:]
print("backends:")
for i in range(n):
    print(f"  - {{ name: dev{i}, address: \"udp:127.0.0.1:{ports[i % len(ports)]}\", community: backpub }}")
print("routes:")
for i in range(n):
    print(f"  - {{ name: dev{i}, users: [ benchuser ], context: dev{i}, backend: dev{i}, read-view: all }}")' \
        "$2" "${PORTS[@]}" >> "$WORK/$1.yaml"
}

V3=(--version 3 --user benchuser --auth SHA --auth-pass authpass123 --priv AES --priv-pass privpass123)
GET=(--op get --oid 1.3.6.1.2.1.1.1.0 --oid 1.3.6.1.2.1.1.3.0 --oid 1.3.6.1.2.1.1.5.0)
now_ms() { date +%s%3N; }

measure() { # LABEL NAME DEVICES
    local label=$1 name=$2 devices=$3 port pid start ready check_start check_ms rss_idle fds
    port=$(free_port)
    case $name in
        ctx-*) by_context "$name" "$devices" "$port" ;;
        *) one_route_each "$name" "$devices" "$port" ;;
    esac
    check_start=$(now_ms)
    "$WARDEN" check --config "$WORK/$name.yaml" > /dev/null
    check_ms=$(( $(now_ms) - check_start ))
    start=$(now_ms)
    "$WARDEN" run --config "$WORK/$name.yaml" --threads "${THREADS:-1}" 2> "$WORK/$name.log" & pid=$!
    PIDS+=("$pid")
    ready=""
    for _ in $(seq 1 3000); do
        if grep -q listening "$WORK/$name.log"; then ready=$(( $(now_ms) - start )); break; fi
        sleep 0.01
    done
    [ -n "$ready" ] || { echo "$label: did not start" >&2; cat "$WORK/$name.log" >&2; exit 1; }
    rss_idle=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
    fds=$(find "/proc/$pid/fd" -mindepth 1 | wc -l)
    # First, middle, last, then the same in reverse: a machine that slows down or speeds up during
    # the runs (other tenants of a VM) weighs on each device alike; each device's two runs are averaged.
    local first=0 middle=$(( devices / 2 )) last=$(( devices - 1 ))
    for device in $first $middle $last $last $middle $first; do
        "$LOAD" --label "$label dev$device" --target "udp:127.0.0.1:$port" "${V3[@]}" --context "dev$device" \
            "${GET[@]}" --in-flight 32 --sockets 4 --duration "$DURATION" --warmup 1 --pid "$pid" \
            | python3 -c '
import json, sys
r = json.load(sys.stdin)
r.update(devices=int(sys.argv[1]), startup_ms=int(sys.argv[2]), check_ms=int(sys.argv[3]),
         rss_idle_kib=int(sys.argv[4]), fds=int(sys.argv[5]), device=int(sys.argv[6]), config=sys.argv[7])
print(json.dumps(r))' "$devices" "$ready" "$check_ms" "$rss_idle" "$fds" "$device" "$label"
    done
    kill "$pid"
    wait "$pid" 2>/dev/null || true
}

{
    measure "1 device, one route" ctx-1 1
    measure "1,000 devices, one {context} route" ctx-1000 1000
    measure "10,000 devices, one {context} route" ctx-10000 10000
    measure "10,000 devices, 10,000 routes" each-10000 10000
} > "$WORK/results.jsonl"

python3 - "$WORK/results.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
cpu_of = lambda r: list(r["cpu"].values())[0]["us_per_request"]
base = sum(cpu_of(r) for r in rows if r["devices"] == 1) / sum(1 for r in rows if r["devices"] == 1)
print("| configuration | start-up ms | check ms | descriptors | RSS idle MiB | GET req/s (first / middle / last) "
      "| gateway CPU µs per GET (first / middle / last) | last ÷ 1 device | errors |")
print("|---|---|---|---|---|---|---|---|---|")
for config in dict.fromkeys(r["config"] for r in rows):
    runs = [r for r in rows if r["config"] == config]
    # Runs 0-2 are first, middle, last; runs 3-5 the same in reverse.
    pairs = [(runs[i], runs[5 - i]) for i in range(3)]
    cpu = [(cpu_of(a) + cpu_of(b)) / 2 for a, b in pairs]
    rate = [(a["req_per_s"] + b["req_per_s"]) // 2 for a, b in pairs]
    errors = sum(sum(r["errors"].values()) + r.get("unanswered_at_end", 0) for r in runs)
    first = runs[0]
    print(f"| {config} | {first['startup_ms']} | {first['check_ms']} | {first['fds']} | "
          f"{first['rss_idle_kib'] / 1024:.1f} | " + " / ".join(str(r) for r in rate) + " | "
          + " / ".join(f"{c:.1f}" for c in cpu) + f" | {cpu[-1] / base:.2f} | {errors} |")
print()
print("Raw results (one JSON line per run):")
for r in rows: print(json.dumps(r))
PY
