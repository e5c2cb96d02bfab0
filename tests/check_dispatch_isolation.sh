#!/usr/bin/env bash
# Checks the static mobilenext::dispatch library: the translation units compiled for one
# instruction set (kernels_<id>.cpp and int8_kernels_<id>.cpp, with -mavx2 or -mavx512f...)
# may define only symbols no other object of the library defines. Inline and template
# functions are emitted in every object that uses them and the linker keeps one copy; a copy
# compiled with -mavx512f can hold AVX-512 instructions where the source has none. When no
# symbol is shared, the linker has no copy to choose, and nothing compiled for a wider
# instruction set is reachable from the baseline code (model.cpp, dispatcher.cpp) except
# through the kernel tables.
#   usage: check_dispatch_isolation.sh libmobilenext_dispatch.a
# Exit status 77 (skipped) without nm or for a shared library.
set -euo pipefail
lib=$1
case "$lib" in *.a) ;; *) echo "not a static library: $lib (skipped)"; exit 77 ;; esac
command -v nm >/dev/null || { echo "no nm (skipped)"; exit 77; }

# "<member> <symbol>" for every global or weak definition (the personality routine's
# reference is data every object with exceptions defines, identical everywhere).
defs=$(nm -A --defined-only "$lib" | awk '$(NF-1) ~ /^[A-Zuvw]$/ && $NF != "DW.ref.__gxx_personality_v0" {
  split($1, where, ":"); print where[2], $NF }')
kernel_members=$(echo "$defs" | awk '$1 ~ /^(int8_)?kernels_/ { print $1 }' | sort -u)
[ -n "$kernel_members" ] || { echo "no kernels_*.o or int8_kernels_*.o members in $lib"; exit 1; }

status=0
for member in $kernel_members; do
  count=$(echo "$defs" | awk -v m="$member" '$1 == m' | wc -l)
  shared=$(echo "$defs" | awk -v m="$member" '
    $1 == m { mine[$2] = 1; next } { other[$2] = $1 }
    END { for (s in mine) if (s in other) print s, "(also in " other[s] ")" }')
  if [ -n "$shared" ]; then
    echo "$member shares symbols with other objects of the library:"
    echo "$shared" | c++filt | head -20
    status=1
  else
    echo "$member: $count symbols, none defined elsewhere in the library"
  fi
done
exit $status
