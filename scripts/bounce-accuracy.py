#!/usr/bin/env python3
"""How well a build of newsletter reads the real-world bounce fixtures.

For every fixture in tests/fixtures/bounces/expected.toml, runs `BIN bounces inspect --format json`
and compares the kind, the failed addresses and their classes with the manifest. Slots are filled
with ids that carry no valid keyed tag, so complaints whose recipient is redacted (tied to a
delivery only by our tagged ids) cannot be read exactly here; tests/it/bounces.rs reads them with a
real key. Works with older builds too, to compare before and after.

Usage: scripts/bounce-accuracy.py [BIN]   (default target/release/newsletter)
       scripts/bounce-accuracy.py --reasons NEW [OLD]
         the reason fixtures (tests/fixtures/bounces/reasons), per reason: how many, how many NEW
         reads exactly (address, reason, class), and for each build how many recipients it would
         suppress at once (hard) that the fixture says must not be, and how many hard ones it misses.
         OLD may be a build from before reasons existed: only its classes are compared.
"""
import json
import os
import subprocess
import sys
import tempfile
import tomllib

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def inspect(binary, path, work):
    """The recipients `bounces inspect` reads in one file: (address, reason or '?', class)."""
    db = os.path.join(work, f"inspect-{abs(hash(binary))}.db")
    if not os.path.exists(db):
        # Older builds inspect only against an existing database: let this build create one.
        subprocess.run([binary, "--database-url", f"sqlite://{db}", "subscribers", "list"],
                       capture_output=True)
    run = subprocess.run([binary, "--database-url", f"sqlite://{db}", "bounces", "inspect",
                          "--format", "json", path], capture_output=True, text=True)
    if run.returncode != 0:
        return [("-", "error", "error")]
    report = json.loads(run.stdout)[0]["report"]
    return sorted(((r.get("email") or "-").lower(), r.get("reason") or "?", r["class"])
                  for r in report["recipients"])


def reasons(new, old):
    folder = os.path.join(root, "tests/fixtures/bounces/reasons")
    manifest = tomllib.load(open(os.path.join(folder, "expected.toml"), "rb"))["fixture"]
    work = tempfile.mkdtemp()
    rows = {}
    for e in manifest:
        path = os.path.join(folder, e["file"])
        want = sorted(tuple(w.split()[:1]) + tuple(w.split()[1:]) for w in e["recipients"])
        want = [(a.lower(), r, c) for a, r, c in want]
        # A fixture counts under each reason its recipients have, and once under "all".
        names = sorted({r for _, r, _ in want}) or ["(none)"]
        fresh = lambda: {"n": 0, "exact": 0, "new_false_hard": 0, "new_missed_hard": 0,
                         "old_class": 0, "old_false_hard": 0, "old_missed_hard": 0}
        found = fresh()
        found["n"] = 1
        for who, binary in (("new", new), ("old", old)):
            if binary is None:
                continue
            got = inspect(binary, path, work)
            hard_got = {a for a, _, c in got if c == "hard"}
            hard_want = {a for a, _, c in want if c == "hard"}
            found[f"{who}_false_hard"] += len(hard_got - hard_want)
            found[f"{who}_missed_hard"] += len(hard_want - hard_got)
            if who == "new":
                found["exact"] += got == want
            else:
                found["old_class"] += sorted((a, c) for a, _, c in got) == sorted((a, c) for a, _, c in want)
        for name in names + ["~all"]:
            row = rows.setdefault(name, fresh())
            for k, v in found.items():
                row[k] += v
    print(f"new: {new}" + (f"\nold: {old}" if old else ""))
    head = f"{'reason':<24} {'fixtures':>8} {'new exact':>9} {'new wrongly hard':>16} {'new missed hard':>15}"
    if old:
        head += f" {'old class right':>15} {'old wrongly hard':>16} {'old missed hard':>15}"
    print(head)
    total = rows.pop("~all")
    for reason in sorted(rows):
        r = rows[reason]
        line = f"{reason:<24} {r['n']:>8} {r['exact']:>9} {r['new_false_hard']:>16} {r['new_missed_hard']:>15}"
        if old:
            line += f" {r['old_class']:>15} {r['old_false_hard']:>16} {r['old_missed_hard']:>15}"
        print(line)
    t = total
    line = f"{'all fixtures':<24} {t['n']:>8} {t['exact']:>9} {t['new_false_hard']:>16} {t['new_missed_hard']:>15}"
    if old:
        line += f" {t['old_class']:>15} {t['old_false_hard']:>16} {t['old_missed_hard']:>15}"
    print(line)


if len(sys.argv) > 1 and sys.argv[1] == "--reasons":
    reasons(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
    sys.exit(0)

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
