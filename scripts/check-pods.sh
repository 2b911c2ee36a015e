#!/usr/bin/env bash
# A Kubernetes PyTorchJob's two pods, as two hosts on this machine: network namespaces joined by a
# veth pair, each with its own interface and address (10.77.0.1, .2), its own hostname (a UTS
# namespace) and an /etc/hosts in place of the cluster's DNS, each running one Tilt worker with the
# variables Kubeflow's training operator sets (MASTER_ADDR the master pod's name, MASTER_PORT 23456,
# WORLD_SIZE, RANK) and a run directory both see, as a shared volume. Unlike every loopback run, the
# workers meet over a real interface, by name, and Gloo picks its device from the hostname (no
# GLOO_SOCKET_IFNAME), as it does in a pod. Checks, against `tilt train --nproc 2` on loopback:
#   1. 5 SFT steps on the two pods: losses and weights bitwise equal;
#   2. the worker pod's process killed with -9 after step 20: the master pod's worker fails within
#      the timeout naming rank 1 and its pod's hostname; both pods started again with --resume auto
#      (restartPolicy: OnFailure) finish 60 steps bitwise equal to an uninterrupted run;
#   3. with TORCHRUN: each pod runs torchrun with only the PET_* variables Kubeflow sets when a pod
#      runs torchrun (a PyTorchJob's nprocPerNode, a Trainer v2 TrainJob): 5 steps bitwise equal.
# Needs root (ip netns, unshare). Not a cluster: no kubelet, no operator, no DNS server. Ends with
# one JSON line; not in CI; result: README.
#   scripts/check-pods.sh ENV_SH [WORK_DIR] [TORCHRUN]   (ENV_SH: the env.sh of scripts/build-jni.sh)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
env_sh="${1:?usage: scripts/check-pods.sh ENV_SH [WORK_DIR] [TORCHRUN]}"
work="${2:-${TMPDIR:-/tmp}/tilt-pods}"
torchrun="${3:-}"
# shellcheck disable=SC1090
source "$env_sh"
rm -rf "$work" && mkdir -p "$work"
cd "$here"
export TILT_THREADS=1
short=(--set train.max_steps=5 --set data.eval=null)
long=(--set train.max_steps=60 --set data.eval=null --set checkpoint.every_steps=10 --set dist.timeout_s=20)
# shellcheck source=lib/pods.sh
source "$here/scripts/lib/pods.sh"
trap pods_down EXIT
pods_up
both() { # NAME LOG TRAIN-ARGS...
  local name="$1" log="$2"; shift 2
  pod 0 "$work/$log-pod0.log" ./tilt train recipes/sft-tiny.yaml --run-dir "$work/$name" "$@" &
  local m=$!
  pod 1 "$work/$log-pod1.log" ./tilt train recipes/sft-tiny.yaml --run-dir "$work/$name" "$@" || true
  wait "$m" || true
}

echo "check-pods: reference runs (tilt train --nproc 2, loopback)" >&2
./tilt train recipes/sft-tiny.yaml --run-dir "$work/nproc" "${short[@]}" --nproc 2 > "$work/nproc.log" 2>&1
./tilt train recipes/sft-tiny.yaml --run-dir "$work/whole" "${long[@]}" --nproc 2 > "$work/whole.log" 2>&1
echo "check-pods: two pods, 5 steps" >&2
b0=$(pods_tx_bytes)
both pods pods "${short[@]}"
sent=$(($(pods_tx_bytes) - b0))
echo "check-pods: two pods, kill -9 of the worker pod's process after step 20, then both again" >&2
both killed killed "${long[@]}" &
running=$!
for _ in $(seq 1 240); do [[ -d "$work/killed/step-000020" ]] && break; sleep 0.5; done
[[ -d "$work/killed/step-000020" ]] || { echo "check-pods: no step 20 within 2 minutes" >&2; exit 1; }
victim=""
for p in $(ip netns pids "${pods[1]}"); do
  [[ "$(cat /proc/"$p"/comm 2> /dev/null)" == java ]] && { victim=$p; break; }
done
[[ -n "$victim" ]] || { echo "check-pods: no worker in the worker pod to kill" >&2; exit 1; }
t0=$(date +%s.%N)
kill -9 "$victim"
wait "$running" || true
ended=$(python3 -c "print(round($(date +%s.%N) - $t0, 1))")
both killed resumed "${long[@]}" --resume auto
if [[ -n "$torchrun" ]]; then
  echo "check-pods: torchrun in each pod, from the PET_* variables alone" >&2
  for i in 0 1; do
    pod_pet "$i" "$work/pet-pod$i.log" "$torchrun" --no-python ./tilt train recipes/sft-tiny.yaml \
      --run-dir "$work/pet" "${short[@]}" &
  done
  wait
fi
PYTHONPATH="$here/scripts/lib${PYTHONPATH:+:$PYTHONPATH}" python3 - "$work" "$ended" "$sent" "${pods[1]}" <<'PY'
import json, os, sys
from runs import same
work, ended, sent, worker = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
master = open(f"{work}/killed-pod0.log", errors="replace").read()
failure = next((l for l in master.splitlines() if "rank 0 of 2:" in l), "")
resumed = open(f"{work}/resumed-pod0.log", errors="replace").read()
out = {"check": "pytorchjob-pods",
       "two_pods_bitwise": same(work, "pods", "nproc", 5),
       "bytes_over_the_veth_5_steps": sent,
       "killed_worker_pod_job_ended_s": ended,
       "master_named_rank_1_and_its_pod": f"rank 1 on {worker}" in failure,
       "master_failure": failure[:400],
       "resumed_from_checkpoint": "resuming from" in resumed,
       "resume_auto_bitwise_uninterrupted": same(work, "killed", "whole", 60)}
if os.path.isdir(f"{work}/pet"):
    out["torchrun_in_pods_from_pet_bitwise"] = same(work, "pet", "nproc", 5)
print(json.dumps(out))
sys.exit(0 if all(v for k, v in out.items() if k.endswith(("bitwise", "pod", "checkpoint"))) and sent > 0 else 1)
PY
