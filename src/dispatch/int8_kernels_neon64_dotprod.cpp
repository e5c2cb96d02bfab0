// The int8 kernel table of neon64_dotprod, compiled with -march=armv8.2-a+dotprod (sdot) (CMakeLists.txt).
#include <mobilenext/kernels/int8/simd_int8_kernels.hpp>

#include "int8_kernel_table_entry.hpp"

#if !(defined(__aarch64__) && defined(__ARM_FEATURE_DOTPROD))
#error "int8_kernels_neon64_dotprod.cpp must be compiled with -march=armv8.2-a+dotprod (src/dispatch/CMakeLists.txt)"
#endif

MOBILENEXT_DEFINE_INT8_KERNEL_TABLE(neon64_dotprod, mobilenext::kernels::simd::Neon64Int8Ops<true>)
