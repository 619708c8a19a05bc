#!/usr/bin/env bash
# Shaping per provider under throttling: a campaign of MESSAGES (default 10,000) split evenly over
# three domains, into the scripted SMTP server tests/support/fault_smtp.py, which accepts slow.test
# at RATE messages per second (default 50) and answers beyond that with providers' throttling
# replies (451 4.7.650 / 421 4.7.0). slow.test is its own provider ([send.providers.slowmail]).
#
#   scripts/bench-throttle.sh [MESSAGES] [RATE]
#
# Run 1 sends only the two healthy domains' share; run 2 sends all three. Prints, from the server's
# own log of every RCPT: when the healthy domains finished in each run (and the ratio), how long the
# slow domain took, the throttled attempts at it as a share of its messages, and whether every
# recipient got exactly one message.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}
RATE=${2:-50}
python3 -c "import aiosmtpd" 2>/dev/null || { echo "needs aiosmtpd: scripts/install-test-deps.sh"; exit 1; }
cargo build --release --locked -q
BIN=$PWD/target/release/newsletter
WORK=$(mktemp -d)
SERVER_PID=""
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
cat >"$WORK/config.toml" <<TOML
[send.providers.slowmail]
domains = ["slow.test"]
connections = 4
TOML

run() { # NAME DOMAINS...
  local name=$1; shift
  local dir="$WORK/$name" port
  mkdir -p "$dir/mail"
  python3 - "$N" "$dir/subs.csv" "$@" <<'PY'
import sys
n, path, domains = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
per = n // 3
with open(path, "w") as f:
    f.write("email\n")
    for d in domains:
        for i in range(per + (1 if d == "fast-a.test" and n % 3 else 0)):
            f.write(f"reader{i:06}@{d}\n")
PY
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  python3 tests/support/fault_smtp.py --port "$port" --dir "$dir/mail" \
    --throttle "slow.test:$RATE" --stats "$dir/stats" >/dev/null &
  SERVER_PID=$!
  for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done
  local db="sqlite://$dir/bench.db"
  NEWSLETTER_CONFIG="$WORK/config.toml" "$BIN" --database-url "$db" subscribers import "$dir/subs.csv" >/dev/null
  NEWSLETTER_CONFIG="$WORK/config.toml" "$BIN" --database-url "$db" send tests/fixtures/send/small.md \
    --yes --transport "smtp://127.0.0.1:$port" >"$dir/out" 2>"$dir/err" || { cat "$dir/out" "$dir/err"; exit 1; }
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
  head -n 2 "$dir/out" | sed "s/^/  $name: /"
}

echo "$N messages over fast-a.test, fast-b.test and slow.test; slow.test accepts $RATE/s"
run healthy fast-a.test fast-b.test
run mixed fast-a.test fast-b.test slow.test
RATE=$RATE python3 - "$WORK" <<'PY'
import collections, os, sys
work = sys.argv[1]
def read(name):
    seen = collections.defaultdict(lambda: {"accept": [], "throttle": 0})
    for line in open(os.path.join(work, name, "stats")):
        what, domain, at = line.split()
        if what == "accept":
            seen[domain]["accept"].append(float(at))
        else:
            seen[domain]["throttle"] += 1
    start = min(t for s in seen.values() for t in s["accept"])
    per_rcpt = collections.Counter()
    for f in os.listdir(os.path.join(work, name, "mail")):
        if f.endswith(".eml"):
            per_rcpt[f.split("-", 1)[1][:-4]] += 1
    subs = sum(1 for _ in open(os.path.join(work, name, "subs.csv"))) - 1
    return seen, start, per_rcpt, subs
h, hs, hr, hn = read("healthy")
m, ms, mr, mn = read("mixed")
fin = lambda seen, start, ds: max(max(seen[d]["accept"]) for d in ds) - start
healthy_alone = fin(h, hs, ["fast-a.test", "fast-b.test"])
healthy_mixed = fin(m, ms, ["fast-a.test", "fast-b.test"])
slow = fin(m, ms, ["slow.test"])
slow_n = len(m["slow.test"]["accept"])
thr = m["slow.test"]["throttle"]
once = lambda r, n: len(r) == n and all(c == 1 for c in r.values())
print(f"healthy domains finish: {healthy_alone:.2f} s alone, {healthy_mixed:.2f} s beside the throttled one "
      f"({100 * healthy_mixed / healthy_alone:.0f}%; goal within 110%)")
print(f"slow.test: {slow_n} messages in {slow:.1f} s ({slow_n / slow:.1f}/s accepted of {os.environ.get('RATE', '?')}/s offered), "
      f"{thr} throttled attempts = {100 * thr / slow_n:.1f}% of its messages (goal under 10%)")
print(f"exactly once: healthy run {once(hr, hn)} ({len(hr)} recipients), mixed run {once(mr, mn)} ({len(mr)} recipients)")
PY
