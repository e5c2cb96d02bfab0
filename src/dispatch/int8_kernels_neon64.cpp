// The int8 kernel table of neon64, compiled with no -m flag (the AArch64 baseline: widening multiplies) (CMakeLists.txt).
#include <mobilenext/kernels/int8/simd_int8_kernels.hpp>

#include "int8_kernel_table_entry.hpp"

#if !(defined(__aarch64__))
#error "int8_kernels_neon64.cpp is for AArch64 (src/dispatch/CMakeLists.txt)"
#endif

MOBILENEXT_DEFINE_INT8_KERNEL_TABLE(neon64, mobilenext::kernels::simd::Neon64Int8Ops<false>)
