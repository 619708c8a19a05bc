#!/usr/bin/env python3
"""How well a build of newsletter reads the real-world bounce fixtures.

For every fixture in tests/fixtures/bounces/expected.toml, runs `BIN bounces inspect --format json`
and compares the kind, the failed addresses and their classes with the manifest. Slots are filled
with ids that carry no valid keyed tag, so complaints whose recipient is redacted (tied to a
delivery only by our tagged ids) cannot be read exactly here; tests/it/bounces.rs reads them with a
real key. Works with older builds too, to compare before and after.

Usage: scripts/bounce-accuracy.py [BIN]   (default target/release/newsletter)
"""
import json
import os
import subprocess
import sys
import tempfile
import tomllib

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "target/release/newsletter")
fixtures = os.path.join(root, "tests/fixtures/bounces")
manifest = tomllib.load(open(os.path.join(fixtures, "expected.toml"), "rb"))["fixture"]
work = tempfile.mkdtemp()

def kind_of(report):
    return report["kind"].replace("non-standard-bounce", "non-standard bounce").replace("not-a-bounce", "not a bounce")

recognised = bounces = addresses = exact = 0
misread = []
for e in manifest:
    text = open(os.path.join(fixtures, e["file"]), encoding="utf-8", errors="surrogateescape").read()
    for slot, value in [("{{VERP}}", "bounces+7-42-0000000000@bounces.this-week-in-rust.org"),
                        ("{{MSGID}}", "<issue-912.s42.0000000000@bounces.this-week-in-rust.org>"),
                        ("{{EMAIL}}", "reader@example.org"), ("{{SUB}}", "42")]:
        text = text.replace(slot, value)
    path = os.path.join(work, e["file"])
    open(path, "w", encoding="utf-8", errors="surrogateescape").write(text)
    out = subprocess.run([binary, "--database-url", f"sqlite://{work}/inspect.db", "bounces", "inspect",
                          "--format", "json", path], capture_output=True, text=True, check=True).stdout
    report = json.loads(out)[0]["report"]
    kind = kind_of(report)
    got = sorted(f"{(r['email'] or '-').lower()} {r['class']}" for r in report["recipients"] if r["class"] != "none")
    want = sorted(e["failed"])
    if e["kind"] not in ("auto-reply", "not a bounce"):
        bounces += 1
        recognised += kind == e["kind"]
    addresses += [g.split()[0] for g in got] == sorted(w.split()[0] for w in want)
    if kind == e["kind"] and got == want:
        exact += 1
    else:
        misread.append(f"  {e['file']}: want {e['kind']} {want}, got {kind} {got}")
print(f"{binary}")
print(f"  recognised {recognised}/{bounces} bounces and complaints")
print(f"  exactly the failed addresses on {addresses}/{len(manifest)} fixtures")
print(f"  kind, addresses and classes exact on {exact}/{len(manifest)}")
print("\n".join(misread))
