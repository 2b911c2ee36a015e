#!/usr/bin/env bash
# GPU smoke check for Tilt (under 5 minutes on one GPU): bf16-mixed vs fp32 gradient parity, a few
# training steps, tokens/s and peak GPU memory, all with --device cuda.
#
# Needs on the GPU machine: a JDK 17, Maven (or a target/tilt.jar built elsewhere), and a libtorch
# 2.7.1 built for CUDA 12.8 unpacked somewhere: DJL 0.36's JNI for cu128 ships inside the
# pytorch-jni jar, but Maven Central serves no CUDA libtorch 2.7.1 (shared/notes/djl.md section 1),
# so point DJL at one:
#   LIBTORCH=/opt/libtorch-2.7.1-cu128 scripts/gpu-smoke.sh
set -euo pipefail
cd "$(dirname "$0")/.."
: "${LIBTORCH:?set LIBTORCH to a libtorch 2.7.1+cu128 directory (its lib/ holds libtorch_cuda.so)}"
export PYTORCH_LIBRARY_PATH="$LIBTORCH/lib" PYTORCH_VERSION=2.7.1 PYTORCH_FLAVOR=cu128
nvidia-smi --query-gpu=name,memory.total --format=csv
( while sleep 1; do nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits; done ) > /tmp/tilt-gpu-mem.txt &
SAMPLER=$!
trap 'kill $SAMPLER 2>/dev/null || true' EXIT
./tilt --device cuda bench parity --preset small                 # min gradient cosine > 0.99 expected
./tilt --device cuda bench train --preset medium --precision bf16-mixed --compare --steps 3
./tilt --device cuda bench generate --preset small --no-cache-repeats 0
./tilt train recipes/sft-tiny.yaml --run-dir /tmp/tilt-gpu-sft --set device=cuda \
    --set train.precision=bf16-mixed --set train.max_steps=50 --set data.eval=null
echo "peak GPU memory (MiB): $(sort -n /tmp/tilt-gpu-mem.txt | tail -1)"
