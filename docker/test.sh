#!/usr/bin/env bash
# Builds Tilt's CPU image and shows a run surviving `docker stop` / `docker start`:
#   1. a Docker engine: the one DOCKER_HOST (or the default socket) answers, else a private dockerd
#      started here in a temporary directory (overlay2, host networking only, no iptables changes);
#   2. a base image: BASE_IMAGE if the engine has it, else a Debian bookworm root made with debootstrap
#      from apt's mirror (with this machine's extra CA certificates, so Maven reaches Central) and
#      imported as local/debian:bookworm;
#   3. builds docker/Dockerfile with FLAVOUR=cpu on that base (Maven runs inside the build);
#   4. `tilt doctor` in a container with no network at all;
#   5. the quickstart with a checkpoints directory mounted, stopped with `docker stop` after its
#      first checkpoint, then started again: it must exit 75 with a complete checkpoint, then resume
#      from it (--resume auto) and finish with exit 0 and every iteration in metrics.jsonl;
#   6. where this machine has a torch wheel and DJL's native sources (then the image is built with
#      data-parallel workers, step 3): the same with `tilt train --nproc 2` in one container.
# Needs root (dockerd, debootstrap) and: apt-get install docker.io debootstrap. Not part of `mvn test`.
# Takes about 2.5-4 minutes on 2 cores, most of it debootstrap and Maven downloading dependencies.
# KEEP=1 keeps the temporary directory (images, logs) for a look afterwards.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BASE_IMAGE="${BASE_IMAGE:-local/debian:bookworm}"
IMAGE="${IMAGE:-tilt:cpu-test}"
W="$(mktemp -d /tmp/tilt-docker.XXXXXX)"
STARTED_DOCKERD=""
NAME="tilt-test-$$"
log() { printf '[docker/test.sh %s] %s\n' "$(date +%T)" "$*"; }
fail() { log "FAILED: $*"; exit 1; }
# waits (10 minutes at most) until the container $NAME has sealed checkpoint $1 of run $2
wait_for_checkpoint() {
  for _ in $(seq 1 3000); do
    [[ -f "$1/complete.json" ]] && return 0
    [[ "$(docker inspect -f '{{.State.Running}}' "$NAME")" == true ]] || { docker logs "$NAME" 2>&1 | tail -20; fail "$2 ended early"; }
    sleep 0.2
  done
  fail "$2 wrote no checkpoint $(basename "$1") in 10 minutes"
}

cleanup() {
  set +e
  docker rm -f "$NAME" >/dev/null 2>&1
  if [[ -n "$STARTED_DOCKERD" ]]; then
    kill -TERM "$(cat "$W/dockerd.pid")" 2>/dev/null
    for _ in $(seq 1 60); do [[ -e "/proc/$(cat "$W/dockerd.pid" 2>/dev/null)" ]] || break; sleep 0.5; done
    umount "$W/exec/netns/default" 2>/dev/null
  fi
  if [[ "${KEEP:-}" == 1 ]]; then log "kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT

for tool in docker dockerd; do
  command -v "$tool" >/dev/null || fail "$tool not found: apt-get install docker.io debootstrap"
done

# 1. engine
if ! docker info >/dev/null 2>&1; then
  [[ $(id -u) == 0 ]] || fail "no Docker engine answers and starting one needs root"
  mkdir -p "$W/data" "$W/exec"
  dockerd --data-root "$W/data" --exec-root "$W/exec" --pidfile "$W/dockerd.pid" -H "unix://$W/docker.sock" \
    --storage-driver=overlay2 --iptables=false --ip6tables=false --bridge=none --ip-masq=false --ip-forward=false \
    >"$W/dockerd.log" 2>&1 &
  STARTED_DOCKERD=1
  export DOCKER_HOST="unix://$W/docker.sock"
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || fail "dockerd did not start: $(tail -3 "$W/dockerd.log")"
  log "started a private dockerd in $W"
fi

# 2. base image
if ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  command -v debootstrap >/dev/null || fail "debootstrap not found: apt-get install debootstrap"
  MIRROR=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  MIRROR="${MIRROR:-http://deb.debian.org/debian}"
  log "making $BASE_IMAGE with debootstrap from $MIRROR (about a minute)"
  debootstrap --variant=minbase bookworm "$W/rootfs" "$MIRROR" >"$W/debootstrap.log" 2>&1 \
    || fail "debootstrap: $(tail -3 "$W/debootstrap.log")"
  rm -rf "$W"/rootfs/var/cache/apt/archives/*.deb "$W"/rootfs/var/lib/apt/lists/*
  # TLS to Maven Central may be intercepted here: the image must trust what this machine trusts
  mkdir -p "$W/rootfs/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$W/rootfs/usr/local/share/ca-certificates/" 2>/dev/null || true
  tar -C "$W/rootfs" -c . | docker import --change 'CMD ["/bin/bash"]' - "$BASE_IMAGE" >/dev/null
  rm -rf "$W/rootfs"
fi

# 3. build (the legacy builder: it needs no buildx plugin), with data-parallel workers when this
#    machine has a torch wheel (pip's find-links) and DJL's native sources (the kit beside the checkout)
LINKS="$(pip config get global.find-links 2>/dev/null || true)"
WHEEL="$(ls "${LINKS:-/nonexistent}"/torch-*-linux_x86_64.whl "${LINKS:-/nonexistent}"/torch-*manylinux*x86_64.whl 2>/dev/null | head -1 || true)"
KIT="${DJL_SRC:-$ROOT/../shared/cuda-kit/src}"
DIST=""
find "$ROOT/docker/dist" -mindepth 1 ! -name README.md -delete 2>/dev/null || true
if [[ -n "$WHEEL" && -d "$KIT/engines/pytorch/pytorch-native" ]]; then
  DIST=1
  cp "$WHEEL" "$ROOT/docker/dist/" && cp -r "$KIT" "$ROOT/docker/dist/djl-src"
  TORCH_VERSION="$(basename "$WHEEL" | sed 's/^torch-\([0-9.]*\).*/\1/')"
  log "data-parallel workers: building DJL's JNI and libtilt_dist.so on $(basename "$WHEEL") in the image"
else
  TORCH_VERSION=2.7.1
  log "no torch wheel in pip's find-links or no DJL sources at $KIT: the image trains in one process, and the 2-worker run (step 6) will NOT run"
fi
log "building $IMAGE (FLAVOUR=cpu on $BASE_IMAGE)"
t0=$(date +%s)
docker build --network host -f "$ROOT/docker/Dockerfile" --build-arg FLAVOUR=cpu \
  --build-arg BASE_IMAGE="$BASE_IMAGE" --build-arg BUILD_IMAGE="$BASE_IMAGE" -t "$IMAGE" "$ROOT" >"$W/build.log" 2>&1 \
  || { tail -30 "$W/build.log"; fail "docker build"; }
log "built in $(( $(date +%s) - t0 )) s: $(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1048576}')"

# 4. doctor, with no network: nothing may be downloaded at start
docker run --rm --network none "$IMAGE" doctor >"$W/doctor.log" 2>&1 || { cat "$W/doctor.log"; fail "tilt doctor in the container"; }
grep -q "ok: everything a run needs is here" "$W/doctor.log" || fail "doctor: $(cat "$W/doctor.log")"
grep -q "OMP_WAIT_POLICY PASSIVE" "$W/doctor.log" || fail "doctor: OMP_WAIT_POLICY not passive"
sed 's/^/    /' "$W/doctor.log"

# 5. quickstart, docker stop, docker start
CK="$W/checkpoints"
mkdir -p "$CK" && chown 1000:1000 "$CK"   # the image runs as uid 1000
RUN="$CK/quickstart"
# the image's default command with twice the iterations, so that the stop surely lands mid-run
ITERATIONS=60
docker create --name "$NAME" --network none -v "$CK:/checkpoints" "$IMAGE" \
  train recipes/quickstart.yaml --resume auto --set online.iterations=$ITERATIONS >/dev/null
t0=$(date +%s)
docker start "$NAME" >/dev/null
log "quickstart started; waiting for its first checkpoint"
wait_for_checkpoint "$RUN/step-000010" "quickstart"
docker stop -t 120 "$NAME" >/dev/null
code=$(docker inspect -f '{{.State.ExitCode}}' "$NAME")
docker logs "$NAME" >"$W/run1.log" 2>&1
[[ "$code" == 75 ]] || { tail -20 "$W/run1.log"; fail "docker stop: exit code $code, expected 75 (checkpoint written)"; }
latest=$(cat "$RUN/latest")
[[ -f "$RUN/$latest/complete.json" ]] || fail "latest checkpoint $latest is incomplete"
log "docker stop after $(( $(date +%s) - t0 )) s: exit 75, complete checkpoint $latest"
grep -q "environment: PyTorch $TORCH_VERSION" "$W/run1.log" || fail "no environment line (PyTorch $TORCH_VERSION) at the start of the run"

docker start -a "$NAME" >"$W/run2.log" 2>&1 || true
code=$(docker inspect -f '{{.State.ExitCode}}' "$NAME")
[[ "$code" == 0 ]] || { tail -20 "$W/run2.log"; fail "restart: exit code $code"; }
grep -q "resuming from checkpoints/quickstart/$latest" "$W/run2.log" \
  || { head -20 "$W/run2.log"; fail "the restart did not resume from $latest"; }
last=$(tail -1 "$RUN/metrics.jsonl")
[[ "$last" == *"\"step\":$ITERATIONS,"* ]] || fail "metrics.jsonl does not end at iteration $ITERATIONS: $last"
log "restart resumed from $latest and finished (exit 0) $(( $(date +%s) - t0 )) s after the first start"
grep -A6 "eval (held-out prompts)" "$W/run2.log" | sed 's/^/    /'

# 6. two data-parallel workers in one container (tilt train --nproc 2, Gloo on loopback): docker
#    stop reaches the launcher (PID 1), which stops both workers at one step with one checkpoint
#    (exit 75); docker start resumes it to the end
if [[ -n "$DIST" ]]; then
  grep -q "dist *libtilt_dist.so at" "$W/doctor.log" || fail "doctor (step 4) does not name the dist library"
  DP="$CK/dp"
  STEPS=300
  docker rm -f "$NAME" >/dev/null 2>&1
  docker create --name "$NAME" --network none -v "$CK:/checkpoints" "$IMAGE" \
    train recipes/sft-tiny.yaml --run-dir /checkpoints/dp --resume auto --nproc 2 \
    --set train.max_steps=$STEPS --set checkpoint.every_steps=20 --set data.eval=null >/dev/null
  t0=$(date +%s)
  docker start "$NAME" >/dev/null
  wait_for_checkpoint "$DP/step-000020" "the 2-worker run"
  docker stop -t 120 "$NAME" >/dev/null
  code=$(docker inspect -f '{{.State.ExitCode}}' "$NAME")
  docker logs "$NAME" >"$W/dp1.log" 2>&1
  [[ "$code" == 75 ]] || { tail -20 "$W/dp1.log"; fail "docker stop of 2 workers: exit code $code, expected 75"; }
  grep -q "data-parallel: 2 workers" "$W/dp1.log" || fail "the run was not data-parallel: $(head -5 "$W/dp1.log")"
  [[ $(grep -c "exiting\|stopped at step" "$W/dp1.log") -ge 1 ]] || fail "no stop message: $(tail -5 "$W/dp1.log")"
  latest=$(cat "$DP/latest")
  [[ -f "$DP/$latest/complete.json" ]] || fail "the 2-worker checkpoint $latest is incomplete"
  log "2 workers: docker stop after $(( $(date +%s) - t0 )) s: exit 75, complete checkpoint $latest"
  docker start -a "$NAME" >"$W/dp2.log" 2>&1 || true
  code=$(docker inspect -f '{{.State.ExitCode}}' "$NAME")
  [[ "$code" == 0 ]] || { tail -20 "$W/dp2.log"; fail "2-worker restart: exit code $code"; }
  grep -q "resuming from /checkpoints/dp/$latest" "$W/dp2.log" || { head -20 "$W/dp2.log"; fail "the 2-worker restart did not resume from $latest"; }
  last=$(grep '"train/loss"' "$DP/metrics.jsonl" | tail -1)
  [[ "$last" == *"\"step\":$STEPS,"* ]] || fail "the 2-worker metrics.jsonl does not end at step $STEPS: $last"
  log "2 workers: resumed from $latest and finished (exit 0) $(( $(date +%s) - t0 )) s after the first start"
else
  log "step 6 (2 workers) did NOT run: no torch wheel or DJL sources for the data-parallel build"
fi
find "$ROOT/docker/dist" -mindepth 1 ! -name README.md -delete 2>/dev/null || true
log "PASSED"
