#pragma once
#include <cstddef>

#include "../kernel_args.hpp"

namespace mobilenext::kernels::reference {

// Output value (oy, ox, c) of a depthwise 3x3 convolution, padding 1, folded-BN bias, before
// any activation: the taps in the order ky, then kx.
inline float dwconv3x3_sum(const float* input, const DepthwiseRows& r, const DepthwiseWeights& w, int oy, int ox,
                           int c) {
    float acc = w.bias[c];
    for (int ky = 0; ky < 3; ++ky)
        for (int kx = 0; kx < 3; ++kx) {
            const int y = oy * r.stride + ky - 1, x = ox * r.stride + kx - 1;
            if (y < 0 || y >= r.height || x < 0 || x >= r.width) continue;
            acc += input[(r.input_row(y) * r.width + x) * w.channels + c] * w.weights[(ky * 3 + kx) * w.channel_stride + c];
        }
    return acc;
}

// Depthwise 3x3 convolution of one NHWC image, padding 1, stride 1 or 2, folded-BN bias,
// optional ReLU6, on the output rows r.out_row_begin .. r.out_row_end (see DepthwiseRows).
inline void dwconv3x3(const float* input, const DepthwiseRows& r, const DepthwiseWeights& w, Activation act,
                      float* output) {
    const int C = w.channels;
    const int ow = conv3x3_output_size(r.width, r.stride);
    for (int oy = r.out_row_begin; oy < r.out_row_end; ++oy)
        for (int ox = 0; ox < ow; ++ox)
            for (int c = 0; c < C; ++c)
                output[(std::size_t(oy - r.out_row_begin) * ow + ox) * C + c] =
                    apply_activation(dwconv3x3_sum(input, r, w, oy, ox, c), act);
}

// The same at stride 1 with no activation, the partial identity shortcut added to each value
// (the output depthwise of a block with a shortcut). `output` may be shortcut.input (a block
// computed in place): each value's shortcut is read just before that value is stored, and
// nowhere else.
inline void dwconv3x3_add_shortcut(const float* input, const DepthwiseRows& r, const DepthwiseWeights& w,
                                   const PartialShortcut& shortcut, float* output) {
    const int C = w.channels;
    const int ow = conv3x3_output_size(r.width, r.stride);
    for (int oy = r.out_row_begin; oy < r.out_row_end; ++oy)
        for (int ox = 0; ox < ow; ++ox)
            for (int c = 0; c < C; ++c) {
                const std::size_t at = (std::size_t(oy - r.out_row_begin) * ow + ox) * C + c;
                float value = dwconv3x3_sum(input, r, w, oy, ox, c);
                if (c < shortcut.channels) value += shortcut.input[at];
                output[at] = value;
            }
}

}  // namespace mobilenext::kernels::reference
