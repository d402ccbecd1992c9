#!/usr/bin/env bash
# The soak of issue 6: snmpwarden in front of a Net-SNMP snmpd v2c back end, on loopback, under
# GETs (authPriv SHA/AES, 3 scalars) at 80% of the rate it reaches when pushed, for SECONDS
# (default 600). Prints the load generator's JSON line, the gateway's RSS over the run, and a verdict:
# RSS flat (the last sample within 10% + 2 MiB of the sample after the first minute, or after the
# first tenth for short runs), 0 lost (timed out or never answered), 0 mismatched (wrong request-id,
# names, error-status or an undecodable answer).
#
#   scripts/soak.sh [SECONDS]
#   THREADS=1 scripts/soak.sh 600      # snmpwarden's event loops (default: snmpwarden's own default)
#   SNMPD_RCVBUF=4194304 scripts/soak.sh 600   # snmpd with a 4 MiB receive buffer (serverRecvBuf)
#   FAULTS=1 scripts/soak.sh 600       # the fault mode (issue 15), below
#
# The fault mode: one gateway, four v2c back ends, one route to each chosen by contextName
# (context healthy, flapping, garbage, slow; the same user):
#   healthy   an snmpd;
#   flapping  a second snmpd, killed (SIGKILL) 15 s into the measured window and every 30 s after,
#             and started again on the same port 3 s later;
#   garbage   scripts/fault-agents.py garbage: every request answered with junk (random bytes,
#             truncated, neighbouring request-ids, wrong community, wrong varbind count, not a
#             Response, from another port, 64 KiB datagrams);
#   slow      scripts/fault-agents.py slow: a relay to a third snmpd, every answer 900 ms late
#             (this back end's timeout is 2 s, 1 retry, so those answers are accepted).
# It measures the maximum on the healthy route (as the plain mode does), then loads the four at
# once for SECONDS: healthy at 50% of that maximum, each faulty one at 10% (80% in all). The verdict
# is PASS when the healthy route lost nothing and got nothing mismatched, RSS stayed flat, and the
# faults were seen: the gateway counted malformed, unmatched, wrong-community and wrong-source
# answers and accepted none of the garbage, the flapping back end had timeouts and answered again
# after its restarts, and the slow route's answers took at least 900 ms. (RSS's reference sample is
# taken after at least 30 s here; a run shorter than 40 s does not judge RSS.) It also prints, per
# route, what the load generator and the gateway counted, the datagrams the kernel dropped on each
# process's sockets, and each process's CPU.
#   FAULT_ROUTES="garbage" FAULTS=1 scripts/soak.sh 60   # load only these faulty routes (the
#                                                        # others get 1 req/s): to find which fault
#                                                        # a loss comes with (the verdict then FAILs)
#   FAULT_KINDS=wrong-port FAULTS=1 scripts/soak.sh 60   # only these kinds of junk (fault-agents.py)
#
# Needs what scripts/bench-peers.sh needs. Everything it starts is stopped by pid when it ends.
set -euo pipefail

DURATION=${1:-600}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
NAME=soak
# shellcheck source=scripts/lib-peers.sh
source "$ROOT/scripts/lib-peers.sh"
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

if [[ ${FAULTS:-0} == 1 ]]; then
    HEALTHY=$(free_port); FLAPPING=$(free_port); GARBAGE=$(free_port); SLOW=$(free_port)
    SLOWBACK=$(free_port); GATE=$(free_port); OPS=$(free_port)
    WARMUP=2 DOWN=3
    for agent in healthy flapping slowback; do
        mkdir -p "$WORK/$agent"
        # A 4 MiB receive buffer, as the gateway's sockets have: a request the agent's socket drops
        # costs a 1 s retry (counted as a retransmission), and three in a row a genErr.
        printf '[snmp] persistentDir %s\n[snmp] serverRecvBuf 4194304\nrocommunity backpub 127.0.0.1\n' \
            "$WORK/$agent" > "$WORK/$agent.conf"
    done
    # The pending bound is shared by all back ends: at 10% of the maximum each, the garbage route
    # holds its requests 3 s (1 s x 3 tries), the flapping one up to 3 s while down, the slow one
    # 0.9 s: about 7 x 10% of the maximum per second, so 50,000 leaves room (pending_overflows is
    # printed; an overflow would show as genErr on the healthy route).
    cat > "$WORK/warden.yaml" <<EOF
engine: { state-dir: $WORK/warden-state }
listen: [ "udp:127.0.0.1:$GATE" ]
users:
  - { name: benchuser, auth: SHA, auth-key: authpass123, priv: AES, priv-key: privpass123 }
backends:
  - { name: healthy, address: "udp:127.0.0.1:$HEALTHY", version: 2c, community: backpub, timeout: 1s, retries: 2 }
  - { name: flapping, address: "udp:127.0.0.1:$FLAPPING", version: 2c, community: backpub, timeout: 1s, retries: 2 }
  - { name: garbage, address: "udp:127.0.0.1:$GARBAGE", version: 2c, community: backpub, timeout: 1s, retries: 2 }
  - { name: slow, address: "udp:127.0.0.1:$SLOW", version: 2c, community: backpub, timeout: 2s, retries: 1 }
views:
  - { name: all, include: [ 1.3 ] }
routes:
  - { name: healthy, users: [ benchuser ], context: healthy, backend: healthy, read-view: all }
  - { name: flapping, users: [ benchuser ], context: flapping, backend: flapping, read-view: all }
  - { name: garbage, users: [ benchuser ], context: garbage, backend: garbage, read-view: all }
  - { name: slow, users: [ benchuser ], context: slow, backend: slow, read-view: all }
limits: { max-pending: 50000 }
ops: { listen: "tcp:127.0.0.1:$OPS" }
EOF
    # Run in the background: the job is snmpd itself (exec), so its pid is $!.
    snmpd_on() { exec "$SNMPD" -f -C -c "$WORK/$1.conf" -Lf "$WORK/$1.log" "udp:127.0.0.1:$2"; }
    snmpd_on healthy "$HEALTHY" & PIDS+=($!); HEALTHYPID=$!
    # The flapping back end, and the loop that kills it (SIGKILL) 15 s into the measured window and
    # every 30 s after, and starts it again DOWN s later; the last kill leaves it up for at least
    # 12 s before the end. The loop owns every snmpd it starts (its pid also in flapping.pid). It
    # waits for flap-go (written when the load starts), stops by itself, and stopped early (TERM),
    # it stops its snmpd.
    (
        sleeper=
        snmpd_on flapping "$FLAPPING" & child=$!
        echo "$child" > "$WORK/flapping.pid"
        trap 'kill $child $sleeper 2>/dev/null; wait $child || true; exit 0' TERM
        nap() { sleep "$1" & sleeper=$!; wait $sleeper || true; }
        for _ in $(seq 1 $((10 * (DURATION + 300)))); do [[ -s $WORK/flap-go ]] && break; nap 0.1; done
        start=$(cat "$WORK/flap-go")
        until_second() { nap "$(python3 -c "import time; print(max(0, $start + $1 - time.time()))")"; }
        for ((t = 15; t + 15 <= DURATION; t += 30)); do
            until_second $((WARMUP + t))
            kill -KILL "$child" 2>/dev/null || true
            wait "$child" 2>/dev/null || true
            echo "$(date +%s.%N) killed $child" >> "$WORK/flap-events"
            nap "$DOWN"
            snmpd_on flapping "$FLAPPING" & child=$!
            echo "$child" > "$WORK/flapping.pid"
            echo "$(date +%s.%N) started $child" >> "$WORK/flap-events"
        done
        # Waits here for its last snmpd, so that stopping the loop stops that snmpd.
        nap $((DURATION + 60))
    ) 2> /dev/null & PIDS+=($!)
    snmpd_on slowback "$SLOWBACK" & PIDS+=($!); SLOWBACKPID=$!
    LIFETIME=$((DURATION + 60))  # the Python agents stop by themselves after this
    python3 "$ROOT/scripts/fault-agents.py" garbage "$GARBAGE" backpub "$LIFETIME" 2> "$WORK/garbage.log" & PIDS+=($!)
    GARBAGEPID=$!
    python3 "$ROOT/scripts/fault-agents.py" slow "$SLOW" "$SLOWBACK" 900 "$LIFETIME" 2> "$WORK/slow.log" & PIDS+=($!)
    SLOWPID=$!
    "$WARDEN" run --config "$WORK/warden.yaml" ${THREADS:+--threads "$THREADS"} 2> "$WORK/warden.log" & PIDS+=($!); GATEPID=$!
    for port in "$HEALTHY" "$FLAPPING" "$SLOWBACK"; do
        for _ in $(seq 1 100); do
            snmpget -v2c -c backpub -r 0 -t 1 "udp:127.0.0.1:$port" 1.3.6.1.2.1.1.5.0 >/dev/null 2>&1 && break
            sleep 0.1
        done
    done
    for _ in $(seq 1 100); do grep -q listening "$WORK/warden.log" && break; sleep 0.1; done

    LOADARGS=(--target "udp:127.0.0.1:$GATE" --version 3 --user benchuser --auth SHA --auth-pass authpass123
        --priv AES --priv-pass privpass123 --op get --oid 1.3.6.1.2.1.1.1.0 --oid 1.3.6.1.2.1.1.3.0
        --oid 1.3.6.1.2.1.1.5.0)
    MAX=$("$LOAD" --label max "${LOADARGS[@]}" --context healthy --pid "$GATEPID" --in-flight 32 --sockets 4 \
        --duration 5 --warmup 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["req_per_s"])')
    RATE=$((MAX * 5 / 10)) FAULTRATE=$((MAX / 10))
    echo "maximum $MAX req/s on the healthy route; for $DURATION s: healthy at $RATE req/s," \
        "flapping, garbage and slow at $FAULTRATE req/s each" >&2

    # Every run waits 4 s for an answer: longer than the gateway takes to give up (3 s), so that
    # "lost" means the gateway never answered, not that it answered late.
    LOADPIDS=()
    "$LOAD" --label healthy "${LOADARGS[@]}" --context healthy --pid "$GATEPID" --rate "$RATE" --in-flight 512 \
        --sockets 8 --duration "$DURATION" --warmup "$WARMUP" --timeout-ms 4000 > "$WORK/healthy.json" &
    LOADPIDS+=($!); PIDS+=($!)
    for route in flapping garbage slow; do
        rate=$FAULTRATE; [[ " ${FAULT_ROUTES:-flapping garbage slow} " == *" $route "* ]] || rate=1
        "$LOAD" --label "$route" "${LOADARGS[@]}" --context "$route" --rate "$rate" \
            --in-flight $((FAULTRATE * 4 + 64)) --sockets 4 --duration "$DURATION" --warmup "$WARMUP" \
            --timeout-ms 4000 > "$WORK/$route.json" &
        LOADPIDS+=($!); PIDS+=($!)
    done

    echo "$(date +%s.%N)" > "$WORK/flap-go"  # the flapping loop's clock starts now

    : > "$WORK/rss"
    running() { for pid in "${LOADPIDS[@]}"; do kill -0 "$pid" 2>/dev/null && return 0; done; return 1; }
    # Datagrams dropped by the kernel on each process's sockets (a full receive buffer), and each
    # process's CPU time, sampled with the RSS: a loss on the healthy route shows where it happened.
    SAMPLED=("gateway=$GATEPID:$GATE" "healthy-snmpd=$HEALTHYPID" "slow-snmpd=$SLOWBACKPID"
        "garbage-agent=$GARBAGEPID" "slow-agent=$SLOWPID")
    ROUTES=(healthy flapping garbage slow)
    for i in 0 1 2 3; do SAMPLED+=("load-${ROUTES[$i]}=${LOADPIDS[$i]}"); done
    : > "$WORK/drops"
    while running; do
        echo "$(date +%s) $(rss "$GATEPID")" >> "$WORK/rss"
        echo "$(date +%s) $(python3 "$ROOT/scripts/fault-agents.py" sample "${SAMPLED[@]}")" >> "$WORK/drops"
        sleep 5
    done
    for pid in "${LOADPIDS[@]}"; do wait "$pid"; done
    python3 -c 'import sys,urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' \
        "http://127.0.0.1:$OPS/metrics" > "$WORK/metrics"
    kill -TERM "$GATEPID" "$GARBAGEPID" "$SLOWPID"
    wait "$GATEPID" "$GARBAGEPID" "$SLOWPID" || true

    python3 - "$WORK" "$MAX" "$RATE" "$FAULTRATE" "$DURATION" <<'EOF'
import json, re, sys
work, maximum, rate, faultrate, duration = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
runs = {route: json.load(open(f"{work}/{route}.json")) for route in ("healthy", "flapping", "garbage", "slow")}
samples = [tuple(map(int, line.split())) for line in open(f"{work}/rss") if len(line.split()) == 2]
start = samples[0][0]
# The reference comes after the first minute (or tenth of the run), but not before 30 s: the
# pending tables fill in the first seconds and the first kill of the flapping back end is at 15 s.
settle = min(60, max(duration / 10, 30))
reference = next((kib for t, kib in samples if t - start >= settle), None)
last = samples[-1][1]
peak = max(kib for _, kib in samples)
judged = reference is not None and samples[-1][0] - start >= settle + 10
flat = not judged or last <= reference * 1.10 + 2048

stopped = next((line for line in open(f"{work}/warden.log") if " stopped" in line), "")
counters = {k: int(v) for k, v in re.findall(r"([\w/]+)=(\d+)", stopped)}
metrics = {}
for line in open(f"{work}/metrics"):
    m = re.match(r"(\w+)\{([^}]*)\} (\S+)$", line.strip())
    if m:
        labels = tuple(sorted(re.findall(r'(\w+)="([^"]*)"', m.group(2))))
        metrics[(m.group(1), labels)] = float(m.group(3))
def metric(name, **labels):
    return int(metrics.get((name, tuple(sorted(labels.items()))), 0))
def outcomes(route):
    return {o: metric("snmpwarden_requests_total", route=route, pdu="get", outcome=o) for o in ("ok", "error", "timeout")}
try:
    kills = sum(1 for line in open(f"{work}/flap-events") if " killed " in line)
except FileNotFoundError:
    kills = 0
agents = " ".join(open(f"{work}/{name}.log").read().split("\n")[0] for name in ("garbage", "slow"))
drops, cpu = {}, {}
for line in open(f"{work}/drops"):
    when = int(line.split()[0])
    for name, n in re.findall(r"(\S+)=([\d.]+)", line):
        if name.endswith(".cpu"):
            first = cpu.setdefault(name[:-4], [when, float(n), when, float(n)])
            first[2:] = [when, float(n)]
        else:
            drops[name] = max(drops.get(name, 0), int(n))

def lost(run): return run["errors"]["timeout"] + run.get("unanswered_at_end", 0)
def mismatched(run): return run["errors"]["mismatch"] + run["errors"]["invalid"]
for route, run in runs.items():
    print(json.dumps(run))
for route, run in runs.items():
    back = {c: metric(f"snmpwarden_backend_{c}_total", route=route) for c in ("requests", "retransmissions", "timeouts")}
    print(f"{route}: {run['req_per_s']} req/s, {run['ok']} ok of {run['sent']} sent; lost {lost(run)}, "
          f"genErr {run['errors']['error_status']}, mismatched {mismatched(run)}; latency p50 {run['latency_us']['p50']} us, "
          f"p99 {run['latency_us']['p99']} us, max {run['latency_us']['max']} us | gateway: {outcomes(route)}, back end {back}")
names = ("backend_malformed", "backend_unmatched", "backend_wrong_community", "backend_wrong_source",
         "backend_timeouts", "backend_retransmissions", "pending_overflows", "send_failures")
print("gateway counters at stop:", ", ".join(f"{n} {counters.get(n, '?')}" for n in names))
print("UDP datagrams dropped by the kernel (full receive buffers), per process:",
      ", ".join(f"{name} {n}" for name, n in drops.items()))
print("CPU over the run, % of one core:", ", ".join(
    f"{name} {100 * (c1 - c0) / (t1 - t0):.0f}" for name, (t0, c0, t1, c1) in cpu.items() if t1 > t0))
print(f"faults injected: flapping back end killed {kills} times (down 3 s each); {agents}")
achieved = sum(run["req_per_s"] + run["errors"]["error_status"] / run["seconds"] for run in runs.values())
print(f"rate: healthy {rate} req/s (50% of the {maximum} req/s measured first) + 3 x {faultrate} req/s (10% each); "
      f"answered (ok or genErr) {achieved:.0f} req/s in all, {100 * achieved / (rate + 3 * faultrate):.0f}% of that")
if judged:
    print(f"RSS: {reference // 1024} MiB after {settle:.0f} s, {peak // 1024} MiB at most, {last // 1024} MiB at the end "
          f"({len(samples)} samples) -> {'flat' if flat else 'GROWING'}")
else:
    print(f"RSS: {peak // 1024} MiB at most, {last // 1024} MiB at the end ({len(samples)} samples); "
          f"not judged: the run is too short (the reference is taken after {settle:.0f} s)")

healthy = runs["healthy"]
healthy_lost, healthy_bad = lost(healthy), mismatched(healthy) + healthy["errors"]["error_status"]
checks = [
    ("healthy route: nothing lost", healthy_lost == 0),
    ("healthy route: nothing mismatched or genErr", healthy_bad == 0),
    ("RSS flat" if judged else "RSS flat (not judged: too short)", flat),
    ("garbage: malformed, unmatched, wrong-community and wrong-source answers counted",
     all(counters.get(n, 0) > 0 for n in names[:4])),
    ("garbage: nothing accepted (no ok answer on its route)",
     outcomes("garbage")["ok"] == 0 and runs["garbage"]["ok"] == 0 and runs["garbage"]["sent"] > 0),
    ("flapping: killed, timeouts counted, answered again",
     kills >= 1 and metric("snmpwarden_backend_timeouts_total", route="flapping") > 0 and runs["flapping"]["ok"] > 0),
    ("slow: answered, no sooner than 900 ms", runs["slow"]["ok"] > 0 and runs["slow"]["latency_us"]["p50"] >= 900_000),
]
for name, ok in checks:
    print(f"  {'ok  ' if ok else 'FAIL'} {name}")
print(f"healthy lost: {healthy_lost}, mismatched: {healthy_bad}; valid answers within the window: {healthy['ok']} "
      f"for {healthy['sent']} sent in it")
print("verdict:", "PASS" if all(ok for _, ok in checks) else "FAIL")
sys.exit(0 if all(ok for _, ok in checks) else 1)
EOF
    exit 0
fi

BACK=$(free_port); GATE=$(free_port)

cat > "$WORK/back.conf" <<EOF
[snmp] persistentDir $WORK/back
rocommunity backpub 127.0.0.1
EOF
# SNMPD_RCVBUF=4194304: snmpd's receive buffer (serverRecvBuf); by default the kernel's (208 KiB).
[[ -n ${SNMPD_RCVBUF:-} ]] && echo "[snmp] serverRecvBuf $SNMPD_RCVBUF" >> "$WORK/back.conf"
warden_config "$WORK/warden.yaml" "$GATE" back "$BACK" "community: backpub, timeout: 1s, retries: 2" "" \
    "max-pending: 20000"

"$SNMPD" -f -C -c "$WORK/back.conf" -Lf "$WORK/back.log" "udp:127.0.0.1:$BACK" & PIDS+=($!); SNMPDPID=$!
"$WARDEN" run --config "$WORK/warden.yaml" ${THREADS:+--threads "$THREADS"} 2> "$WORK/warden.log" & PIDS+=($!); GATEPID=$!
for _ in $(seq 1 100); do
    snmpget -v2c -c backpub -r 0 -t 1 "udp:127.0.0.1:$BACK" 1.3.6.1.2.1.1.5.0 >/dev/null 2>&1 \
        && grep -q listening "$WORK/warden.log" && break
    sleep 0.1
done

LOADARGS=(--target "udp:127.0.0.1:$GATE" --version 3 --user benchuser --auth SHA --auth-pass authpass123
    --priv AES --priv-pass privpass123 --op get --oid 1.3.6.1.2.1.1.1.0 --oid 1.3.6.1.2.1.1.3.0
    --oid 1.3.6.1.2.1.1.5.0 --pid "$GATEPID")
MAX=$("$LOAD" --label max "${LOADARGS[@]}" --in-flight 32 --sockets 4 --duration 5 --warmup 1 \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["req_per_s"])')
RATE=$((MAX * 8 / 10))
echo "maximum $MAX req/s; soaking at $RATE req/s for $DURATION s" >&2

"$LOAD" --label soak "${LOADARGS[@]}" --rate "$RATE" --in-flight 512 --sockets 8 --duration "$DURATION" \
    --warmup 2 > "$WORK/soak.json" &
LOADPID=$!
: > "$WORK/rss"
: > "$WORK/drops"
# Datagrams the kernel dropped on each process's UDP sockets (a full receive buffer): a loss
# shows whose buffer it was.
SAMPLED=("gateway=$GATEPID:$GATE" "snmpd=$SNMPDPID" "load=$LOADPID")
while kill -0 "$LOADPID" 2>/dev/null; do
    echo "$(date +%s) $(rss "$GATEPID")" >> "$WORK/rss"
    echo "$(python3 "$ROOT/scripts/fault-agents.py" sample "${SAMPLED[@]}")" >> "$WORK/drops"
    sleep 5
done
wait "$LOADPID"
STATUS_LINE=$(grep stopped "$WORK/warden.log" || true)

python3 - "$WORK/soak.json" "$WORK/rss" "$MAX" "$RATE" "$DURATION" "$WORK/drops" <<'EOF'
import json, re, sys
run = json.load(open(sys.argv[1]))
samples = [tuple(map(int, line.split())) for line in open(sys.argv[2]) if len(line.split()) == 2]
maximum, rate, duration = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
start = samples[0][0]
settle = min(60, duration / 10)
reference = next((kib for t, kib in samples if t - start >= settle), samples[0][1])
last = samples[-1][1]
peak = max(kib for _, kib in samples)
lost = run["errors"]["timeout"] + run.get("unanswered_at_end", 0)
mismatched = run["errors"]["mismatch"] + run["errors"]["invalid"] + run["errors"]["error_status"]
flat = last <= reference * 1.10 + 2048
print(json.dumps(run))
print(f"rate: {run['req_per_s']} req/s for {run['seconds']} s (80% of the {maximum} req/s measured first; target {rate})")
print(f"RSS: {reference // 1024} MiB after {settle:.0f} s, {peak // 1024} MiB at most, {last // 1024} MiB at the end "
      f"({len(samples)} samples) -> {'flat' if flat else 'GROWING'}")
print(f"lost: {lost}, mismatched: {mismatched}; valid answers within the window: {run['ok']} "
      f"for {run['sent']} sent in it (answers to the last requests may arrive just after it closes)")
drops = {}
for line in open(sys.argv[6]):
    for name, n in re.findall(r"(\S+)=([\d.]+)", line):
        if not name.endswith(".cpu"):
            drops[name] = max(drops.get(name, 0), int(n))
print("UDP datagrams dropped by the kernel (full receive buffers), per process:",
      ", ".join(f"{name} {n}" for name, n in sorted(drops.items())) or "none sampled")
print("verdict:", "PASS" if flat and lost == 0 and mismatched == 0 else "FAIL")
EOF
