#!/usr/bin/env bash
# Site-scale benchmark: 10 000 users polling their own calendars (feed and CalDAV), 100 000 stored meetings,
# list pages, bookings per second and memory, against a release jmb on loopback with wrk. See bench/site.py
# for what is measured. Prints figures and one PASS/FAIL line per target; exit code 0 whatever the numbers.
#
# Run from the repository root, after scripts/install-test-deps (wrk, .venv-it with requests):
#     bench/site.sh
# Knobs (environment): BENCH_DURATION (wrk seconds per run, default 10), BENCH_CONNECTIONS (default 32),
# CARGO_TARGET_DIR. Takes about 7 minutes on 2 cores; the temp folder (about 300 MB) is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
PY="$PWD/.venv-it/bin/python"
command -v wrk > /dev/null || { echo "wrk is missing: run scripts/install-test-deps" >&2; exit 1; }
[ -x "$PY" ] || { echo ".venv-it is missing: run scripts/install-test-deps" >&2; exit 1; }
echo "== building (release): jmb, examples/seed_site, calendar_stages and booking_stages"
cargo build --release -q --bin jmb --example seed_site --example calendar_stages --example booking_stages
T=$(mktemp -d "${TMPDIR:-/tmp}/jmb-site.XXXXXX")
trap 'rm -rf "$T"' EXIT
"$PY" bench/site.py "$TARGET/release/jmb" "$TARGET/release/examples" "$T"
