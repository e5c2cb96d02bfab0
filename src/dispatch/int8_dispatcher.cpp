// The int8 kernel registry of mobilenext::dispatch: compiled with no -m flag, it offers the int8
// kernel tables of int8_kernels_<id>.cpp that this CPU runs, best first, then the reference.
// __builtin_cpu_supports reports a feature only when the operating system also saves the
// registers it needs (GCC's and Clang's runtimes check XCR0 for the AVX and AVX-512 state).
#include <vector>

#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif

#include <mobilenext/kernels/int8/int8_kernel_registry.hpp>
#include <mobilenext/kernels/int8/reference_int8_kernels.hpp>

#include "int8_kernel_table_entry.hpp"

namespace mobilenext::kernels {

namespace {

#if defined(__aarch64__) && defined(__linux__)
constexpr unsigned long kHwcapAsimdDotProduct = 1ul << 20;  // HWCAP_ASIMDDP of <asm/hwcap.h>
#endif

#if MOBILENEXT_DISPATCH_X86_64
// Which CPUs run each entry of MOBILENEXT_X86_64_INT8_INSTRUCTION_SETS: an entry without a
// function here does not compile.
bool int8_runs_here_avx512bw() {
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx2");
}
bool int8_runs_here_avx512vnni() { return int8_runs_here_avx512bw() && __builtin_cpu_supports("avx512vnni"); }
bool int8_runs_here_avx2() { return __builtin_cpu_supports("avx2"); }
bool int8_runs_here_sse2() { return true; }  // part of x86-64 itself
#define MOBILENEXT_INT8_INSTRUCTION_SETS MOBILENEXT_X86_64_INT8_INSTRUCTION_SETS
#elif MOBILENEXT_DISPATCH_NEON64
// Linux reports the dot product instructions (sdot, udot) in the auxiliary vector.
bool int8_runs_here_neon64_dotprod() {
#if defined(__linux__)
    return (getauxval(AT_HWCAP) & kHwcapAsimdDotProduct) != 0;
#else
    return false;
#endif
}
bool int8_runs_here_neon64() { return true; }  // part of AArch64 itself
#define MOBILENEXT_INT8_INSTRUCTION_SETS MOBILENEXT_AARCH64_INT8_INSTRUCTION_SETS
#else
#error "the dispatch library is built for x86-64 or AArch64 only (see src/dispatch/CMakeLists.txt)"
#endif

std::vector<const Int8KernelTable*> int8_tables_this_cpu_runs() {
    std::vector<const Int8KernelTable*> tables;
#define MOBILENEXT_ADD_IF_IT_RUNS(id, ops) \
    if (int8_runs_here_##id()) tables.push_back(&dispatch::int8_kernel_table_##id());
    MOBILENEXT_INT8_INSTRUCTION_SETS(MOBILENEXT_ADD_IF_IT_RUNS)
#undef MOBILENEXT_ADD_IF_IT_RUNS
    tables.push_back(&kReferenceInt8Kernels);
    return tables;
}

}  // namespace

const std::vector<const Int8KernelTable*>& available_int8_kernels() {
    static const std::vector<const Int8KernelTable*> tables = int8_tables_this_cpu_runs();
    return tables;
}

}  // namespace mobilenext::kernels
