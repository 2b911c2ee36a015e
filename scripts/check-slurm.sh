#!/usr/bin/env bash
# Tilt's workers under SLURM itself: one sbatch job of 2 tasks (srun) trains 60 SFT steps
# uninterrupted; a second, submitted with --requeue, is requeued by `scontrol requeue` after step
# 20 (SLURM's preemption path: SIGTERM to every task, then the job runs again and resumes with
# --resume auto). The two must end bitwise equal (losses and weights). Ends with one JSON line.
# Needs sbatch/scontrol/squeue on PATH and a WORK_DIR the job's nodes see; not in CI.
#   scripts/check-slurm.sh ENV_SH [WORK_DIR]   (ENV_SH: the env.sh of scripts/build-jni.sh;
#                                               default WORK_DIR: $HOME/tilt-slurm-check)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
env_sh="$(realpath "$1")"
work="$(realpath -m "${2:-$HOME/tilt-slurm-check}")"
command -v sbatch > /dev/null || { echo "check-slurm: no sbatch on PATH" >&2; exit 1; }
rm -rf "$work" && mkdir -p "$work"
job() { # NAME: writes and submits the job, prints its id
  cat > "$work/$1.sh" << EOF
#!/bin/bash
#SBATCH --ntasks 2 --cpus-per-task 1 --requeue --open-mode append
#SBATCH --output $work/$1.out --job-name tilt-$1
export MASTER_ADDR=\$(scontrol show hostnames "\$SLURM_JOB_NODELIST" | head -1)
source "$env_sh"
cd "$here"
srun ./tilt train recipes/sft-tiny.yaml --run-dir "$work/$1" --set train.max_steps=60 \\
  --set data.eval=null --set checkpoint.every_steps=10 --resume auto
EOF
  sbatch --parsable "$work/$1.sh"
}
wait_gone() { while squeue -h -j "$1" 2> /dev/null | grep -q .; do sleep 1; done; }
echo "check-slurm: the uninterrupted job" >&2
a=$(job whole)
wait_gone "$a"
echo "check-slurm: the requeued job" >&2
b=$(job requeued)
for _ in $(seq 1 1200); do [[ -d "$work/requeued/step-000020" ]] && break; sleep 0.5; done
[[ -d "$work/requeued/step-000020" ]] ||
  { echo "check-slurm: job $b reached no step 20 in 10 minutes (pending?)" >&2; exit 1; }
scontrol requeue "$b"
wait_gone "$b"
PYTHONPATH="$here/scripts/lib${PYTHONPATH:+:$PYTHONPATH}" python3 - "$work" <<'PY'
import json, sys
from runs import same
work = sys.argv[1]
log = open(f"{work}/requeued.out", errors="replace").read()
out = {"check": "slurm",
       "tasks_stopped_with_75": log.count("Exited with exit code 75"),
       "resumed_from": next((l.split()[-1] for l in log.splitlines() if "resuming from" in l), None),
       "requeued_bitwise_uninterrupted": same(work, "requeued", "whole", 60)}
print(json.dumps(out))
sys.exit(0 if out["requeued_bitwise_uninterrupted"] and out["resumed_from"] else 1)
PY
