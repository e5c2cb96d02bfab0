#pragma once
#include <cstddef>
#include <cstdint>

#include "../int8_args.hpp"
#include "rounded_product.hpp"

namespace mobilenext::kernels::reference {

// sum_k x[k] * w[k] in the order the vector kernels add it (simd/fully_connected_s8.hpp): term
// k into partial sum k % 16, the 16 partial sums added pairwise (s[i] + s[i + 8], then + 4,
// + 2, + 1), then the in % 16 last terms one after the other; each product rounded before it is
// added. With no fused multiply-add, every instruction set gets the same bits.
inline float dot_s8(const float* x, const std::int8_t* w, std::size_t in) {
    float s[16] = {};
    std::size_t k = 0;
    for (; k + 16 <= in; k += 16)
        for (std::size_t i = 0; i < 16; ++i) s[i] += rounded_product(x[k + i], float(w[k + i]));
    for (std::size_t width = 8; width >= 1; width /= 2)
        for (std::size_t i = 0; i < width; ++i) s[i] += s[i + width];
    float sum = s[0];
    for (; k < in; ++k) sum += rounded_product(x[k], float(w[k]));
    return sum;
}

// x: [batch][in_features] -> y: [batch][out_features] (int8_args.hpp, LinearWeightsS8).
inline void fully_connected_s8(const float* x, int batch, const LinearWeightsS8& w, float* y) {
    const std::size_t in = std::size_t(w.in_features), out = std::size_t(w.out_features);
    for (std::size_t n = 0; n < std::size_t(batch); ++n)
        for (std::size_t c = 0; c < out; ++c)
            y[n * out + c] = w.bias[c] + rounded_product(w.scales[c], dot_s8(x + n * in, w.weights + c * in, in));
}

}  // namespace mobilenext::kernels::reference
