#!/usr/bin/env bash
# Load on the RFC 8058 one-click endpoint: wrk POSTs List-Unsubscribe=One-Click to the tokens of
# SUBSCRIBERS real subscribers (each first hit writes an unsubscribe, later hits are idempotent).
# Prints requests/s and latency percentiles. Loopback only; bounded by DURATION.
# Usage: scripts/bench-web.sh [SUBSCRIBERS] [DURATION] [CONNECTIONS]   (defaults 20000 10s 32)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20000}
DURATION=${2:-10s}
CONNS=${3:-32}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 1; }
cargo build --release --locked -q
BIN=$PWD/target/release/newsletter
WORK=$(mktemp -d)
DB="sqlite://$WORK/web.db"
cleanup() { [ -n "${SERVER:-}" ] && kill "$SERVER" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

python3 -c "
import sys
with open('$WORK/subs.csv', 'w') as f:
    f.write('email\n')
    for i in range($N): f.write(f'load{i}@example.org\n')
"
"$BIN" --database-url "$DB" subscribers import "$WORK/subs.csv" >/dev/null
# Tokens come straight from the database file: they are never printed by the CLI.
python3 - "$WORK/web.db" "$WORK/tokens.lua" <<'PY'
import sqlite3, sys
tokens = [r[0] for r in sqlite3.connect(sys.argv[1]).execute("SELECT token FROM subscribers")]
with open(sys.argv[2], "w") as f:
    f.write("tokens = {" + ",".join(f'"{t}"' for t in tokens) + "}\n")
    f.write("""
counter = 0
request = function()
  counter = counter + 1
  local t = tokens[(counter % #tokens) + 1]
  return wrk.format("POST", "/unsubscribe/" .. t,
    {["Content-Type"] = "application/x-www-form-urlencoded"}, "List-Unsubscribe=One-Click")
end
done = function(summary, latency, requests)
  io.write(string.format("requests/s %.0f  p50 %.2f ms  p99 %.2f ms  max %.2f ms  non-2xx %d\\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, summary.errors.status))
end
""")
PY
"$BIN" --database-url "$DB" serve --bind 127.0.0.1:0 >"$WORK/serve.out" &
SERVER=$!
for _ in $(seq 50); do grep -q listening "$WORK/serve.out" 2>/dev/null && break; sleep 0.1; done
ADDR=$(sed -n 's/^listening on //p' "$WORK/serve.out")
wrk -t2 -c"$CONNS" -d"$DURATION" --latency -s "$WORK/tokens.lua" "$ADDR" | tail -n 1
python3 -c "
import sqlite3; c = sqlite3.connect('$WORK/web.db')
print('unsubscribed by the run:', c.execute(\"SELECT COUNT(*) FROM subscribers WHERE status='unsubscribed'\").fetchone()[0], 'of $N')"
