#!/usr/bin/env bash
# Check and render speed of this checkout against an earlier commit, on the same machine, runs
# alternating so that a machine that speeds up or slows down during the comparison weighs on both.
#
#   scripts/bench-check-ab.sh [BASE_REV] [ROUNDS]
#
# BASE_REV (default 8bcb61d, the build before the rules of issue #24) is checked out into a
# worktree under target/ab-base and its benches built there (its dependencies are copied from this
# checkout's target/release the first time, so only the crate itself compiles). Each round runs,
# for both builds, `check` of the 2024-size issue with all rules (the size rule renders it), the
# rules alone, and `render`; each for 3 s after a 1 s warm-up. Prints every run, then the median of
# each side and the ratio this checkout / base.
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=${1:-8bcb61d}
ROUNDS=${2:-5}
HERE=$PWD
WT=$HERE/target/ab-base
if [ ! -d "$WT/.git" ] && [ ! -f "$WT/.git" ]; then
  git worktree add -q --detach "$WT" "$BASE"
  if [ -d "$HERE/target/release" ]; then
    mkdir -p "$WT/target" && cp -a "$HERE/target/release" "$WT/target/"
  fi
else
  git -C "$WT" checkout -q --detach "$BASE"
fi
build() { # DIR -> prints the check and render bench executables
  # The benches find their fixture through CARGO_MANIFEST_DIR, fixed when they compile: rebuilt
  # each time, in case the checkout has moved.
  touch "$1"/benches/*.rs
  (cd "$1" && cargo bench --locked --bench check --bench render --no-run --message-format=json 2>/dev/null) |
    python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] in ("check", "render"):
        print(m["target"]["name"], m["executable"])'
}
declare -A EXE
while read -r name exe; do EXE[base_$name]=$exe; done < <(build "$WT")
while read -r name exe; do EXE[here_$name]=$exe; done < <(build "$HERE")
# Runs one criterion bench by filter; prints its median in ms.
one() { # EXE DIR FILTER
  (cd "$2" && "$1" --bench --noplot --measurement-time 3 --warm-up-time 1 "$3" 2>&1) |
    python3 -c '
import re, sys
for line in sys.stdin:
    m = re.search(r"time:\s+\[\S+ \S+ (\S+) (\S+) ", line)
    if m:
        v, unit = float(m.group(1)), m.group(2)
        ms = v / 1000 if unit.startswith("\u00b5") else v
        print(f"{ms:.3f}")
        break'
}
declare -A RUNS
for r in $(seq "$ROUNDS"); do
  for side in base here; do
    dir=$([ $side = base ] && echo "$WT" || echo "$HERE")
    a=$(one "${EXE[${side}_check]}" "$dir" 'large-2024.md .all rules')
    b=$(one "${EXE[${side}_check]}" "$dir" 'large-2024.md .rules without')
    c=$(one "${EXE[${side}_render]}" "$dir" 'render/large-2024')
    echo "round $r $side: check (all rules) $a ms, rules alone $b ms, render $c ms"
    RUNS[$side]+="$a $b $c;"
  done
done
python3 - "${RUNS[base]}" "${RUNS[here]}" "$BASE" <<'PY'
import statistics, sys
def med(s):
    rows = [list(map(float, x.split())) for x in s.strip(";").split(";")]
    return [statistics.median(c) for c in zip(*rows)]
base, here = med(sys.argv[1]), med(sys.argv[2])
for name, b, h in zip(["check (all rules)", "rules alone", "render"], base, here):
    print(f"{name:18} base {sys.argv[3]} {b:.3f} ms, this checkout {h:.3f} ms: {100 * h / b:.0f}%")
PY
