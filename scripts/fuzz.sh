#!/usr/bin/env bash
# Fuzz the SNMP wire decoder with libFuzzer.
#
#   scripts/fuzz.sh [SECONDS]     (default 600)
#
# Builds FuzzWireDecode with the fuzzer and address sanitizers into .build-fuzz/, seeds a corpus from
# the captured Net-SNMP fixtures, and runs for SECONDS. A crash leaves its input in
# .build-fuzz/artifacts/; keep it as a regression test in Tests/SNMPWireTests/FuzzRegressionTests.swift.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
# --sanitize=fuzzer alone instruments only the executable target; -sanitize-coverage puts the edge
# counters into SNMPWire too, without which libFuzzer finds no coverage at all.
swift build -c debug --sanitize=fuzzer --sanitize=address -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp \
    --product FuzzWireDecode --scratch-path .build-fuzz
corpus=.build-fuzz/corpus
mkdir -p "$corpus" .build-fuzz/artifacts
python3 - "$corpus" Tests/SNMPWireTests/Fixtures/*.hex <<'PY'
import pathlib, sys
corpus = pathlib.Path(sys.argv[1])
for name in sys.argv[2:]:
    path = pathlib.Path(name)
    hex_text = "".join(l.strip() for l in path.read_text().splitlines() if not l.startswith("#"))
    (corpus / path.stem).write_bytes(bytes.fromhex(hex_text))
PY
SWIFT_BACKTRACE=enable=no .build-fuzz/debug/FuzzWireDecode "$corpus" \
    -max_total_time="$seconds" -max_len=2048 -print_final_stats=1 \
    -artifact_prefix=.build-fuzz/artifacts/
