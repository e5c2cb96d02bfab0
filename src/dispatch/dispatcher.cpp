// The kernel registry of mobilenext::dispatch: compiled with no -m flag (it must run on any CPU
// of the target), it asks the CPU and the operating system what they run, and offers the
// kernel tables of kernels_<id>.cpp that they do, best first, then the reference kernels.
#include <type_traits>
#include <vector>

#include <xsimd/xsimd.hpp>

#include <mobilenext/kernels/reference_kernels.hpp>
#include <mobilenext/model/kernel_registry.hpp>

#include "kernel_table_entry.hpp"

#if MOBILENEXT_DISPATCH_X86_64 && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#endif

namespace mobilenext {

namespace {

using CpuFeatures = std::decay_t<decltype(xsimd::available_architectures())>;

#if MOBILENEXT_DISPATCH_X86_64
// The CPUID feature bits say what the CPU implements; whether the operating system saves the
// wider registers on a context switch is in XCR0 (xsimd 8 does not check it).
bool os_saves_register_state(unsigned mask) {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & bit_OSXSAVE)) return false;
    unsigned xcr0_low = 0, xcr0_high = 0;
    __asm__("xgetbv" : "=a"(xcr0_low), "=d"(xcr0_high) : "c"(0));
    return (xcr0_low & mask) == mask;
}

constexpr unsigned kXmmYmm = 0x06;             // SSE and AVX state
constexpr unsigned kXmmYmmZmm = 0x06 | 0xE0;  // plus the opmask and both halves of the ZMM state

// Which CPUs run each entry of MOBILENEXT_X86_64_INSTRUCTION_SETS: an entry without a
// function here does not compile.
bool runs_here_avx512bw(const CpuFeatures& cpu) {
    return cpu.avx512f && cpu.avx512cd && cpu.avx512dq && cpu.avx512bw && cpu.fma3_avx2 &&
           os_saves_register_state(kXmmYmmZmm);
}
bool runs_here_fma3_avx2(const CpuFeatures& cpu) { return cpu.fma3_avx2 && os_saves_register_state(kXmmYmm); }
bool runs_here_sse2(const CpuFeatures&) { return true; }  // part of x86-64 itself
#define MOBILENEXT_INSTRUCTION_SETS MOBILENEXT_X86_64_INSTRUCTION_SETS
#elif MOBILENEXT_DISPATCH_NEON64
bool runs_here_neon64(const CpuFeatures&) { return true; }  // part of AArch64 itself
#define MOBILENEXT_INSTRUCTION_SETS MOBILENEXT_AARCH64_INSTRUCTION_SETS
#else
#error "the dispatch library is built for x86-64 or AArch64 only (see src/dispatch/CMakeLists.txt)"
#endif

std::vector<const kernels::KernelTable*> tables_this_cpu_runs() {
    const CpuFeatures cpu = xsimd::available_architectures();
    std::vector<const kernels::KernelTable*> tables;
#define MOBILENEXT_ADD_IF_IT_RUNS(id, arch) \
    if (runs_here_##id(cpu)) tables.push_back(&dispatch::kernel_table_##id());
    MOBILENEXT_INSTRUCTION_SETS(MOBILENEXT_ADD_IF_IT_RUNS)
#undef MOBILENEXT_ADD_IF_IT_RUNS
    tables.push_back(&kernels::kReferenceKernels);
    return tables;
}

}  // namespace

const std::vector<const kernels::KernelTable*>& internal::kernel_tables() {
    static const std::vector<const kernels::KernelTable*> tables = tables_this_cpu_runs();
    return tables;
}

}  // namespace mobilenext
