#!/usr/bin/env bash
# Tilt's workers under torchrun itself (torch's elastic agent and its store), against the same run
# on Tilt's own launcher: torchrun --standalone with 2 workers; two torchrun agents of one worker
# each as two "nodes" on this machine, with the c10d rendezvous and with the static one
# (--master-addr); and, on the two nodes, a worker killed with -9 mid-run, then --resume auto on
# both, which must finish equal to an uninterrupted run. Losses and weights are compared bitwise.
# Ends with one JSON line. Not in CI (it needs a Python with torch for torchrun); result: README.
#   scripts/check-torchrun.sh [TORCHRUN] [WORK_DIR]   (default: torchrun on PATH, $TMPDIR/tilt-torchrun)
# Tilt needs libtilt_dist.so: source the env.sh of scripts/build-jni.sh first.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
tr="${1:-$(command -v torchrun || true)}"
work="${2:-${TMPDIR:-/tmp}/tilt-torchrun}"
[[ -x "$tr" ]] || { echo "check-torchrun: no torchrun (give its path)" >&2; exit 1; }
[[ -n "${TILT_DIST_LIBRARY:-}" ]] || { echo "check-torchrun: source build-jni.sh's env.sh first" >&2; exit 1; }
rm -rf "$work" && mkdir -p "$work"
cd "$here"
export TILT_THREADS=1
short=(--set train.max_steps=5 --set data.eval=null)
long=(--set train.max_steps=60 --set data.eval=null --set checkpoint.every_steps=10)
port=$((29600 + RANDOM % 300))
two_nodes() { # NAME RDZV-ARGS... -- TRAIN-ARGS...
  local name="$1" log="${LOG:-$1}" n; shift
  local rdzv=() ; while [[ "$1" != "--" ]]; do rdzv+=("$1"); shift; done; shift
  for n in 0 1; do
    "$tr" --no-python --nnodes 2 --node-rank $n --nproc-per-node 1 "${rdzv[@]}" \
      ./tilt train recipes/sft-tiny.yaml --run-dir "$work/$name" "$@" > "$work/$log-node$n.log" 2>&1 &
  done
  wait
}
echo "check-torchrun: reference runs (tilt train --nproc 2)" >&2
./tilt train recipes/sft-tiny.yaml --run-dir "$work/nproc" "${short[@]}" --nproc 2 > "$work/nproc.log" 2>&1
./tilt train recipes/sft-tiny.yaml --run-dir "$work/whole" "${long[@]}" --nproc 2 > "$work/whole.log" 2>&1
echo "check-torchrun: torchrun --standalone --nproc-per-node 2" >&2
"$tr" --no-python --standalone --nproc-per-node 2 ./tilt train recipes/sft-tiny.yaml \
  --run-dir "$work/standalone" "${short[@]}" > "$work/standalone.log" 2>&1
echo "check-torchrun: two agents, c10d rendezvous" >&2
two_nodes c10d --rdzv-backend c10d --rdzv-endpoint 127.0.0.1:$port --rdzv-id c10d -- "${short[@]}"
echo "check-torchrun: two agents, static rendezvous" >&2
two_nodes static --master-addr 127.0.0.1 --master-port $((port + 1)) -- "${short[@]}"
echo "check-torchrun: two agents, kill -9 of rank 1 after step 20, then --resume auto" >&2
two_nodes killed --rdzv-backend c10d --rdzv-endpoint 127.0.0.1:$((port + 2)) --rdzv-id k1 -- "${long[@]}" &
agents=$!
for _ in $(seq 1 120); do [[ -d "$work/killed/step-000020" ]] && break; sleep 0.5; done
victim=""
for p in $(pgrep -f "java.*--run-dir $work/killed" || true); do
  if tr '\0' '\n' < /proc/"$p"/environ 2> /dev/null | grep -qx 'RANK=1'; then victim=$p; fi
done
[[ -n "$victim" ]] || { echo "check-torchrun: found no rank 1 worker to kill" >&2; exit 1; }
t0=$(date +%s.%N)
kill -9 "$victim"
wait "$agents" || true
ended=$(python3 -c "print(round($(date +%s.%N) - $t0, 1))")
LOG=resumed two_nodes killed --rdzv-backend c10d --rdzv-endpoint 127.0.0.1:$((port + 3)) --rdzv-id k2 \
  -- "${long[@]}" --resume auto
PYTHONPATH="$here/scripts/lib${PYTHONPATH:+:$PYTHONPATH}" python3 - "$work" "$ended" <<'PY'
import json, sys
from runs import same
work, ended = sys.argv[1], float(sys.argv[2])
survivor = open(f"{work}/killed-node0.log", errors="replace").read()
out = {"check": "torchrun",
       "standalone_2_workers_bitwise": same(work, "standalone", "nproc", 5),
       "two_agents_c10d_bitwise": same(work, "c10d", "nproc", 5),
       "two_agents_static_bitwise": same(work, "static", "nproc", 5),
       "killed_rank_1_job_ended_s": ended,
       "survivor_named_itself": "rank 0 of 2:" in survivor,
       "resume_auto_bitwise_uninterrupted": same(work, "killed", "whole", 60)}
print(json.dumps(out))
sys.exit(0 if all(v for k, v in out.items() if k.endswith(("bitwise", "itself"))) else 1)
PY
