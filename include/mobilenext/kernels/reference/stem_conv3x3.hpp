#pragma once
#include <cstddef>

#include "../kernel_args.hpp"

namespace mobilenext::kernels::reference {

// The stem: dense 3x3 convolution, stride 2, padding 1, folded-BN bias, ReLU6, of one image
// [height][width][in_channels], output rows [out_row_begin, out_row_end) of
// [oh][ow][out_channels] (`output` points at row out_row_begin).
inline void stem_conv3x3_s2_relu6(const float* image, int height, int width, int out_row_begin, int out_row_end,
                                  const StemWeights& w, float* output) {
    const int ow = conv3x3_output_size(width, 2);
    const int Ci = w.in_channels, Co = w.out_channels;
    for (int oy = out_row_begin; oy < out_row_end; ++oy)
        for (int ox = 0; ox < ow; ++ox)
            for (int co = 0; co < Co; ++co) {
                float acc = w.bias[co];
                for (int ky = 0; ky < 3; ++ky)
                    for (int kx = 0; kx < 3; ++kx) {
                        const int y = oy * 2 + ky - 1, x = ox * 2 + kx - 1;
                        if (y < 0 || y >= height || x < 0 || x >= width) continue;
                        const float* in = image + (std::size_t(y) * width + x) * Ci;
                        for (int ci = 0; ci < Ci; ++ci)
                            acc += in[ci] * w.weights[((ky * 3 + kx) * Ci + ci) * w.out_stride + co];
                    }
                output[(std::size_t(oy - out_row_begin) * ow + ox) * Co + co] = apply_activation(acc, Activation::relu6);
            }
}

}  // namespace mobilenext::kernels::reference
