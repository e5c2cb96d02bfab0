#pragma once
#include <cstddef>

#include "../kernel_args.hpp"
#include "partial_shortcut.hpp"

namespace mobilenext::kernels::reference {

// Depthwise 3x3 convolution of one NHWC image, padding 1, stride 1 or 2, folded-BN bias,
// optional ReLU6, on the output rows r.out_row_begin .. r.out_row_end (see DepthwiseRows).
inline void dwconv3x3(const float* input, const DepthwiseRows& r, const DepthwiseWeights& w, Activation act,
                      float* output) {
    const int C = w.channels;
    const int ow = conv3x3_output_size(r.width, r.stride);
    for (int oy = r.out_row_begin; oy < r.out_row_end; ++oy)
        for (int ox = 0; ox < ow; ++ox)
            for (int c = 0; c < C; ++c) {
                float acc = w.bias[c];
                for (int ky = 0; ky < 3; ++ky)
                    for (int kx = 0; kx < 3; ++kx) {
                        const int y = oy * r.stride + ky - 1, x = ox * r.stride + kx - 1;
                        if (y < 0 || y >= r.height || x < 0 || x >= r.width) continue;
                        acc += input[(r.input_row(y) * r.width + x) * C + c] *
                               w.weights[(ky * 3 + kx) * w.channel_stride + c];
                    }
                output[(std::size_t(oy - r.out_row_begin) * ow + ox) * C + c] = apply_activation(acc, act);
            }
}

// The same at stride 1 with no activation, then the partial identity shortcut added to the
// rows written (the output depthwise of a block with a shortcut).
inline void dwconv3x3_add_shortcut(const float* input, const DepthwiseRows& r, const DepthwiseWeights& w,
                                   const PartialShortcut& shortcut, float* output) {
    dwconv3x3(input, r, w, Activation::none, output);
    add_partial_shortcut(shortcut.input, std::size_t(r.out_row_end - r.out_row_begin) * std::size_t(r.width), w.channels,
                         shortcut.channels, output);
}

}  // namespace mobilenext::kernels::reference
