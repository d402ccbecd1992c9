#!/usr/bin/env bash
# Folds what a campaign's fuzzers kept into the corpora `swift test` replays: each target's corpus
# is minimised with libFuzzer's -merge=1 (the inputs that reach coverage the others do not) and
# written one input per line, in hex, after a two-line header.
#
#   scripts/fuzz-keep.sh "NOTE FOR THE HEADER"
#
# Reads .build-fuzz-release/corpus-TARGET (and .build-fuzz-notify/corpus for the notification relay).
set -euo pipefail
cd "$(dirname "$0")/.."
note="${1:-}"
keep() { # target binary corpus file
    local target=$1 binary=$2 corpus=$3 file=$4
    [ -x "$binary" ] && [ -d "$corpus" ] || { echo "$target: nothing to keep" >&2; return 0; }
    local merged previous
    merged=$(mktemp -d)
    previous=$(mktemp -d)
    # What the file kept before goes into the merge too, so nothing it covered is lost.
    if [ -f "$file" ]; then
        python3 - "$file" "$previous" <<'PY'
import pathlib, sys
for n, line in enumerate(l for l in pathlib.Path(sys.argv[1]).read_text().splitlines() if l and not l.startswith("#")):
    (pathlib.Path(sys.argv[2]) / f"kept-{n}").write_bytes(bytes.fromhex(line))
PY
    fi
    SWIFT_BACKTRACE=enable=no "$binary" -merge=1 "$merged" "$previous" "$corpus" > /dev/null 2>&1
    rm -rf "$previous"
    python3 - "$merged" "$file" "$target" "$note" <<'PY'
import pathlib, sys
merged, file, target, note = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3], sys.argv[4]
inputs = sorted(p.read_bytes() for p in merged.iterdir())
header = [f"# Inputs kept by the {target} fuzzer (scripts/fuzz-campaign.sh), minimised with -merge=1, one",
          f"# per line in hex; replayed by swift test. {len(inputs)} inputs. {note}".rstrip()]
file.parent.mkdir(parents=True, exist_ok=True)
file.write_text("\n".join(header + [i.hex() for i in inputs if i]) + "\n")
print(f"{target}: {len(inputs)} inputs -> {file}")
PY
    rm -rf "$merged"
}
R=.build-fuzz-release
keep FuzzWireDecode "$R/release/FuzzWireDecode" "$R/corpus-FuzzWireDecode" Tests/SNMPWireTests/Regression/fuzz-corpus.hex
keep FuzzUSMInbound "$R/release/FuzzUSMInbound" "$R/corpus-FuzzUSMInbound" Tests/SNMPSecurityTests/Regression/usm-corpus.hex
keep FuzzRequestMachine "$R/release/FuzzRequestMachine" "$R/corpus-FuzzRequestMachine" Tests/WardenForwarderTests/Regression/request-machine-corpus.hex
keep FuzzConfigLoader "$R/release/FuzzConfigLoader" "$R/corpus-FuzzConfigLoader" Tests/WardenConfigTests/Regression/config-corpus.hex
keep FuzzNotificationMachine .build-fuzz-notify/release/FuzzNotificationMachine .build-fuzz-notify/corpus Tests/WardenForwarderTests/Regression/notification-machine-corpus.hex
