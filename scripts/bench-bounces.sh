#!/usr/bin/env bash
# Bounce intake speed: an issue sent to N (default 10,000) subscribers into a file outbox, then one
# bounce per message in a Maildir (RFC 3464 DSNs and three text-only formats, each returning the
# headers of the message it bounces), processed by one `bounces process --maildir` on SQLite.
# Prints wall time, rate, peak RSS and the summary, which must show every bounce attributed.
# Target: 10,000 in under 10 s.
# Usage: scripts/bench-bounces.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}
command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (apt-get install time)"; exit 1; }
cargo build --release --locked -q
BIN=$PWD/target/release/newsletter
WORK=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
cd "$WORK"
python3 - "$N" <<'PY'
import sys
n = int(sys.argv[1])
with open("subs.csv", "w") as f:
    f.write("email\n")
    for i in range(n):
        f.write(f"reader{i}@example{i % 97}.org\n")
PY
"$BIN" --database-url sqlite://bench.db subscribers import subs.csv >/dev/null
"$BIN" --database-url sqlite://bench.db send "$OLDPWD/tests/fixtures/send/small.md" --yes --transport file:outbox >/dev/null 2>&1
# One bounce per delivered message, in the formats the intake meets, each returning the headers
# of the message it bounces (our tagged Message-ID is what proves the delivery):
# 60% RFC 3464 DSNs (4 in 5 hard, 1 in 5 soft), 20% Postfix text-only bounces, 10% qmail texts
# with the original quoted inline, 10% Exchange-style texts.
python3 - <<'PY'
import os, re
os.makedirs("Maildir/new"); os.makedirs("Maildir/cur"); os.makedirs("Maildir/tmp")
files = sorted(os.listdir("outbox"))
for i, name in enumerate(files):
    head = open(os.path.join("outbox", name), encoding="utf-8").read().split("\r\n\r\n", 1)[0]
    msgid = re.search(r"^Message-ID: (<[^>]+>)", head, re.M).group(1)
    addr = re.search(r"^To: <([^>]+)>", head, re.M).group(1)
    returned = f"From: This Week in Rust <newsletter@this-week-in-rust.org>\nTo: <{addr}>\nMessage-ID: {msgid}\nSubject: This Week in Rust 912\n"
    mx = f"mx{i % 13}.example.net"
    shape = i % 10
    if shape < 6:
        status, diag = ("4.2.2", "452 4.2.2 Mailbox full") if i % 5 == 0 else ("5.1.1", "550 5.1.1 User unknown")
        msg = f"""Return-Path: <>
From: MAILER-DAEMON@{mx}
To: bounces@bounces.this-week-in-rust.org
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b{i}"

--b{i}
Content-Type: text/plain

This is the mail system at host {mx}.

--b{i}
Content-Type: message/delivery-status

Reporting-MTA: dns; {mx}

Final-Recipient: rfc822; {addr}
Action: failed
Status: {status}
Diagnostic-Code: smtp; {diag}

--b{i}
Content-Type: text/rfc822-headers

{returned}
--b{i}--
"""
    elif shape < 8:
        msg = f"""Return-Path: <>
From: MAILER-DAEMON@{mx} (Mail Delivery System)
To: bounces@bounces.this-week-in-rust.org
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="t{i}"

--t{i}
Content-Type: text/plain

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<{addr}>: host {mx}[192.0.2.{i % 250}] said: 550 5.1.1 <{addr}>:
    Recipient address rejected: User unknown in virtual mailbox table

--t{i}
Content-Type: message/rfc822

{returned}
(body)
--t{i}--
"""
    elif shape < 9:
        msg = f"""Return-Path: <>
From: MAILER-DAEMON@{mx}
To: bounces@bounces.this-week-in-rust.org
Subject: failure notice

Hi. This is the qmail-send program at {mx}.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<{addr}>:
Sorry, no mailbox here by that name. (#5.1.1)

--- Below this line is a copy of the message.

Return-Path: <bounces@bounces.this-week-in-rust.org>
{returned}
(body)
"""
    else:
        msg = f"""Return-Path: <>
From: postmaster@{mx}
To: bounces@bounces.this-week-in-rust.org
Subject: Undeliverable: This Week in Rust 912
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="x{i}"

--x{i}
Content-Type: text/plain

Delivery has failed to these recipients or groups:

{addr}
The e-mail address you entered couldn't be found.

--x{i}
Content-Type: message/rfc822

{returned}
(body)
--x{i}--
"""
    with open(f"Maildir/new/{1700000000 + i}.M{i}P1.bench", "w") as f:
        f.write(msg.replace("\n", "\r\n"))
PY
start=$(date +%s.%N)
/usr/bin/time -v "$BIN" --database-url sqlite://bench.db bounces process --maildir Maildir >out 2>time || { cat out time; exit 1; }
end=$(date +%s.%N)
WALL=$(python3 -c "print(f'{$end - $start:.2f}')")
RSS=$(( $(grep "Maximum resident set size" time | awk '{print $NF}') / 1024 ))
echo "$N DSNs from a Maildir in $WALL s ($(python3 -c "print(f'{$N / ($end - $start):.0f}')")/s), peak RSS $RSS MB"
cat out
