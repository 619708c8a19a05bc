#!/usr/bin/env bash
# Imports ROWS generated subscribers (default 1,000,000) into a fresh SQLite file and a fresh
# PostgreSQL database, and prints wall time and peak memory from /usr/bin/time -v.
#
#   scripts/bench-import.sh [ROWS] [PG_ADMIN_URL]
#
# ROUNDS=N repeats each measurement N times (fresh database each time) and prints the median.
# BASE=REV also builds REV (in a worktree under target/ab-import; e.g. BASE=799d201, the build
# before the console's search index existed) and alternates the two builds round by round, so a
# machine that speeds up or slows down weighs on both: the figure to compare with one measured on
# another day is the ratio, not the seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-1000000}
PG=${2:-postgres://postgres@127.0.0.1:5432/postgres}
ROUNDS=${ROUNDS:-1}
command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (apt-get install time)"; exit 1; }
cargo build --release --locked -q
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
declare -A BIN=([this]="$TARGET/release/newsletter")
BUILDS=(this)
if [ -n "${BASE:-}" ]; then
  WT=$PWD/target/ab-import
  if [ ! -e "$WT/.git" ]; then
    git worktree add -q --detach "$WT" "$BASE"
    mkdir -p "$WT/target" && cp -a "$TARGET/release" "$WT/target/"
  else
    git -C "$WT" checkout -q --detach "$BASE"
  fi
  (cd "$WT" && CARGO_TARGET_DIR="$WT/target" cargo build --release --locked -q)
  BIN[base]=$WT/target/release/newsletter
  BUILDS=(base this)
fi
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

measure() { # BUILD BACKEND URL -> one line, and the seconds appended to $WORK/BUILD-BACKEND
  local build=$1 backend=$2 url=$3
  /usr/bin/time -v "${BIN[$build]}" --database-url "$url" subscribers import "$WORK/subscribers.csv" \
    >"$WORK/out" 2>"$WORK/time" || { cat "$WORK/out" "$WORK/time"; exit 1; }
  local wall rss
  wall=$(grep "Elapsed (wall clock)" "$WORK/time" | awk '{print $NF}')
  rss=$(grep "Maximum resident set size" "$WORK/time" | awk '{print $NF}')
  python3 -c "import sys; m, s = sys.argv[1].rsplit(':', 1); print(int(m) * 60 + float(s))" "$wall" >>"$WORK/$build-$backend"
  printf '%-5s %-9s %s rows   wall %s   peak RSS %d MB   (%s)\n' "$build" "$backend" "$ROWS" "$wall" "$((rss / 1024))" "$(head -n 1 "$WORK/out")"
}

for _ in $(seq "$ROUNDS"); do
  for build in "${BUILDS[@]}"; do
    rm -f "$WORK"/bench.db*
    measure "$build" sqlite "sqlite://$WORK/bench.db"
    psql "$PG" -qc "DROP DATABASE IF EXISTS nl_bench_import" -c "CREATE DATABASE nl_bench_import" >/dev/null 2>&1
    measure "$build" postgres "${PG%/*}/nl_bench_import"
  done
done
if [ "$ROUNDS" -gt 1 ] || [ -n "${BASE:-}" ]; then
  python3 - "$WORK" "${BUILDS[@]}" <<'PY'
import statistics, sys
work, builds = sys.argv[1], sys.argv[2:]
med = {}
for backend in ("sqlite", "postgres"):
    for b in builds:
        v = [float(x) for x in open(f"{work}/{b}-{backend}")]
        med[b, backend] = statistics.median(v)
        print(f"median {b:5} {backend:9} {med[b, backend]:.2f} s over {len(v)} run(s)")
    if "base" in builds:
        print(f"ratio this/base {backend}: {med['this', backend] / med['base', backend]:.3f}")
PY
fi
