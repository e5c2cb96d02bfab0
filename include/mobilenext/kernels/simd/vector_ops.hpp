#pragma once
// Small helpers shared by the vector kernels.
#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <type_traits>

#include "../compiler_hints.hpp"
#include "../kernel_args.hpp"

namespace mobilenext::kernels::simd {

template <class Arch>
using vfloat = xsimd::batch<float, Arch>;

// Vector registers of the instruction set: 32 on AVX-512 and AArch64 NEON, 16 on AVX2, AVX
// and SSE. Register tiles are sized by it; a tile that needs more spills to the stack.
template <class Arch>
constexpr int vector_registers() {
    return vfloat<Arch>::size == 16 || std::is_base_of<xsimd::neon, Arch>::value ? 32 : 16;
}

// Whether the instruction set has FMA (x86's FMA3 sets; AVX-512 and NEON have their own
// 32-register paths). Without it fused_multiply_add is x * y + z, which a compiler allowed FMA
// for the translation unit may contract in one kernel path and not in another, so a path that
// must round like the others is kept to instruction sets where it is one instruction.
template <class Arch>
constexpr bool has_fma3() {
    return std::is_base_of<xsimd::fma3<xsimd::sse4_2>, Arch>::value || std::is_base_of<xsimd::fma3<xsimd::avx>, Arch>::value ||
           std::is_base_of<xsimd::fma3<xsimd::avx2>, Arch>::value;
}

// Accumulators a register tile may hold: three quarters of the registers, the rest for the
// operands loaded or broadcast each step.
template <class Arch>
constexpr int accumulator_budget() {
    return vector_registers<Arch>() * 3 / 4;
}

// Keeps a loaded vector in a register: otherwise, short of registers, the compiler folds the
// load into every FMA that uses the value, one load per use instead of one. (The value passes
// through an empty asm statement, which the compiler cannot see into.)
template <class Arch>
MOBILENEXT_ALWAYS_INLINE inline void keep_in_register(vfloat<Arch>& v) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    typename vfloat<Arch>::register_type r = v;
    __asm__("" : "+x"(r));
    v = r;
#else
    (void)v;
#endif
}

// x * y + z rounded once. xsimd 8.1 has no AVX-512 fma: there xsimd::fma is x * y + z, which
// the compiler fuses or not depending on optimisation and context, so the same sum could round
// differently from one call site (or build) to another. The kernels call this instead.
// Without an FMA instruction (SSE2) it is x * y + z rounded twice. Compiled where the compiler
// may use FMA (the kernel tests build every set into one program), that could be contracted
// in one kernel path and not in another (two instantiations of a depthwise sweep differing
// only in their epilogue rounded differently), so the product goes through keep_in_register
// and is always rounded before the add.
template <class Arch>
inline vfloat<Arch> fused_multiply_add(vfloat<Arch> x, vfloat<Arch> y, vfloat<Arch> z) {
#if defined(__AVX512F__)
    if constexpr (std::is_base_of<xsimd::avx512f, Arch>::value) return _mm512_fmadd_ps(x, y, z);
#endif
#if defined(__FMA__) && defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    if constexpr (!has_fma3<Arch>() && !std::is_base_of<xsimd::avx512f, Arch>::value) {
        vfloat<Arch> product = x * y;
        keep_in_register<Arch>(product);
        return product + z;
    }
#endif
    return xsimd::fma(x, y, z);
}

template <class Arch>
inline vfloat<Arch> activate(vfloat<Arch> v, Activation act) {
    if (act == Activation::relu6) v = xsimd::min(xsimd::max(v, vfloat<Arch>(0.0f)), vfloat<Arch>(6.0f));
    return v;
}

// Stores the first `count` lanes (0 < count <= lanes): output rows are not padded, so the
// last vector of a row must not write into the next row.
// AVX-512 and AVX2 store the lanes under a mask: going through a stack copy cost a
// store-forwarding stall per pixel wherever a layer's channels are not a multiple of the
// vector (the narrow layers of widths 0.35-0.75: 8, 24, 40, 56 ... channels).
template <class Arch>
inline void store_first(vfloat<Arch> v, float* dst, int count) {
    constexpr int lanes = int(vfloat<Arch>::size);
    if (count >= lanes) {
        v.store_unaligned(dst);
        return;
    }
#if defined(__AVX512F__)
    if constexpr (std::is_base_of<xsimd::avx512f, Arch>::value) {
        _mm512_mask_storeu_ps(dst, __mmask16((1u << count) - 1), v);
        return;
    }
#endif
#if defined(__AVX2__)
    if constexpr (std::is_base_of<xsimd::avx2, Arch>::value && lanes == 8) {
        const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        _mm256_maskstore_ps(dst, _mm256_cmpgt_epi32(_mm256_set1_epi32(count), lane), v);
        return;
    }
#endif
    alignas(64) float lane_values[lanes];
    v.store_aligned(lane_values);
    std::copy(lane_values, lane_values + count, dst);
}

}  // namespace mobilenext::kernels::simd
