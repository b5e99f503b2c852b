#!/usr/bin/env bash
# The ingest load benchmark: `resgate serve` under wrk, next to a no-op nginx
# (the ceiling: what this machine's loopback HTTP + wrk can do at all).
#
#   bash benches/http.sh            # 10 s per run (about 3 minutes in all)
#   QUICK=1 bash benches/http.sh    # 2 s per run: checks that it works, numbers are noise
#
# Every webhook is an Alertmanager v4 payload whose alerts were never sent
# before (benches/http/alertmanager.lua), alertname LoadTest: it matches no
# shipped remediation, so each request is ingest + journal (synchronous=FULL,
# group commit) + decision (discard) and no remediator is ever called. The
# rules are a copy of rules/ whose remediator URLs are rewritten to
# 127.0.0.1:9 as a second guard: nothing leaves loopback.
#
# Runs: 1 alert per webhook at 1, 16 and 64 connections, 50 alerts per webhook
# at 64 connections, the same against nginx, then (WORKERS_SWEEP) --max-connections N at 64
# connections on fresh journals. After each run it waits for the decision
# thread to catch up (bounded), so runs do not overlap.
#
# Environment (defaults in brackets):
#   QUICK=1              2 s runs            DURATION   seconds per run [10]
#   CONNS                ["1 16 64"]         BATCH      alerts per batch webhook [50]
#   BATCH_CONNS          [64]                THREADS    wrk threads [2]
#   WORKERS              resgate --max-connections for the main runs [1024]
#   WORKERS_SWEEP        --max-connections values to try at 64 connections [none]
#   POOL                 0: every alert new; N: N fingerprints per wrk thread re-sent
#                        with new startsAt (a bounded set of alerts) [0]
#   FINGERPRINTS         hashed | sequential [hashed]: hashed fingerprints are spread over
#                        the key space as Alertmanager's (a hash of the labels) are;
#                        sequential is what every run before 2026-12-07 sent, and flatters
#                        a journal keyed by fingerprint (benches/http/alertmanager.lua)
#   CEILING              nginx | python | none [nginx]; python is a weak ceiling
#   DRAIN_TIMEOUT        seconds to wait for the decider after a run [120]
#   MAX_ALERTS           resgate --max-alerts [4000000]: above the default (100000),
#                        so that a 10 s burst of 50-alert webhooks (about 1.5M new
#                        alerts) measures ingest and decisions, not the 503s of a
#                        full alert table
#   MAX_ALERT_BYTES      resgate --max-alert-bytes [4GiB], for the same reason
#   JOURNAL_MAX_SIZE     resgate --journal-max-size [16GiB], SQLite only: the default (1GiB, webhooks
#                        503 from 90 %) fills within one 10 s run of 50-alert batches
#                        (about 1.5 KB of journal per alert), after which the decider
#                        retries a full journal and the run measures that, not decisions
#   STOP_TIMEOUT         seconds a SIGTERM may take before SIGKILL [30]
#   KEEP=1               keep the temp dir (journals, logs, raw wrk output)
#   RESGATE_BIN          a resgate binary to measure instead of building this tree
#   JOURNAL              sqlite | postgres [sqlite]; postgres: a throwaway PostgreSQL
#                        server (initdb + pg_ctl, as the postgres user under root) on a
#                        loopback port in the temp dir, default settings (fsync on,
#                        synchronous_commit on), and `serve --journal postgres://…`
# Needs: cargo, python3, wrk (installed from Debian if missing), nginx (idem),
# and for JOURNAL=postgres Debian's postgresql (idem).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

ENV_GIVEN=
for v in QUICK DURATION CONNS BATCH BATCH_CONNS THREADS WORKERS WORKERS_SWEEP POOL FINGERPRINTS CEILING \
    DRAIN_TIMEOUT STOP_TIMEOUT KEEP RESGATE_BIN JOURNAL MAX_ALERTS MAX_ALERT_BYTES JOURNAL_MAX_SIZE; do
    if [[ -n ${!v+x} ]]; then ENV_GIVEN+="$v=$(printf '%q' "${!v}") "; fi
done
QUICK=${QUICK:-0}
if [[ $QUICK == 1 ]]; then DURATION=${DURATION:-2}; else DURATION=${DURATION:-10}; fi
CONNS=${CONNS:-"1 16 64"}
BATCH=${BATCH:-50}
BATCH_CONNS=${BATCH_CONNS:-64}
THREADS=${THREADS:-2}
WORKERS=${WORKERS:-}
WORKERS_SWEEP=${WORKERS_SWEEP-}
POOL=${POOL:-0}
FINGERPRINTS=${FINGERPRINTS:-hashed}
case $FINGERPRINTS in hashed | sequential) ;; *) echo "http.sh: FINGERPRINTS must be hashed or sequential" >&2; exit 2 ;; esac
export FINGERPRINTS # read by benches/http/alertmanager.lua through wrk's environment
CEILING=${CEILING:-nginx}
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-120}
MAX_ALERTS=${MAX_ALERTS:-4000000}
MAX_ALERT_BYTES=${MAX_ALERT_BYTES:-4GiB}
JOURNAL_MAX_SIZE=${JOURNAL_MAX_SIZE:-16GiB}
KEEP=${KEEP:-0}
STOP_TIMEOUT=${STOP_TIMEOUT:-30}
JOURNAL=${JOURNAL:-sqlite}

PROBE=(python3 "$ROOT/benches/http/probe.py")
LUA=$ROOT/benches/http/alertmanager.lua
BIN=$ROOT/target/release/resgate

say() { printf '%s\n' "$*" >&2; }
die() { say "http.sh: $*"; exit 1; }

# ------------------------------------------------------------ cleanup, always
TMP=$(mktemp -d /tmp/resgate-http-bench.XXXXXX)
PIDS=()
POLICY_RC_CREATED=
SUDO=
[[ $(id -u) == 0 ]] || SUDO=sudo

alive() { # a pid that exists and is not a zombie
    [[ -r /proc/$1/stat ]] && [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]
}

stop_pid() { # TERM, up to STOP_TIMEOUT s, then KILL; prints how long it took
    local pid=$1 t0 i killed=
    t0=$(date +%s.%N)
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do alive "$pid" || break; sleep 0.1; done
    if alive "$pid"; then
        say "  pid $pid did not stop in $STOP_TIMEOUT s after SIGTERM: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        killed=" (did not exit: SIGKILL)"
    fi
    wait "$pid" 2>/dev/null || true
    python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f} s' + sys.argv[3])" \
        "$t0" "$(date +%s.%N)" "$killed"
}

cleanup() {
    local rc=$? pid
    trap - EXIT INT TERM
    for pid in "${PIDS[@]}"; do
        alive "$pid" && stop_pid "$pid" >/dev/null
    done
    if [[ -n $POLICY_RC_CREATED ]]; then $SUDO rm -f /usr/sbin/policy-rc.d || true; fi
    if [[ -n ${PG_CTL:-} ]]; then pg_as "$PG_CTL" -D "$TMP/pg" -m fast -w stop >/dev/null 2>&1 || true; fi
    if [[ $KEEP == 1 || $rc != 0 ]]; then say "temp dir kept: $TMP"; else rm -rf "$TMP"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------- tools
APT_UPDATED=
apt_install() {
    command -v apt-get >/dev/null || return 1
    if [[ -z $APT_UPDATED ]]; then
        $SUDO apt-get update -qq >&2 || return 1
        APT_UPDATED=1
    fi
    # A service package must not start its system-wide daemon (port 80, all
    # interfaces): keep invoke-rc.d from starting anything while we install.
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
        $SUDO chmod +x /usr/sbin/policy-rc.d
        POLICY_RC_CREATED=1
    fi
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

command -v python3 >/dev/null || die "python3 is needed"
if ! command -v wrk >/dev/null; then
    say "installing wrk from Debian"
    apt_install wrk || die "cannot install wrk"
fi

NGINX=
if [[ $CEILING == nginx ]]; then
    NGINX=$(command -v nginx || true)
    [[ -z $NGINX && -x /usr/sbin/nginx ]] && NGINX=/usr/sbin/nginx
    if [[ -z $NGINX ]]; then
        say "installing nginx-light from Debian (the no-op ceiling)"
        if apt_install nginx-light || apt_install nginx; then
            NGINX=$(command -v nginx || echo /usr/sbin/nginx)
        else
            say "cannot install nginx: falling back to python's ThreadingHTTPServer (a weak ceiling)"
            CEILING=python
        fi
    fi
fi

if [[ -n ${RESGATE_BIN:-} ]]; then
    BIN=$RESGATE_BIN
    say "using RESGATE_BIN=$BIN (not building)"
else
    say "building: cargo build --release --locked"
    cargo build --release --locked >&2
fi

# PostgreSQL refuses to run as root: as root, run its programs as `postgres`.
pg_as() { if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
PG_URL=
if [[ $JOURNAL == postgres ]]; then
    if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
        say "installing postgresql from Debian"
        apt_install postgresql || die "cannot install postgresql"
    fi
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    chmod 755 "$TMP"
    mkdir -p "$TMP/pg"
    [[ $(id -u) == 0 ]] && chown postgres:postgres "$TMP/pg"
    pg_as "$PG_BIN/initdb" -D "$TMP/pg" -U resgate --auth=trust --locale=C -E UTF8 >"$TMP/initdb.log"
    PG_PORT=$(python3 "$ROOT/benches/http/probe.py" freeport)
    PG_CTL=$PG_BIN/pg_ctl
    pg_as "$PG_CTL" -D "$TMP/pg" -l "$TMP/pg/server.log" -w \
        -o "-p $PG_PORT -k $TMP/pg -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
    psql -X -q -d "postgres://resgate@127.0.0.1:$PG_PORT/postgres" -c "CREATE DATABASE bench"
    PG_URL=postgres://resgate@127.0.0.1:$PG_PORT/bench
    say "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT (fsync on, synchronous_commit on)"
elif [[ $JOURNAL != sqlite ]]; then
    die "JOURNAL must be sqlite or postgres"
fi

# ------------------------------------------------------------------- setup
# The shipped rules (not their tests, which point at ../fixtures), with every
# remediator URL sent to the discard port on loopback.
mkdir -p "$TMP/rules"
for f in rules/*; do
    case $f in *.test.yaml) ;; *) cp "$f" "$TMP/rules/" ;; esac
done
sed -i -E 's#https?://[A-Za-z0-9.-]+(:[0-9]+)?#http://127.0.0.1:9#g' "$TMP/rules"/*.yaml
if grep -rhoE 'https?://[^/"'\'' ]+' "$TMP/rules" | sed 's/\.$//' | grep -vq '^http://127\.0\.0\.1:9$'; then
    die "a URL in the rules copy is not loopback"
fi
# The rules read some settings from the environment (`${env:NAME}`): URLs go
# to the same discard port, anything else (tokens) is a dummy.
for name in $(grep -rhoE '\$\{env:[A-Za-z0-9_]+\}' "$TMP/rules" | sed -E 's/^\$\{env:(.*)\}$/\1/' | sort -u); do
    case $name in *_URL) export "$name=http://127.0.0.1:9" ;; *) export "$name=bench-dummy" ;; esac
done
"$BIN" lint "$TMP/rules" >"$TMP/lint.out" 2>&1 || { cat "$TMP/lint.out" >&2; die "rules copy fails lint"; }

OUT=$TMP/runs.jsonl
META=$TMP/meta.jsonl
: >"$OUT"
: >"$META"
meta() { "${PROBE[@]}" meta "$META" "$1" "$2"; }
meta duration "$DURATION"
meta threads "$THREADS"
meta workers "${WORKERS:-default (--max-connections 1024)}"
meta note_tree "resgate: $BIN, tree $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- src Cargo.toml 2>/dev/null || echo ' + uncommitted changes in src/')"
meta note_fingerprints "fingerprints: $FINGERPRINTS (FINGERPRINTS)"
meta note_load "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (see 'other processes CPU %' for disturbance during each run)"
meta note_fs "journal on $(df -T "$TMP" | awk 'NR==2 {print $2}') ($TMP), $(nproc) cores, $(uname -r)"

RUN_ID=0
RPID=
URL=
start_resgate() { # DIR [WORKERS]
    local dir=$1 workers=${2:-} line= i
    local CAP_ARGS=()
    # --journal-max-size caps a SQLite journal only (serve refuses it with a URL).
    [[ -n ${PG_URL:-} ]] || CAP_ARGS=(--journal-max-size "$JOURNAL_MAX_SIZE")
    mkdir -p "$dir"
    "$BIN" serve --rules "$TMP/rules" --data "$dir/data" --listen 127.0.0.1:0 \
        ${PG_URL:+--journal "$PG_URL"} --max-alerts "$MAX_ALERTS" --max-alert-bytes "$MAX_ALERT_BYTES" \
        "${CAP_ARGS[@]}" ${workers:+--max-connections "$workers"} >"$dir/stdout" 2>"$dir/stderr" &
    RPID=$!
    PIDS+=("$RPID")
    for ((i = 0; i < 300; i++)); do
        if [[ -s $dir/stdout ]]; then
            IFS= read -r line <"$dir/stdout" || true
            [[ $line == "resgate listening on "* ]] && break
        fi
        alive "$RPID" || { cat "$dir/stderr" >&2; die "resgate exited at start"; }
        sleep 0.1
    done
    [[ $line == "resgate listening on http://127.0.0.1:"* ]] ||
        { cat "$dir/stderr" >&2; die "resgate did not say where it listens: '$line'"; }
    URL=${line#resgate listening on }
    say "resgate pid $RPID on $URL${workers:+ (--max-connections $workers)}"
}

phase() { # LABEL TARGET PID CONNS BATCH [DB] [WORKERS]
    RUN_ID=$((RUN_ID + 1))
    "${PROBE[@]}" phase --out "$OUT" --label "$1" --target "$2" --url "$URL" --pid "$3" \
        --conns "$4" --batch "$5" --db "${6:-}" --workers "${7:-}" --lua "$LUA" \
        --threads "$THREADS" --duration "$DURATION" --run-id "$RUN_ID" --pool "$POOL" \
        --drain-timeout "$DRAIN_TIMEOUT"
}

# -------------------------------------------------------------- resgate runs
say "== resgate ($DURATION s per run)"
start_resgate "$TMP/main" "$WORKERS"
MAIN_DB=${PG_URL:-$TMP/main/data/resgate.db}
meta note_journal "journal: $JOURNAL${PG_URL:+ ($PG_URL)}"
sleep 1
idle=$("${PROBE[@]}" rss "$RPID")
meta idle_rss_kib "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["VmRSS"])' "$idle")"
meta idle_threads "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["Threads"])' "$idle")"
"${PROBE[@]}" smoke "$URL" >/dev/null
for c in $CONNS; do
    phase "main 1x$c" resgate "$RPID" "$c" 1 "$MAIN_DB" "$WORKERS"
done
phase "main ${BATCH}x$BATCH_CONNS" resgate "$RPID" "$BATCH_CONNS" "$BATCH" "$MAIN_DB" "$WORKERS"
STOP_S=$(stop_pid "$RPID")
meta note_stop "resgate stopped on SIGTERM in ${STOP_S}; its stderr: $(wc -l <"$TMP/main/stderr") lines, $(du -k "$TMP/main/stderr" | cut -f1) KiB ($(grep -c ' WARN \| ERROR ' "$TMP/main/stderr" || true) WARN/ERROR)"
meta note_db "journal size after the runs: $(du -ck "$TMP/main/data" | tail -1 | cut -f1) KiB ($TMP/main/data)"
meta journal "$("${PROBE[@]}" journal "$MAIN_DB")"

# ---------------------------------------------------------------- ceiling
case $CEILING in
nginx)
    say "== ceiling: nginx returning 200 '{}' ($DURATION s per run)"
    port=$("${PROBE[@]}" freeport)
    mkdir -p "$TMP/nginx/logs"
    cat >"$TMP/nginx/nginx.conf" <<EOF
worker_processes 2;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_max_body_size 4m;
    client_body_buffer_size 4m;
    client_body_temp_path $TMP/nginx/body;
    proxy_temp_path $TMP/nginx/proxy;
    fastcgi_temp_path $TMP/nginx/fastcgi;
    uwsgi_temp_path $TMP/nginx/uwsgi;
    scgi_temp_path $TMP/nginx/scgi;
    server {
        listen 127.0.0.1:$port;
        location / { default_type application/json; return 200 '{}'; }
    }
}
EOF
    "$NGINX" -p "$TMP/nginx" -e "$TMP/nginx/logs/error.log" -c "$TMP/nginx/nginx.conf" \
        >"$TMP/nginx/stdout" 2>&1 &
    CPID=$!
    ;;
python)
    say "== ceiling: python ThreadingHTTPServer (WEAK ceiling) ($DURATION s per run)"
    port=$("${PROBE[@]}" freeport)
    python3 - "$port" >"$TMP/python-ceiling.log" 2>&1 <<'EOF' &
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers()
        self.wfile.write(b"{}")
    def log_message(self, *a): pass
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
    CPID=$!
    ;;
none) CPID= ;;
*) die "CEILING must be nginx, python or none" ;;
esac
if [[ -n $CPID ]]; then
    PIDS+=("$CPID")
    URL=http://127.0.0.1:$port
    for ((i = 0; i < 100; i++)); do
        python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null && break
        alive "$CPID" || { cat "$TMP"/nginx/logs/error.log "$TMP"/nginx/stdout 2>/dev/null >&2; die "the ceiling server exited"; }
        sleep 0.1
    done
    for c in $CONNS; do phase "ceiling 1x$c" "$CEILING" "$CPID" "$c" 1; done
    phase "ceiling ${BATCH}x$BATCH_CONNS" "$CEILING" "$CPID" "$BATCH_CONNS" "$BATCH"
    stop_pid "$CPID" >/dev/null
fi

# ------------------------------------------- --max-connections sweep
for w in $WORKERS_SWEEP; do
    say "== resgate --max-connections $w, 64 connections, fresh journal"
    start_resgate "$TMP/workers-$w" "$w"
    sleep 1
    phase "workers $w" resgate "$RPID" 64 1 "$TMP/workers-$w/data/resgate.db" "$w"
    meta "note_stop_$w" "resgate --max-connections $w stopped on SIGTERM in $(stop_pid "$RPID")"
done

# ------------------------------------------------------------------ report
echo
echo "## resgate ingest benchmark ($(date -u +%Y-%m-%d), $(nproc) cores, ${DURATION} s per run)"
echo
echo "Command: \`${ENV_GIVEN}bash benches/http.sh\`"
"${PROBE[@]}" report "$OUT" --meta "$META"
