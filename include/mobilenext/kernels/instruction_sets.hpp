#pragma once
// The instruction sets mobilenext::dispatch compiles a kernel table for, best first: the one
// list the dispatcher declares, checks and offers them from (tests and benchmarks then run
// every set Model::available_kernels() names). Each entry: an identifier, the xsimd
// architecture. src/dispatch/CMakeLists.txt gives each its translation unit
// (kernels_<identifier>.cpp) and compiler flags; the dispatcher says which CPUs run it.
#define MOBILENEXT_X86_64_INSTRUCTION_SETS(X) \
    X(avx512bw, xsimd::avx512bw)              \
    X(fma3_avx2, xsimd::fma3<xsimd::avx2>)    \
    X(sse2, xsimd::sse2)

#define MOBILENEXT_AARCH64_INSTRUCTION_SETS(X) X(neon64, xsimd::neon64)
