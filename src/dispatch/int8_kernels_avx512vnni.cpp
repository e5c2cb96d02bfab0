// The int8 kernel table of avx512vnni, compiled with -mavx512f -mavx512bw -mavx512vl -mavx512vnni -mavx2 (CMakeLists.txt).
#include <mobilenext/kernels/int8/simd_int8_kernels.hpp>

#include "int8_kernel_table_entry.hpp"

#if !(defined(__AVX512VNNI__) && defined(__AVX512BW__) && defined(__AVX512VL__))
#error "int8_kernels_avx512vnni.cpp must be compiled with -mavx512f -mavx512bw -mavx512vl -mavx512vnni -mavx2 (src/dispatch/CMakeLists.txt)"
#endif

MOBILENEXT_DEFINE_INT8_KERNEL_TABLE(avx512vnni, mobilenext::kernels::simd::Avx512Int8Ops<true>)
