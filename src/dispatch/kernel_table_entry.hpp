#pragma once
// What each instruction set's translation unit defines: one function returning its kernel
// table. Nothing else of the library is compiled with wider flags, so no function the
// translation units share can be kept by the linker in a copy for a wider instruction set
// (tests/check_dispatch_isolation.sh checks the objects' symbols).
#include <mobilenext/kernels/instruction_sets.hpp>
#include <mobilenext/kernels/kernel_table.hpp>

namespace mobilenext::dispatch {

#define MOBILENEXT_DECLARE_KERNEL_TABLE(id, arch) const kernels::KernelTable& kernel_table_##id();
#if MOBILENEXT_DISPATCH_X86_64
MOBILENEXT_X86_64_INSTRUCTION_SETS(MOBILENEXT_DECLARE_KERNEL_TABLE)
#elif MOBILENEXT_DISPATCH_NEON64
MOBILENEXT_AARCH64_INSTRUCTION_SETS(MOBILENEXT_DECLARE_KERNEL_TABLE)
#endif
#undef MOBILENEXT_DECLARE_KERNEL_TABLE

}  // namespace mobilenext::dispatch

// The body of kernels_<id>.cpp.
#define MOBILENEXT_DEFINE_KERNEL_TABLE(id, arch)                                        \
    const mobilenext::kernels::KernelTable& mobilenext::dispatch::kernel_table_##id() { \
        return mobilenext::kernels::kSimdKernels<arch>;                                 \
    }
