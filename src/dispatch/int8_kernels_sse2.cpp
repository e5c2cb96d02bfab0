// The int8 kernel table of sse2, compiled with no -m flag (the x86-64 baseline) (CMakeLists.txt).
#include <mobilenext/kernels/int8/simd_int8_kernels.hpp>

#include "int8_kernel_table_entry.hpp"

#if !(defined(__SSE2__))
#error "int8_kernels_sse2.cpp must be compiled with no -m flag (the x86-64 baseline) (src/dispatch/CMakeLists.txt)"
#endif

MOBILENEXT_DEFINE_INT8_KERNEL_TABLE(sse2, mobilenext::kernels::simd::Sse2Int8Ops)
