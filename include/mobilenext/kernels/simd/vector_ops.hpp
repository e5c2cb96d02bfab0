#pragma once
// Small helpers shared by the vector kernels.
#include <xsimd/xsimd.hpp>

#include <algorithm>

#include "../kernel_args.hpp"

// Register tiles are arrays of vectors indexed by loop counters: only fully unrolled loops
// keep them in registers, and GCC does not unroll them at -O2 (the usual release level of
// user builds) unless asked. Clang and GCC both read this pragma.
#if defined(__GNUC__) || defined(__clang__)
#define MOBILENEXT_UNROLL _Pragma("GCC unroll 32")
#else
#define MOBILENEXT_UNROLL
#endif

namespace mobilenext::kernels::simd {

template <class Arch>
using vfloat = xsimd::batch<float, Arch>;

template <class Arch>
inline vfloat<Arch> activate(vfloat<Arch> v, Activation act) {
    if (act == Activation::relu6) v = xsimd::min(xsimd::max(v, vfloat<Arch>(0.0f)), vfloat<Arch>(6.0f));
    return v;
}

// Stores the first `count` lanes (0 < count <= lanes): output rows are not padded, so the
// last vector of a row must not write into the next row.
template <class Arch>
inline void store_first(vfloat<Arch> v, float* dst, int count) {
    constexpr int lanes = int(vfloat<Arch>::size);
    if (count >= lanes) {
        v.store_unaligned(dst);
        return;
    }
    alignas(64) float lane_values[lanes];
    v.store_aligned(lane_values);
    std::copy(lane_values, lane_values + count, dst);
}

}  // namespace mobilenext::kernels::simd
