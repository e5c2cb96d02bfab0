#pragma once
#include <cstddef>
#include <cstdint>

#include "../int8_args.hpp"
#include "requantize.hpp"

namespace mobilenext::kernels::reference {

// Pointwise (1x1) convolution, uint8 activations by int8 weights: per output value the int32
// sum bias + sum_k q[k] * w[k], then the requantization of int8_args.hpp.
inline void pointwise_conv_u8s8(const std::uint8_t* input, std::size_t pixels, const PointwiseWeightsU8S8& w,
                                std::uint8_t* output) {
    for (std::size_t p = 0; p < pixels; ++p) {
        const std::uint8_t* in = input + p * std::size_t(w.in_channels);
        std::uint8_t* out = output + p * std::size_t(w.out_channels);
        for (int co = 0; co < w.out_channels; ++co) {
            const int slot = w.slot(co);
            std::int32_t acc = w.bias[slot];
            for (int ci = 0; ci < w.in_channels; ++ci) acc += std::int32_t(in[ci]) * w.at(ci, co);
            out[co] = requantize(acc, w.requant.multipliers[slot], w.requant);
        }
    }
}

}  // namespace mobilenext::kernels::reference
