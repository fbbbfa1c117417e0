#!/usr/bin/env bash
# Mail benchmark: booking latency with a slow SMTP server, outbox drain rate and memory, reminder
# punctuality. Builds jmb (release), then runs bench/mail.py (see its docstring for what is compared with
# what). Prints figures and one PASS/FAIL line per target of issue 8; exit code 0 whatever the numbers.
#
# Run from anywhere, after scripts/install-test-deps (.venv-it with aiosmtpd and requests):
#     bench/mail.sh
# Knobs (environment): BENCH_LATENCY_BOOKINGS (default 100), BENCH_DRAIN_BOOKINGS (default 200, x 51 mails),
# BENCH_REMINDER_MEETINGS (default 40, x 6 reminders), CARGO_TARGET_DIR (default target/).
# Everything binds 127.0.0.1; takes about 3-4 minutes on 2 cores (one of them waiting for a minute boundary).
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
PY="$PWD/.venv-it/bin/python"
[ -x "$PY" ] && "$PY" -c 'import aiosmtpd, requests' 2> /dev/null \
    || { echo ".venv-it with aiosmtpd is missing: run scripts/install-test-deps" >&2; exit 1; }
echo "== building jmb (release)"
cargo build --release --locked --bin jmb
"$PY" bench/mail.py --bin "$TARGET/release/jmb" "$@"
