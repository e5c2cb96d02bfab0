#pragma once
// What each instruction set's int8 translation unit defines: one function returning its int8
// kernel table. Every kernel function is a template of the set's own operations type
// (simd/*_int8_ops.hpp), so no function of one translation unit is also emitted by another,
// and the linker never picks a copy compiled for a wider instruction set.
#include <mobilenext/kernels/int8/int8_instruction_sets.hpp>
#include <mobilenext/kernels/int8/int8_kernel_table.hpp>

namespace mobilenext::dispatch {

#define MOBILENEXT_DECLARE_INT8_KERNEL_TABLE(id, ops) const kernels::Int8KernelTable& int8_kernel_table_##id();
#if MOBILENEXT_DISPATCH_X86_64
MOBILENEXT_X86_64_INT8_INSTRUCTION_SETS(MOBILENEXT_DECLARE_INT8_KERNEL_TABLE)
#elif MOBILENEXT_DISPATCH_NEON64
MOBILENEXT_AARCH64_INT8_INSTRUCTION_SETS(MOBILENEXT_DECLARE_INT8_KERNEL_TABLE)
#endif
#undef MOBILENEXT_DECLARE_INT8_KERNEL_TABLE

}  // namespace mobilenext::dispatch

// The body of int8_kernels_<id>.cpp.
#define MOBILENEXT_DEFINE_INT8_KERNEL_TABLE(id, ops)                                              \
    const mobilenext::kernels::Int8KernelTable& mobilenext::dispatch::int8_kernel_table_##id() { \
        return mobilenext::kernels::kSimdInt8Kernels<ops>;                                        \
    }
