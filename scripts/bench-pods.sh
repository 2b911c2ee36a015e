#!/usr/bin/env bash
# The gradient reduction across two hosts, against what the README's model predicts: tilt bench dpo
# on a PyTorchJob's two pods played by network namespaces (scripts/lib/pods.sh), with the link
# between them limited to each rate in turn (tc's token bucket on both ends), plain data
# parallelism and ZeRO-1, rounds alternating. For each, the step and the gradient reduction (with
# the norm) rank 0 measured, and the time the README's model gives the transfer: the bytes a worker
# sends per step (2 (W - 1) / W of the gradients for an all-reduce, (W - 1) / W for ZeRO-1's
# reduce-scatter, whose all-gather of the weights then sends as much again) over the rate. Ends
# with one JSON line. Needs root; not in CI; result: README.
#   scripts/bench-pods.sh MODEL_DIR PREF_JSONL ENV_SH [ROUNDS] [RATES]   (RATES: "none 10gbit 1gbit")
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
model="${1:?usage: scripts/bench-pods.sh MODEL_DIR PREF_JSONL ENV_SH [ROUNDS] [RATES]}"
data="${2:?}"
# shellcheck disable=SC1090
source "${3:?}"
rounds="${4:-2}"
read -r -a rates <<< "${5:-none 10gbit 1gbit}"
work="${TMPDIR:-/tmp}/tilt-bench-pods"
rm -rf "$work" && mkdir -p "$work"
cd "$here"
export TILT_THREADS=1
# shellcheck source=lib/pods.sh
source "$here/scripts/lib/pods.sh"
trap pods_down EXIT
pods_up
./tilt --version > /dev/null # builds the jar once, before two pods would at once
bench=(bench dpo --model "$model" --data "$data" --batch-size 8 --steps 8 --warmup 2)
for r in $(seq 1 "$rounds"); do
  for rate in "${rates[@]}"; do
    pods_link_rate "$rate"
    for zero in 0 1; do
      name="r$r-$rate-z$zero"
      echo "bench-pods: round $r, link $rate, zero $zero" >&2
      pod 1 "$work/$name-pod1.log" ./tilt "${bench[@]}" --zero "$zero" &
      worker=$!
      pod 0 "$work/$name-pod0.log" ./tilt "${bench[@]}" --zero "$zero" ||
        { tail -5 "$work/$name-pod0.log" >&2; echo "bench-pods: $name failed on the master pod" >&2; exit 1; }
      wait "$worker" ||
        { tail -5 "$work/$name-pod1.log" >&2; echo "bench-pods: $name failed on the worker pod" >&2; exit 1; }
      grep -o '{"bench":"dpo".*}' "$work/$name-pod0.log" | tail -1 > "$work/$name.json"
    done
  done
done
python3 - "$work" "$rounds" "${rates[@]}" <<'PY'
import json, re, sys
work, rounds, rates = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def bits(rate):
    if rate == "none": return None
    n, unit = re.fullmatch(r"(\d+)([kmg]?)bit", rate).groups()
    return int(n) * {"": 1, "k": 1e3, "m": 1e6, "g": 1e9}[unit]
runs = {(rate, z): [json.load(open(f"{work}/r{r}-{rate}-z{z}.json")) for r in range(1, rounds + 1)]
        for rate in rates for z in (0, 1)}
out = {"bench": "dpo_pods", "workers": 2, "rounds": rounds, "links": []}
for rate in rates:
    for z in (0, 1):
        rs = runs[(rate, z)]
        mb = rs[0]["allreduce_mb"]
        sent_mb = mb * (1 if z == 0 else 0.5)  # the reduction's: 2 (W-1)/W or (W-1)/W, W = 2
        row = {"link": rate, "zero": z,
               "step_s": [x["step_s"] for x in rs],
               "pairs_per_s": [x["pairs_per_s"] for x in rs],
               "gradient_reduce_s": [x["gradient_reduce_s"] for x in rs],
               "reduce_sent_mb_per_step": round(sent_mb, 1)}
        if bits(rate):
            row["transfer_s"] = round(sent_mb * (1 << 20) * 8 / bits(rate), 3)
        out["links"].append(row)
print(json.dumps(out))
PY
