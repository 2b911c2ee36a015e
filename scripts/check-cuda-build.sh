#!/usr/bin/env bash
# Compiles and links DJL's JNI (cuda flavour) and libtilt_dist.so with NCCL against the CUDA build of
# torch that pip's local mirror holds, on a machine without a GPU, so that scarce GPU time is never
# spent on compile errors. Headers only come from the wheels (torch's own, NCCL's, the CUDA
# runtime's, cccl's, and the cuBLAS/cuSPARSE/cuSOLVER headers ATen's CUDA context includes); no CUDA
# toolkit is needed. Not part of CI (it unpacks several GB). Result: README, "Many devices".
#   scripts/check-cuda-build.sh [WORK_DIR]     (default ${TMPDIR:-/tmp}/tilt-cuda-build)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-${TMPDIR:-/tmp}/tilt-cuda-build}"
site="$work/site"
mkdir -p "$site"
# the wheel files behind pip's local indexes (file:// simple indexes: href="../../files/NAME.whl")
find_wheel() {
  local pkg="$1" idx
  for idx in $(pip config get global.extra-index-url 2> /dev/null | tr ' ' '\n' | sed 's#^file://##'); do
    [[ -f "$idx/$pkg/index.html" ]] || continue
    local rel
    rel="$(grep -o 'href="[^"#]*' "$idx/$pkg/index.html" | sed 's/href="//' | grep "$2" | head -1)"
    [[ -n "$rel" ]] && { (cd "$idx/$pkg" && realpath "$rel"); return; }
  done
  echo "check-cuda-build: no $pkg wheel matching '$2' in pip's local indexes" >&2; exit 1
}
torch_whl="$(find_wheel torch 'torch-2\.')"
echo "check-cuda-build: $torch_whl" >&2
if [[ ! -f "$site/torch/lib/libtorch_cuda.so" ]]; then
  unzip -q -o "$torch_whl" 'torch/lib/*' 'torch/include/*' 'torch/share/*' 'torch/version.py' -d "$site"
fi
for pkg in nvidia-nccl-cu13 nvidia-cuda-runtime nvidia-cuda-cccl nvidia-cublas nvidia-cusparse nvidia-cusolver; do
  w="$(find_wheel "$pkg" '.whl')"
  stamp="$site/.$(basename "$w").done"
  [[ -f "$stamp" ]] || { unzip -q -o "$w" 'nvidia/*' -d "$site" && touch "$stamp"; }
done
[[ -f "$site/torch/lib/libtorch_cuda.so" ]] || { echo "check-cuda-build: $torch_whl is no CUDA build" >&2; exit 1; }
start=$(date +%s)
rm -rf "$work/jni" # an earlier build's folders would make the glob below ambiguous
"$here/scripts/build-jni.sh" --torch "$site/torch" --flavor cuda --out "$work/jni" > "$work/build.log" 2>&1 ||
  { tail -30 "$work/build.log"; echo "check-cuda-build: the build FAILED" >&2; exit 1; }
dest="$(ls -d "$work"/jni/engine-cache/pytorch/*)"
# every symbol the two libraries need must be defined by a library the wheels or the system give
# them (what a GPU machine adds is libcuda, the driver, which libtorch_cuda loads itself); nm, not
# ldd -r: libtorch_cuda's own dependencies (cuDNN, cuFFT, ...) are not unpacked here
names() { sed 's/@.*//' | sort -u; }
defined="$work/defined.txt"
for l in "$site"/torch/lib/*.so* "$site"/nvidia/*/lib/*.so* \
    $(ldd "$dest/libtilt_dist.so" 2> /dev/null | awk '/=> \//{print $3} /ld-linux/{print $1}'); do
  nm -D --defined-only "$l" 2> /dev/null | awk '{print $NF}'
done | names > "$defined"
missing=0
for so in "$dest/0.36.0-libdjl_torch.so" "$dest/libtilt_dist.so"; do
  # strong references only: a weak one (w, such as a thread_local's init function) may be absent
  unresolved="$(nm -D --undefined-only "$so" | awk '$1 == "U" {print $2}' | names | comm -23 - "$defined" |
    grep -v -E '^(__gmon_start__|_ITM_.*|_Jv_RegisterClasses|__cxa_finalize)$' || true)"
  if [[ -n "$unresolved" ]]; then
    echo "check-cuda-build: $(basename "$so") needs symbols nothing defines:" >&2
    echo "$unresolved" | head -20 >&2
    missing=1
  fi
done
nccl="$(nm -D --defined-only "$site/torch/lib/libtorch_cuda.so" | grep -c 'ProcessGroupNCCL' || true)"
((missing == 0)) || exit 1
echo "check-cuda-build: OK in $(($(date +%s) - start)) s: $(basename "$torch_whl"), DJL's JNI (cuda) and" \
  "libtilt_dist.so (gloo + nccl) compiled and linked, every symbol resolved against the wheels" \
  "(libcuda aside); libtorch_cuda exports $nccl ProcessGroupNCCL symbols" >&2
