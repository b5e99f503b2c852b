#!/usr/bin/env bash
# The `resgate simulate` command, process start to exit, over one large
# Alertmanager payload, beside `jq '.alerts | length'` reading the same file in
# the same run (the bar: reading the file at all; /work/shared/ANCHORS.md).
#
#   bash benches/simulate.sh               # 100,000 alerts, 100 remediations
#   ALERTS=20000 bash benches/simulate.sh  # a smaller payload
#
# The rules are those of benches/common/mod.rs `generated_rules`: N
# remediations matching alertname `AlertN` + severity ∈ {critical, page},
# guarded by `deploying($service)` and `upstream_down($service)` over a
# 50-service dependency chain. The payload holds ALERTS alerts (~270 bytes
# each: 100k ≈ 27 MB) of alertnames Alert0…Alert99 (severity critical, page or
# warning), with a few DeployInProgress and ServiceDown among them.
#
# Environment (defaults in brackets):
#   ALERTS        alerts in the payload [100000]
#   REMEDIATIONS  remediations in the rules [100]
#   RUNS          hyperfine runs per command [5]
#   FINGERPRINTS  hashed | sequential [hashed]: hashed fingerprints are spread over
#                 the key space as Alertmanager's (a hash of the label set) are;
#                 sequential (`{i:016x}`) is what every run before 2026-12-07 used,
#                 which inserts every alert at the end of the engine's B-tree
#   RESGATE_BIN   a resgate binary to measure instead of building this tree
#   KEEP=1        keep the temp dir (rules, payload, outputs)
# Needs: python3, jq and hyperfine (Debian: `apt-get install jq hyperfine`);
# the bench says so and exits 0 when one is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

ALERTS=${ALERTS:-100000}
REMEDIATIONS=${REMEDIATIONS:-100}
RUNS=${RUNS:-5}
FINGERPRINTS=${FINGERPRINTS:-hashed}
case $FINGERPRINTS in hashed | sequential) ;; *) echo "simulate.sh: FINGERPRINTS must be hashed or sequential" >&2; exit 2 ;; esac
KEEP=${KEEP:-0}

missing=
for tool in python3 jq hyperfine; do
    command -v "$tool" >/dev/null || missing+=" $tool"
done
if [[ -n $missing ]]; then
    echo "benches/simulate.sh: skipped: missing${missing} (Debian: apt-get install${missing})" >&2
    exit 0
fi

if [[ -z ${RESGATE_BIN:-} ]]; then
    CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-2} cargo build --locked --release --bin resgate >&2
    RESGATE_BIN=$ROOT/target/release/resgate
fi

TMP=$(mktemp -d)
if [[ $KEEP == 1 ]]; then
    echo "keeping $TMP" >&2
else
    trap 'rm -rf "$TMP"' EXIT
fi
mkdir -p "$TMP/rules"

python3 - "$TMP" "$ALERTS" "$REMEDIATIONS" "$FINGERPRINTS" <<'PY'
import hashlib, json, sys
tmp, alerts, remediations = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
hashed = sys.argv[4] == "hashed"
services = 50
# The rules: benches/common/mod.rs generated_rules, written as files.
with open(f"{tmp}/rules/gen.yaml", "w") as f:
    f.write('sources:\n  am: {kind: alertmanager}\nremediators:\n  runner:\n'
            '    url: "https://runner.example/run"\nremediations:\n')
    for i in range(remediations):
        f.write(f'  fix-{i}:\n    match: {{alertname: Alert{i}, severity: "=~critical|page", service: "=~.+"}}\n'
                '    target: "{{ service }}"\n    remediator: runner\n    unless:\n'
                '      deploying: "deploying($service)"\n      upstream: "upstream_down($service)"\n'
                '    budget: {attempts: 3, within: 1h}\n')
with open(f"{tmp}/rules/gen.dl", "w") as f:
    for s in range(1, services):
        f.write(f'depends_on("svc-{s}", "svc-{s + 1}").\n')
    f.write('depends(X, Y) :- depends_on(X, Y).\n'
            'depends(X, Z) :- depends_on(X, Y), depends(Y, Z).\n'
            'deploying(S) :- label(A, "alertname", "DeployInProgress"), firing(A), label(A, "service", S).\n'
            'down(S) :- label(A, "alertname", "ServiceDown"), firing(A), label(A, "service", S).\n'
            'upstream_down(S) :- depends(S, D), down(D).\n')
# The payload: a cheap deterministic generator, no seed crate, no random module.
state = 1
def rand(n):
    global state
    state = (state * 6364136223846793005 + 1442695040888963407) % (1 << 64)
    return (state >> 33) % n
out = []
for i in range(alerts):
    r = rand(100)
    name = "DeployInProgress" if r < 2 else "ServiceDown" if r < 4 else f"Alert{rand(remediations)}"
    severity = ("critical", "page", "warning")[rand(3)]
    service = f"svc-{rand(services) + 1}"
    labels = {"alertname": name, "severity": severity, "service": service,
              "instance": f"{service}-{i % 97}:9100", "seq": str(i)}
    out.append({
        "status": "firing",
        "labels": labels,
        "annotations": {"summary": name},
        "startsAt": f"2026-11-18T10:{(i // 6000) % 60:02d}:{(i // 100) % 60:02d}.{i % 1000:03d}Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.example:9090/graph",
        # Alertmanager's is a 64-bit hash of the label set as 16 hex digits;
        # any 64-bit hash of a distinct label set spreads the same way.
        "fingerprint": hashlib.blake2b(json.dumps(labels, sort_keys=True).encode(),
                                       digest_size=8).hexdigest() if hashed else f"{i:016x}",
    })
body = {"version": "4", "groupKey": "{}:{}", "truncatedAlerts": 0, "status": "firing",
        "receiver": "resgate", "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
        "externalURL": "http://alertmanager.example:9093", "alerts": out}
with open(f"{tmp}/payload.json", "w") as f:
    json.dump(body, f, separators=(",", ":"))
PY

PAYLOAD=$TMP/payload.json
SIZE=$(du -m "$PAYLOAD" | cut -f1)
COUNT=$(jq '.alerts | length' "$PAYLOAD")
# One run outside the timing: the outputs must be whole (one entry per alert).
"$RESGATE_BIN" simulate "$PAYLOAD" --rules "$TMP/rules" --format json >"$TMP/out.json"
ENTRIES=$(jq 'length' "$TMP/out.json")
if [[ $ENTRIES != "$COUNT" ]]; then
    echo "simulate printed $ENTRIES entries for $COUNT alerts" >&2
    exit 1
fi
DECISIONS=$(jq '[.[].decisions | length] | add' "$TMP/out.json")
echo "payload: $COUNT alerts, ${SIZE} MB; rules: $REMEDIATIONS remediations; $DECISIONS decisions"

hyperfine --style basic --warmup 1 --runs "$RUNS" --export-json "$TMP/times.json" \
    -n jq "jq '.alerts | length' $PAYLOAD" \
    -n simulate-json "$RESGATE_BIN simulate $PAYLOAD --rules $TMP/rules --format json" \
    -n simulate-text "$RESGATE_BIN simulate $PAYLOAD --rules $TMP/rules" \
    >&2

python3 - "$TMP/times.json" <<'PY'
import json, sys
results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
jq = results["jq"]["median"]
print(f"{'command':<14} {'median':>8} {'min':>8} {'max':>8}  vs jq")
for name, r in results.items():
    print(f"{name:<14} {r['median']:>7.3f}s {r['min']:>7.3f}s {r['max']:>7.3f}s  {r['median'] / jq:.2f}x")
PY
