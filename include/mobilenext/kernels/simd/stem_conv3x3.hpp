#pragma once
#include <algorithm>
#include <cstddef>

#include "../kernel_args.hpp"
#include "vector_ops.hpp"

namespace mobilenext::kernels::simd {

// The stem (dense 3x3, stride 2, padding 1, ReLU6): the same contract as
// reference::stem_conv3x3_s2_relu6. Vectorised over output channels; each input value of
// the window is broadcast against a row of packed weights.
template <class Arch = xsimd::default_arch>
void stem_conv3x3_s2_relu6(const float* image, int height, int width, int out_row_begin, int out_row_end,
                           const StemWeights& w, float* output) {
    using V = vfloat<Arch>;
    constexpr int L = int(V::size);
    const int Ci = w.in_channels, Co = w.out_channels;
    const int ow = conv3x3_output_size(width, 2);
    for (int oy = out_row_begin; oy < out_row_end; ++oy) {
        const int ky_begin = oy == 0 ? 1 : 0, ky_end = std::min(3, height - oy * 2 + 1);
        for (int ox = 0; ox < ow; ++ox) {
            const int kx_begin = ox == 0 ? 1 : 0, kx_end = std::min(3, width - ox * 2 + 1);
            float* out = output + (std::size_t(oy - out_row_begin) * ow + ox) * Co;
            for (int co = 0; co < Co; co += 2 * L) {
                const bool two = co + L < w.out_stride;
                V acc0 = V::load_unaligned(w.bias + co);
                V acc1 = two ? V::load_unaligned(w.bias + co + L) : V(0.0f);
                for (int ky = ky_begin; ky < ky_end; ++ky)
                    for (int kx = kx_begin; kx < kx_end; ++kx) {
                        const int y = oy * 2 + ky - 1, x = ox * 2 + kx - 1;
                        const float* in = image + (std::size_t(y) * width + x) * Ci;
                        const float* wrow = w.weights + std::size_t((ky * 3 + kx) * Ci) * w.out_stride + co;
                        for (int ci = 0; ci < Ci; ++ci, wrow += w.out_stride) {
                            const V a(in[ci]);
                            acc0 = xsimd::fma(a, V::load_unaligned(wrow), acc0);
                            if (two) acc1 = xsimd::fma(a, V::load_unaligned(wrow + L), acc1);
                        }
                    }
                store_first<Arch>(activate<Arch>(acc0, Activation::relu6), out + co, Co - co);
                if (two && co + L < Co)
                    store_first<Arch>(activate<Arch>(acc1, Activation::relu6), out + co + L, Co - co - L);
            }
        }
    }
}

}  // namespace mobilenext::kernels::simd
