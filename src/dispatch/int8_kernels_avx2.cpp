// The int8 kernel table of avx2, compiled with -mavx2 (CMakeLists.txt).
#include <mobilenext/kernels/int8/simd_int8_kernels.hpp>

#include "int8_kernel_table_entry.hpp"

#if !(defined(__AVX2__))
#error "int8_kernels_avx2.cpp must be compiled with -mavx2 (src/dispatch/CMakeLists.txt)"
#endif

MOBILENEXT_DEFINE_INT8_KERNEL_TABLE(avx2, mobilenext::kernels::simd::Avx2Int8Ops)
