#!/usr/bin/env bash
# Checks, on a GNU ld link map of a program using mobilenext::dispatch, that no code compiled
# for AVX2 or AVX-512 can run on a CPU without them. The per-instruction-set translation units
# share many inline functions (Tensor, the topology, the standard library); the linker keeps
# one copy of each, and a copy compiled with -mavx512f can hold AVX-512 instructions even
# where the source has none. So every code section the program took from those translation
# units must belong to their own instruction set (a symbol naming xsimd::avx512bw or
# xsimd::fma3<xsimd::avx2>), and none may run at start-up.
#   usage: check_dispatch_isolation.sh LINK_MAP
# Exit status 77 (skipped) when the map is not in GNU ld's format.
set -euo pipefail
map=$1

if ! grep -q '^Linker script and memory map' "$map"; then
  echo "not a GNU ld link map: $map (skipped)"
  exit 77
fi

# One line per non-empty input section: "<section> <object>".
sections=$(awk '
  /^Linker script and memory map/ { in_map = 1; next }
  !in_map { next }
  /^ \.[^ ]+$/ { pending = $1; next }
  /^ \.[^ ]+ +0x[0-9a-f]+ +0x[0-9a-f]+ / { if ($3 !~ /^0x0+$/) print $1, $NF; pending = ""; next }
  /^ +0x[0-9a-f]+ +0x[0-9a-f]+ / { if (pending != "" && $2 !~ /^0x0+$/) print pending, $NF; pending = ""; next }
  { pending = "" }
' "$map")

status=0
checked=0
for unit in avx512bw fma3_avx2; do
  case $unit in
    avx512bw) arch='xsimd::avx512bw' ;;
    fma3_avx2) arch='xsimd::fma3<xsimd::avx2>' ;;
  esac
  from_unit=$(printf '%s\n' "$sections" | awk -v unit="network_${unit}.cpp.o" 'index($2, unit) { print $1 }')
  if [ -z "$from_unit" ]; then
    echo "FAIL: the map has no sections from network_${unit}.cpp.o; is this a program using mobilenext::dispatch?"
    status=1
    continue
  fi
  while read -r section; do
    case $section in
      .text.startup* | .init_array* | .ctors*)
        echo "FAIL: network_${unit}.cpp has start-up code ($section), which runs on every CPU"
        status=1 ;;
      .text | .text.unlikely | .text.hot)
        # No function name: GCC names the section of every function that can be shared
        # (inline, template) after it, in a COMDAT group. An unnamed one is never merged with
        # another unit's copy, so it holds only this unit's own code: its entry points and the
        # local clones of their cold paths (e.g. AlignedBuffer::resize's .part.0 throw path).
        continue ;;
      .text.*)
        mangled=${section#.text.}
        mangled=${mangled#unlikely.}
        mangled=${mangled#hot.}
        # A dot never appears in an external C++ name: this is a local clone (.isra, .part,
        # .constprop, .cold), callable only from its own translation unit's code, checked here.
        [[ $mangled == *.* ]] && continue
        name=$(c++filt -- "$mangled")
        checked=$((checked + 1))
        if [[ $name != *"$arch"* ]]; then
          echo "FAIL: the program's only copy of '$name' comes from network_${unit}.cpp (compiled for $arch)"
          status=1
        fi ;;
    esac
  done <<< "$from_unit"
done
if [ $status -eq 0 ]; then
  echo "OK: all $checked code sections taken from the AVX2 and AVX-512 translation units belong to their instruction set"
fi
exit $status
