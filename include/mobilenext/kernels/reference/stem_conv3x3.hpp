#pragma once
#include <cstddef>

#include "../kernel_args.hpp"

namespace mobilenext::kernels::reference {

// The stem: dense 3x3 convolution, stride 2, padding 1, folded-BN bias, ReLU6.
// input: [batch][height][width][in_channels]; output: [batch][oh][ow][out_channels].
inline void stem_conv3x3_s2_relu6(const float* input, int batch, int height, int width, const StemWeights& w,
                                  float* output) {
    const int oh = conv3x3_output_size(height, 2), ow = conv3x3_output_size(width, 2);
    const int Ci = w.in_channels, Co = w.out_channels;
    for (int n = 0; n < batch; ++n)
        for (int oy = 0; oy < oh; ++oy)
            for (int ox = 0; ox < ow; ++ox)
                for (int co = 0; co < Co; ++co) {
                    float acc = w.bias[co];
                    for (int ky = 0; ky < 3; ++ky)
                        for (int kx = 0; kx < 3; ++kx) {
                            const int y = oy * 2 + ky - 1, x = ox * 2 + kx - 1;
                            if (y < 0 || y >= height || x < 0 || x >= width) continue;
                            const float* in = input + ((std::size_t(n) * height + y) * width + x) * Ci;
                            for (int ci = 0; ci < Ci; ++ci)
                                acc += in[ci] * w.weights[((ky * 3 + kx) * Ci + ci) * w.out_stride + co];
                        }
                    output[((std::size_t(n) * oh + oy) * ow + ox) * Co + co] = apply_activation(acc, Activation::relu6);
                }
}

}  // namespace mobilenext::kernels::reference
