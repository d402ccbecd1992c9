#!/usr/bin/env bash
# The soak of issue 6: snmpwarden in front of a Net-SNMP snmpd v2c back end, on loopback, under
# GETs (authPriv SHA/AES, 3 scalars) at 80% of the rate it reaches when pushed, for SECONDS
# (default 600). Prints the load generator's JSON line, the gateway's RSS over the run, and a verdict:
# RSS flat (the last sample within 10% + 2 MiB of the sample after the first minute, or after the
# first tenth for short runs), 0 lost (timed out or never answered), 0 mismatched (wrong request-id,
# names, error-status or an undecodable answer).
#
#   scripts/soak.sh [SECONDS]
#   THREADS=2 scripts/soak.sh 600      # snmpwarden's event loops (default: 1)
#
# Needs what scripts/bench-peers.sh needs. Everything it starts is stopped by pid when it ends.
set -euo pipefail

DURATION=${1:-600}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
NAME=soak
# shellcheck source=scripts/lib-peers.sh
source "$ROOT/scripts/lib-peers.sh"
BACK=$(free_port); GATE=$(free_port)

cat > "$WORK/back.conf" <<EOF
[snmp] persistentDir $WORK/back
rocommunity backpub 127.0.0.1
EOF
warden_config "$WORK/warden.yaml" "$GATE" back "$BACK" "community: backpub, timeout: 1s, retries: 2" "" \
    "max-pending: 20000"

"$SNMPD" -f -C -c "$WORK/back.conf" -Lf "$WORK/back.log" "udp:127.0.0.1:$BACK" & PIDS+=($!)
"$WARDEN" run --config "$WORK/warden.yaml" --threads "${THREADS:-1}" 2> "$WORK/warden.log" & PIDS+=($!); GATEPID=$!
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

rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
"$LOAD" --label soak "${LOADARGS[@]}" --rate "$RATE" --in-flight 512 --sockets 8 --duration "$DURATION" \
    --warmup 2 > "$WORK/soak.json" &
LOADPID=$!
: > "$WORK/rss"
while kill -0 "$LOADPID" 2>/dev/null; do
    echo "$(date +%s) $(rss "$GATEPID")" >> "$WORK/rss"
    sleep 5
done
wait "$LOADPID"
STATUS_LINE=$(grep stopped "$WORK/warden.log" || true)

python3 - "$WORK/soak.json" "$WORK/rss" "$MAX" "$RATE" "$DURATION" <<'EOF'
import json, sys
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
print("verdict:", "PASS" if flat and lost == 0 and mismatched == 0 else "FAIL")
EOF
