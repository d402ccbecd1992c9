#!/usr/bin/env bash
# Validate deploy/: the systemd unit, the Kubernetes manifests, the example configurations and the
# Grafana dashboard. Exits non-zero if anything fails; prints one line per check and a summary.
#
#   scripts/validate-deploy.sh
#
# Needs: bash, systemd-analyze (systemd >= 252), python3 with pip (or venv). Installs the PyPI
# package kubernetes-validate (pinned, see KUBERNETES_VALIDATE below) if python3 cannot import it.
# Environment:
#   K8S_VERSIONS          Kubernetes versions to validate against (default "1.30.0 1.33.0")
#   SECURITY_THRESHOLD    systemd-analyze security --threshold, on its 0-100 scale (default 29 = 2.9)
#   PYTHON                the Python to use (default python3)
#
# What each check does:
# 1. `systemd-analyze security --offline=true --threshold=29` on deploy/systemd/snmpwarden.service:
#    systemd 252 rates exposure 0.0-10.0 but compares --threshold on a 0-100 scale (1.4 counts as 14),
#    and exits non-zero above it. 29 = "OK" or better (<= 2.9).
# 2. `systemd-analyze verify`: on the real unit it can only say that /usr/local/bin/snmpwarden does
#    not exist (expected: the binary is not installed here), and it reports syntax problems as
#    warnings while still exiting 0. So it runs on a copy whose snmpwarden commands are /bin/true,
#    and ANY line it prints about the unit is a failure; on the real unit, the "not executable"
#    lines for /usr/local/bin/snmpwarden are the only ones allowed.
# 3. `kubernetes-validate --strict -k VERSION` on every manifest of deploy/kubernetes except
#    kustomization.yaml (no schema for it), which is checked here instead: it parses and lists
#    every manifest, and each manifest it lists exists.
# 4. Cross-checks: the example configurations parse as YAML; every file:/run/credentials/... secret
#    of the systemd configuration has a LoadCredential= line; every file:/etc/snmpwarden/keys/...
#    secret of the ConfigMap's configuration is a key of the Secret; the Deployment mounts them
#    without subPath.
# 5. The Grafana dashboard is valid JSON (python3 -m json.tool), uses ${DS_PROMETHEUS}, and names
#    every metric the gateway exports; its PromQL parses if the promql-parser package can be had.
set -uo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

KUBERNETES_VALIDATE="kubernetes-validate==1.37.0"
K8S_VERSIONS="${K8S_VERSIONS:-1.30.0 1.33.0}"
SECURITY_THRESHOLD="${SECURITY_THRESHOLD:-29}"
PY="${PYTHON:-python3}"

unit=deploy/systemd/snmpwarden.service
passed=0
failed=0
ok() { echo "ok:   $*"; passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# ---------------------------------------------------------------------------------------------
# 1. systemd-analyze security
if ! command -v systemd-analyze >/dev/null 2>&1; then
    bad "systemd-analyze not found (apt-get install systemd)"
else
    echo "== $(systemd-analyze --version | head -n 1)"
    systemd-analyze security --offline=true --threshold="$SECURITY_THRESHOLD" "$unit" >"$work/security.out" 2>&1
    status=$?
    exposure="$(grep -a 'Overall exposure level' "$work/security.out" | tail -n 1)"
    echo "     ${exposure:-no exposure line}"
    if [ "$status" -ne 0 ]; then
        cat "$work/security.out"
        bad "systemd-analyze security: exposure above ${SECURITY_THRESHOLD}/100 (exit $status)"
    elif [ -z "$exposure" ]; then
        cat "$work/security.out"
        bad "systemd-analyze security printed no exposure level"
    else
        ok "systemd-analyze security --offline=true --threshold=$SECURITY_THRESHOLD $unit"
    fi

    # 2. systemd-analyze verify, on a copy whose binary exists, then on the real unit.
    mkdir -p "$work/unit"
    sed 's#/usr/local/bin/snmpwarden#/bin/true#g' "$unit" >"$work/unit/snmpwarden.service"
    systemd-analyze verify "$work/unit/snmpwarden.service" >"$work/verify.out" 2>&1
    status=$?
    ours="$(grep -a 'snmpwarden' "$work/verify.out" || true)"
    if [ "$status" -ne 0 ] || [ -n "$ours" ]; then
        cat "$work/verify.out"
        bad "systemd-analyze verify (ExecStart* -> /bin/true) found problems in the unit (exit $status)"
    else
        [ -s "$work/verify.out" ] && sed 's/^/     (other units) /' "$work/verify.out"
        ok "systemd-analyze verify: no complaint about the unit (copy with /bin/true for the binary)"
    fi
    systemd-analyze verify "$unit" >"$work/verify-real.out" 2>&1
    unexpected="$(grep -a 'snmpwarden' "$work/verify-real.out" \
        | grep -av 'Command /usr/local/bin/snmpwarden is not executable' || true)"
    if [ -n "$unexpected" ]; then
        cat "$work/verify-real.out"
        bad "systemd-analyze verify $unit: unexpected complaints"
    else
        if grep -aq 'not executable' "$work/verify-real.out"; then
            echo "     expected on a machine without the binary: $(grep -a 'not executable' "$work/verify-real.out" | head -n 1)"
        fi
        ok "systemd-analyze verify $unit: only the missing binary"
    fi
fi

# ---------------------------------------------------------------------------------------------
# Python and its packages.
have_module() { "$PY" -c "import $1" >/dev/null 2>&1; }
# Install a package into $PY; if that Python refuses (PEP 668, no pip), use a private venv.
ensure_module() {
    local module="$1" spec="$2"
    have_module "$module" && return 0
    echo "     installing $spec"
    if "$PY" -m pip install --quiet --disable-pip-version-check "$spec" >"$work/pip.out" 2>&1 \
        && have_module "$module"; then
        return 0
    fi
    local venv="$root/.build/validate-deploy-venv"
    if [ ! -x "$venv/bin/python" ]; then
        "$PY" -m venv "$venv" >>"$work/pip.out" 2>&1 || { cat "$work/pip.out"; return 1; }
    fi
    PY="$venv/bin/python"
    have_module "$module" && return 0
    "$PY" -m pip install --quiet --disable-pip-version-check "$spec" >>"$work/pip.out" 2>&1 \
        && have_module "$module" && return 0
    cat "$work/pip.out"
    return 1
}

if ! command -v "$PY" >/dev/null 2>&1; then
    bad "$PY not found"
else
    # ---------------------------------------------------------------------------------------------
    # 3. kubernetes-validate
    if ensure_module kubernetes_validate "$KUBERNETES_VALIDATE"; then
        manifests=()
        for f in deploy/kubernetes/*.yaml; do
            [ "$(basename "$f")" = kustomization.yaml ] && continue
            manifests+=("$f")
        done
        echo "== kubernetes-validate $("$PY" -m kubernetes_validate --version) on ${#manifests[@]} manifests"
        for version in $K8S_VERSIONS; do
            if "$PY" -m kubernetes_validate --strict -k "$version" "${manifests[@]}" >"$work/kv.out" 2>&1; then
                ok "kubernetes-validate --strict -k $version: $(grep -c 'passed for resource' "$work/kv.out") resources passed"
            else
                cat "$work/kv.out"
                bad "kubernetes-validate --strict -k $version"
            fi
        done
    else
        bad "cannot install $KUBERNETES_VALIDATE"
    fi

    # ---------------------------------------------------------------------------------------------
    # 3b and 4. kustomization.yaml and cross-checks (PyYAML comes with kubernetes-validate).
    if "$PY" - "$root" >"$work/cross.out" 2>&1 <<'PY'
import glob, os, re, sys
import yaml

root = sys.argv[1]
os.chdir(root)
problems = []
def load_all(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]

# kustomization.yaml: parses, lists every manifest, and each listed file exists.
k = load_all("deploy/kubernetes/kustomization.yaml")[0]
if k.get("kind") != "Kustomization":
    problems.append("kustomization.yaml: kind is not Kustomization")
listed = set(k.get("resources", []))
present = {os.path.basename(p) for p in glob.glob("deploy/kubernetes/*.yaml")} - {"kustomization.yaml"}
for name in sorted(listed - present):
    problems.append(f"kustomization.yaml lists {name}, which does not exist")
for name in sorted(present - listed):
    problems.append(f"kustomization.yaml does not list {name}")

# Example configurations parse as YAML.
for path in ["deploy/systemd/snmpwarden.yaml", "deploy/container/snmpwarden.yaml"]:
    try:
        load_all(path)
    except yaml.YAMLError as e:
        problems.append(f"{path}: {e}")

# systemd: each credential the configuration reads is loaded by the unit.
unit = open("deploy/systemd/snmpwarden.service").read()
loaded = set(re.findall(r"^LoadCredential=([^:\s]+):", unit, re.M))
wanted = set(re.findall(r"file:/run/credentials/snmpwarden\.service/([\w.-]+)", open("deploy/systemd/snmpwarden.yaml").read()))
for name in sorted(wanted - loaded):
    problems.append(f"deploy/systemd/snmpwarden.yaml reads credential {name}, but the unit has no LoadCredential={name}:...")

# Kubernetes: the ConfigMap's configuration parses; each key file it reads is in the Secret;
# the Deployment mounts ConfigMap and Secret as directories (no subPath).
docs = {}
for path in glob.glob("deploy/kubernetes/*.yaml"):
    for d in load_all(path):
        docs.setdefault(d.get("kind"), []).append(d)
cm = docs["ConfigMap"][0]
config_text = cm["data"]["snmpwarden.yaml"]
config = yaml.safe_load(config_text)
secret = docs["Secret"][0]
secret_keys = set(secret.get("stringData", {})) | set(secret.get("data", {}))
for name in sorted(set(re.findall(r"file:/etc/snmpwarden/keys/([\w.-]+)", config_text)) - secret_keys):
    problems.append(f"configmap.yaml reads keys/{name}, which is not a key of the Secret")
engine = config.get("engine", {})
for field in ("id", "time", "epoch"):
    if field not in engine:
        problems.append(f"configmap.yaml: engine.{field} is missing (replicas must share one engine)")
if engine.get("time") != "epoch":
    problems.append("configmap.yaml: engine.time must be epoch for replicas")
dep = docs["Deployment"][0]
pod = dep["spec"]["template"]["spec"]
container = pod["containers"][0]
for m in container.get("volumeMounts", []):
    if "subPath" in m or "subPathExpr" in m:
        problems.append(f"deployment.yaml: volume {m['name']} is mounted with subPath (never updates)")
volumes = {v["name"]: v for v in pod["volumes"]}
mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
if volumes.get(mounts.get("/etc/snmpwarden"), {}).get("configMap", {}).get("name") != cm["metadata"]["name"]:
    problems.append("deployment.yaml: /etc/snmpwarden is not the ConfigMap")
if volumes.get(mounts.get("/etc/snmpwarden/keys"), {}).get("secret", {}).get("secretName") != secret["metadata"]["name"]:
    problems.append("deployment.yaml: /etc/snmpwarden/keys is not the Secret")
ports = {p["name"]: p for p in container["ports"]}
listen_port = int(config["listen"][0].rsplit(":", 1)[1])
if ports.get("snmp", {}).get("containerPort") != listen_port:
    problems.append("deployment.yaml: port snmp is not the configuration's listen port")
ops_port = int(config["ops"]["listen"].rsplit(":", 1)[1])
if ports.get("ops", {}).get("containerPort") != ops_port:
    problems.append("deployment.yaml: port ops is not the configuration's ops port")
for svc in docs["Service"]:
    for p in svc["spec"]["ports"]:
        if p.get("targetPort") not in ports:
            problems.append(f"service.yaml: {svc['metadata']['name']} targets port {p.get('targetPort')}, which the pod does not name")

for p in problems:
    print(p)
print(f"{len(problems)} problems")
sys.exit(1 if problems else 0)
PY
    then
        ok "kustomization.yaml and cross-checks (credentials, keys, mounts, ports)"
    else
        cat "$work/cross.out"
        bad "kustomization.yaml and cross-checks"
    fi

    # ---------------------------------------------------------------------------------------------
    # 5. Grafana dashboard
    dashboard=deploy/grafana/snmpwarden-dashboard.json
    if "$PY" -m json.tool "$dashboard" >/dev/null 2>"$work/json.out"; then
        ok "$dashboard is valid JSON"
    else
        cat "$work/json.out"
        bad "$dashboard is not valid JSON"
    fi
    ensure_module promql_parser promql-parser >/dev/null 2>&1 || true
    if "$PY" - "$dashboard" >"$work/dash.out" 2>&1 <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
problems = []
text = json.dumps(d)
if "${DS_PROMETHEUS}" not in text or not any(i.get("name") == "DS_PROMETHEUS" for i in d.get("__inputs", [])):
    problems.append("no ${DS_PROMETHEUS} datasource input")
metrics = """snmpwarden_requests_total snmpwarden_refusals_total snmpwarden_usm_stats_total
snmpwarden_backend_requests_total snmpwarden_backend_retransmissions_total snmpwarden_backend_timeouts_total
snmpwarden_backend_unmatched_total snmpwarden_pending_requests snmpwarden_queued_requests snmpwarden_request_duration_seconds_bucket
snmpwarden_backend_round_trip_seconds_bucket snmpwarden_in_packets_total snmpwarden_in_parse_errors_total
snmpwarden_config_last_reload_successful snmpwarden_config_last_reload_success_timestamp_seconds
snmpwarden_build_info snmpwarden_engine_boots snmpwarden_engine_time_seconds
snmpwarden_notifications_received_total snmpwarden_notifications_dropped_total
snmpwarden_notification_target_sent_total snmpwarden_notification_target_acknowledged_total
snmpwarden_notification_target_timeouts_total""".split()
exprs = []
def walk(panels):
    for p in panels:
        exprs.extend(t["expr"] for t in p.get("targets", []) if "expr" in t)
        walk(p.get("panels", []))
walk(d.get("panels", []))
exprs += [a["expr"] for a in d.get("annotations", {}).get("list", []) if "expr" in a]
joined = "\n".join(exprs)
for m in metrics:
    if m not in joined:
        problems.append(f"no panel uses {m}")
ids = [p["id"] for p in d["panels"]]
if len(ids) != len(set(ids)):
    problems.append("duplicate panel ids")
try:
    import promql_parser
except ImportError:
    print("(promql-parser not available: PromQL syntax not checked)")
else:
    for e in exprs:
        e2 = e.replace("$__rate_interval", "5m").replace("$instance", ".*").replace("$route", ".*")
        try:
            promql_parser.parse(e2)
        except Exception as ex:
            problems.append(f"PromQL does not parse: {e}: {ex}")
    print(f"{len(exprs)} PromQL expressions parse")
for p in problems:
    print(p)
sys.exit(1 if problems else 0)
PY
    then
        ok "$dashboard: datasource input, every metric used; $(tail -n 1 "$work/dash.out")"
    else
        cat "$work/dash.out"
        bad "$dashboard content"
    fi
fi

echo "validate-deploy: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
