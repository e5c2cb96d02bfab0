#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>

#include "../kernel_args.hpp"
#include "pointwise_conv.hpp"
#include "vector_ops.hpp"

namespace mobilenext::kernels::simd {

namespace detail {

// A few images: the weights (5 MB at 1000 classes) are read once, in memory order (panel
// after panel, row after row), which the hardware prefetchers stream at full bandwidth; the
// logits (4 KB per image) accumulate in place in L1. Each logit is the same sum in the same
// order as in the GEMM.
template <class Arch>
void fully_connected_streaming(const float* input, int batch, const PointwiseWeights& w, float* output) {
    using V = vfloat<Arch>;
    constexpr int L = int(V::size);
    const int K = w.in_channels, N = w.out_channels;
    for (int n = 0; n < batch; ++n) std::copy(w.bias, w.bias + N, output + std::size_t(n) * N);
    for (int panel = 0; panel < N; panel += w.panel) {
        const int columns = std::min(w.panel, N - panel), full = columns / L * L;
        const std::size_t step = std::size_t(w.panel_width(panel));
        const float* wrow = w.at(0, panel);
        for (int ci = 0; ci < K; ++ci, wrow += step) {
            for (int n = 0; n < batch; ++n) {
                const float x = input[std::size_t(n) * K + ci];
                const V xv(x);
                float* out = output + std::size_t(n) * N + panel;
                int j = 0;
                for (; j < full; j += L)
                    fused_multiply_add(xv, V::load_unaligned(wrow + j), V::load_unaligned(out + j)).store_unaligned(out + j);
                for (; j < columns; ++j) out[j] = std::fma(x, wrow[j], out[j]);
            }
        }
    }
}

}  // namespace detail

// The classifier: the same contract as reference::fully_connected. Up to four images stream
// the weights row by row; larger batches reuse each weight across images in the GEMM tiles.
template <class Arch = xsimd::default_arch>
void fully_connected(const float* input, int batch, const PointwiseWeights& w, float* output) {
    if (batch <= 4)
        detail::fully_connected_streaming<Arch>(input, batch, w, output);
    else
        pointwise_conv<Arch>(input, std::size_t(batch), w, Activation::none, output);
}

}  // namespace mobilenext::kernels::simd
