// The kernel table of xsimd::fma3<xsimd::avx2>, compiled with -mavx2 -mfma (CMakeLists.txt).
#include <mobilenext/kernels/simd_kernels.hpp>

#include "kernel_table_entry.hpp"

#if !XSIMD_WITH_FMA3_AVX2
#error "kernels_fma3_avx2.cpp must be compiled with the flags of xsimd::fma3<xsimd::avx2> (src/dispatch/CMakeLists.txt)"
#endif

MOBILENEXT_DEFINE_KERNEL_TABLE(fma3_avx2, xsimd::fma3<xsimd::avx2>)
