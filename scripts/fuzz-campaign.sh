#!/usr/bin/env bash
# A fuzz campaign: every libFuzzer target, one after the other, each for its share of the time, in
# the optimised build (FUZZ_MODE=release: Swift's own checks on, no address sanitizer) unless
# FUZZ_MODE says otherwise. Prints the inputs each target ran and the total, and appends them to
# .build-fuzz-release/campaign.log. The corpora grow in .build-fuzz-release/corpus-TARGET.
#
#   scripts/fuzz-campaign.sh [SECONDS]        # SECONDS in all (default 3600), shared as below
#   SHARES="FuzzRequestMachine:50 FuzzWireDecode:15 FuzzUSMInbound:20 FuzzConfigLoader:15" \
#       scripts/fuzz-campaign.sh 7200
#   FUZZ_JOBS=2 scripts/fuzz-campaign.sh ...  # two processes per target
#
# A crash stops that target's run (with FUZZ_JOBS > 1 it goes on); its input is in
# .build-fuzz-release/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
total="${1:-3600}"
shares="${SHARES:-FuzzRequestMachine:50 FuzzWireDecode:15 FuzzUSMInbound:20 FuzzConfigLoader:15}"
export FUZZ_MODE="${FUZZ_MODE:-release}"
log=.build-fuzz-release/campaign.log
mkdir -p .build-fuzz-release
sum=0
results=()
for entry in $shares; do
    target="${entry%%:*}"
    share="${entry##*:}"
    seconds=$((total * share / 100))
    [ "$seconds" -gt 0 ] || continue
    out=".build-fuzz-release/last-$target.log"
    status=0
    scripts/fuzz.sh "$seconds" "$target" > "$out" 2>&1 || status=$?
    # With -fork the last statistics line is the sum of the children's.
    runs=$(grep -E "stat::number_of_executed_units" "$out" | tail -1 | awk '{print $2}')
    runs="${runs:-0}"
    crashes=$(grep -cE "^==[0-9]+== ERROR|Fatal error|deadly signal" "$out" || true)
    sum=$((sum + runs))
    results+=("$(printf '%-20s %7ss %14s inputs   exit %s   crash reports %s' "$target" "$seconds" "$runs" "$status" "$crashes")")
done
{
    echo "campaign $(date -u +%Y-%m-%dT%H:%M:%SZ) mode=$FUZZ_MODE seconds=$total jobs=${FUZZ_JOBS:-1}"
    printf '%s\n' "${results[@]}"
    echo "total inputs: $sum"
} | tee -a "$log"
