#pragma once
#include <cstddef>

#include "../kernel_args.hpp"

namespace mobilenext::kernels::reference {

// Pointwise (1x1) convolution: a GEMM of [pixels x in_channels] by [in_channels x
// out_channels], plus folded-BN bias, optional ReLU6.
inline void pointwise_conv(const float* input, std::size_t pixels, const PointwiseWeights& w, Activation act,
                           float* output) {
    for (std::size_t p = 0; p < pixels; ++p) {
        const float* in = input + p * w.in_channels;
        float* out = output + p * w.out_channels;
        for (int co = 0; co < w.out_channels; ++co) {
            const float* column = w.at(0, co);
            const std::size_t step = std::size_t(w.panel_width(co));
            float acc = w.bias[co];
            for (int ci = 0; ci < w.in_channels; ++ci) acc += in[ci] * column[ci * step];
            out[co] = apply_activation(acc, act);
        }
    }
}

}  // namespace mobilenext::kernels::reference
