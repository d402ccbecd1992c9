# Shared by bench-peers.sh and soak.sh (sourced, not run): a temporary directory, the processes
# started (stopped by pid on exit), Net-SNMP's environment, the release builds and free ports.
# Expects ROOT and NAME to be set by the caller.
WORK=$(mktemp -d "/tmp/snmpwarden-$NAME-XXXXXX")
PIDS=()
# Processes started by a background job of the caller (not children of this shell) write their pid
# to a file $WORK/NAME.pid, and are stopped here too.
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    for file in "$WORK"/*.pid; do
        [[ -f $file ]] || continue
        pid=$(cat "$file")
        kill "$pid" 2>/dev/null || continue
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

SNMPD=${SNMPD:-/usr/sbin/snmpd}
export SNMP_PERSISTENT_DIR="$WORK/tools" HOME="$WORK" MIBS=""
mkdir -p "$WORK/tools" "$WORK/back"

echo "building (release)..." >&2
(cd "$ROOT" && swift build -c release --product snmpwarden >&2)
(cd "$ROOT/Benchmarks" && swift build -c release --product LoadGenerator >&2)
WARDEN="$ROOT/.build/release/snmpwarden"
LOAD="$ROOT/Benchmarks/.build/release/LoadGenerator"

free_port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# warden_config FILE LISTEN_PORT BACKEND BACKEND_PORT BACKEND_OPTIONS ROUTE_OPTIONS LIMITS: an
# snmpwarden configuration for the benchmark user (authPriv SHA/AES) reading everything of one
# v2c back end on loopback.
warden_config() {
    cat > "$1" <<CONF
engine: { state-dir: ${1%.yaml}-state }
listen: [ "udp:127.0.0.1:$2" ]
users:
  - { name: benchuser, auth: SHA, auth-key: authpass123, priv: AES, priv-key: privpass123 }
backends:
  - { name: $3, address: "udp:127.0.0.1:$4", version: 2c, $5 }
views:
  - { name: all, include: [ 1.3 ] }
routes:
  - { name: $3, users: [ benchuser ], backend: $3, read-view: all$6 }
limits: { $7 }
CONF
}
