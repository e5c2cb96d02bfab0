#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, -fsanitize=fuzzer,address,undefined) and runs each one
# from its seed corpus (tests/fuzz/corpus/TARGET, plus what earlier runs here found). Every
# run starts with the seeds and the regression inputs (tests/fuzz/regressions/TARGET): a
# failing one fails the run, so this is also their replay under ASan+UBSan.
#   bash tools/fuzz.sh [--time SECONDS | --runs N] [--jobs J] [--side-by-side] [TARGET ...]
# TARGET is safetensors, npy or image (default: all three, one after the other; all at once
# with --side-by-side, sharing the cores). --time is per target (default 60). A crash fails the
# script with the reproducing input's path; copy it to tests/fuzz/regressions/TARGET/ so that
# the replay ctest keeps it fixed.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
root=$(pwd)
base=${FUZZ_BUILD_DIR:-$root/build-fuzz}
limit=(-max_total_time=60)
jobs=1
side_by_side=0
targets=()
while [ $# -gt 0 ]; do
  case $1 in
    --time) limit=(-max_total_time="$2"); shift 2 ;;
    --runs) limit=(-runs="$2"); shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --side-by-side) side_by_side=1; shift ;;
    safetensors|npy|image) targets+=("$1"); shift ;;
    *) echo "usage: $0 [--time SECONDS | --runs N] [--jobs J] [--side-by-side] [safetensors|npy|image ...]" >&2
       exit 2 ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(safetensors npy image)

export DEBIAN_FRONTEND=noninteractive
command -v clang++ >/dev/null || apt-get install -y -qq clang >/dev/null
dpkg-query -W -f='${Status}' libclang-rt-14-dev 2>/dev/null | grep -q "install ok installed" ||
  apt-get install -y -qq libclang-rt-14-dev >/dev/null

# -O1 with line tables only, as for the sanitizer builds (tools/check_sanitizers.sh): built one
# after another on two busy cores the targets took 5.9 minutes instead of 8.3 at -O2 -g, and
# they run as many inputs a second.
cmake -S "$root" -B "$base" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only -DNDEBUG" \
  -DMOBILENEXT_BUILD_FUZZERS=ON -DMOBILENEXT_BUILD_TESTS=ON -DMOBILENEXT_BUILD_EXAMPLES=OFF \
  -DMOBILENEXT_BUILD_BENCHMARKS=OFF -DMOBILENEXT_BUILD_DISPATCH=OFF -DMOBILENEXT_INSTALL=OFF >/dev/null
# All three as one goal compile side by side (see tests/fuzz/CMakeLists.txt).
if [ ${#targets[@]} -eq 3 ]; then
  cmake --build "$base" -j"$(nproc)" --target mobilenext_fuzz_targets >/dev/null
else
  cmake --build "$base" -j"$(nproc)" $(printf -- '--target fuzz_%s ' "${targets[@]}") >/dev/null
fi

# One target's run; prints its statistics and returns libFuzzer's exit status.
fuzz_target() {
  local target=$1
  local corpus=$base/corpus/$target artifacts=$base/artifacts/$target/ log=$base/logs/$target.log
  local workdir=$base/logs/$target.jobs  # (parallel jobs write fuzz-N.log into the working directory)
  mkdir -p "$corpus" "$artifacts" "$workdir"
  local dict=()
  [ -f "$root/tests/fuzz/$target.dict" ] && dict=(-dict="$root/tests/fuzz/$target.dict")
  # New inputs go to the build directory's corpus; the committed seeds and regressions, the
  # directories after it, are read only.
  local inputs=("$root/tests/fuzz/corpus/$target")
  [ -d "$root/tests/fuzz/regressions/$target" ] && inputs+=("$root/tests/fuzz/regressions/$target")
  local parallel=()
  [ "$jobs" -gt 1 ] && parallel=(-jobs="$jobs" -workers="$jobs")
  echo "== fuzz_$target (${limit[*]}, log: $log)"
  local start status=0
  start=$(date +%s)
  (cd "$workdir" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    "$base/tests/fuzz/fuzz_$target" "${limit[@]}" "${dict[@]}" "${parallel[@]}" \
    -max_len=16384 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts" \
    "$corpus" "${inputs[@]}") >"$log" 2>&1 || status=$?
  grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb|^#[0-9]+ +DONE' "$log" | tail -3 || true
  echo "   $(( $(date +%s) - start )) s, exit status $status"
  if [ $status -ne 0 ]; then
    grep -E 'ERROR|SUMMARY|Test unit written|==[0-9]+==' "$log" | head -20
    echo "fuzz_$target failed: see $log; the input is in $artifacts"
  fi
  return $status
}

failed=0
if [ "$side_by_side" = 1 ]; then
  pids=()
  mkdir -p "$base/logs"
  for target in "${targets[@]}"; do
    fuzz_target "$target" > "$base/logs/$target.summary" 2>&1 &
    pids+=($!)
  done
  for i in "${!targets[@]}"; do
    wait "${pids[$i]}" || failed=1
    cat "$base/logs/${targets[$i]}.summary"
  done
else
  for target in "${targets[@]}"; do
    fuzz_target "$target" || { failed=1; break; }
  done
fi
exit $failed
