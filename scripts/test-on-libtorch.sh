#!/usr/bin/env bash
# The whole test suite on another libtorch than Maven's 2.7.1, through a JNI built for it: proves
# the "Any libtorch" route (README) without a GPU. CI keeps Maven's libtorch.
#   scripts/test-on-libtorch.sh [TORCH_DIR]    (default: the torch of python3, or of the wheel in
#                                               pip's find-links folder, unpacked into target/)
# Extra arguments after the first go to mvn (e.g. -Dtest=HfParityTest).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
torch="${1:-}"; shift || true
if [[ -z "$torch" ]]; then
  torch="$(python3 -c 'import torch, os; print(os.path.dirname(torch.__file__))' 2> /dev/null || true)"
fi
if [[ -z "$torch" ]]; then
  links="$(pip config get global.find-links 2> /dev/null || true)"
  wheel="$(ls "${links:-/nonexistent}"/torch-*-linux_x86_64.whl "${links:-/nonexistent}"/torch-*manylinux*x86_64.whl 2> /dev/null | head -1 || true)"
  [[ -n "$wheel" ]] || { echo "test-on-libtorch: no torch given, none importable, no wheel in pip's find-links" >&2; exit 1; }
  mkdir -p target/torch-wheel
  [[ -f target/torch-wheel/torch/lib/libtorch_cpu.so ]] ||
    unzip -q -o "$wheel" 'torch/lib/*' 'torch/include/*' 'torch/share/*' 'torch/version.py' -d target/torch-wheel
  torch="$here/target/torch-wheel/torch"
fi
version="$(sed -n "s/^__version__ = '\([0-9.]*\).*/\1/p" "$torch/version.py" 2> /dev/null || head -1 "$torch/build-version")"
flavor=cpu; [[ -f "$torch/lib/libtorch_cuda.so" ]] && flavor=cuda
env_sh="$(ls -d target/jni/"$version"-* 2> /dev/null | head -1)/env.sh"
if [[ ! -f "$env_sh" ]]; then
  scripts/build-jni.sh --torch "$torch" --flavor "$flavor" > /dev/null
  env_sh="$(ls -d target/jni/"$version"-* | head -1)/env.sh"
fi
# shellcheck disable=SC1090
source "$env_sh"
echo "test-on-libtorch: mvn test on libtorch $version ($PYTORCH_FLAVOR) at $PYTORCH_LIBRARY_PATH" >&2
mvn -B -o test -Dspotless.check.skip=true "$@"
