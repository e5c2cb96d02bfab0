#!/usr/bin/env bash
# Builds and runs the unit tests under AddressSanitizer + UndefinedBehaviorSanitizer (all of
# them), and the concurrency tests under ThreadSanitizer, with clang. One command:
#   bash tools/check_sanitizers.sh [asan|tsan|all]
set -euo pipefail
# Failures inside $(build ...) must stop the script too.
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
which=${1:-all}
root=$(pwd)
base=${SANITIZER_BUILD_DIR:-$root/build-sanitizers}
export DEBIAN_FRONTEND=noninteractive
command -v clang++ >/dev/null || apt-get install -y -qq clang
dpkg-query -W -f='${Status}' libclang-rt-14-dev 2>/dev/null | grep -q "install ok installed" ||
  apt-get install -y -qq libclang-rt-14-dev

build() {  # name, sanitizer flags
  local dir="$base/$1"
  cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_CXX_FLAGS="$2 -fno-omit-frame-pointer" -DCMAKE_EXE_LINKER_FLAGS="$2" \
    -DMOBILENEXT_BUILD_TESTS=ON -DMOBILENEXT_BUILD_EXAMPLES=OFF -DMOBILENEXT_BUILD_BENCHMARKS=OFF >/dev/null
  cmake --build "$dir" -j"$(nproc)" --target mobilenext_tests >/dev/null
  echo "$dir/tests/mobilenext_tests"
}

if [ "$which" = asan ] || [ "$which" = all ]; then
  echo "== AddressSanitizer + UndefinedBehaviorSanitizer: all unit tests"
  bin=$(build asan "-fsanitize=address,undefined -fno-sanitize-recover=all")
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 "$bin" --gtest_brief=1
fi
if [ "$which" = tsan ] || [ "$which" = all ]; then
  echo "== ThreadSanitizer: concurrent forward passes, intra-op threads"
  bin=$(build tsan "-fsanitize=thread")
  TSAN_OPTIONS=halt_on_error=1 "$bin" --gtest_brief=1 \
    --gtest_filter='*Concurrent*:*ThreadCount*:*SeveralCallers*'
fi
