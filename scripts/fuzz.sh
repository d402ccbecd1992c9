#!/usr/bin/env bash
# Fuzz the decoder or the USM engine with libFuzzer.
#
#   scripts/fuzz.sh [SECONDS] [TARGET]     (defaults: 600, FuzzWireDecode; the other target is FuzzUSMInbound)
#
# Builds TARGET with the fuzzer and address sanitizers into .build-fuzz/, seeds a corpus (the
# captured Net-SNMP fixtures; for FuzzUSMInbound also one valid request per user of its engine),
# and runs for SECONDS. A crash leaves its input in .build-fuzz/artifacts/; keep it as a regression
# test (Tests/SNMPWireTests/Regression/ or the USM fuzz regression test).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
target="${2:-FuzzWireDecode}"
# --sanitize=fuzzer alone instruments only the executable target; -sanitize-coverage puts the edge
# counters into the libraries too, without which libFuzzer finds no coverage at all.
swift build -c debug --sanitize=fuzzer --sanitize=address -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp \
    --product "$target" --scratch-path .build-fuzz
corpus=".build-fuzz/corpus-$target"
mkdir -p "$corpus" .build-fuzz/artifacts
python3 - "$corpus" Tests/SNMPWireTests/Fixtures/*.hex <<'PY'
import pathlib, sys
corpus = pathlib.Path(sys.argv[1])
for name in sys.argv[2:]:
    path = pathlib.Path(name)
    hex_text = "".join(l.strip() for l in path.read_text().splitlines() if not l.startswith("#"))
    (corpus / path.stem).write_bytes(bytes.fromhex(hex_text))
PY
if [ "$target" = FuzzUSMInbound ]; then export FUZZ_USM_SEEDS="$corpus"; fi
SWIFT_BACKTRACE=enable=no ".build-fuzz/debug/$target" "$corpus" \
    -max_total_time="$seconds" -max_len=2048 -print_final_stats=1 \
    -artifact_prefix=.build-fuzz/artifacts/
