#!/usr/bin/env bash
# Checks that mobilenext can be consumed the ways the README describes, each in a fresh
# scratch directory: the tree is installed into a temporary prefix, then tests/consumer is
# built and run with find_package against it, with add_subdirectory on this checkout, with
# FetchContent from a file:// archive of it, and with pkg-config.
# Environment: CMAKE, CXX (compiler), JOBS (parallel build jobs, default 1), KEEP_WORK=1 to
# keep the scratch directory.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cmake=${CMAKE:-cmake}
jobs=${JOBS:-1}
cxx=${CXX:-c++}
export CXX=$cxx  # read by every fresh CMake configuration below
work=$(mktemp -d "${TMPDIR:-/tmp}/mobilenext-packaging.XXXXXX")
if [ "${KEEP_WORK:-0}" = 1 ]; then echo "scratch directory: $work"; else trap 'rm -rf "$work"' EXIT; fi

fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo; echo "== $* ($(date +%T))"; }
quiet() {  # runs a command, showing its output only when it fails
  local log="$work/last.log"
  if ! "$@" > "$log" 2>&1; then cat "$log" >&2; fail "$*"; fi
}
run_consumer() {  # $1: executable, $2: header-only or dispatched; checks its kernel line
  local out
  out=$("$1") || fail "$1 exited with $?: $out"
  echo "$out"
  grep -q "^$2 kernels: simd/" <<< "$out" || fail "$1: no $2 kernel line"
}
consumer() {  # $1: build directory name, $2: build type, then CMake arguments
  local dir="$work/$1" type=$2
  shift 2
  quiet "$cmake" -S "$root/tests/consumer" -B "$dir" -DCMAKE_BUILD_TYPE="$type" "$@"
  quiet "$cmake" --build "$dir" -j "$jobs"
  run_consumer "$dir/consumer" header-only
  run_consumer "$dir/consumer_dispatch" dispatched
}

step "build and install into a temporary prefix"
quiet "$cmake" -S "$root" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DMOBILENEXT_BUILD_TESTS=OFF \
  -DMOBILENEXT_BUILD_EXAMPLES=OFF -DMOBILENEXT_BUILD_BENCHMARKS=OFF -DMOBILENEXT_BUILD_DISPATCH=ON \
  -DMOBILENEXT_INSTALL=ON
quiet "$cmake" --build "$work/build" -j "$jobs"
# --prefix at install time, not at configuration: the installed files must be relocatable.
quiet "$cmake" --install "$work/build" --prefix "$work/prefix"
prefix=$work/prefix
config=$(find "$prefix" -name mobilenextConfig.cmake)
pcdir=$(dirname "$(find "$prefix" -name mobilenext.pc)")
[ -n "$config" ] && [ -f "$(dirname "$config")/mobilenextConfigVersion.cmake" ] || fail "no CMake package installed"
[ -f "$prefix/include/mobilenext/mobilenext.hpp" ] && [ -f "$prefix/include/mobilenext/model/model.hpp" ] ||
  fail "headers not installed"
[ -f "$pcdir/mobilenext-dispatch.pc" ] || fail "no mobilenext-dispatch.pc"
echo "installed: $(cd "$prefix" && find . -type f | wc -l) files; package $(dirname "${config#"$prefix"/}"), pkg-config ${pcdir#"$prefix"/}"
# Users choose the instruction set: no machine flag may reach them through the package.
if grep -nE -- '(^|[ ;"])-m[a-z0-9]' "$(dirname "$config")"/*.cmake "$pcdir"/*.pc; then
  fail "machine flags in the installed package files"
fi
# Nothing may point back into the source or build tree.
if grep -nF -e "$root" -e "$work/build" "$(dirname "$config")"/*.cmake "$pcdir"/*.pc; then
  fail "installed package files refer to the source or build tree"
fi

step "find_package(mobilenext) against the installed tree"
consumer find_package Release -DMOBILENEXT_CONSUMER_MODE=find_package -DCMAKE_PREFIX_PATH="$prefix"

# The two modes that compile the dispatch library inside the consumer's build do so in Debug:
# a build type users have too, and a third of the compile time of Release.
step "add_subdirectory() of the source tree"
consumer subdirectory Debug -DMOBILENEXT_CONSUMER_MODE=subdirectory -DMOBILENEXT_SOURCE="$root"

step "FetchContent from a file:// archive of the source tree"
archive=$work/mobilenext-src.tar.gz
if git -C "$root" rev-parse --is-inside-work-tree > /dev/null 2>&1; then
  # The working tree as it is (tracked and new files, not ignored ones such as build trees).
  (cd "$root" && git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [ -f "$f" ] && printf '%s\0' "$f"; done |
    tar --null -T - --transform 's,^,mobilenext/,' -czf "$archive")
else
  tar -C "$(dirname "$root")" --exclude='build*' -czf "$archive" "$(basename "$root")"
fi
sha=$(sha256sum "$archive" | cut -d' ' -f1)
echo "archive: $(du -h "$archive" | cut -f1), sha256 $sha"
consumer fetchcontent Debug -DMOBILENEXT_CONSUMER_MODE=fetchcontent -DMOBILENEXT_SOURCE="file://$archive" \
  -DMOBILENEXT_SOURCE_SHA256="$sha"

step "pkg-config (mobilenext-dispatch, which requires mobilenext)"
export PKG_CONFIG_PATH="$pcdir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
flags=$(pkg-config --cflags --libs mobilenext-dispatch) || fail "pkg-config mobilenext-dispatch"
echo "pkg-config --cflags --libs mobilenext-dispatch: $flags"
if grep -qE -- '(^| )-m[a-z0-9]' <<< "$(pkg-config --cflags mobilenext)"; then fail "machine flags in mobilenext.pc"; fi
mkdir -p "$work/pkg-config"
# shellcheck disable=SC2086  # the flags are words
quiet "$cxx" -std=c++17 -O2 "$root/tests/consumer/main.cpp" $flags -o "$work/pkg-config/consumer"
run_consumer "$work/pkg-config/consumer" dispatched

echo
echo "packaging: all consumers built and ran"
