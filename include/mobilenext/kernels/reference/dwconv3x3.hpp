#pragma once
#include <cstddef>

#include "../kernel_args.hpp"

namespace mobilenext::kernels::reference {

// Depthwise 3x3 convolution, padding 1, stride 1 or 2, folded-BN bias, optional ReLU6.
// input: NHWC [batch][height][width][w.channels]; output: [batch][oh][ow][w.channels].
inline void dwconv3x3(const float* input, int batch, int height, int width, const DepthwiseWeights& w,
                      int stride, Activation act, float* output) {
    const int C = w.channels;
    const int oh = conv3x3_output_size(height, stride), ow = conv3x3_output_size(width, stride);
    for (int n = 0; n < batch; ++n)
        for (int oy = 0; oy < oh; ++oy)
            for (int ox = 0; ox < ow; ++ox)
                for (int c = 0; c < C; ++c) {
                    float acc = w.bias[c];
                    for (int ky = 0; ky < 3; ++ky)
                        for (int kx = 0; kx < 3; ++kx) {
                            const int y = oy * stride + ky - 1, x = ox * stride + kx - 1;
                            if (y < 0 || y >= height || x < 0 || x >= width) continue;
                            acc += input[((std::size_t(n) * height + y) * width + x) * C + c] *
                                   w.weights[(ky * 3 + kx) * w.channel_stride + c];
                        }
                    output[((std::size_t(n) * oh + oy) * ow + ox) * C + c] = apply_activation(acc, act);
                }
}

}  // namespace mobilenext::kernels::reference
