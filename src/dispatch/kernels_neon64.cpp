// The kernel table of xsimd::neon64, compiled with no -m flag (the AArch64 baseline) (CMakeLists.txt).
#include <mobilenext/kernels/simd_kernels.hpp>

#include "kernel_table_entry.hpp"

#if !XSIMD_WITH_NEON64
#error "kernels_neon64.cpp must be compiled with the flags of xsimd::neon64 (src/dispatch/CMakeLists.txt)"
#endif

MOBILENEXT_DEFINE_KERNEL_TABLE(neon64, xsimd::neon64)
