#!/usr/bin/env bash
# Builds and runs the unit tests under AddressSanitizer + UndefinedBehaviorSanitizer (the main
# suite and the allocation-counting tests), and the concurrency tests under ThreadSanitizer, with
# clang; and `mobilenext classify` (model file, PNG and JPEG decoding, preprocessing,
# inference) under valgrind memcheck.
# (The fuzz seeds and regression inputs are replayed under ASan+UBSan by tools/fuzz.sh, whose
# targets are built with both: each fuzzing run starts by running all of them.)
# One command:
#   bash tools/check_sanitizers.sh [asan|tsan|valgrind|all]
set -euo pipefail
# Failures inside $(build ...) must stop the script too.
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
which=${1:-all}
root=$(pwd)
base=${SANITIZER_BUILD_DIR:-$root/build-sanitizers}
export DEBIAN_FRONTEND=noninteractive
command -v clang++ >/dev/null || apt-get install -y -qq clang
command -v valgrind >/dev/null || apt-get install -y -qq valgrind
dpkg-query -W -f='${Status}' libclang-rt-14-dev 2>/dev/null | grep -q "install ok installed" ||
  apt-get install -y -qq libclang-rt-14-dev

# -O1 with line tables only, as the sanitizers' documentation suggests: reports keep file and
# line, and the builds take about a fifth less time than at -O2 -g, while the sanitized main
# suite runs only a little longer (38 s instead of 35 on two cores).
build() {  # name, sanitizer flags, build target (mobilenext_tests or a goal that includes it)
  local dir="$base/$1"
  cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only -DNDEBUG" \
    -DCMAKE_CXX_FLAGS="$2 -fno-omit-frame-pointer" -DCMAKE_EXE_LINKER_FLAGS="$2" \
    -DMOBILENEXT_BUILD_TESTS=ON -DMOBILENEXT_BUILD_EXAMPLES=OFF -DMOBILENEXT_BUILD_BENCHMARKS=OFF >/dev/null
  cmake --build "$dir" -j"$(nproc)" --target "$3" >/dev/null
  echo "$dir/tests/mobilenext_tests"
}

# Valgrind 3.19 does not decode AVX-512: this build targets AVX2 + FMA (x86-64-v3) instead.
build_cli_for_valgrind() {
  local dir="$base/valgrind"
  cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMOBILENEXT_NATIVE_ARCH=OFF \
    -DCMAKE_CXX_FLAGS="-march=x86-64-v3" -DMOBILENEXT_BUILD_TESTS=OFF -DMOBILENEXT_BUILD_EXAMPLES=ON \
    -DMOBILENEXT_BUILD_BENCHMARKS=OFF -DMOBILENEXT_BUILD_DISPATCH=OFF -DMOBILENEXT_INSTALL=OFF >/dev/null
  cmake --build "$dir" -j"$(nproc)" --target mobilenext_cli >/dev/null
  echo "$dir/examples/mobilenext"
}

start=$SECONDS
elapsed() { echo "   ($((SECONDS - start)) s since the start)"; }
if [ "$which" = asan ] || [ "$which" = all ]; then
  echo "== AddressSanitizer + UndefinedBehaviorSanitizer: the main suite and the allocation-counting tests"
  bin=$(build asan "-fsanitize=address,undefined -fno-sanitize-recover=all" mobilenext_unit_tests)
  # The allocation-counting tests (their own operator new, over malloc, which ASan watches) are
  # a separate program. Both link the dispatch library (sanitized too), so every kernel set this
  # CPU runs is tested sanitized; its own small test program is not built here.
  # Each program as $(nproc) shards side by side (a sanitized test program keeps one core busy).
  for tests in "$bin" "$(dirname "$bin")/mobilenext_no_allocation_tests"; do
    echo "   $(basename "$tests")"
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
      bash "$root/tools/run_gtest_shards.sh" "$(nproc)" "$tests" --gtest_brief=1
  done
  elapsed
fi
if [ "$which" = tsan ] || [ "$which" = all ]; then
  echo "== ThreadSanitizer: concurrent forward passes, intra-op threads"
  # (The allocation-counting tests replace operator new, as TSan's runtime does: not here.)
  bin=$(build tsan "-fsanitize=thread" mobilenext_tests)
  TSAN_OPTIONS=halt_on_error=1 "$bin" --gtest_brief=1 \
    --gtest_filter='*Concurrent*:*ThreadCount*:*SeveralCallers*'
  elapsed
fi
if [ "$which" = valgrind ] || [ "$which" = all ]; then
  echo "== valgrind memcheck: mobilenext classify (PNG and JPEG images, 1 and 2 threads)"
  cli=$(build_cli_for_valgrind)
  images=("$root"/examples/images/fashion_mnist/*.png "$root"/tests/fuzz/corpus/image/baseline.jpg
          "$root"/tests/fuzz/corpus/image/progressive.jpg "$root"/tests/fuzz/corpus/image/rgb.bmp)
  # Both runs side by side (valgrind runs a program's threads one at a time, on one core).
  pids=()
  for threads in 1 2; do
    valgrind --quiet --error-exitcode=1 --leak-check=full --show-leak-kinds=definite,indirect \
      --errors-for-leak-kinds=definite,indirect \
      "$cli" classify "$root/models/fashion_mnist_mobilenext.safetensors" "${images[@]}" --top 1 --threads $threads \
      >"$base/valgrind-classify-$threads.txt" 2>"$base/valgrind-classify-$threads.err" &
    pids+=($!)
  done
  for i in 0 1; do
    threads=$((i + 1))
    if ! wait "${pids[$i]}"; then
      cat "$base/valgrind-classify-$threads.err" >&2
      echo "valgrind memcheck: mobilenext classify --threads $threads failed" >&2
      exit 1
    fi
    echo "   $threads thread(s): clean, $(grep -c . "$base/valgrind-classify-$threads.txt") lines of output"
  done
  elapsed
fi
