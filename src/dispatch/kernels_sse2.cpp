// The kernel table of xsimd::sse2, compiled with no -m flag (the x86-64 baseline) (CMakeLists.txt).
#include <mobilenext/kernels/simd_kernels.hpp>

#include "kernel_table_entry.hpp"

#if !XSIMD_WITH_SSE2
#error "kernels_sse2.cpp must be compiled with the flags of xsimd::sse2 (src/dispatch/CMakeLists.txt)"
#endif

MOBILENEXT_DEFINE_KERNEL_TABLE(sse2, xsimd::sse2)
