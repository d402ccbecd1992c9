#!/usr/bin/env bash
# Fuzz the decoder or the USM engine with libFuzzer.
#
#   scripts/fuzz.sh [SECONDS] [TARGET]     (defaults: 600, FuzzWireDecode; the others: FuzzUSMInbound,
#                                           FuzzRequestMachine, the whole request pipeline)
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
if [ "$target" = FuzzRequestMachine ]; then
    # Records (operation, length, bytes): each captured request from a manager, then each captured
    # answer as an agent's, then a timer tick; and the same with the v1 community.
    python3 - "$corpus" Tests/SNMPWireTests/Fixtures/*.hex <<'PY'
import pathlib, struct, sys
corpus = pathlib.Path(sys.argv[1])
def read(name):
    path = pathlib.Path(name)
    return bytes.fromhex("".join(l.strip() for l in path.read_text().splitlines() if not l.startswith("#")))
requests = [read(n) for n in sys.argv[2:] if n.endswith("-request.hex") or "-request-" in n]
responses = [read(n) for n in sys.argv[2:] if n.endswith("-response.hex") or "-response-" in n]
record = lambda op, data: struct.pack(">BH", op, len(data)) + data
for i, request in enumerate(requests):
    for j, response in enumerate(responses[:6]):
        seed = record(0, request) + record(1 + 3 * (j % 4), response) + record(2, b"") + record(1, response)
        (corpus / f"pipeline-{i}-{j}").write_bytes(seed)
PY
fi
SWIFT_BACKTRACE=enable=no ".build-fuzz/debug/$target" "$corpus" \
    -max_total_time="$seconds" -max_len=2048 -print_final_stats=1 \
    -artifact_prefix=.build-fuzz/artifacts/
