#!/usr/bin/env bash
# LoRA DPO side by side with TRL + PEFT on the same model files, data and settings, alternating
# rounds, then the median of each and their ratios (the issue's targets: Tilt at most 0.6x TRL's peak
# memory and at least 1.3x its pairs/s).
#   scripts/bench-lora-dpo.sh MODEL_DIR PREF.jsonl [ROUNDS] [OUT_DIR]
# MODEL_DIR and PREF.jsonl from ../shared/anchor: make_model.py --preset qwen05 --pad-vocab-to 151936,
# make_data.py --kind pref --n 64 --prompt-len 128 --chosen-len 128 --rejected-len 128 --model MODEL_DIR.
# PY (default $TMPDIR/trlbench/venv/bin/python) is the venv of ../shared/anchor/setup.sh.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
model="$1"; data="$2"; rounds="${3:-2}"; out="${4:-${TMPDIR:-/tmp}/bench-lora-dpo}"
py="${PY:-${TMPDIR:-/tmp}/trlbench/venv/bin/python}"
anchor="${ANCHOR:-$here/../shared/anchor}"
mkdir -p "$out"
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
for r in $(seq 1 "$rounds"); do
  "$py" "$anchor/bench_trl.py" dpo --model "$model" --data "$data" --batch 2 --steps 2 --warmup 1 \
      --peft-rank 16 --grad-ckpt --no-gemm-probe --json-out "$out/trl-$r.json" > "$out/trl-$r.log" 2>&1
  "$here/tilt" bench dpo --model "$model" --data "$data" --batch-size 2 --steps 2 --lora-rank 16 \
      --gradient-checkpointing > "$out/tilt-$r.log" 2>&1
  grep -o '{"bench":"dpo".*}' "$out/tilt-$r.log" | tail -1 > "$out/tilt-$r.json"
  echo "round $r done" >&2
done
python3 - "$out" "$rounds" <<'PY'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
trl = [json.load(open(f"{out}/trl-{r}.json")) for r in range(1, rounds + 1)]
tilt = [json.load(open(f"{out}/tilt-{r}.json")) for r in range(1, rounds + 1)]
t_step = statistics.median(t["timing"]["step_time_s"]["median"] for t in trl)
t_rss = statistics.median(t["peak_rss_mb"] for t in trl)
j_step = statistics.median(t["step_s"] for t in tilt)
j_rss = statistics.median(t["peak_rss_mb"] for t in tilt)
j_est = statistics.median(t["estimated_peak_mb"] for t in tilt)
print(json.dumps({"bench": "lora_dpo_side_by_side", "rounds": rounds,
                  "trl_step_s": t_step, "tilt_step_s": j_step, "speed_ratio": round(t_step / j_step, 3),
                  "trl_peak_rss_mb": t_rss, "tilt_peak_rss_mb": j_rss,
                  "memory_ratio": round(j_rss / t_rss, 3), "tilt_estimated_peak_mb": j_est,
                  "estimate_error": round((j_est - j_rss) / j_rss, 3),
                  "tilt_rounds": [[t["step_s"], t["peak_rss_mb"]] for t in tilt],
                  "trl_rounds": [[t["timing"]["step_time_s"]["median"], t["peak_rss_mb"]] for t in trl]}))
PY
