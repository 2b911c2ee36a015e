#!/usr/bin/env bash
# The whole GPU check in one command, for a bare GPU machine with python3 + torch (a pip wheel),
# g++ and no JDK, Maven or network (the machines lent here: H100/H200, torch 2.11.0+cu130).
#   scripts/gpu-check.sh [BUNDLE.tar.xz | BUNDLE_DIR]       (default: target/bundle/tilt-bundle.tar.xz)
# Make the bundle here first: scripts/bundle.sh. Writes under $OUT (default ./gpu-check-out):
#   report.json  one JSON object: doctor, the gpu-tagged tests, each benchmark's JSON line, timings
#   *.log        the JNI build, doctor, the tests, each benchmark
# Steps, each bounded so the whole stays inside 8 minutes on an H200: build DJL's JNI against the
# machine's torch (scripts/build-jni.sh), tilt doctor, the @Tag("gpu") tests (GpuSuite), then Tilt's
# benchmarks and, where TRL is importable (or its wheels are in bench/wheels), TRL's on the same GPU.
set -uo pipefail
src="${1:-target/bundle/tilt-bundle.tar.xz}"
out="${OUT:-$PWD/gpu-check-out}"
mkdir -p "$out"
t0=$(date +%s)
if [[ -f "$src" ]]; then
  dest="${TMPDIR:-/tmp}/tilt-gpu"
  rm -rf "$dest"; mkdir -p "$dest"
  tar -C "$dest" -xJf "$src"
  b="$dest/tilt-bundle"
else
  b="$(cd "$src" && pwd)"
fi
cd "$b" || exit 1
step() { echo "== $1 ($(($(date +%s) - t0)) s)"; }
json_of() { grep -o '^{.*}$' "$1" | tail -1; }

step "build the JNI against python3's torch"
timeout 300 scripts/build-jni.sh --djl-src kit/src --out "$b/jni" > "$out/build-jni.log" 2>&1
built=$?
if ((built != 0)); then
  tail -30 "$out/build-jni.log"
  echo '{"stage": "build-jni", "ok": false}' > "$out/report.json"
  exit 1
fi
# shellcheck disable=SC1091
source "$b/jni/env.sh"
java=("$b/jre/bin/java" -Dai.djl.offline=true ${TILT_JAVA_OPTS:-})
export DJL_CACHE_DIR="$b/djl-cache" OMP_WAIT_POLICY=PASSIVE

step "tilt doctor"
timeout 60 "${java[@]}" -jar tilt.jar doctor > "$out/doctor.log" 2>&1
timeout 60 "${java[@]}" -jar tilt.jar doctor --json > "$out/doctor.json" 2> /dev/null
cat "$out/doctor.log"

step "the gpu-tagged tests"
cp_tests="tilt.jar:tests.jar:$(ls lib/*.jar | tr '\n' ':')"
timeout 240 "${java[@]}" -cp "$cp_tests" ai.tilt.GpuSuite "$out/gpu-tests.json" > "$out/gpu-tests.log" 2>&1
tests_rc=$?
grep -E '^(PASSED|FAILED|SKIPPED|gpu tests)' "$out/gpu-tests.log"

step "a data-parallel run through NCCL: one worker on cuda:0"
timeout 180 "${java[@]}" -jar tilt.jar train recipes/sft-tiny.yaml --nproc 1 \
  --run-dir "$b/runs/nccl-1" --set train.max_steps=5 --set data.eval=null > "$out/nccl-1.log" 2>&1
echo "nccl one worker: exit $?" | tee -a "$out/nccl-1.log"
grep -E 'data-parallel|step 5/5|problem|Exception' "$out/nccl-1.log" | head -5
# ZeRO-1 on NCCL: weights and gradients as views of flat CUDA vectors, in-place reduce-scatter and
# all-gather (one worker: the slices are the whole vectors)
timeout 120 "${java[@]}" -jar tilt.jar train recipes/sft-tiny.yaml --nproc 1 \
  --run-dir "$b/runs/nccl-zero" --set train.max_steps=5 --set data.eval=null --set train.zero=1 \
  > "$out/nccl-zero.log" 2>&1
echo "nccl one worker, ZeRO-1: exit $?" | tee -a "$out/nccl-zero.log"
grep -E 'step 5/5|problem|Exception' "$out/nccl-zero.log" | head -3

step "benchmarks"
models="$b/models"
mkdir -p "$models"
py="$(command -v python3)"
if [[ -d bench/wheels ]]; then
  "$py" -m pip install -q --no-index --no-deps --target /tmp/tilt-site bench/wheels/*.whl && export PYTHONPATH=/tmp/tilt-site
fi
# a 0.5B-shaped model and its data (transformers writes them; it is on the GPU image)
timeout 120 "$py" bench/make_model.py --arch llama --preset qwen05 --pad-vocab-to 151936 --out "$models/qwen05" > "$out/make-model.log" 2>&1
timeout 60 "$py" bench/make_data.py --kind all --n 128 --prompt-len 128 --chosen-len 128 --rejected-len 128 \
  --completion-len 128 --model "$models/qwen05" --out "$models/data" >> "$out/make-model.log" 2>&1
m="$models/qwen05"
run_bench() { # name, seconds, command...
  local name="$1" secs="$2"; shift 2
  timeout "$secs" "$@" > "$out/$name.log" 2>&1
  json_of "$out/$name.log" > "$out/$name.json" || true
  echo "$name: $(cat "$out/$name.json")"
}
run_bench tilt-dpo 90 "${java[@]}" -jar tilt.jar bench dpo --model "$m" --data "$models/data/pref.jsonl" \
  --batch-size 8 --steps 5 --precision bf16-mixed
run_bench tilt-sft 90 "${java[@]}" -jar tilt.jar bench train --model "$m" --data "$models/data/sft.jsonl" \
  --batch-size 8 --steps 5 --precision bf16-mixed
run_bench tilt-generate 60 "${java[@]}" -jar tilt.jar bench generate --model "$m" --batch-size 8 \
  --prompt-len 64 --new-tokens 128
# TRL / transformers on the same GPU: bench_trl.py is the CPU anchor's, so it is copied with the
# CPU pin lifted (use_cpu=True) and the model moved to the GPU
if "$py" -c 'import trl, datasets' 2> /dev/null; then
  sed -e 's/use_cpu=True/use_cpu=False/' bench/bench_trl.py > bench/bench_trl_gpu.py
  run_bench trl-dpo 120 "$py" bench/bench_trl_gpu.py dpo --model "$m" --data "$models/data/pref.jsonl" \
    --batch 8 --steps 5 --precision bf16 --no-gemm-probe
  run_bench trl-sft 120 "$py" bench/bench_trl_gpu.py sft --model "$m" --data "$models/data/sft.jsonl" \
    --batch 8 --steps 5 --precision bf16 --no-gemm-probe
else
  echo "trl or datasets not importable: TRL's side skipped (carry them as wheels in bench/wheels)"
fi

step "report"
"$py" - "$out" "$tests_rc" "$(($(date +%s) - t0))" << 'PY'
import json, os, sys
out, tests_rc, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def load(name):
    p = os.path.join(out, name)
    try:
        with open(p) as f:
            text = f.read().strip()
        return json.loads(text) if text else None
    except (OSError, ValueError):
        return None
report = {"seconds": secs, "tests_ok": tests_rc == 0, "doctor": load("doctor.json"),
          "tests": load("gpu-tests.json")}
for name in ["tilt-dpo", "tilt-sft", "tilt-generate", "trl-dpo", "trl-sft"]:
    report[name] = load(name + ".json")
try:
    report["dpo_speed_ratio"] = round(report["tilt-dpo"]["pairs_per_s"] * report["trl-dpo"]["timing"]["step_time_s"]["median"] / 8, 3)
except (TypeError, KeyError):
    pass
with open(os.path.join(out, "report.json"), "w") as f:
    json.dump(report, f, indent=1)
print(json.dumps({k: report[k] for k in ["seconds", "tests_ok", "dpo_speed_ratio"] if k in report}))
PY
exit "$tests_rc"
