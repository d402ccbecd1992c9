#!/usr/bin/env bash
# Fuzz one target with libFuzzer.
#
#   scripts/fuzz.sh [SECONDS] [TARGET]     (defaults: 600, FuzzWireDecode; the others: FuzzUSMInbound,
#                                           FuzzRequestMachine (the whole request pipeline),
#                                           FuzzConfigLoader (the configuration loader, mutated YAML),
#                                           FuzzNotificationMachine (the notification relay))
#   FUZZ_MODE=release scripts/fuzz.sh ...  (optimised, without the address sanitizer: about ten
#                                           times the inputs a second; Swift's own checks stay on)
#   FUZZ_JOBS=N                            (N processes sharing the corpus; default 1)
#
# Builds TARGET with the fuzzer sanitizer (and, by default, the address sanitizer) into
# .build-fuzz/ (.build-fuzz-release/), seeds a corpus (the captured Net-SNMP fixtures; for
# FuzzUSMInbound also one valid request per user of its engine; for FuzzConfigLoader the shipped
# configurations), and runs for SECONDS. A crash leaves its input in the artifacts/ directory
# there; keep it as a regression test (Tests/*/Regression/).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
target="${2:-FuzzWireDecode}"
mode="${FUZZ_MODE:-asan}"
jobs="${FUZZ_JOBS:-1}"
# --sanitize=fuzzer alone instruments only the executable target; -sanitize-coverage puts the edge
# counters into the libraries too, without which libFuzzer finds no coverage at all.
coverage=(-Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp)
if [ "$mode" = release ]; then
    scratch=.build-fuzz-release
    swift build -c release --sanitize=fuzzer "${coverage[@]}" --product "$target" --scratch-path "$scratch"
    binary="$scratch/release/$target"
else
    scratch=.build-fuzz
    swift build -c debug --sanitize=fuzzer --sanitize=address "${coverage[@]}" --product "$target" --scratch-path "$scratch"
    binary="$scratch/debug/$target"
fi
corpus="$scratch/corpus-$target"
artifacts="$scratch/artifacts"
mkdir -p "$corpus" "$artifacts"
if [ "$target" = FuzzConfigLoader ]; then
    cp conf/*.yaml conf/examples/*.yaml "$corpus/" 2>/dev/null || true
fi
if [ "$target" != FuzzConfigLoader ] && [ "$target" != FuzzNotificationMachine ]; then python3 - "$corpus" Tests/SNMPWireTests/Fixtures/*.hex <<'PY'
import pathlib, sys
corpus = pathlib.Path(sys.argv[1])
for name in sys.argv[2:]:
    path = pathlib.Path(name)
    hex_text = "".join(l.strip() for l in path.read_text().splitlines() if not l.startswith("#"))
    (corpus / path.stem).write_bytes(bytes.fromhex(hex_text))
PY
fi
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
if [ "$target" = FuzzNotificationMachine ]; then
    # Records (operation, length, bytes), as FuzzNotificationMachineCheck reads them: a v2c trap, a
    # v2c inform and its receiver's acknowledgement, a v1 trap, timer ticks.
    python3 - "$corpus" <<'SEEDS'
import pathlib, struct, sys
corpus = pathlib.Path(sys.argv[1])
def tlv(tag, body):
    n = len(body)
    return bytes([tag]) + (bytes([n]) if n < 128 else bytes([0x81, n]) if n < 256 else bytes([0x82, n >> 8, n & 255])) + body
def oid(text):
    arcs = [int(a) for a in text.split(".")]
    out = bytes([40 * arcs[0] + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]; arc >>= 7
        while arc: chunk.insert(0, 0x80 | (arc & 0x7F)); arc >>= 7
        out += bytes(chunk)
    return tlv(6, out)
def vb(name, value): return tlv(0x30, oid(name) + value)
def v2(pdu_tag, trap_oid, community=b"public", request_id=7):
    varbinds = vb("1.3.6.1.2.1.1.3.0", tlv(0x43, b"\x01\x00")) + vb("1.3.6.1.6.3.1.1.4.1.0", oid(trap_oid)) \
        + vb("1.3.6.1.2.1.2.2.1.1.3", tlv(2, b"\x03")) + vb("1.3.6.1.2.1.2.2.1.2.3", tlv(4, b"port-3"))
    pdu = tlv(pdu_tag, tlv(2, bytes([request_id])) + tlv(2, b"\x00") + tlv(2, b"\x00") + tlv(0x30, varbinds))
    return tlv(0x30, tlv(2, b"\x01") + tlv(4, community) + pdu)
v1 = tlv(0x30, tlv(2, b"\x00") + tlv(4, b"public") + tlv(0xA4, oid("1.3.6.1.4.1.9") + tlv(0x40, bytes([192, 0, 2, 10]))
    + tlv(2, b"\x06") + tlv(2, b"\x05") + tlv(0x43, b"\x64") + tlv(0x30, vb("1.3.6.1.2.1.2.2.1.1.3", tlv(2, b"\x03")))))
ack = tlv(0x30, tlv(2, b"\x01") + tlv(4, b"nms") + tlv(0xA2, tlv(2, b"\x01") + tlv(2, b"\x00") + tlv(2, b"\x00") + tlv(0x30, b"")))
record = lambda op, data: struct.pack(">BH", op, len(data)) + data
seeds = {
    "trap": record(0, v2(0xA7, "1.3.6.1.6.3.1.1.5.3")),
    "inform-ack": record(0, v2(0xA6, "1.3.6.1.4.1.9.0.7")) + record(1, ack) + record(2, b""),
    "inform-timeout": record(0, v2(0xA6, "1.3.6.1.6.3.1.1.5.4")) + record(200, b"") + record(200, b"") + record(0, v2(0xA6, "1.3.6.1.6.3.1.1.5.4")),
    "v1": record(0, v1) + record(3, v1),
}
for name, data in seeds.items():
    (corpus / f"notification-{name}").write_bytes(data)
SEEDS
fi
max_len=2048
if [ "$target" = FuzzConfigLoader ]; then max_len=8192; fi
if [ "$jobs" -gt 1 ]; then
    # -fork keeps going after a crash is found and sums the statistics of its children.
    SWIFT_BACKTRACE=enable=no "$binary" "$corpus" -fork="$jobs" -ignore_crashes=1 \
        -max_total_time="$seconds" -max_len="$max_len" -print_final_stats=1 -artifact_prefix="$artifacts/"
else
    SWIFT_BACKTRACE=enable=no "$binary" "$corpus" \
        -max_total_time="$seconds" -max_len="$max_len" -print_final_stats=1 -artifact_prefix="$artifacts/"
fi
