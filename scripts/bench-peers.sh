#!/usr/bin/env bash
# Measures snmpwarden beside its peers in one run, on loopback, and prints the table of issue 6:
#
#   - Net-SNMP snmpd as the v2c back end, which also answers the same v3 user itself;
#   - Net-SNMP snmpd as a v3 -> v2c proxy in front of it (`-I proxy,vacm_conf,usmConf`);
#   - snmpwarden (release build) in front of the same back end;
#   - scripts/udp-relay.c, the least a UDP proxy can do (datagrams to the agent and back, no SNMP),
#     built with the C compiler: the floor this host charges for a proxied request, in the same run.
#
# Scenarios, each for SECONDS (default 10) after 2 s of warm-up, 32 requests in flight over 4
# sockets, authPriv SHA/AES: GET of 3 scalars, GetBulk(20) of ifTable; then one request in flight
# (added latency: 5 alternating rounds of snmpd direct v2c and v3, the relay, snmpwarden as a v2c hop
# and snmpwarden v3 -> v2c; the median of their p50s)
# and 10,000 requests pending on a dead back end (memory).
#
#   scripts/bench-peers.sh [SECONDS]
#   THREADS=1 scripts/bench-peers.sh 10     # snmpwarden with 1 event loop (default: snmpwarden's own default)
#
# Needs: the Swift toolchain (its clang builds the relay when there is no cc), `apt-get install snmp
# snmpd` (snmpd in /usr/sbin), python3.
# Everything it starts is stopped by pid when it ends; its files live in a temporary directory.
set -euo pipefail

DURATION=${1:-10}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
NAME=bench
# shellcheck source=scripts/lib-peers.sh
source "$ROOT/scripts/lib-peers.sh"
mkdir -p "$WORK/front"
BACK=$(free_port); FRONT=$(free_port); GATE=$(free_port); DEAD=$(free_port); DEADGATE=$(free_port); RELAY=$(free_port)
CC=${CC:-$(command -v cc || command -v clang || true)}
if [[ -z $CC ]]; then echo "bench-peers: needs a C compiler for scripts/udp-relay.c (cc, or the Swift toolchain's clang)" >&2; exit 1; fi
"$CC" -O2 -o "$WORK/udp-relay" "$ROOT/scripts/udp-relay.c"

cat > "$WORK/back.conf" <<EOF
[snmp] persistentDir $WORK/back
rocommunity backpub 127.0.0.1
createUser benchuser SHA "authpass123" AES "privpass123"
rouser -s usm benchuser priv
EOF
cat > "$WORK/front.conf" <<EOF
[snmp] persistentDir $WORK/front
engineID nsproxyfront
createUser benchuser SHA "authpass123" AES "privpass123"
view all included .1
group g usm benchuser
access g "" usm priv exact all none none
proxy -v 2c -c backpub -t 1 -r 2 udp:127.0.0.1:$BACK .1.3
EOF
warden_config "$WORK/warden.yaml" "$GATE" back "$BACK" "community: backpub, timeout: 1s, retries: 2" "" \
    "max-repetitions: 100, max-pending: 20000"
# A v2c route as well: the gateway as a hop alone (v2c in and out), beside the relay.
sed -i 's/^routes:/routes:\n  - { name: v2c, communities: [ frontpub ], backend: back, read-view: all }/' "$WORK/warden.yaml"
warden_config "$WORK/dead.yaml" "$DEADGATE" dead "$DEAD" "community: x, timeout: 4s, retries: 0" \
    ", on-timeout: drop" "max-pending: 20000"

"$SNMPD" -f -C -c "$WORK/back.conf" -Lf "$WORK/back.log" "udp:127.0.0.1:$BACK" & PIDS+=($!); BACKPID=$!
"$SNMPD" -f -C -c "$WORK/front.conf" -I proxy,vacm_conf,usmConf -Lf "$WORK/front.log" "udp:127.0.0.1:$FRONT" & PIDS+=($!); FRONTPID=$!
"$WORK/udp-relay" 127.0.0.1 "$RELAY" 127.0.0.1 "$BACK" > "$WORK/relay.log" & PIDS+=($!); RELAYPID=$!
"$WARDEN" run --config "$WORK/warden.yaml" ${THREADS:+--threads "$THREADS"} 2> "$WORK/warden.log" & PIDS+=($!); GATEPID=$!
"$WARDEN" run --config "$WORK/dead.yaml" --threads 1 2> "$WORK/dead.log" & PIDS+=($!); DEADPID=$!

V3=(--version 3 --user benchuser --auth SHA --auth-pass authpass123 --priv AES --priv-pass privpass123)
wait_for() { # port, version args...
    for _ in $(seq 1 100); do
        if snmpget -v2c -c backpub -r 0 -t 1 "udp:127.0.0.1:$BACK" 1.3.6.1.2.1.1.5.0 >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    echo "snmpd did not start" >&2; exit 1
}
wait_for
for _ in $(seq 1 100); do
    grep -q listening "$WORK/warden.log" && grep -q listening "$WORK/dead.log" && grep -q listening "$WORK/relay.log" && break
    sleep 0.1
done
sleep 0.5

in_pkts() { snmpget -v2c -c backpub -Oqv -r 1 -t 2 "udp:127.0.0.1:$BACK" 1.3.6.1.2.1.11.1.0; }
GET=(--op get --oid 1.3.6.1.2.1.1.1.0 --oid 1.3.6.1.2.1.1.3.0 --oid 1.3.6.1.2.1.1.5.0)
BULK=(--op getbulk --repetitions 20 --oid 1.3.6.1.2.1.2.2.1)
COMMON=(--in-flight 32 --sockets 4 --duration "$DURATION" --warmup 2)

run() { # label, target, extra...: one load run, with the back end's snmpInPkts before and after
    local label=$1 target=$2; shift 2
    local before after
    before=$(in_pkts)
    "$LOAD" --label "$label" --target "$target" "$@" > "$WORK/run.json"
    after=$(in_pkts)
    python3 -c '
import json, sys
line = json.load(open(sys.argv[1]))
line["backend_packets"] = int(sys.argv[3]) - int(sys.argv[2]) - 1
print(json.dumps(line))' "$WORK/run.json" "$before" "$after"
}

{
    run "v2c direct: GET 3"        "udp:127.0.0.1:$BACK"  --version 2c --community backpub "${GET[@]}" "${COMMON[@]}" --pid $BACKPID
    run "v3 direct: GET 3"         "udp:127.0.0.1:$BACK"  "${V3[@]}" "${GET[@]}" "${COMMON[@]}" --pid $BACKPID
    run "Net-SNMP proxy: GET 3"    "udp:127.0.0.1:$FRONT" "${V3[@]}" "${GET[@]}" "${COMMON[@]}" --pid $FRONTPID --pid $BACKPID
    run "snmpwarden: GET 3"        "udp:127.0.0.1:$GATE"  "${V3[@]}" "${GET[@]}" "${COMMON[@]}" --pid $GATEPID --pid $BACKPID
    run "v2c direct: GetBulk 20"   "udp:127.0.0.1:$BACK"  --version 2c --community backpub "${BULK[@]}" "${COMMON[@]}" --pid $BACKPID
    run "v3 direct: GetBulk 20"    "udp:127.0.0.1:$BACK"  "${V3[@]}" "${BULK[@]}" "${COMMON[@]}" --pid $BACKPID
    run "Net-SNMP proxy: GetBulk 20" "udp:127.0.0.1:$FRONT" "${V3[@]}" "${BULK[@]}" "${COMMON[@]}" --pid $FRONTPID --pid $BACKPID
    run "snmpwarden: GetBulk 20"   "udp:127.0.0.1:$GATE"  "${V3[@]}" "${BULK[@]}" "${COMMON[@]}" --pid $GATEPID --pid $BACKPID
    run "UDP relay: GET 3"         "udp:127.0.0.1:$RELAY" --version 2c --community backpub "${GET[@]}" "${COMMON[@]}" --pid $RELAYPID --pid $BACKPID
    run "UDP relay: GetBulk 20"    "udp:127.0.0.1:$RELAY" --version 2c --community backpub "${BULK[@]}" "${COMMON[@]}" --pid $RELAYPID --pid $BACKPID
    # One in flight: the host's wakeup latency drifts within seconds, so the five alternate.
    ROUND=$(python3 -c "print(max(1.0, $DURATION / 5))")
    ONE=(--in-flight 1 --sockets 1 --duration "$ROUND" --warmup 0.5)
    for round in 1 2 3 4 5; do
        run "v2c direct: GET 3, 1 in flight, round $round" "udp:127.0.0.1:$BACK" --version 2c --community backpub "${GET[@]}" "${ONE[@]}"
        run "v3 direct: GET 3, 1 in flight, round $round"  "udp:127.0.0.1:$BACK" "${V3[@]}" "${GET[@]}" "${ONE[@]}"
        run "UDP relay: GET 3, 1 in flight, round $round"  "udp:127.0.0.1:$RELAY" --version 2c --community backpub "${GET[@]}" "${ONE[@]}"
        run "snmpwarden v2c: GET 3, 1 in flight, round $round" "udp:127.0.0.1:$GATE" --version 2c --community frontpub "${GET[@]}" "${ONE[@]}"
        run "snmpwarden: GET 3, 1 in flight, round $round" "udp:127.0.0.1:$GATE" "${V3[@]}" "${GET[@]}" "${ONE[@]}"
    done
} > "$WORK/results.jsonl"

# 10,000 requests pending on a dead back end: the gateway's RSS before, at the peak, after timeouts.
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
RSS_BEFORE=$(rss $DEADPID)
"$LOAD" --label dead --target "udp:127.0.0.1:$DEADGATE" "${V3[@]}" "${GET[@]}" --in-flight 10000 --sockets 8 \
    --duration 3 --warmup 1 --timeout-ms 60000 > "$WORK/dead.jsonl" &
LOADPID=$!
RSS_PEAK=0
for _ in $(seq 1 40); do r=$(rss $DEADPID); [ "$r" -gt "$RSS_PEAK" ] && RSS_PEAK=$r; sleep 0.1; done
wait $LOADPID || true
sleep 5
RSS_AFTER=$(rss $DEADPID)

LOOPS=$(grep -o 'threads=[0-9]*' "$WORK/warden.log" | head -1 | cut -d= -f2)
python3 - "$WORK/results.jsonl" "$GATEPID" "$FRONTPID" "$RSS_BEFORE" "$RSS_PEAK" "$RSS_AFTER" "$LOOPS" "$RELAYPID" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
gate, front, relay = sys.argv[2], sys.argv[3], sys.argv[8]
by = {r["label"]: r for r in rows}
def rate(label): return by[label]["req_per_s"]
def cpu(label, pid):
    c = by[label]["cpu"].get(pid)
    return c["us_per_request"] if c else None
print(f"snmpwarden event loops: {sys.argv[7]}")
print()
print("| target | GET 3 req/s | × v3 direct | GetBulk(20) req/s | × v3 direct | front-end CPU µs per GET | per GetBulk | back-end packets per GetBulk | errors |")
print("|---|---|---|---|---|---|---|---|---|")
def front_cpu(label, pid):
    run = by[label]
    if pid: return cpu(label, pid)
    return list(run["cpu"].values())[0]["us_per_request"] if run["cpu"] else None
for name, pid in [("v2c direct", None), ("v3 direct", None), ("Net-SNMP proxy", front), ("snmpwarden", gate), ("UDP relay", relay)]:
    g, b = by[f"{name}: GET 3"], by[f"{name}: GetBulk 20"]
    fe, fb = front_cpu(f"{name}: GET 3", pid), front_cpu(f"{name}: GetBulk 20", pid)
    packets = b["backend_packets"] / b["answered_with_warmup"] if pid and b["answered_with_warmup"] else None
    errors = sum(g["errors"].values()) + sum(b["errors"].values()) + g.get("unanswered_at_end", 0) + b.get("unanswered_at_end", 0)
    print(f"| {name} | {g['req_per_s']} | {g['req_per_s']/rate('v3 direct: GET 3'):.2f} | {b['req_per_s']} | {b['req_per_s']/rate('v3 direct: GetBulk 20'):.2f} | "
          f"{fe if fe is not None else '—'} | {fb if fb is not None else '—'} | {f'{packets:.2f}' if packets is not None else '—'} | {errors} |")
ratio = lambda label, other, pid: cpu(f"snmpwarden: {label}", gate) / cpu(f"{other}: {label}", pid)
print()
print("(UDP relay: scripts/udp-relay.c with a v2c manager, bytes to snmpd and back, no SNMP: the floor of a proxied request on this host now)")
print()
print(f"snmpwarden's CPU per request over the Net-SNMP proxy's: GET {ratio('GET 3', 'Net-SNMP proxy', front):.2f}, GetBulk(20) {ratio('GetBulk 20', 'Net-SNMP proxy', front):.2f}")
print(f"snmpwarden's CPU per request over the UDP relay's:      GET {ratio('GET 3', 'UDP relay', relay):.2f}, GetBulk(20) {ratio('GetBulk 20', 'UDP relay', relay):.2f}")
def p50(name): return statistics.median(by[f"{name}: GET 3, 1 in flight, round {r}"]["latency_us"]["p50"] for r in range(1, 6))
direct, direct3, floor, hop, warden = p50("v2c direct"), p50("v3 direct"), p50("UDP relay"), p50("snmpwarden v2c"), p50("snmpwarden")
print()
print("Added latency at one request in flight (the median of 5 alternating p50s; "
      f"snmpd direct: v2c {direct:.0f} µs, v3 {direct3:.0f} µs):")
print(f"  the hop alone, v2c in and out, over snmpd v2c direct: snmpwarden {hop - direct:.0f} µs, UDP relay {floor - direct:.0f} µs")
print(f"  SNMPv3 to the manager (v3 -> v2c snmpd): snmpwarden {warden - direct3:.0f} µs over snmpd answering v3 itself, "
      f"{warden - direct:.0f} µs over snmpd v2c direct (the manager's own v3 work included)")
print(f"10,000 requests pending on a dead back end: RSS {int(sys.argv[4])//1024} MiB before, {int(sys.argv[5])//1024} MiB at the peak, {int(sys.argv[6])//1024} MiB after they timed out")
print()
print("Raw results (one JSON line per run):")
for r in rows: print(json.dumps(r))
EOF
