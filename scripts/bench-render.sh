#!/usr/bin/env bash
# Times whole `newsletter render` processes: all five seed drafts in one process, and the 2024-size
# fixture alone. Prints the mean and best wall time over RUNS runs and the HTML size of each issue.
# Usage: scripts/bench-render.sh [RUNS]   (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-20}
cargo build --release --locked -q
BIN=target/release/newsletter
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

time_runs() {
  local label=$1; shift
  local best=999999 total=0
  for _ in $(seq "$RUNS"); do
    local t0 t1 ms
    t0=$(date +%s%N)
    "$BIN" render "$@" --out "$OUT" >/dev/null 2>&1
    t1=$(date +%s%N)
    ms=$(( (t1 - t0) / 1000 ))
    total=$(( total + ms ))
    [ "$ms" -lt "$best" ] && best=$ms
  done
  printf '%-40s mean %6.2f ms   best %6.2f ms   (%d runs)\n' "$label" \
    "$(echo "$total / $RUNS / 1000" | bc -l)" "$(echo "$best / 1000" | bc -l)" "$RUNS"
}

SEEDS=(../shared/seeds/0*.txt)
if [ -e "${SEEDS[0]}" ]; then
  time_runs "render: all ${#SEEDS[@]} seeds, one process" "${SEEDS[@]}"
  "$BIN" render "${SEEDS[@]}" --out "$OUT" 2>/dev/null | awk -F'\t' '{printf "  %-12s %s  %s\n", $1, $3, $4}'
fi
time_runs "render: large-2024 fixture" tests/fixtures/large-2024.md
"$BIN" render tests/fixtures/large-2024.md --out "$OUT" 2>/dev/null | awk -F'\t' '{printf "  %-12s %s  %s\n", $1, $3, $4}'
