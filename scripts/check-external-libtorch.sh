#!/usr/bin/env bash
# Checks the CUDA build's route as far as a machine without a GPU can: the `mvn -Pcuda` jar (no
# libtorch inside) loading a libtorch 2.7.1 from outside Maven through PYTORCH_LIBRARY_PATH, offline,
# with DJL extracting the matching JNI library from pytorch-jni into an empty cache. The libtorch used
# is the CPU one from DJL's cache (run any ./tilt command once first); on a GPU machine point LIBTORCH
# at libtorch-2.7.1+cu128/lib and set FLAVOR=cu128 to check the real thing. About 1-2 minutes.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LIBTORCH="${LIBTORCH:-$(ls -d "${DJL_CACHE_DIR:-$HOME/.djl.ai}"/pytorch/2.7.1-*-cpu-linux-x86_64 2>/dev/null | head -1)}"
FLAVOR="${FLAVOR:-cpu}"
[[ -n "$LIBTORCH" && -f "$LIBTORCH/libtorch.so" ]] || { echo "no libtorch 2.7.1 found: run ./tilt doctor once, or set LIBTORCH"; exit 2; }
W="$(mktemp -d /tmp/tilt-extlib.XXXXXX)"
trap 'rm -rf "$W"' EXIT
git -C "$ROOT" archive HEAD | tar -x -C "$W"
(cd "$W" && mvn -q -B -Dstyle.color=never -Pcuda -DskipTests package)
if unzip -l "$W/target/tilt.jar" | grep -q "native/lib/.*libtorch"; then echo "FAILED: the -Pcuda jar holds a libtorch"; exit 1; fi
mkdir -p "$W/libtorch"
cp "$LIBTORCH"/lib*.so* "$W/libtorch/"
rm -f "$W"/libtorch/*libdjl_torch*   # a pytorch.org libtorch has none: DJL must take it from pytorch-jni
export PYTORCH_LIBRARY_PATH="$W/libtorch" PYTORCH_VERSION=2.7.1 PYTORCH_FLAVOR="$FLAVOR" DJL_CACHE_DIR="$W/djl-cache"
cd "$W"
java -Dai.djl.offline=true -jar target/tilt.jar doctor | tee doctor.log
grep -q "flavour    $FLAVOR (PYTORCH_LIBRARY_PATH)" doctor.log || { echo "FAILED: libtorch not taken from PYTORCH_LIBRARY_PATH"; exit 1; }
find "$W/djl-cache" -name "*libdjl_torch.so" | grep -q . || { echo "FAILED: no JNI library extracted"; exit 1; }
java -Dai.djl.offline=true -jar target/tilt.jar train recipes/sft-tiny.yaml --run-dir "$W/run" \
  --set train.max_steps=20 --set train.precision=bf16-mixed 2>&1 | grep -v '^  ' | tail -3
[[ -f "$W/run/step-000020/complete.json" ]] || { echo "FAILED: no checkpoint"; exit 1; }
echo "PASSED: the -Pcuda jar ($(du -m target/tilt.jar | cut -f1) MB) ran on $LIBTORCH through PYTORCH_LIBRARY_PATH, offline"
