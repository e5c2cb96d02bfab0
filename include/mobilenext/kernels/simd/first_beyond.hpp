#pragma once
#include <cmath>
#include <cstddef>
#include <limits>

#include "vector_ops.hpp"

namespace mobilenext::kernels::simd {

// The contract of reference::first_beyond. The scan keeps one mask of |v| <= limit (false
// for NaN and values beyond the limit) over four vectors a step, one branch per step, so that
// it runs at the loads' rate; the position is searched for only when something is wrong. Every
// pass of `network/<set>/...` scans its input first, before the stem
// (`stem_conv3x3_s2_relu6/<set>/224x224x3->32`) reads it.
template <class Arch>
std::size_t first_beyond(const float* values, std::size_t count, float limit) {
    using V = vfloat<Arch>;
    constexpr std::size_t L = V::size;
    const V largest(limit);
    std::size_t i = 0;
    for (; i + 4 * L <= count; i += 4 * L) {
        const auto ok = (xsimd::abs(V::load_unaligned(values + i)) <= largest) &
                        (xsimd::abs(V::load_unaligned(values + i + L)) <= largest) &
                        (xsimd::abs(V::load_unaligned(values + i + 2 * L)) <= largest) &
                        (xsimd::abs(V::load_unaligned(values + i + 3 * L)) <= largest);
        if (!xsimd::all(ok)) break;
    }
    for (; i < count; ++i)
        if (!(std::fabs(values[i]) <= limit)) return i;
    return count;
}

}  // namespace mobilenext::kernels::simd
