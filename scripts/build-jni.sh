#!/usr/bin/env bash
# Builds DJL 0.36.0's PyTorch JNI (libdjl_torch.so) against a libtorch of your choice, places it where
# DJL's LibUtils looks for it, and writes the environment that makes DJL use it. Beside it, Tilt's
# own libtilt_dist.so (src/main/native/dist: c10d collectives on DJL's arrays, Gloo, and NCCL for a
# CUDA libtorch), which data-parallel training loads (README, "Many devices").
#
# DJL's prebuilt JNI (inside pytorch-jni 2.7.1-0.36.0) is linked against libtorch 2.7.1 and loads no
# other; a machine whose CUDA/PyTorch is newer (the GPU machines here carry only a torch 2.11 wheel)
# needs the JNI compiled against its own libtorch. README: "Any libtorch".
#
#   scripts/build-jni.sh [options]
#     --torch DIR     a libtorch: a pip wheel's torch/ folder or an unpacked libtorch zip (lib/, include/);
#                     default: the torch of $PYTHON (python3)
#     --flavor F      cpu or cuda (default: cuda when the libtorch has libtorch_cuda.so)
#     --djl-src DIR   DJL v0.36.0 sources: the repo root, holding engines/pytorch/pytorch-native and
#                     api/src/main/native (default: ../shared/cuda-kit/src beside this checkout, if present)
#     --out DIR       where the JNI and env.sh go (default: target/jni/<version>-<flavor>)
#     --jobs N        parallel compiles (default: the processors available)
#     --dist-only     rebuild only libtilt_dist.so, beside a JNI built before into the same --out
# Then:  source <out>/env.sh && ./tilt doctor      (doctor names the libtorch and the JNI build it runs)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
torch="" flavor="" djl="" out="" jobs="$(nproc)" dist_only=0
while (($#)); do
  case "$1" in
    --torch) torch="$2"; shift 2 ;;
    --flavor) flavor="$2"; shift 2 ;;
    --djl-src) djl="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --dist-only) dist_only=1; shift ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-jni: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
fail() { echo "build-jni: $*" >&2; exit 1; }

if [[ -z "$torch" ]]; then
  py="${PYTHON:-python3}"
  torch="$("$py" -c 'import torch, os; print(os.path.dirname(torch.__file__))' 2>/dev/null)" ||
    fail "no --torch given and $py cannot import torch; pass --torch DIR (a wheel's torch/ or a libtorch zip)"
fi
torch="$(cd "$torch" && pwd)"
[[ -f "$torch/lib/libtorch_cpu.so" && -d "$torch/include/torch" ]] ||
  fail "$torch is not a libtorch: it needs lib/libtorch_cpu.so and include/torch"

# the version: a wheel has version.py, a libtorch zip build-version ("2.7.1+cu128")
if [[ -f "$torch/version.py" ]]; then
  full="$(sed -n "s/^__version__ = '\(.*\)'/\1/p" "$torch/version.py" | head -1)"
  cuda="$(sed -n "s/^cuda: .*= '\(.*\)'/\1/p; s/^cuda = '\(.*\)'/\1/p" "$torch/version.py" | head -1)"
elif [[ -f "$torch/build-version" ]]; then
  full="$(head -1 "$torch/build-version")"
  cuda=""
else
  fail "cannot tell the version of $torch (no version.py or build-version)"
fi
version="${full%%+*}"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "unexpected libtorch version '$full' in $torch"
if [[ -z "$flavor" ]]; then
  flavor=cpu
  [[ -f "$torch/lib/libtorch_cuda.so" ]] && flavor=cuda
fi
case "$flavor" in
  cpu) djl_flavor=cpu ;;
  cuda)
    [[ -f "$torch/lib/libtorch_cuda.so" ]] || fail "--flavor cuda, but $torch has no lib/libtorch_cuda.so"
    if [[ -z "$cuda" && "$full" == *+cu* ]]; then cuda="${full##*+cu}"; cuda="${cuda:0:2}.${cuda:2}"; fi
    [[ -n "$cuda" ]] || fail "cannot tell the CUDA version of $torch"
    djl_flavor="cu$(echo "$cuda" | tr -d . | cut -c1-3)" ;;
  *) fail "--flavor must be cpu or cuda, not $flavor" ;;
esac

if [[ -z "$djl" ]]; then
  djl="$here/../shared/cuda-kit/src"
  [[ -d "$djl" ]] || fail "no --djl-src given and $djl is absent: check out DJL v0.36.0 (github.com/deepjavalibrary/djl, tag v0.36.0) and pass its root"
fi
djl="$(cd "$djl" && pwd)"
native="$djl/engines/pytorch/pytorch-native"
utils="$djl/api/src/main/native"
[[ -d "$native/src/main/native" && -f "$utils/djl/utils.h" ]] ||
  fail "$djl does not hold DJL's sources (engines/pytorch/pytorch-native/src/main/native, api/src/main/native)"

out="${out:-$here/target/jni/$version-$djl_flavor}"
work="$out/build"
# libtorch 2.14's headers refuse C++17 ("C++20 or later compatible compiler is required")
std=c++17
grep -q 'C++20 or later' "$torch/include/ATen/ATen.h" 2>/dev/null && std=c++20
cache="$out/engine-cache"
dest="$cache/pytorch/$version-$djl_flavor-linux-x86_64"
if ((dist_only == 0)); then
  rm -rf "$work"; mkdir -p "$work/include"
  # the sources are copied: the CUDA patch must not touch a read-only or shared checkout
  cp -r "$native/src/main/native" "$work/src"
  if [[ "$flavor" == cuda ]]; then
    # a kit whose sources already carry the change (../shared/cuda-kit does) needs no patch
    if ! (cd "$work/src" && patch -s -p7 -R --dry-run -f < "$here/scripts/jni/cuda-context.patch") > /dev/null 2>&1; then
      (cd "$work/src" && patch -s -p7 -f < "$here/scripts/jni/cuda-context.patch") ||
        fail "scripts/jni/cuda-context.patch does not apply to $native"
    fi
  fi

  # the JNI header: pre-generated in the kit; from a DJL checkout, javac -h makes it
  header="ai_djl_pytorch_jni_PyTorchLibrary.h"
  if [[ -f "$native/build/include/$header" ]]; then
    cp "$native/build/include/$header" "$work/include/"
  else
    command -v javac > /dev/null || fail "$native/build/include/$header is missing and there is no javac to generate it"
    lib="$djl/engines/pytorch/pytorch-engine/src/main/java/ai/djl/pytorch/jni/PyTorchLibrary.java"
    [[ -f "$lib" ]] || fail "neither $native/build/include/$header nor $lib exists"
    engine_jar="$(ls ~/.m2/repository/ai/djl/pytorch/pytorch-engine/0.36.0/pytorch-engine-0.36.0.jar 2>/dev/null || true)"
    api_jar="$(ls ~/.m2/repository/ai/djl/api/0.36.0/api-0.36.0.jar 2>/dev/null || true)"
    javac -h "$work/include" -d "$work/classes" -cp "$engine_jar:$api_jar" "$lib"
  fi
fi
# jni.h: a JDK's, or the kit's copy where the machine has no JDK
jni=""
for d in "${JAVA_HOME:-/nonexistent}/include" "$djl/../jni-include" "$here/../shared/cuda-kit/jni-include"; do
  [[ -f "$d/jni.h" && -f "$d/linux/jni_md.h" ]] && { jni="$(cd "$d" && pwd)"; break; }
done
[[ -n "$jni" ]] || fail "no jni.h: set JAVA_HOME to a JDK (include/jni.h), or keep the kit's jni-include/"

defs=(-D_GLIBCXX_USE_CXX11_ABI=1)
# the C++ ABI must match the libtorch's
if grep -q '_GLIBCXX_USE_CXX11_ABI=0' "$torch/share/cmake/Torch/TorchConfig.cmake" 2>/dev/null; then
  defs=(-D_GLIBCXX_USE_CXX11_ABI=0)
fi
libs=(-ltorch -ltorch_cpu -lc10)
if [[ "$flavor" == cuda ]]; then
  defs+=(-DUSE_CUDA)
  libs=(-Wl,--no-as-needed -ltorch_cuda -lc10_cuda -Wl,--as-needed "${libs[@]}")
  # c10/cuda includes cuda_runtime_api.h: from the toolkit, or from the pip nvidia-* packages
  for d in "${CUDA_HOME:-/usr/local/cuda}/include" "$torch"/../nvidia/*/include; do
    [[ -d "$d" ]] && defs+=(-isystem "$d")
  done
fi
inc=(-I"$work/include" -I"$jni" -I"$jni/linux" -I"$utils" -isystem "$torch/include"
  -isystem "$torch/include/torch/csrc/api/include")
cxx="${CXX:-g++}"
command -v "$cxx" > /dev/null || fail "no C++ compiler ($cxx); apt-get install g++"
start=$(date +%s)
mkdir -p "$dest"
if ((dist_only == 0)); then
echo "build-jni: DJL 0.36.0 JNI for libtorch $full ($djl_flavor) at $torch, $jobs jobs" >&2
objs=()
for f in "$work"/src/*.cc; do
  o="$work/$(basename "$f" .cc).o"; objs+=("$o")
  while (($(jobs -rp | wc -l) >= jobs)); do wait -n || fail "compiling failed (log above)"; done
  "$cxx" -std=$std -O2 -fPIC -w "${defs[@]}" "${inc[@]}" -c "$f" -o "$o" &
done
while (($(jobs -rp | wc -l) > 0)); do wait -n || fail "compiling failed (log above)"; done
for o in "${objs[@]}"; do [[ -f "$o" ]] || fail "missing $o"; done

# DJL looks for <ENGINE_CACHE_DIR>/pytorch/<PYTORCH_VERSION>-<PYTORCH_FLAVOR>-linux-x86_64/0.36.0-libdjl_torch.so
"$cxx" -shared -o "$dest/0.36.0-libdjl_torch.so" "${objs[@]}" -L"$torch/lib" "${libs[@]}" \
  -Wl,-rpath,"$torch/lib"
# what tilt doctor reads to name the build and a mismatch with the libtorch a run loads
cat > "$dest/0.36.0-libdjl_torch.so.build.json" << EOF
{"djl": "0.36.0", "libtorch_version": "$version", "libtorch_full_version": "$full", "flavor": "$djl_flavor", "libtorch": "$torch", "built": "$(date -u +%Y-%m-%dT%H:%M:%SZ)", "compiler": "$("$cxx" -dumpfullversion)"}
EOF
rm -rf "$work"
fi
[[ -f "$dest/0.36.0-libdjl_torch.so" ]] || fail "--dist-only, but no JNI was built into $out before"

# Tilt's c10d library: Gloo always, NCCL with a CUDA libtorch (headers from the pip nvidia-nccl wheel
# or the toolkit). It binds to the libtorch DJL loads, so it is built against the same one.
dist_src="$here/src/main/native/dist"
dist_defs=("${defs[@]}" -DUSE_C10D_GLOO -isystem "$dist_src/gloo-include")
dist_libs=(-Wl,--no-as-needed -ltorch_cpu -lc10)
if [[ "$flavor" == cuda ]]; then
  dist_defs+=(-DUSE_C10D_NCCL)
  for d in "$torch"/../nvidia/nccl/include "${NCCL_HOME:-/nonexistent}/include"; do
    [[ -d "$d" ]] && dist_defs+=(-isystem "$d")
  done
  dist_libs+=(-ltorch_cuda -lc10_cuda)
fi
echo "build-jni: libtilt_dist.so ($([[ "$flavor" == cuda ]] && echo "gloo + nccl" || echo gloo), $std)" >&2
"$cxx" -std=$std -O2 -fPIC -w -shared "${dist_defs[@]}" -I"$jni" -I"$jni/linux" \
  -isystem "$torch/include" -isystem "$torch/include/torch/csrc/api/include" \
  "$dist_src/tilt_dist.cc" -o "$dest/libtilt_dist.so" -L"$torch/lib" "${dist_libs[@]}" \
  -Wl,-rpath,"$torch/lib" || fail "building libtilt_dist.so failed (log above)"

# DJL's GPU count comes from JNA loading cudart, not from libtorch: the wheel's own cudart
cudart=""
for d in "$torch"/../nvidia/*/lib "$torch"/../nvidia/cuda_runtime/lib; do
  ls "$d"/libcudart.so* > /dev/null 2>&1 && { cudart="$(cd "$d" && pwd)"; break; }
done
cat > "$out/env.sh" << EOF
# source this file: Tilt (DJL) then runs on libtorch $full through the JNI built by scripts/build-jni.sh
export ENGINE_CACHE_DIR="$cache"
export PYTORCH_LIBRARY_PATH="$torch/lib"
export PYTORCH_VERSION="$version"
export PYTORCH_FLAVOR="$djl_flavor"
# test libraries some wheels ship, which DJL would otherwise try to load
export PYTORCH_LIBRARY_EXCLUSION="libjitbackend_test.so,libtorchbind_test.so,libaoti_custom_ops.so,libbackend_with_compiler.so,libtorch_python.so"
export TILT_JAVA_OPTS="\${TILT_JAVA_OPTS:-}${cudart:+ -Djna.library.path=$cudart}"
# Tilt's c10d collectives, for data-parallel runs (tilt train --nproc N, torchrun, SLURM)
export TILT_DIST_LIBRARY="$dest/libtilt_dist.so"
EOF
echo "build-jni: built $dest/0.36.0-libdjl_torch.so and libtilt_dist.so in $(($(date +%s) - start)) s" >&2
echo "build-jni: to use it:  source $out/env.sh   (then ./tilt doctor names it)" >&2
cat "$out/env.sh"
