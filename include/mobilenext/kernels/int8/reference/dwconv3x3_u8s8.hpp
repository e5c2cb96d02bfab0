#pragma once
#include <cstddef>
#include <cstdint>

#include "../int8_args.hpp"
#include "requantize.hpp"

namespace mobilenext::kernels::reference {

// The int32 sum of output value (oy, ox, c) of a depthwise 3x3 convolution, padding 1: taps
// outside the image read the input's zero point.
inline std::int32_t dwconv3x3_u8s8_sum(const std::uint8_t* input, const DepthwiseRows& r,
                                       const DepthwiseWeightsU8S8& w, int oy, int ox, int c) {
    std::int32_t acc = w.bias[c];
    for (int ky = 0; ky < 3; ++ky)
        for (int kx = 0; kx < 3; ++kx) {
            const int y = oy * r.stride + ky - 1, x = ox * r.stride + kx - 1;
            const bool inside = y >= 0 && y < r.height && x >= 0 && x < r.width;
            const std::int32_t q =
                inside ? input[(r.input_row(y) * std::size_t(r.width) + std::size_t(x)) * w.channels + c]
                       : w.input_zero_point;
            acc += q * w.weights[(ky * 3 + kx) * w.channel_stride + c];
        }
    return acc;
}

// Depthwise 3x3 convolution of one uint8 NHWC image, padding 1, stride 1 or 2, on the output
// rows r.out_row_begin .. r.out_row_end (see DepthwiseRows), requantized (ReLU6 in lo/hi).
inline void dwconv3x3_u8s8(const std::uint8_t* input, const DepthwiseRows& r, const DepthwiseWeightsU8S8& w,
                           std::uint8_t* output) {
    const int ow = conv3x3_output_size(r.width, r.stride);
    for (int oy = r.out_row_begin; oy < r.out_row_end; ++oy)
        for (int ox = 0; ox < ow; ++ox)
            for (int c = 0; c < w.channels; ++c)
                output[(std::size_t(oy - r.out_row_begin) * ow + ox) * w.channels + c] =
                    requantize(dwconv3x3_u8s8_sum(input, r, w, oy, ox, c), w.requant.multipliers[c], w.requant);
}

}  // namespace mobilenext::kernels::reference
