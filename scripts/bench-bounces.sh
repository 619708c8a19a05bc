#!/usr/bin/env bash
# Bounce intake speed: N (default 10,000) generated RFC 3464 DSNs in a Maildir, each naming one
# subscriber of a queued campaign by our Message-ID, processed by one `bounces process --maildir`
# on SQLite. Prints wall time, rate and peak RSS. Target: 10,000 in under 10 s.
# Usage: scripts/bench-bounces.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}
command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (apt-get install time)"; exit 1; }
cargo build --release --locked -q
BIN=$PWD/target/release/newsletter
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
python3 - "$N" <<'PY'
import os, sys
n = int(sys.argv[1])
with open("subs.csv", "w") as f:
    f.write("email\n")
    for i in range(n):
        f.write(f"reader{i}@example{i % 97}.org\n")
os.makedirs("Maildir/new"); os.makedirs("Maildir/cur"); os.makedirs("Maildir/tmp")
for i in range(n):
    soft = i % 5 == 0
    status, action, diag = ("4.2.2", "failed", "452 4.2.2 Mailbox full") if soft else ("5.1.1", "failed", "550 5.1.1 User unknown")
    addr = f"reader{i}@example{i % 97}.org"
    msg = f"""Return-Path: <>
From: MAILER-DAEMON@mx{i % 13}.example.net
To: bounces@bounces.this-week-in-rust.org
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b{i}"

--b{i}
Content-Type: text/plain

This is the mail system at host mx{i % 13}.example.net.

--b{i}
Content-Type: message/delivery-status

Reporting-MTA: dns; mx{i % 13}.example.net

Final-Recipient: rfc822; {addr}
Action: {action}
Status: {status}
Diagnostic-Code: smtp; {diag}

--b{i}
Content-Type: text/rfc822-headers

Message-ID: <issue-912.s{i + 1}@bounces.this-week-in-rust.org>
To: <{addr}>
Subject: This Week in Rust 912

--b{i}--
""".replace("\n", "\r\n")
    with open(f"Maildir/new/{1700000000 + i}.M{i}P1.bench", "w") as f:
        f.write(msg)
PY
"$BIN" --database-url sqlite://bench.db subscribers import subs.csv >/dev/null
"$BIN" --database-url sqlite://bench.db send "$OLDPWD/tests/fixtures/send/small.md" --yes --enqueue-only >/dev/null
start=$(date +%s.%N)
/usr/bin/time -v "$BIN" --database-url sqlite://bench.db bounces process --maildir Maildir >out 2>time || { cat out time; exit 1; }
end=$(date +%s.%N)
WALL=$(python3 -c "print(f'{$end - $start:.2f}')")
RSS=$(( $(grep "Maximum resident set size" time | awk '{print $NF}') / 1024 ))
echo "$N DSNs from a Maildir in $WALL s ($(python3 -c "print(f'{$N / ($end - $start):.0f}')")/s), peak RSS $RSS MB"
cat out
