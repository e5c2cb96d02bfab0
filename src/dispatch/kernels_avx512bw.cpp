// The kernel table of xsimd::avx512bw, compiled with -mavx512f -mavx512bw -mavx512dq -mavx512cd -mavx2 -mfma (CMakeLists.txt).
#include <mobilenext/kernels/simd_kernels.hpp>

#include "kernel_table_entry.hpp"

#if !XSIMD_WITH_AVX512BW
#error "kernels_avx512bw.cpp must be compiled with the flags of xsimd::avx512bw (src/dispatch/CMakeLists.txt)"
#endif

MOBILENEXT_DEFINE_KERNEL_TABLE(avx512bw, xsimd::avx512bw)
