#!/usr/bin/env bash
# Imports ROWS generated subscribers (default 1,000,000) into a fresh SQLite file and a fresh
# PostgreSQL database, and prints wall time and peak memory from /usr/bin/time -v.
# Usage: scripts/bench-import.sh [ROWS] [PG_ADMIN_URL]
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-1000000}
PG=${2:-postgres://postgres@127.0.0.1:5432/postgres}
command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (apt-get install time)"; exit 1; }
cargo build --release --locked -q
BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/newsletter
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"; psql "$PG" -qc "DROP DATABASE IF EXISTS nl_bench_import" >/dev/null 2>&1 || true' EXIT

python3 - "$ROWS" "$WORK/subscribers.csv" <<'PY'
import sys
rows, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w", encoding="utf-8") as f:
    f.write("email,name\n")
    for i in range(rows):
        f.write(f"reader{i}@example{i % 997}.org,Reader {i}\n")
PY
echo "generated $ROWS rows: $(du -h "$WORK/subscribers.csv" | cut -f1)"

measure() {
  local label=$1 url=$2
  /usr/bin/time -v "$BIN" --database-url "$url" subscribers import "$WORK/subscribers.csv" \
    >"$WORK/out" 2>"$WORK/time" || { cat "$WORK/out" "$WORK/time"; exit 1; }
  local wall rss
  wall=$(grep "Elapsed (wall clock)" "$WORK/time" | awk '{print $NF}')
  rss=$(grep "Maximum resident set size" "$WORK/time" | awk '{print $NF}')
  printf '%-10s %s rows   wall %s   peak RSS %d MB   (%s)\n' "$label" "$ROWS" "$wall" "$((rss / 1024))" "$(head -n 1 "$WORK/out")"
}

measure sqlite "sqlite://$WORK/bench.db"
psql "$PG" -qc "DROP DATABASE IF EXISTS nl_bench_import" -c "CREATE DATABASE nl_bench_import" >/dev/null
measure postgres "${PG%/*}/nl_bench_import"
