#!/usr/bin/env python3
"""Sisimai's second opinion on the bounce-reason fixtures (tests/fixtures/bounces/reasons).

Runs tests/support/sisimai.pl on every fixture of expected.toml, maps Sisimai's reason words onto
ours, and prints per fixture and recipient whether Sisimai agrees on the reason, on the group (what
the list must do) and on "hard or not". The reviewed disagreements are in
tests/fixtures/bounces/reasons/sisimai-disagreements.md.

Usage: scripts/bounce-reasons-sisimai.py   (needs Debian's libsisimai-perl)
"""
import os
import subprocess
import tomllib

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
fixtures = os.path.join(root, "tests/fixtures/bounces/reasons")
manifest = tomllib.load(open(os.path.join(fixtures, "expected.toml"), "rb"))["fixture"]

# Sisimai reason -> ours (None: Sisimai has no word for it, or lumps several of ours).
SISIMAI = {
    "userunknown": "user-unknown", "hostunknown": "host-unknown", "hasmoved": "has-moved",
    "notaccept": "host-unknown", "suppressed": "suppressed", "mailboxfull": "mailbox-full",
    "suspend": "mailbox-disabled", "filtered": "filtered", "mesgtoobig": "message-too-large",
    "exceedlimit": "message-too-large", "contenterror": "not-compliant",
    "spamdetected": "content-rejected", "virusdetected": "virus-detected",
    "policyviolation": "policy-refused", "blocked": "blocked", "securityerror": "auth-failure",
    "rejected": "sender-rejected", "norelaying": "relay-denied", "toomanyconn": "too-many-connections",
    "speeding": "rate-limited", "requireptr": "require-ptr", "authfailure": "auth-failure",
    "badreputation": "bad-reputation", "networkerror": "network-error", "expired": "expired",
    "systemerror": "system-error", "systemfull": "system-full", "mailererror": "system-error",
    "delivered": "delivered", "vacation": "auto-reply", "feedback": "complaint",
    "onhold": "undetermined", "undefined": "undetermined", "syntaxerror": "system-error",
}
GROUP = {
    "user-unknown": "gone", "host-unknown": "gone", "has-moved": "gone", "suppressed": "gone",
    "mailbox-full": "unwell", "mailbox-disabled": "unwell", "filtered": "unwell",
    "message-too-large": "message", "content-rejected": "message", "virus-detected": "message",
    "not-compliant": "message", "blocked": "sender", "bad-reputation": "sender",
    "auth-failure": "sender", "require-ptr": "sender", "relay-denied": "sender",
    "sender-rejected": "sender", "rate-limited": "sender", "too-many-connections": "sender",
    "policy-refused": "sender", "network-error": "transport", "expired": "transport",
    "system-error": "transport", "system-full": "transport", "delayed": "not-a-failure",
    "delivered": "not-a-failure", "auto-reply": "not-a-failure", "complaint": "feedback",
    "not-spam": "feedback", "auth-report": "feedback", "unsubscribe": "feedback",
    "undetermined": "undetermined",
}

paths = [os.path.join(fixtures, e["file"]) for e in manifest]
out = subprocess.run(["perl", os.path.join(root, "tests/support/sisimai.pl"), *paths],
                     capture_output=True, text=True, check=True).stdout
said = {}
for line in out.splitlines()[1:]:
    path, addr, reason, soft = (line.split("\t") + ["", "", "", ""])[:4]
    said.setdefault(os.path.basename(path), {})[addr.lower()] = (reason, soft)

rows = reason_same = group_same = hard_same = found = 0
lines = []
for e in manifest:
    theirs = said.get(e["file"], {})
    want = [w.split() for w in e["recipients"]]
    if not want:
        want = [["-", "(none)", "none"]]
    for addr, reason, cls in want:
        rows += 1
        s_reason, s_soft = theirs.get(addr, ("(not found)", ""))
        if s_reason != "(not found)":
            found += 1
        mapped = SISIMAI.get(s_reason, s_reason)
        same_reason = mapped == reason or (reason == "auto-reply" and s_reason == "vacation")
        same_group = GROUP.get(mapped) == GROUP.get(reason)
        same_hard = (s_soft == "0") == (cls == "hard")
        reason_same += same_reason
        group_same += same_group
        hard_same += same_hard
        mark = "=" if same_reason else ("~" if same_group else "x")
        lines.append(f"{mark} {e['file']}  {addr}: ours {reason} ({cls}), sisimai {s_reason} (soft={s_soft})")
print("\n".join(lines))
print(f"\n{rows} recipients: Sisimai found {found}; same reason {reason_same}, same group {group_same}, "
      f"same hard/not-hard {hard_same}")
