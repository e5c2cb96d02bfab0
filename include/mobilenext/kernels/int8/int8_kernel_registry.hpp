#pragma once
// The int8 kernel tables this program runs on this CPU, best first, the reference last.
// Defined by mobilenext::dispatch when it is linked (every set of int8_instruction_sets.hpp
// this CPU and operating system run: src/dispatch/int8_dispatcher.cpp), and here in
// header-only use (the set the compiler's flags enable, if any, and the reference).
#include <vector>

#include "int8_kernel_table.hpp"

#if defined(__GNUC__)
#define MOBILENEXT_INT8_API __attribute__((visibility("default")))
#else
#define MOBILENEXT_INT8_API
#endif

#if defined(MOBILENEXT_DISPATCH) || defined(MOBILENEXT_BUILDING_DISPATCH)
namespace mobilenext::kernels {
MOBILENEXT_INT8_API const std::vector<const Int8KernelTable*>& available_int8_kernels();
}  // namespace mobilenext::kernels
#else
#include "reference_int8_kernels.hpp"
#include "simd_int8_kernels.hpp"

namespace mobilenext::kernels {
inline const std::vector<const Int8KernelTable*>& available_int8_kernels() {
    static const std::vector<const Int8KernelTable*> tables{
#if defined(MOBILENEXT_INT8_NATIVE_OPS)
        &kSimdInt8Kernels<simd::NativeInt8Ops>,
#endif
        &kReferenceInt8Kernels};
    return tables;
}
}  // namespace mobilenext::kernels
#endif
