#!/usr/bin/env bash
# Cross-builds the unit tests and the dispatch library for 64-bit ARM (NEON kernels) with
# Debian's cross compiler and runs them under QEMU user-mode emulation. Installs
# g++-aarch64-linux-gnu and qemu-user when missing (needs root then).
# Environment: JOBS (parallel build jobs, default: all cores), AARCH64_BUILD_DIR (default
# build-aarch64/ in the source tree), MOBILENEXT_WERROR (default ON).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=${JOBS:-$(nproc)}
build=${AARCH64_BUILD_DIR:-$root/build-aarch64}
sysroot=/usr/aarch64-linux-gnu
fail() { echo "FAIL: $*" >&2; exit 1; }

missing=()
for p in g++-aarch64-linux-gnu qemu-user googletest; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || true
  apt-get install -y -qq "${missing[@]}" > /dev/null
fi

echo "== configure and build for aarch64 in $build"
start=$SECONDS
cmake -S "$root" -B "$build" -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchains/aarch64-linux-gnu.cmake" \
  -DCMAKE_BUILD_TYPE=Release -DMOBILENEXT_NATIVE_ARCH=OFF -DMOBILENEXT_WERROR="${MOBILENEXT_WERROR:-ON}" \
  -DMOBILENEXT_BUILD_TESTS=ON -DMOBILENEXT_BUILD_DISPATCH=ON \
  -DMOBILENEXT_BUILD_EXAMPLES=OFF -DMOBILENEXT_BUILD_BENCHMARKS=OFF > "$build.configure.log" 2>&1 ||
  { cat "$build.configure.log"; fail "configuration"; }
cmake --build "$build" -j "$jobs" > "$build.build.log" 2>&1 || { tail -50 "$build.build.log"; fail "build"; }
echo "built in $((SECONDS - start)) s"

tests=$build/tests/mobilenext_tests
file "$tests" | grep -q 'ARM aarch64' || fail "$tests is not an AArch64 program: $(file "$tests")"
# QEMU's "max" CPU has the dot product extension, so both int8 NEON tables run.
export QEMU_CPU=max
run() { qemu-aarch64 -L "$sysroot" "$@"; }

# The kernel tests run every vector table of the dispatch library: NEON (xsimd::neon64) here.
# The listing is captured before it is searched: `grep -q` stops reading at the first match, and
# under pipefail the SIGPIPE that then kills a longer listing would fail the check.
listing=$(run "$tests" --gtest_list_tests) || fail "listing the unit tests"
grep -q 'MatchesReference/simd_arm64_neon' <<< "$listing" ||
  fail "the kernel tests do not run the NEON kernel table (simd/arm64+neon)"
for table in simd_neon64_dotprod simd_neon64; do
  grep -Eq "^ *PointwiseMatchesReference/$table( |\$)" <<< "$listing" ||
    fail "the int8 kernel tests do not run the int8 table $table"
done

# Three shards per core, as many at a time as cores, so that the long tests even out. Not under
# emulation: the stress test of 8 threads x 1000 forward passes (150 s under QEMU, nearly half
# as long as all the others together), which QEMU runs with the x86 host's memory ordering, not
# AArch64's, so it checks nothing there that it does not check natively and under TSan.
echo "== unit tests under qemu-aarch64 ($((3 * jobs)) shards, $jobs at a time: QEMU runs a program on one core)"
start=$SECONDS
JOBS=$jobs bash "$root/tools/run_gtest_shards.sh" $((3 * jobs)) qemu-aarch64 -L "$sysroot" "$tests" --gtest_brief=1 \
  --gtest_filter=-Network.ConcurrentForwardsEightThreadsThousandEach || fail "unit tests"
echo "== allocation and dispatch tests under qemu-aarch64, side by side"
run "$build/tests/mobilenext_no_allocation_tests" --gtest_brief=1 > "$build.no_allocation.log" 2>&1 &
allocation=$!
run "$build/tests/mobilenext_dispatch_tests" --gtest_brief=1 || fail "dispatch tests"
run "$build/tests/mobilenext_header_only_tests" --gtest_brief=1 || fail "header-only tests"
probe=$(run "$build/tests/mobilenext_dispatch_probe") || fail "dispatch probe"
echo "$probe"
grep -q '^kernels simd/arm64+neon,' <<< "$probe" || fail "the dispatch library did not choose NEON (xsimd::neon64)"
wait $allocation || { cat "$build.no_allocation.log"; fail "allocation tests"; }
grep -E '^\[  PASSED  \]' "$build.no_allocation.log"
echo "ran in $((SECONDS - start)) s"
echo "aarch64: all green"
