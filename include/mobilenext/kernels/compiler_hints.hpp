#pragma once
// What the vector kernels ask of the compiler, float and int8 alike.

// Register tiles are arrays of vectors indexed by loop counters: only fully unrolled loops
// keep them in registers, and GCC does not unroll them at -O2 (the usual release level of
// user builds) unless asked. Clang and GCC both read this pragma.
#if defined(__GNUC__) || defined(__clang__)
#define MOBILENEXT_UNROLL _Pragma("GCC unroll 32")
#else
#define MOBILENEXT_UNROLL
#endif

// For helpers (lambdas included) that hold a register tile by reference: called from an
// unrolled loop, GCC may keep them out of line, and the tile then lives in memory.
#if defined(__GNUC__) || defined(__clang__)
#define MOBILENEXT_ALWAYS_INLINE __attribute__((always_inline))
#else
#define MOBILENEXT_ALWAYS_INLINE
#endif

// GCC 12 reports the undefined pass-through operand inside its own AVX-512 intrinsics
// (_mm512_cvtepi32_ps, _mm512_min_ps, ...) as uninitialized once they are inlined into a
// larger kernel; the int8 kernels that requantize in registers are bracketed by these.
#if defined(__GNUC__) && !defined(__clang__)
#define MOBILENEXT_INTRINSICS_BEGIN _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wuninitialized\"")
#define MOBILENEXT_INTRINSICS_END _Pragma("GCC diagnostic pop")
#else
#define MOBILENEXT_INTRINSICS_BEGIN
#define MOBILENEXT_INTRINSICS_END
#endif
