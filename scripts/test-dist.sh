#!/usr/bin/env bash
# The data-parallel tests (DataParallelTest, JUnit tag "dist": real multi-worker jobs on Gloo) on
# the machine's own torch: builds DJL's JNI and libtilt_dist.so against it with build-jni.sh, cached
# under ~/.cache/tilt/jni by torch version and the hash of what the build reads, then runs the
# tests through that JNI. .ci/run calls it after the README's test command.
#   scripts/test-dist.sh [TORCH_DIR]   (default: python3's torch, else the wheel in pip's
#                                       find-links folder, unpacked once into ~/.cache/tilt)
# Arguments that start with - go to mvn (e.g. -Dtest=DataParallelTest#aDivergedWorkerIsCaught).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
cache="${TILT_CACHE:-$HOME/.cache/tilt}"
torch=""
if [[ $# -gt 0 && "$1" != -* ]]; then torch="$1"; shift; fi
if [[ -z "$torch" ]]; then
  torch="$(python3 -c 'import torch, os; print(os.path.dirname(torch.__file__))' 2> /dev/null || true)"
fi
if [[ -z "$torch" ]]; then
  links="$(pip config get global.find-links 2> /dev/null || true)"
  wheel="$(ls "${links:-/nonexistent}"/torch-*-linux_x86_64.whl "${links:-/nonexistent}"/torch-*manylinux*x86_64.whl 2> /dev/null | head -1 || true)"
  if [[ -z "$wheel" ]]; then
    echo "test-dist: no torch here (none importable, no wheel in pip's find-links):" \
      "the data-parallel tests did NOT run" >&2
    exit 0
  fi
  unpacked="$cache/$(basename "$wheel" .whl)"
  if [[ ! -f "$unpacked/torch/lib/libtorch_cpu.so" ]]; then
    mkdir -p "$unpacked"
    unzip -q -o "$wheel" 'torch/lib/*' 'torch/include/*' 'torch/share/*' 'torch/version.py' -d "$unpacked"
  fi
  torch="$unpacked/torch"
fi
# DJL's JNI sources: the kit beside this checkout, or a DJL checkout in DJL_SRC
kit="${DJL_SRC:-$here/../shared/cuda-kit/src}"
if [[ ! -d "$kit/engines/pytorch/pytorch-native" ]] || ! command -v "${CXX:-g++}" > /dev/null; then
  echo "test-dist: no DJL sources at $kit (set DJL_SRC to a DJL v0.36.0 checkout), or no C++ compiler:" \
    "the data-parallel tests did NOT run" >&2
  exit 0
fi
if [[ -f "$torch/version.py" ]]; then
  full="$(sed -n "s/^__version__ = '\(.*\)'/\1/p" "$torch/version.py" | head -1)"
else
  full="$(head -1 "$torch/build-version")"
fi
version="${full%%+*}"
flavor=cpu; [[ -f "$torch/lib/libtorch_cuda.so" ]] && flavor=cuda
# DJL's JNI (minutes) is keyed by what builds it and which libtorch it binds to; libtilt_dist.so
# (seconds) by its own source and the gloo headers it compiles with
jni_hash="$( (cat scripts/build-jni.sh scripts/jni/* 2> /dev/null; echo "$full $(cd "$torch" && pwd)") | sha1sum | cut -c1-12)"
dist_hash="$(find src/main/native/dist -type f | sort | xargs cat | sha1sum | cut -c1-12)"
out="$cache/jni/$version-$flavor-$jni_hash"
if [[ ! -f "$out/env.sh" ]]; then
  echo "test-dist: building the JNI and libtilt_dist.so for libtorch $version ($flavor) into $out" >&2
  scripts/build-jni.sh --torch "$torch" --flavor "$flavor" --out "$out" --djl-src "$kit" > /dev/null
  echo "$dist_hash" > "$out/dist.hash"
elif [[ "$(cat "$out/dist.hash" 2> /dev/null)" != "$dist_hash" ]]; then
  echo "test-dist: rebuilding libtilt_dist.so (its source changed)" >&2
  scripts/build-jni.sh --torch "$torch" --flavor "$flavor" --out "$out" --djl-src "$kit" --dist-only > /dev/null
  echo "$dist_hash" > "$out/dist.hash"
fi
# shellcheck disable=SC1090
source "$out/env.sh"
echo "test-dist: the data-parallel tests on libtorch $version ($PYTORCH_FLAVOR), $TILT_DIST_LIBRARY" >&2
mvn -B -o test -Dspotless.check.skip=true -Dtilt.test.groups=dist -Dtilt.test.excluded= "$@"
# TILT_CHECK_PODS=1 (.ci/run): then two workers as a PyTorchJob's two pods, in network namespaces
# (scripts/check-pods.sh: over a real interface, by hostname, a pod killed and resumed), where this
# machine lets us make them
if [[ "${TILT_CHECK_PODS:-0}" == 1 ]]; then
  if [[ $EUID -eq 0 ]] && ip netns add tilt-probe 2> /dev/null && ip netns del tilt-probe; then
    scripts/check-pods.sh "$out/env.sh"
  else
    echo "test-dist: the two-pod check did not run: it needs root and network namespaces (ip netns)" >&2
  fi
fi
