#!/usr/bin/env bash
# Runs every recipe in recipes/*.yaml with two Tilt jars (say, before and after a refactor) and
# prints, per recipe, the final train/loss and held-out metrics of both runs side by side, so a
# change that should not move results can be shown not to. Each jar runs the recipes of its own
# tree (keys may have been renamed between them).
#   scripts/compare-recipes.sh OLD_TREE NEW_TREE [OUT_DIR]     (trees with target/tilt.jar built)
set -euo pipefail
old="$(cd "$1" && pwd)"; new="$(cd "$2" && pwd)"; out="${3:-${TMPDIR:-/tmp}/tilt-compare}"
mkdir -p "$out"
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
for tree in "$old" "$new"; do
  tag=$([[ "$tree" == "$old" ]] && echo old || echo new)
  for r in "$tree"/recipes/*.yaml; do
    name=$(basename "$r" .yaml)
    dir="$out/$tag/$name"
    [[ -f "$dir/summary.json" ]] && continue
    rm -rf "$dir"
    (cd "$tree" && java -Dai.djl.offline=true -jar target/tilt.jar train "recipes/$name.yaml" \
        --run-dir "$dir" > "$out/$tag-$name.log" 2>&1) || echo "$tag $name: exit $?" >&2
  done
done
python3 - "$out" <<'PY'
import json, os, sys
out = sys.argv[1]
keys = ["train/loss", "eval/loss", "eval/rewards/accuracies", "eval/reward", "eval/kl",
        "eval/mean_length", "eval/win_rate"]
def last(tag, name):
    p = os.path.join(out, tag, name, "summary.json")
    if not os.path.exists(p):
        return None
    m = json.load(open(p))["metrics"]
    return {k: m[k]["last"] for k in keys if k in m}
names = sorted({n for t in ("old", "new") for n in os.listdir(os.path.join(out, t))})
print("| recipe | metric | before | after |")
print("|---|---|---|---|")
for n in names:
    a, b = last("old", n), last("new", n)
    if a is None or b is None:
        print(f"| {n} | (missing run) | {a is not None} | {b is not None} |")
        continue
    for k in keys:
        if k in a or k in b:
            fa = "-" if k not in a else f"{a[k]:.4f}"
            fb = "-" if k not in b else f"{b[k]:.4f}"
            print(f"| {n} | {k} | {fa} | {fb} |")
PY
