#pragma once
// The instruction sets mobilenext::dispatch compiles an int8 kernel table for, best first. Each
// entry: an identifier and the operations type of simd/ the table is built on.
// src/dispatch/CMakeLists.txt gives each its translation unit (int8_kernels_<identifier>.cpp)
// and compiler flags; src/dispatch/int8_dispatcher.cpp says which CPUs run it.
#define MOBILENEXT_X86_64_INT8_INSTRUCTION_SETS(X)                  \
    X(avx512vnni, mobilenext::kernels::simd::Avx512Int8Ops<true>)   \
    X(avx512bw, mobilenext::kernels::simd::Avx512Int8Ops<false>)    \
    X(avx2, mobilenext::kernels::simd::Avx2Int8Ops)                 \
    X(sse2, mobilenext::kernels::simd::Sse2Int8Ops)

#define MOBILENEXT_AARCH64_INT8_INSTRUCTION_SETS(X)                        \
    X(neon64_dotprod, mobilenext::kernels::simd::Neon64Int8Ops<true>)      \
    X(neon64, mobilenext::kernels::simd::Neon64Int8Ops<false>)
