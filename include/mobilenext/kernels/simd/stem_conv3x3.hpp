#pragma once
#include <algorithm>
#include <cstddef>

#include "../kernel_args.hpp"
#include "pointwise_conv.hpp"

namespace mobilenext::kernels::simd {

namespace detail {

// Floats of gathered windows per GEMM call: 16 KB, which stay in L1 while every column tile
// passes over them; at least 7 pixels at kMaxInputChannels.
inline constexpr int kStemPatchFloats = 4096;
static_assert(kStemPatchFloats >= 9 * kMaxInputChannels, "room for one window of the widest input");

// The 3x3 windows of output pixels (oy, ox0 .. ox0 + n - 1) at stride 2, each as one row of
// 9 * Ci values in the order of the packed weights' rows (ky, kx, ci); zeros where a window
// passes the image's border. `channels` is Ci when fixed at compile time (else 0): the copies
// of the RGB and one-channel windows are then a few vector moves (as loops with run-time
// bounds they took a third as long as the GEMM).
template <int channels>
inline void gather_stem_windows(const float* image, int height, int width, int Ci, int oy, int ox0, int n,
                                float* patches) {
    if constexpr (channels != 0) Ci = channels;
    const int K = 9 * Ci, row = 3 * Ci;
    for (int p = 0; p < n; ++p) {
        float* patch = patches + std::size_t(p) * K;
        const int x0 = (ox0 + p) * 2 - 1;
        const int kx_begin = x0 < 0 ? 1 : 0, kx_end = std::min(3, width - x0);
        for (int ky = 0; ky < 3; ++ky, patch += row) {
            const int y = oy * 2 + ky - 1;
            if (y < 0 || y >= height) {
                std::fill_n(patch, row, 0.0f);
                continue;
            }
            // The window's columns inside the image, contiguous in NHWC.
            const float* in = image + (std::size_t(y) * width + std::size_t(x0 + kx_begin)) * Ci;
            if (kx_begin == 0 && kx_end == 3) {
                std::copy_n(in, row, patch);
            } else {
                std::fill_n(patch, row, 0.0f);
                std::copy_n(in, (kx_end - kx_begin) * Ci, patch + kx_begin * Ci);
            }
        }
    }
}

}  // namespace detail

// The stem (dense 3x3, stride 2, padding 1, ReLU6): the same contract as
// reference::stem_conv3x3_s2_relu6, for in_channels <= kMaxInputChannels.
//
// A GEMM: each output pixel's window is gathered into a row of 9 * Ci values, and the rows of
// a run of pixels go through the register tiles of the 1x1 convolution, the packed stem being
// a pointwise weight matrix of 9 * Ci inputs in one panel. Every sum runs from the bias
// through the taps in the weights' row order, as in the reference; the taps beyond the border
// add products with zero, which change no sum. On a Zen 1 core this is about 20% faster than
// the direct kernel it replaced (pixels in blocks sharing each tap's weight vectors), whose
// 12 accumulators and 4 weight vectors did not fit the 16 AVX2 registers beside the broadcast
// input, and it needs no separate path for the border pixels.
template <class Arch = xsimd::default_arch>
void stem_conv3x3_s2_relu6(const float* image, int height, int width, int out_row_begin, int out_row_end,
                           const StemWeights& w, float* output) {
    const int Ci = w.in_channels, Co = w.out_channels, K = 9 * Ci;
    const int ow = conv3x3_output_size(width, 2);
    const PointwiseWeights gemm{w.weights, w.bias, K, Co, w.out_stride, w.out_stride};
    alignas(64) float patches[detail::kStemPatchFloats];
    const int run = detail::kStemPatchFloats / K;
    for (int oy = out_row_begin; oy < out_row_end; ++oy) {
        float* out_row = output + std::size_t(oy - out_row_begin) * ow * Co;
        for (int ox0 = 0; ox0 < ow; ox0 += run) {
            const int n = std::min(run, ow - ox0);
            if (Ci == 3)
                detail::gather_stem_windows<3>(image, height, width, Ci, oy, ox0, n, patches);
            else if (Ci == 1)
                detail::gather_stem_windows<1>(image, height, width, Ci, oy, ox0, n, patches);
            else
                detail::gather_stem_windows<0>(image, height, width, Ci, oy, ox0, n, patches);
            pointwise_conv<Arch>(patches, std::size_t(n), gemm, Activation::relu6, out_row + std::size_t(ox0) * Co);
        }
    }
}

}  // namespace mobilenext::kernels::simd
