#!/usr/bin/env bash
# Hostile load on `newsletter serve` (loopback only, bounded): while 500 connections hold half-sent
# requests and 100 clients hammer /health, 2,000 subscribers each send one RFC 8058 one-click POST.
# Prints every status code seen and the unsubscribe latency percentiles; exits 1 on any 5xx, on an
# unsubscribe that was not recorded, or when the unsubscribe p99 is 50 ms or more.
# Usage: scripts/load-web.sh [POSTS] [CONCURRENCY]   (defaults 2000 50: the POSTs are sent by
# CONCURRENCY clients at once, each on its own connection)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-2000}
CONC=${2:-50}
cargo build --release --locked -q
BIN=$PWD/target/release/newsletter
WORK=$(mktemp -d)
DB="sqlite://$WORK/web.db"
cleanup() { [ -n "${SERVER:-}" ] && kill "$SERVER" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

python3 -c "
with open('$WORK/subs.csv', 'w') as f:
    f.write('email\n')
    for i in range($N): f.write(f'load{i}@example.org\n')
"
"$BIN" --database-url "$DB" subscribers import "$WORK/subs.csv" >/dev/null
"$BIN" --database-url "$DB" serve --bind 127.0.0.1:0 >"$WORK/serve.out" 2>"$WORK/serve.err" &
SERVER=$!
for _ in $(seq 50); do grep -q listening "$WORK/serve.out" 2>/dev/null && break; sleep 0.1; done
ADDR=$(sed -n 's/^listening on http:\/\///p' "$WORK/serve.out")

cat > "$WORK/load.py" <<'PY'
import asyncio, collections, json, sqlite3, sys, time

role, addr = sys.argv[1], sys.argv[2]
host, port = addr.rsplit(":", 1)

async def request(method, path, body=b""):
    reader, writer = await asyncio.open_connection(host, int(port))
    head = (f"{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n")
    writer.write(head.encode() + body)
    await writer.drain()
    data = await reader.read()
    writer.close()
    return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0

async def half_open(seconds):
    # Connections that send half a request and then nothing: the server must not run out of them.
    conns = []
    for _ in range(500):
        r, w = await asyncio.open_connection(host, int(port))
        w.write(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        await w.drain()
        conns.append(w)
    print(json.dumps({"half_open": len(conns)}), flush=True)
    await asyncio.sleep(seconds)

async def health(seconds):
    statuses = collections.Counter()
    end = time.monotonic() + seconds
    async def loop():
        while time.monotonic() < end:
            statuses[await request("GET", "/health")] += 1
    await asyncio.gather(*[loop() for _ in range(100)])
    print(json.dumps({"health": {str(k): v for k, v in statuses.items()}}), flush=True)

async def unsubscribe(db, conc):
    tokens = [r[0] for r in sqlite3.connect(db).execute("SELECT token FROM subscribers")]
    queue = list(reversed(tokens))
    statuses, latencies = collections.Counter(), []
    async def client():
        while queue:
            t = queue.pop()
            start = time.perf_counter()
            statuses[await request("POST", f"/unsubscribe/{t}", b"List-Unsubscribe=One-Click")] += 1
            latencies.append(time.perf_counter() - start)
    started = time.perf_counter()
    await asyncio.gather(*[client() for _ in range(conc)])
    took = time.perf_counter() - started
    latencies.sort()
    pct = lambda p: latencies[min(len(latencies) - 1, int(len(latencies) * p / 100))] * 1000
    print(json.dumps({"posts": len(latencies), "clients": conc, "seconds": round(took, 2),
                      "p50_ms": round(pct(50), 1), "p99_ms": round(pct(99), 1),
                      "max_ms": round(latencies[-1] * 1000, 1),
                      "statuses": {str(k): v for k, v in statuses.items()}}), flush=True)

if role == "half-open":
    asyncio.run(half_open(float(sys.argv[3])))
elif role == "health":
    asyncio.run(health(float(sys.argv[3])))
else:
    asyncio.run(unsubscribe(sys.argv[3], int(sys.argv[4])))
PY
# Three processes, so that no load starves the one that measures.
python3 "$WORK/load.py" half-open "$ADDR" 30 >"$WORK/half.json" &
HALF=$!
for _ in $(seq 100); do [ -s "$WORK/half.json" ] && break; sleep 0.1; done
python3 "$WORK/load.py" health "$ADDR" "${HEALTH_SECS:-8}" >"$WORK/health.json" &
HEALTH=$!
sleep 1
python3 "$WORK/load.py" unsubscribe "$ADDR" "$WORK/web.db" "$CONC" >"$WORK/posts.json"
wait "$HEALTH"
kill "$HALF" 2>/dev/null || true
python3 - "$WORK" "$N" <<'PY'
import json, sqlite3, sys
work, n = sys.argv[1], int(sys.argv[2])
half = json.load(open(f"{work}/half.json"))
health = json.load(open(f"{work}/health.json"))["health"]
posts = json.load(open(f"{work}/posts.json"))
done = sqlite3.connect(f"{work}/web.db").execute(
    "SELECT COUNT(*) FROM subscribers WHERE status = 'unsubscribed'").fetchone()[0]
print(f"{half['half_open']} half-open connections held; 100 /health clients: {sum(health.values())} answers {health}")
print(f"{posts['posts']} one-click POSTs by {posts['clients']} clients in {posts['seconds']} s: "
      f"p50 {posts['p50_ms']} ms, p99 {posts['p99_ms']} ms, max {posts['max_ms']} ms; statuses {posts['statuses']}")
print(f"unsubscribed: {done} of {n}")
bad = [s for s in list(health) + list(posts["statuses"]) if int(s) >= 500 or int(s) == 0]
if bad or done != n or posts["p99_ms"] >= 50:
    print("FAILED:", bad or (f"p99 {posts['p99_ms']} ms" if posts["p99_ms"] >= 50 else "unsubscribes missing"))
    sys.exit(1)
PY
