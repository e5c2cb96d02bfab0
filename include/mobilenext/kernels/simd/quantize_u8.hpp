#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "vector_ops.hpp"

namespace mobilenext::kernels::simd {

// reference::quantize_u8, bit for bit: the same division, clamp and rounding by 1.5 * 2^23,
// lane by lane; the last partial vector goes through a buffer. It quantizes the stem's output
// for the int8 blocks (112x112x32 values at 224x224), where the scalar loop compiled for the
// baseline took 4% of `network_int8/<set>/width:1.00/224x224/batch:1/threads:1`.
template <class Arch>
void quantize_u8(const float* x, std::size_t count, float scale, int zero_point, std::uint8_t* out) {
    using V = vfloat<Arch>;
    constexpr std::size_t L = V::size;
    const V divisor = V(scale), lo = V(float(-zero_point)), hi = V(float(255 - zero_point)), round = V(12582912.0f),
            offset = V(float(zero_point));
    const auto store = [&](const float* in, std::uint8_t* to, std::size_t n) {
        alignas(64) float rounded[L];
        const V scaled = xsimd::min(xsimd::max(V::load_unaligned(in) / divisor, lo), hi);
        (((scaled + round) - round) + offset).store_aligned(rounded);
        for (std::size_t j = 0; j < n; ++j) to[j] = static_cast<std::uint8_t>(int(rounded[j]));
    };
    std::size_t i = 0;
    for (; i + L <= count; i += L) store(x + i, out + i, L);
    if (i < count) {
        alignas(64) float tail[L] = {};
        std::memcpy(tail, x + i, (count - i) * sizeof(float));
        store(tail, out + i, count - i);
    }
}

}  // namespace mobilenext::kernels::simd
