#!/usr/bin/env bash
# The console's subscriber search on ROWS subscribers (default 1,000,000), on SQLite and on
# PostgreSQL: imports a generated list (names and addresses in several scripts, common and rare
# domains, realistic statuses), signs in to `newsletter serve` as an admin and times each search
# page over HTTP (server render and audit entry included). Prints p50/p95/max per kind of query
# and over all of them. (One or two characters search the beginning of addresses.)
# Usage: scripts/bench-search.sh [ROWS] [PG_ADMIN_URL]    (BENCH_DB=sqlite|postgres for one only)
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-1000000}
PG=${2:-postgres://postgres@127.0.0.1:5432/postgres}
cargo build --release --locked -q
BIN=$PWD/target/release/newsletter
WORK=$(mktemp -d)
SERVER=
cleanup() {
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null || true
  rm -rf "$WORK"
  psql "$PG" -qc "DROP DATABASE IF EXISTS nl_bench_search" >/dev/null 2>&1 || true
}
trap cleanup EXIT

python3 - "$ROWS" "$WORK/subscribers.csv" <<'PY'
import random, sys
rows, path = int(sys.argv[1]), sys.argv[2]
rnd = random.Random(7)
first = ["Ada", "Grace", "Linus", "Søren", "Zoë", "José", "Ngozi", "Mei", "Yuki", "Олег", "Анна",
         "محمد", "Fatima", "Priya", "Arjun", "Chloé", "Björn", "Kofi", "Hana", "Lucía", "Tomás",
         "Ewa", "Jürgen", "Siobhán", "Dmitri", "Aiko", "Wei", "Noa", "Emeka", "Ingrid"]
last = ["Lovelace", "Hopper", "Torvalds", "Kierkegaard", "Müller", "García", "Okafor", "Nakamura",
        "Иванов", "Smirnova", "Haddad", "Sharma", "Dubois", "Nilsson", "Mensah", "Kowalska",
        "O'Brien", "Schmidt", "Rossi", "Tanaka", "Kim", "Nguyen", "Cohen", "Silva", "Andersen"]
big = ["gmail.com", "yahoo.com", "outlook.com", "hotmail.co.uk", "proton.me", "icloud.com",
       "gmx.de", "web.de", "yandex.ru", "mail.ru"]
with open(path, "w", encoding="utf-8") as f:
    f.write("email,name\n")
    for i in range(rows):
        fn, ln = rnd.choice(first), rnd.choice(last)
        dom = rnd.choice(big) if rnd.random() < 0.8 else f"corp{rnd.randrange(50000)}.example"
        local = rnd.choice([f"reader{i}", f"r{i}.{rnd.randrange(10**6)}", f"user-{i:07d}"])
        name = "" if rnd.random() < 0.3 else f"{fn} {ln}"
        f.write(f"{local}@{dom},\"{name}\"\n")
PY
echo "generated $ROWS subscribers: $(du -h "$WORK/subscribers.csv" | cut -f1)"

# Statuses as a real list has them: 1% unsubscribed... set after import by id.
statuses() {
  cat <<'SQL'
UPDATE subscribers SET status = 'unsubscribed' WHERE id % 14 = 0;
UPDATE subscribers SET status = 'bounced' WHERE id % 50 = 1;
UPDATE subscribers SET status = 'complained' WHERE id % 997 = 2;
UPDATE subscribers SET status = 'pending' WHERE id % 101 = 3;
SQL
}

run() {
  local label=$1 url=$2 port=$3
  local t0=$SECONDS
  "$BIN" --database-url "$url" subscribers import "$WORK/subscribers.csv" >/dev/null
  case $label in
    sqlite) python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.executescript(sys.stdin.read()); c.commit()" "${url#sqlite://}" < <(statuses) ;;
    postgres) statuses | psql -q "$url" ;;
  esac
  echo "$label: imported and set statuses in $((SECONDS - t0)) s"
  printf 'bench-password-1234\n' | "$BIN" --database-url "$url" admins add bench@example.org --role admin >/dev/null
  NEWSLETTER_ADMIN__PLAIN_LOOPBACK=true NEWSLETTER_TRANSPORT__URL="file:$WORK/outbox" \
    "$BIN" --database-url "$url" serve --bind "127.0.0.1:$port" >"$WORK/serve.out" 2>"$WORK/serve.err" &
  SERVER=$!
  for _ in $(seq 100); do grep -q listening "$WORK/serve.out" 2>/dev/null && break; sleep 0.1; done
  python3 - "$port" "$label" <<'PY'
import http.client, re, statistics, sys, time, urllib.parse
port, label = int(sys.argv[1]), sys.argv[2]
c = http.client.HTTPConnection("127.0.0.1", port)
def req(method, path, body=None, cookie=""):
    h = {"Cookie": cookie}
    if body is not None:
        h["Content-Type"] = "application/x-www-form-urlencoded"
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    return r, r.read().decode()
r, page = req("GET", "/admin/login")
login = r.getheader("Set-Cookie").split(";")[0]
csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
form = urllib.parse.urlencode({"email": "bench@example.org", "password": "bench-password-1234", "csrf": csrf})
r, _ = req("POST", "/admin/login", form, login)
session = [v.split(";")[0] for k, v in r.getheaders() if k.lower() == "set-cookie" and "nl_admin=" in v][0]
kinds = {
    "rare part of an address": ["reader123457@", "user-0765432", "r98765.", "corp4242.example", "er77777@"],
    "common part": ["gmail", "example", "reader", "yahoo.com", ".de"],
    "part of a name": ["lovelace", "müller", "иванов", "nakamura", "o'brien"],
    "rare name + status": ["chloé dubois&status=complained", "björn&status=pending", "hopper&status=bounced"],
    "no match": ["zzqqxx", "nobody-here", "@nowhere.test"],
    "one or two characters": ["a", "zq", "ü", "r9", "u"],
    "everyone, page 2000": ["&after=100000"],
}
overall = []
print(f"{label}: {'query':<26} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
for kind, queries in kinds.items():
    times = []
    for rep in range(8):
        for q in queries:
            term, _, extra = q.partition("&")
            path = "/admin/subscribers?q=" + urllib.parse.quote(term) + ("&" + extra if extra else "")
            t = time.perf_counter()
            r, body = req("GET", path, cookie=session)
            times.append((time.perf_counter() - t) * 1000)
            assert r.status == 200, (path, r.status)
    times.sort()
    overall += times
    p = lambda xs, q: xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]
    print(f"{label}: {kind:<26} {len(times):>4} {p(times, .5):>8.1f} {p(times, .95):>8.1f} {times[-1]:>8.1f}")
overall.sort()
p = lambda xs, q: xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]
print(f"{label}: {'all':<26} {len(overall):>4} {p(overall, .5):>8.1f} {p(overall, .95):>8.1f} {overall[-1]:>8.1f}")
PY
  kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=
}

if [ "${BENCH_DB:-both}" != postgres ]; then
  run sqlite "sqlite://$WORK/bench.db" 18431
fi
if [ "${BENCH_DB:-both}" != sqlite ]; then
  psql "$PG" -qc "DROP DATABASE IF EXISTS nl_bench_search" -c "CREATE DATABASE nl_bench_search" >/dev/null
  run postgres "${PG%/*}/nl_bench_search" 18432
fi
