#!/usr/bin/env bash
# Delivery speed and memory of `newsletter send`, against Postfix's smtp-sink (no storage).
#
#   scripts/bench-send.sh speed [MESSAGES] [SESSIONS] [ISSUE]
#     Sends MESSAGES (default 100,000) copies of ISSUE (default: the 2024-size fixture) over SESSIONS
#     (default 8) connections, then has Postfix's own C client smtp-source send the same number of
#     messages of the same size over the same number of reused sessions (-d) to the same sink.
#     Prints both rates and their ratio. Our time is the whole command: check, render, snapshot,
#     delivery and recording every outcome in the database. ROUNDS=N alternates the two N times
#     and prints the medians (a machine whose speed drifts then weighs on both alike).
#
#     With BENCH_DB=postgres the database is a fresh PostgreSQL database on 127.0.0.1:5432 (user
#     postgres, or BENCH_PG=postgres://user@host:port) instead of SQLite.
#
#   scripts/bench-send.sh memory [SMALL] [LARGE]
#     Peak RSS of a send to SMALL (default 10,000) and LARGE (default 1,000,000) subscribers, with a
#     short issue so the run is about the list, not the message. Prints both and the ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-speed}
command -v smtp-sink >/dev/null || { echo "needs Postfix's smtp-sink: scripts/install-test-deps.sh"; exit 1; }
command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (apt-get install time)"; exit 1; }
cargo build --release --locked -q
BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/newsletter
WORK=$(mktemp -d)
SINK_PID=""
cleanup() { [ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
USER_OPT=()
[ "$(id -u)" = 0 ] && USER_OPT=(-u nobody)
smtp-sink "${USER_OPT[@]}" "127.0.0.1:$PORT" 1024 &
SINK_PID=$!
for _ in $(seq 50); do (echo >/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null && break; sleep 0.1; done

subscribers() { # N FILE
  python3 - "$1" "$2" <<'PY'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    f.write("email\n")
    for i in range(n):
        f.write(f"reader{i}@example{i % 997}.org\n")
PY
}

# Runs one send of ISSUE to N fresh subscribers; sets WALL (s), RSS (MB) and SUMMARY.
send_once() { # N ISSUE SESSIONS
  local n=$1 issue=$2 sessions=$3 db="sqlite://$WORK/bench-$1.db"
  rm -f "$WORK/bench-$1.db" "$WORK/bench-$1.db-wal" "$WORK/bench-$1.db-shm"
  if [ "${BENCH_DB:-sqlite}" = postgres ]; then
    local server=${BENCH_PG:-postgres://postgres@127.0.0.1:5432} name="newsletter_bench_$1"
    psql "$server/postgres" -q -c "DROP DATABASE IF EXISTS $name" -c "CREATE DATABASE $name" >/dev/null
    db="$server/$name"
  fi
  subscribers "$n" "$WORK/subs.csv"
  "$BIN" --database-url "$db" subscribers import "$WORK/subs.csv" >/dev/null
  local start end
  start=$(date +%s.%N)
  /usr/bin/time -v "$BIN" --database-url "$db" send "$issue" --yes --concurrency "$sessions" \
    --transport "smtp://127.0.0.1:$PORT" >"$WORK/out" 2>"$WORK/time" || { cat "$WORK/out" "$WORK/time"; exit 1; }
  end=$(date +%s.%N)
  WALL=$(python3 -c "print(f'{$end - $start:.2f}')")
  RSS=$(( $(grep "Maximum resident set size" "$WORK/time" | awk '{print $NF}') / 1024 ))
  SUMMARY=$(head -n 1 "$WORK/out")
}

case "$MODE" in
speed)
  N=${2:-100000}
  SESSIONS=${3:-8}
  ISSUE=${4:-tests/fixtures/large-2024.md}
  "$BIN" render "$ISSUE" --out "$WORK/render" >/dev/null
  SIZE=$(stat -c %s "$WORK"/render/*.eml)
  echo "issue $ISSUE: $SIZE-byte messages, $N messages, $SESSIONS sessions, sink on 127.0.0.1:$PORT, database ${BENCH_DB:-sqlite}"
  # ROUNDS (default 1) alternations of both senders: a machine whose speed drifts weighs on both;
  # with more than one, the medians and their ratio are printed last.
  RATIOS=()
  for round in $(seq "${ROUNDS:-1}"); do
    send_once "$N" "$ISSUE" "$SESSIONS"
    OURS=$(python3 -c "print(f'{$N / $WALL:.0f}')")
    echo "newsletter send: $N messages in $WALL s = $OURS msg/s, peak RSS $RSS MB ($SUMMARY)"
    start=$(date +%s.%N)
    smtp-source -d -s "$SESSIONS" -m "$N" -l "$SIZE" -f bench@example.org -t sink@example.org "127.0.0.1:$PORT"
    end=$(date +%s.%N)
    THEIRS=$(python3 -c "print(f'{$N / ($end - $start):.0f}')")
    echo "smtp-source:     $N messages in $(python3 -c "print(f'{$end - $start:.2f}')") s = $THEIRS msg/s"
    echo "ratio: $(python3 -c "print(f'{100 * $OURS / $THEIRS:.0f}')")% of smtp-source (goal: at least 95% on SQLite, 80% on PostgreSQL)"
    RATIOS+=("$OURS:$THEIRS")
  done
  if [ "${ROUNDS:-1}" -gt 1 ]; then
    python3 - "${RATIOS[@]}" <<'PY'
import statistics, sys
ours = [float(r.split(":")[0]) for r in sys.argv[1:]]
theirs = [float(r.split(":")[1]) for r in sys.argv[1:]]
ratios = [100 * o / t for o, t in zip(ours, theirs)]
print(f"medians over {len(ours)} rounds: ours {statistics.median(ours):.0f} msg/s, smtp-source "
      f"{statistics.median(theirs):.0f} msg/s; median ratio {statistics.median(ratios):.0f}%")
PY
  fi
  ;;
memory)
  SMALL=${2:-10000}
  LARGE=${3:-1000000}
  ISSUE=tests/fixtures/send/small.md
  send_once "$SMALL" "$ISSUE" 8
  RSS_SMALL=$RSS
  echo "$SMALL subscribers: peak RSS $RSS_SMALL MB, $WALL s ($SUMMARY)"
  send_once "$LARGE" "$ISSUE" 8
  echo "$LARGE subscribers: peak RSS $RSS MB, $WALL s ($SUMMARY)"
  echo "ratio: $(python3 -c "print(f'{$RSS / $RSS_SMALL:.2f}')")x (target: at most 1.5x and under 150 MB)"
  ;;
*)
  echo "usage: scripts/bench-send.sh speed [MESSAGES] [SESSIONS] [ISSUE] | memory [SMALL] [LARGE]"
  exit 2
  ;;
esac
