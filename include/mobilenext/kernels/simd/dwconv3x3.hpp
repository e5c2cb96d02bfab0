#pragma once
#include <cstddef>

#include "../kernel_args.hpp"
#include "vector_ops.hpp"

namespace mobilenext::kernels::simd {

// Depthwise 3x3, padding 1, stride 1 or 2: the same contract as reference::dwconv3x3.
// Vectorised over channels (NHWC keeps them contiguous); the border taps are skipped by
// clipping the tap range per output row and column rather than testing each tap.
template <class Arch = xsimd::default_arch>
void dwconv3x3(const float* input, int batch, int height, int width, const DepthwiseWeights& w, int stride,
               Activation act, float* output) {
    using V = vfloat<Arch>;
    constexpr int L = int(V::size);
    const int C = w.channels, cs = w.channel_stride;
    const int vector_end = C / L * L;
    const int oh = conv3x3_output_size(height, stride), ow = conv3x3_output_size(width, stride);
    for (int n = 0; n < batch; ++n) {
        const float* image = input + std::size_t(n) * height * width * C;
        for (int oy = 0; oy < oh; ++oy) {
            const int ky_begin = oy * stride == 0 ? 1 : 0;
            const int ky_end = std::min(3, height - oy * stride + 1);
            for (int ox = 0; ox < ow; ++ox) {
                const int kx_begin = ox * stride == 0 ? 1 : 0;
                const int kx_end = std::min(3, width - ox * stride + 1);
                float* out = output + ((std::size_t(n) * oh + oy) * ow + ox) * C;
                // Top-left input pixel of the window; only taps in [begin, end) are read.
                const long origin = (long(oy) * stride - 1) * width + (long(ox) * stride - 1);
                int c = 0;
                for (; c < vector_end; c += L) {
                    V acc = V::load_unaligned(w.bias + c);
                    for (int ky = ky_begin; ky < ky_end; ++ky)
                        for (int kx = kx_begin; kx < kx_end; ++kx) {
                            const float* in = image + (origin + long(ky) * width + kx) * C + c;
                            acc = xsimd::fma(V::load_unaligned(in), V::load_unaligned(w.weights + (ky * 3 + kx) * cs + c), acc);
                        }
                    activate<Arch>(acc, act).store_unaligned(out + c);
                }
                for (; c < C; ++c) {
                    float acc = w.bias[c];
                    for (int ky = ky_begin; ky < ky_end; ++ky)
                        for (int kx = kx_begin; kx < kx_end; ++kx)
                            acc += image[(origin + long(ky) * width + kx) * C + c] * w.weights[(ky * 3 + kx) * cs + c];
                    out[c] = apply_activation(acc, act);
                }
            }
        }
    }
}

}  // namespace mobilenext::kernels::simd
