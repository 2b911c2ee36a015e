#!/usr/bin/env bash
# Makes the carry bundle for a machine with no JDK, no Maven and no network (the GPU machines lent
# here): target/bundle/tilt-bundle.tar.xz, under 60 MiB, holding
#   tilt.jar         the jar without libtorch and with linux-x86_64 natives only (no Windows/macOS/
#                    aarch64 tokenizers, no prebuilt 2.7.1 JNIs, no pdfbox/fontbox from XChart)
#   tests.jar, lib/  the test classes and fixtures, JUnit's launcher (GpuSuite runs @Tag("gpu"))
#   jre/             a jlink'd Java runtime with the modules jdeps finds in the jar
#   kit/             DJL 0.36.0's JNI sources and jni.h (../shared/cuda-kit), scripts/build-jni.sh
#   scripts/, recipes/, bench/   gpu-check.sh, the recipes the tests train, the Python side-by-side benches
#   src/test/resources/fixtures  the parity fixtures the tests load as model directories
#   scripts/bundle.sh            (mvn package -DskipTests first; it runs it when target/tilt.jar is absent)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
kit="${KIT:-$here/../shared/cuda-kit}"
anchor="${ANCHOR:-$here/../shared/anchor}"
[[ -d "$kit/src" ]] || { echo "bundle: no DJL sources at $kit/src (set KIT)" >&2; exit 1; }
[[ -f target/tilt.jar && -d target/test-classes ]] || mvn -q -B test-compile package -DskipTests
out="$here/target/bundle"
stage="$out/tilt-bundle"
rm -rf "$out"; mkdir -p "$stage/lib" "$stage/kit" "$stage/scripts" "$stage/bench"

# the slim jar: delete what a custom-libtorch Linux x86-64 run never loads
cp target/tilt.jar "$stage/tilt.jar"
zip -q -d "$stage/tilt.jar" 'pytorch/*' 'jnilib/*' 'native/lib/win-*' 'native/lib/osx-*' \
  'native/lib/linux-aarch64/*' 'org/apache/pdfbox/*' 'org/apache/fontbox/*' \
  'com/sun/jna/aix-*' 'com/sun/jna/win32-*' 'com/sun/jna/darwin-*' 'com/sun/jna/sunos-*' \
  'com/sun/jna/freebsd-*' 'com/sun/jna/openbsd-*' 'com/sun/jna/linux-arm*' 'com/sun/jna/linux-ppc*' \
  'com/sun/jna/linux-mips*' 'com/sun/jna/linux-s390x/*' 'com/sun/jna/linux-loongarch64/*' \
  'com/sun/jna/linux-riscv64/*' 'com/sun/jna/linux-aarch64/*' 'com/sun/jna/linux-x86/*' \
  'com/sun/jna/dragonflybsd-*' > /dev/null || true

# the tests and what runs them
(cd target/test-classes && zip -q -r "$stage/tests.jar" . -x 'fixtures/*') # the fixtures go as files, below
mvn -q -B org.apache.maven.plugins:maven-dependency-plugin:3.9.0:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile="$out/cp.txt" > /dev/null
tr ':' '\n' < "$out/cp.txt" | grep -E '/(junit-|opentest4j|apiguardian)' | while read -r j; do
  cp "$j" "$stage/lib/"
done

# a runtime with only the modules the jar uses (jdk.unsupported: DJL and JNA reach sun.misc;
mods="$(jdeps --ignore-missing-deps --print-module-deps --multi-release 17 "$stage/tilt.jar" 2> /dev/null)"
# jdk.zipfs: JUnit finds the tests inside tests.jar through the zip file system
mods="${mods:+$mods,}jdk.unsupported,jdk.crypto.ec,jdk.zipfs"
jlink --add-modules "$mods" --strip-debug --no-header-files --no-man-pages --compress=2 \
  --output "$stage/jre" > /dev/null

cp -r "$kit/src" "$kit/jni-include" "$stage/kit/"
mkdir -p "$stage/scripts/jni"
cp scripts/build-jni.sh scripts/gpu-check.sh "$stage/scripts/"
cp scripts/jni/cuda-context.patch "$stage/scripts/jni/"
# libtilt_dist.so's sources: build-jni.sh builds it beside the JNI (data parallelism, NCCL on CUDA)
mkdir -p "$stage/src/main/native"
cp -r src/main/native/dist "$stage/src/main/native/"
cp -r recipes "$stage/recipes"
# the parity fixtures as files: the tests load them as model directories
mkdir -p "$stage/src/test/resources"
cp -r src/test/resources/fixtures "$stage/src/test/resources/"
for f in bench_trl.py make_model.py make_data.py gemm_peak.py; do
  [[ -f "$anchor/$f" ]] && cp "$anchor/$f" "$stage/bench/"
done
cp scripts/gpu_bench.py "$stage/bench/" 2> /dev/null || true
git rev-parse HEAD > "$stage/COMMIT" 2> /dev/null || true

tar -C "$out" -cJf "$out/tilt-bundle.tar.xz" tilt-bundle
size=$(stat -c %s "$out/tilt-bundle.tar.xz")
echo "bundle: $out/tilt-bundle.tar.xz, $((size >> 20)) MiB (jar $(($(stat -c %s "$stage/tilt.jar") >> 20)) MiB, modules $mods)"
if ((size >= 60 << 20)); then
  echo "bundle: over the 60 MiB budget" >&2
  exit 1
fi
