#!/usr/bin/env bash
# Data-parallel DPO side by side with TRL on the same model files, data and settings, alternating
# rounds on the same cores: Tilt with 2 workers x 1 thread (and, in the same round, 1 worker x 1
# thread: its scaling), TRL 1.13 under torchrun with 2 processes x 1 thread (gloo DDP). Global batch 8
# pairs (4 per worker), 8 timed steps after 2 warm-up steps. Ends with one JSON line.
#   scripts/bench-dp-vs-trl.sh MODEL_DIR PREF.jsonl [ROUNDS] [OUT_DIR]
# MODEL_DIR and PREF.jsonl from ../shared/anchor (make_model.py --preset small, make_data.py --kind
# pref ... --model MODEL_DIR); PY (default $TMPDIR/trlbench/venv/bin/python) is the venv of its
# setup.sh. Tilt needs libtilt_dist.so: source the env.sh of scripts/build-jni.sh first.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
model="$1"; data="$2"; rounds="${3:-3}"; out="${4:-${TMPDIR:-/tmp}/bench-dp-vs-trl}"
py="${PY:-${TMPDIR:-/tmp}/trlbench/venv/bin/python}"
anchor="${ANCHOR:-$here/../shared/anchor}"
mkdir -p "$out"; rm -f "$out"/*.json
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
for r in $(seq 1 "$rounds"); do
  "$here/tilt" bench dpo --model "$model" --data "$data" --batch-size 8 --steps 8 --warmup 2 \
      --nproc 2 --rounds 1 > "$out/tilt-$r.log" 2>&1
  grep -o '{"bench":"dpo_data_parallel".*}' "$out/tilt-$r.log" | tail -1 > "$out/tilt-$r.json"
  OMP_NUM_THREADS=1 "$(dirname "$py")/torchrun" --nproc-per-node 2 "$anchor/bench_trl.py" dpo \
      --model "$model" --data "$data" --batch 4 --steps 8 --warmup 2 --no-gemm-probe \
      --json-out "$out/trl-$r.json" > "$out/trl-$r.log" 2>&1
  echo "round $r done" >&2
done
python3 - "$out" "$rounds" <<'PY'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
tilt = [json.load(open(f"{out}/tilt-{r}.json")) for r in range(1, rounds + 1)]
# every TRL rank appends its line; a global step is both ranks' 4 pairs in the slower one's time
trl = []
for r in range(1, rounds + 1):
    ranks = [json.loads(l) for l in open(f"{out}/trl-{r}.json") if l.strip()]
    trl.append(8 / max(x["timing"]["step_time_s"]["median"] for x in ranks))
two = [t["data_parallel"][0]["pairs_per_s"] for t in tilt]
one = [t["one_worker_one_thread"][0]["pairs_per_s"] for t in tilt]
print(json.dumps({"bench": "dpo_data_parallel_side_by_side", "rounds": rounds, "global_batch": 8,
                  "workers": 2, "threads_per_worker": 1,
                  "tilt_2_workers_pairs_per_s": two, "tilt_1_worker_pairs_per_s": one,
                  "trl_ddp_2_processes_pairs_per_s": [round(x, 3) for x in trl],
                  "scaling_vs_1_worker": [round(a / b, 3) for a, b in zip(two, one)],
                  "ratio_vs_trl_ddp": [round(a / b, 3) for a, b in zip(two, trl)],
                  "scaling_median": round(statistics.median(a / b for a, b in zip(two, one)), 3),
                  "ratio_vs_trl_median": round(statistics.median(a / b for a, b in zip(two, trl)), 3),
                  "gradient_reduce_s": [t["data_parallel"][0].get("gradient_reduce_s") for t in tilt],
                  "allreduce_mb": tilt[0]["data_parallel"][0].get("allreduce_mb")}))
PY
