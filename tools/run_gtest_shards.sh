#!/usr/bin/env bash
# Runs a GoogleTest program as N shards (GTEST_TOTAL_SHARDS / GTEST_SHARD_INDEX: each shard runs
# every Nth test), for programs that use one core each: under QEMU user-mode emulation, or a
# sanitizer. JOBS shards run at a time (default: all N side by side); more shards than jobs
# even out tests of very different lengths. Each shard's output goes to a file, printed when
# the shard fails.
#   [JOBS=J] bash tools/run_gtest_shards.sh N COMMAND [ARGUMENT ...]
# Exits with the first failing shard's status, after all have finished.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: [JOBS=J] $0 SHARDS COMMAND [ARGUMENT ...]" >&2; exit 2; }
shards=$1
shift
[ "$shards" -ge 1 ] 2>/dev/null || { echo "$0: SHARDS must be a positive number, found '$shards'" >&2; exit 2; }
jobs=${JOBS:-$shards}
[ "$jobs" -ge 1 ] 2>/dev/null || { echo "$0: JOBS must be a positive number, found '$jobs'" >&2; exit 2; }
logs=$(mktemp -d "${TMPDIR:-/tmp}/gtest-shards.XXXXXX")
trap 'rm -rf "$logs"' EXIT
declare -A shard_of  # pid -> shard index
codes=()
running=0
reap() {  # waits for one shard to end and records its exit status
  local pid code=0
  wait -n -p pid || code=$?
  codes[${shard_of[$pid]}]=$code
  running=$((running - 1))
}
for ((i = 0; i < shards; ++i)); do
  [ "$running" -lt "$jobs" ] || reap
  GTEST_TOTAL_SHARDS=$shards GTEST_SHARD_INDEX=$i "$@" > "$logs/$i.log" 2>&1 &
  shard_of[$!]=$i
  running=$((running + 1))
done
while [ "$running" -gt 0 ]; do reap; done
status=0
for ((i = 0; i < shards; ++i)); do
  code=${codes[$i]}
  # --gtest_brief prints only failures and the totals: the last lines say how the shard went.
  if [ "$code" -ne 0 ]; then
    echo "== shard $((i + 1)) of $shards failed (exit status $code): $*" >&2
    cat "$logs/$i.log" >&2
    [ $status -ne 0 ] || status=$code
  else
    echo "   shard $((i + 1))/$shards: $(grep -E '^\[  PASSED  \]' "$logs/$i.log" | tail -1)"
  fi
done
exit $status
