#!/usr/bin/env bash
# Sending speed through the HTTP API transports, each against its emulator on loopback: Amazon SES
# as moto_server emulates it, and Postmark and Mailgun as tests/emulators/postmark.py and
# mailgun.py answer. A campaign of the small issue to N fresh subscribers (default 5,000) goes
# through each with a release build, on a fresh SQLite database; prints the wall time of the whole
# `send` (check, render, snapshot, delivery and every outcome recorded) and messages per second,
# and the emulator's own count. The emulators are single Python processes, so the figures say as
# much about them as about us: compare transports and builds on one machine, not with a provider.
#
#   scripts/bench-esp.sh [N] [CONCURRENCY...]
#
# CONCURRENCY (default: 8, the shipped [send] concurrency, and 100) is `--concurrency`: for
# Postmark it is also how full a batch gets. Needs moto_server (scripts/install-test-deps.sh) for
# SES; without it SES is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-5000}
shift || true
CONCURRENCY=("$@")
[ ${#CONCURRENCY[@]} -eq 0 ] && CONCURRENCY=(8 100)
cargo build --release --locked -q
BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/newsletter
ISSUE=$PWD/tests/fixtures/send/small.md
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 300); do (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return; sleep 0.1; done; echo "port $1 never opened"; exit 1; }

python3 - "$N" "$WORK/subs.csv" <<'PY'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    f.write("email\n")
    for i in range(n):
        f.write(f"reader{i}@example{i % 997}.org\n")
PY

TOKEN=bench-token
KEY=bench-key
DOMAIN=mg.this-week-in-rust.org

# Counts what an emulator accepted.
accepted() { # URL JSONPATH
  python3 - "$1" "$2" <<'PY'
import json, sys, urllib.request
data = json.load(urllib.request.urlopen(sys.argv[1]))
for key in sys.argv[2].split("/") if sys.argv[2] else []:
    data = data.get(key, []) if isinstance(data, dict) else data
print(len(data))
PY
}

# One campaign: NAME TRANSPORT CONCURRENCY COUNT_URL COUNT_PATH [VAR=VALUE...]
run() {
  local name=$1 transport=$2 conc=$3 count_url=$4 count_path=$5
  shift 5
  local db="sqlite://$WORK/$name-$conc.db"
  local before
  before=$(accepted "$count_url" "$count_path")
  env "$@" "$BIN" --database-url "$db" subscribers import "$WORK/subs.csv" >/dev/null
  local t0 t1
  t0=$(date +%s%N)
  env "$@" NEWSLETTER_SEND__RATE=0 "$BIN" --database-url "$db" send "$ISSUE" --yes \
    --concurrency "$conc" --transport "$transport" >"$WORK/out" 2>&1 || { cat "$WORK/out"; exit 1; }
  t1=$(date +%s%N)
  local after
  after=$(accepted "$count_url" "$count_path")
  python3 - "$name" "$conc" "$N" "$t0" "$t1" "$before" "$after" <<'PY'
import sys
name, conc, n, t0, t1, before, after = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
s = (t1 - t0) / 1e9
print(f"{name:9} concurrency {conc:>4}: {n} messages in {s:6.2f} s = {n / s:7.0f} msg/s (emulator accepted {after - before})")
PY
}

HAVE_MOTO=
if command -v moto_server >/dev/null; then
  MOTO_PORT=$(free_port)
  moto_server -H 127.0.0.1 -p "$MOTO_PORT" >/dev/null 2>&1 &
  PIDS+=($!)
  wait_port "$MOTO_PORT"
  # The From domain, verified in the emulator's SES (v1 VerifyDomainIdentity).
  curl -s -o /dev/null -X POST "http://127.0.0.1:$MOTO_PORT/" \
    -H 'Content-Type: application/x-www-form-urlencoded' \
    -H 'Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/ses/aws4_request, SignedHeaders=host, Signature=0' \
    --data 'Action=VerifyDomainIdentity&Version=2010-12-01&Domain=this-week-in-rust.org'
  HAVE_MOTO=1
else
  echo "moto_server is missing: SES skipped (scripts/install-test-deps.sh installs it)"
fi
PM_PORT=$(free_port)
python3 tests/emulators/postmark.py "$PM_PORT" "$TOKEN" >/dev/null 2>&1 &
PIDS+=($!)
MG_PORT=$(free_port)
python3 tests/emulators/mailgun.py "$MG_PORT" "$KEY" "$DOMAIN" >/dev/null 2>&1 &
PIDS+=($!)
wait_port "$PM_PORT"
wait_port "$MG_PORT"

echo "$(date -u +%F) $(nproc) cores; $N subscribers per campaign, small issue (tests/fixtures/send/small.md)"
for conc in "${CONCURRENCY[@]}"; do
  if [ -n "$HAVE_MOTO" ]; then
    run ses "ses://us-east-1?endpoint=http://127.0.0.1:$MOTO_PORT" "$conc" \
      "http://127.0.0.1:$MOTO_PORT/moto-api/data.json" "ses/RawMessage" \
      AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
  fi
  run postmark "postmark://?endpoint=http://127.0.0.1:$PM_PORT" "$conc" \
    "http://127.0.0.1:$PM_PORT/_emulator/messages" "" NEWSLETTER_POSTMARK_TOKEN="$TOKEN"
  run mailgun "mailgun://$DOMAIN?endpoint=http://127.0.0.1:$MG_PORT" "$conc" \
    "http://127.0.0.1:$MG_PORT/_emulator/messages" "" NEWSLETTER_MAILGUN_KEY="$KEY"
done
python3 - "http://127.0.0.1:$PM_PORT/_emulator/batches" <<'PY'
import json, sys, urllib.request
b = json.load(urllib.request.urlopen(sys.argv[1]))
print(f"postmark: {len(b)} batch calls, {sum(b)} messages, largest batch {max(b) if b else 0}")
PY
