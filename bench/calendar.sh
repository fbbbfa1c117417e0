#!/usr/bin/env bash
# Calendar benchmark: jmb vs Radicale (same events) vs a "ceiling" server sending the same number of bytes
# straight from memory, with wrk on loopback. Prints requests/s and p99 for the whole feed, a calendar-query
# REPORT for the next 30 days and PROPFIND Depth 1, at 200 and 2000 events, jmb's memory after the run,
# and one PASS/FAIL line per target of the issue. Exit code 0 whatever the numbers (it is a measurement).
#
# Run from the repository root, after scripts/install-test-deps (wrk, .venv-it with radicale + requests):
#     bench/calendar.sh
# Knobs (environment): BENCH_DURATION (wrk duration for jmb and the ceiling, default 10s), BENCH_CONNECTIONS
# (default 32), BENCH_RADICALE_DURATION (default 5s), BENCH_RADICALE_CONNECTIONS (default 4),
# CARGO_TARGET_DIR (default target/). Everything binds 127.0.0.1; the temp folder is removed at the end and
# every process started here is stopped by PID. Takes about 4-5 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BENCH="$ROOT/bench"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
PY="$ROOT/.venv-it/bin/python"
RADICALE="$ROOT/.venv-it/bin/radicale"
DURATION=${BENCH_DURATION:-10s}
CONNS=${BENCH_CONNECTIONS:-32}
RAD_DURATION=${BENCH_RADICALE_DURATION:-5s}
RAD_CONNS=${BENCH_RADICALE_CONNECTIONS:-4}
declare -A USER_FOR=([200]=jdupont [2000]=mmartin)

for tool in wrk curl; do
    command -v "$tool" > /dev/null || { echo "$tool is missing: run scripts/install-test-deps" >&2; exit 1; }
done
[ -x "$PY" ] && [ -x "$RADICALE" ] || { echo ".venv-it with radicale is missing: run scripts/install-test-deps" >&2; exit 1; }

T=$(mktemp -d "${TMPDIR:-/tmp}/jmb-bench.XXXXXX")
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2> /dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2> /dev/null || true; done
    rm -rf "$T"
}
trap cleanup EXIT

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { # url, name, log: bounded wait (100 x 0.1 s)
    for _ in $(seq 100); do
        curl -s -o /dev/null "$1" && return 0
        sleep 0.1
    done
    echo "$2 did not start; log:" >&2; cat "$3" >&2; exit 1
}

wait_idle() { # pid: Radicale keeps working on requests wrk gave up on; wait (bounded, 60 s) until its CPU time stops moving
    local before after
    for _ in $(seq 120); do
        before=$(awk '{print $14 + $15}' "/proc/$1/stat")
        sleep 0.5
        after=$(awk '{print $14 + $15}' "/proc/$1/stat")
        [ "$before" = "$after" ] && return 0
    done
}
rss_kib() { awk '/^VmRSS:/{print $2}' "/proc/$1/status"; }

echo "== building (release): jmb and examples/bench_ceiling"
cargo build --release -q --bin jmb --example bench_ceiling
JMB_BIN="$TARGET/release/jmb"
CEILING_BIN="$TARGET/release/examples/bench_ceiling"

echo "== starting jmb"
JP=$(free_port)
JMB="http://127.0.0.1:$JP"
mkdir -p "$T/jmb"
cat > "$T/jmb/jmb.toml" << EOF
[server]
listen = "127.0.0.1:$JP"
public_url = "$JMB"
[database]
path = "$T/jmb/jmb.sqlite3"
[jitsi]
base_url = "https://meet.example.org"
app_secret = "bench-secret-0123456789abcdef0123456789ab"
[auth]
mode = "trusted-header"
editors = ["jdupont", "mmartin"]
[booking]
# Seeding books 2000 meetings as one person, far above the default hourly limit.
max_bookings_per_hour = 100000
[mail]
internal_domains = ["example.org"]
# The same seeding invites about 6 000 people within minutes; mails stay in the database.
transport = "mailbox"
max_invitations_per_owner_per_hour = 1000000
EOF
RUST_LOG=warn "$JMB_BIN" serve --config "$T/jmb/jmb.toml" > "$T/jmb/jmb.log" 2>&1 &
JMB_PID=$!
PIDS+=("$JMB_PID")
wait_http "$JMB/healthz" jmb "$T/jmb/jmb.log"

echo "== seeding jmb (200 meetings for jdupont, 2000 for mmartin) and copying the events into Radicale"
SEED_START=$(date +%s)
"$PY" "$BENCH/seed.py" "$JMB" "$T/radicale/collections" "$T/seed.env" jdupont:200 mmartin:2000
# shellcheck disable=SC1091
source "$T/seed.env"
export REPORT_START REPORT_END BENCH_DIR="$BENCH"
echo "   seeded in $(($(date +%s) - SEED_START)) s; REPORT window $REPORT_START .. $REPORT_END"

RSS_SEEDED=$(rss_kib "$JMB_PID")
echo "   jmb VmRSS after seeding: $((RSS_SEEDED / 1024)) MB"

echo "== starting Radicale $("$RADICALE" --version 2> /dev/null || true)"
RP=$(free_port)
RAD="http://127.0.0.1:$RP"
printf 'jdupont:%s\nmmartin:%s\n' "$PASS_jdupont" "$PASS_mmartin" > "$T/radicale/users"
cat > "$T/radicale/config" << EOF
[server]
hosts = 127.0.0.1:$RP
[auth]
type = htpasswd
htpasswd_filename = $T/radicale/users
htpasswd_encryption = plain
[rights]
type = owner_only
[storage]
filesystem_folder = $T/radicale/collections
[logging]
level = warning
EOF
"$RADICALE" --config "$T/radicale/config" > "$T/radicale/radicale.log" 2>&1 &
RAD_PID=$!
PIDS+=("$RAD_PID")
wait_http "$RAD/" Radicale "$T/radicale/radicale.log"

run_wrk() { # out-file, threads, connections, duration, lua-or-empty, user, password, url, [extra wrk args]
    local out=$1 threads=$2 conns=$3 dur=$4 lua=$5 user=$6 pass=$7 url=$8
    shift 8
    local auth
    auth=$(printf '%s:%s' "$user" "$pass" | base64 -w0)
    local script=()
    [ -n "$lua" ] && script=(-s "$BENCH/$lua.lua")
    timeout 300 wrk -t"$threads" -c"$conns" -d"$dur" --latency "${script[@]}" "$@" \
        -H "Authorization: Basic $auth" "$url" > "$out" 2>&1 || echo "   wrk failed, see below" >&2
    printf '   %-58s %s, p99 %s\n' "$(basename "$out" .txt)" \
        "$(grep -o 'Requests/sec:.*' "$out" | tr -s ' ')" "$(awk '$1=="99%"{print $2}' "$out")"
}

: > "$T/results.tsv"
for size in 200 2000; do
    uid=${USER_FOR[$size]}
    pass_var="PASS_$uid" feed_var="FEED_$uid"
    pass=${!pass_var}
    declare -A JURL=([feed]=${!feed_var} [report]="$JMB/dav/principals/$uid/meetings/" [propfind]="$JMB/dav/principals/$uid/meetings/")
    declare -A RURL=([feed]="$RAD/$uid/meetings/" [report]="$RAD/$uid/meetings/" [propfind]="$RAD/$uid/meetings/")
    for op in feed report propfind; do
        lua=""
        [ "$op" != feed ] && lua=$op
        # Same answer from both servers before timing: a fast wrong answer is not a result. The Radicale call
        # also warms its item cache.
        read -r js jbytes jhrefs jevents <<< "$("$PY" "$BENCH/benchlib.py" request "$op" "${JURL[$op]}" "$uid" "$pass")"
        read -r rs rbytes rhrefs revents <<< "$("$PY" "$BENCH/benchlib.py" request "$op" "${RURL[$op]}" "$uid" "$pass")"
        echo "== $op, $size events: jmb $js ${jbytes} B hrefs=$jhrefs events=$jevents | Radicale $rs ${rbytes} B hrefs=$rhrefs events=$revents"
        if [ "$op" = feed ]; then
            [ "$js" = 200 ] && [ "$rs" = 200 ] && [ "$jevents" = "$size" ] && [ "$revents" = "$size" ] || {
                echo "FAIL: the feeds differ (expected $size events from both), not timing" >&2; continue; }
        else
            [ "$js" = 207 ] && [ "$rs" = 207 ] && [ "$jhrefs" = "$rhrefs" ] && [ "$jhrefs" -gt 0 ] || {
                echo "FAIL: jmb and Radicale disagree on $op ($jhrefs vs $rhrefs hrefs), not timing" >&2; continue; }
        fi
        # The ceiling: the same stack sending a body of the size jmb sent, from memory.
        "$CEILING_BIN" "$jbytes" > "$T/ceiling.out" 2>&1 &
        cpid=$!
        PIDS+=("$cpid")
        for _ in $(seq 100); do grep -q '^listening on ' "$T/ceiling.out" && break; sleep 0.1; done
        caddr=$(sed -n 's/^listening on //p' "$T/ceiling.out")
        [ -n "$caddr" ] || { echo "ceiling server did not start" >&2; cat "$T/ceiling.out" >&2; exit 1; }
        run_wrk "$T/wrk-$op-$size-ceiling.txt" 2 "$CONNS" "$DURATION" "$lua" "$uid" "$pass" "http://$caddr/"
        kill "$cpid"; wait "$cpid" 2> /dev/null || true
        run_wrk "$T/wrk-$op-$size-jmb.txt" 2 "$CONNS" "$DURATION" "$lua" "$uid" "$pass" "${JURL[$op]}"
        run_wrk "$T/wrk-$op-$size-radicale.txt" 1 "$RAD_CONNS" "$RAD_DURATION" "$lua" "$uid" "$pass" "${RURL[$op]}" --timeout 30s
        wait_idle "$RAD_PID"
        printf '%s\t%s\t%s\t%s\n' "$op" "$size" jmb "$T/wrk-$op-$size-jmb.txt" "$op" "$size" radicale \
            "$T/wrk-$op-$size-radicale.txt" "$op" "$size" ceiling "$T/wrk-$op-$size-ceiling.txt" >> "$T/results.tsv"
    done
    unset JURL RURL
done

RSS=$(rss_kib "$JMB_PID")
HWM=$(awk '/^VmHWM:/{print $2}' "/proc/$JMB_PID/status")
echo
echo "jmb VmRSS: $((RSS_SEEDED / 1024)) MB after seeding, $((RSS / 1024)) MB after the run"
echo "== results (wrk: jmb and ceiling -t2 -c$CONNS -d$DURATION; Radicale -t1 -c$RAD_CONNS -d$RAD_DURATION; $(nproc) cores)"
"$PY" "$BENCH/benchlib.py" summarize "$T/results.tsv" "$RSS" "$HWM"
if grep -qiE "error|panic" "$T/jmb/jmb.log"; then
    echo; echo "jmb log (errors):"; grep -iE "error|panic" "$T/jmb/jmb.log" | head -20
fi
exit 0
