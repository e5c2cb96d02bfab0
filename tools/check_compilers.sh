#!/usr/bin/env bash
# Builds the library's tests, examples, benchmarks and dispatch library with GCC 12 and with
# Clang 14, warnings as errors (-Wall -Wextra -Wpedantic -Werror on the project's own code;
# third-party headers are SYSTEM includes), then runs the unit tests of each build. Installs
# g++-12 and clang-14 when missing (needs root then).
# Environment: JOBS (parallel build jobs, default: all cores), COMPILERS_BUILD_DIR (default
# build-compilers/ in the source tree; one subdirectory per compiler), COMPILERS (default
# "g++-12 clang++-14"; CI names only Clang, its main build being GCC 12 with -Werror already),
# SYNTAX_ONLY=1: every translation unit compiled with -fsyntax-only (tools/syntax_check.py), no
# build and no tests (CI: its sanitizer builds compile and run the tests with Clang).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=${JOBS:-$(nproc)}
base=${COMPILERS_BUILD_DIR:-$root/build-compilers}
mkdir -p "$base"
fail() { echo "FAIL: $*" >&2; exit 1; }

if ! command -v g++-12 > /dev/null || ! command -v clang++-14 > /dev/null; then
  echo "== installing g++-12 clang-14"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || true
  apt-get install -y -qq g++-12 clang-14 > /dev/null
fi

compilers=${COMPILERS:-g++-12 clang++-14}
for compiler in $compilers; do
  build=$base/$compiler
  echo "== $compiler ($("$compiler" --version | head -1)) in $build"
  start=$SECONDS
  cmake -S "$root" -B "$build" -DCMAKE_CXX_COMPILER="$compiler" -DCMAKE_BUILD_TYPE=Release \
    -DMOBILENEXT_WERROR=ON -DMOBILENEXT_BUILD_TESTS=ON -DMOBILENEXT_BUILD_EXAMPLES=ON \
    -DMOBILENEXT_BUILD_BENCHMARKS=ON -DMOBILENEXT_BUILD_DISPATCH=ON -DCMAKE_EXPORT_COMPILE_COMMANDS=ON \
    > "$build.configure.log" 2>&1 || { cat "$build.configure.log"; fail "$compiler: configuration"; }
  if [ "${SYNTAX_ONLY:-0}" = 1 ]; then
    /usr/bin/python3 "$root/tools/syntax_check.py" "$build" "$jobs" > "$build.syntax.log" 2>&1 ||
      { head -150 "$build.syntax.log"; fail "$compiler: diagnostics (full log: $build.syntax.log)"; }
    echo "$(tail -1 "$build.syntax.log") (-fsyntax-only) in $((SECONDS - start)) s"
    continue
  fi
  if ! cmake --build "$build" -j "$jobs" > "$build.build.log" 2>&1; then
    grep -E -B2 -A6 'error|warning' "$build.build.log" | head -150
    fail "$compiler: build (full log: $build.build.log)"
  fi
  echo "built in $((SECONDS - start)) s, no warnings"
  "$build/tests/mobilenext_tests" --gtest_brief=1 > "$build.tests.log" 2>&1 ||
    { tail -40 "$build.tests.log"; fail "$compiler: unit tests"; }
  "$build/tests/mobilenext_dispatch_tests" --gtest_brief=1 >> "$build.tests.log" 2>&1 ||
    { tail -40 "$build.tests.log"; fail "$compiler: dispatch tests"; }
  grep -h 'PASSED' "$build.tests.log"
done
if [ "${SYNTAX_ONLY:-0}" = 1 ]; then echo "compilers: $compilers without warnings"; else
  echo "compilers: $compilers build without warnings, tests pass"; fi
