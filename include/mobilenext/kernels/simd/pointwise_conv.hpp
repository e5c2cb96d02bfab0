#pragma once
#include <algorithm>
#include <cstddef>
#include <type_traits>

#include "../kernel_args.hpp"
#include "vector_ops.hpp"

namespace mobilenext::kernels::simd {

namespace detail {

// One register tile of the GEMM: `rows` pixels x `vectors` vectors of output channels,
// starting at output channel `co`. Accumulators stay in registers over the whole reduction;
// each step loads `vectors` weight vectors and broadcasts one input per pixel.
template <class Arch, int rows, int vectors>
inline void pointwise_tile(const float* input, const PointwiseWeights& w, int co, Activation act, float* output) {
    using V = vfloat<Arch>;
    constexpr int L = int(V::size);
    V acc[rows][vectors];
    for (int j = 0; j < vectors; ++j) {
        const V b = V::load_unaligned(w.bias + co + j * L);
        for (int i = 0; i < rows; ++i) acc[i][j] = b;
    }
    const float* wrow = w.weights + co;
    for (int ci = 0; ci < w.in_channels; ++ci, wrow += w.out_stride) {
        V wv[vectors];
        for (int j = 0; j < vectors; ++j) wv[j] = V::load_unaligned(wrow + j * L);
        for (int i = 0; i < rows; ++i) {
            const V a(input[std::size_t(i) * w.in_channels + ci]);
            for (int j = 0; j < vectors; ++j) acc[i][j] = xsimd::fma(a, wv[j], acc[i][j]);
        }
    }
    for (int i = 0; i < rows; ++i)
        for (int j = 0; j < vectors; ++j) {
            const int first = co + j * L;
            if (first < w.out_channels)
                store_first<Arch>(activate<Arch>(acc[i][j], act), output + std::size_t(i) * w.out_channels + first,
                                  w.out_channels - first);
        }
}

template <class Arch, int rows, int vectors>
inline void pointwise_rows(const float* input, const PointwiseWeights& w, Activation act, float* output) {
    constexpr int L = int(vfloat<Arch>::size);
    int co = 0;
    // Whole tiles, then narrower ones over the zero-padded weight columns.
    for (; co + vectors * L <= w.out_stride; co += vectors * L) pointwise_tile<Arch, rows, vectors>(input, w, co, act, output);
    for (; co < w.out_channels; co += L) pointwise_tile<Arch, rows, 1>(input, w, co, act, output);
}

}  // namespace detail

// Pointwise (1x1) convolution: the same contract as reference::pointwise_conv. Requires the
// packed layout (out_stride a multiple of kChannelAlign, zero padding).
template <class Arch = xsimd::default_arch>
void pointwise_conv(const float* input, std::size_t pixels, const PointwiseWeights& w, Activation act,
                    float* output) {
    // 16 accumulators fit the 32 registers of AVX-512 / NEON; 8 fit the 16 of SSE / AVX2.
    constexpr int L = int(vfloat<Arch>::size);
    constexpr int rows = 4;
    constexpr int vectors = (L == 16 || std::is_base_of<xsimd::neon, Arch>::value) ? 4 : 2;
    std::size_t p = 0;
    for (; p + rows <= pixels; p += rows)
        detail::pointwise_rows<Arch, rows, vectors>(input + p * w.in_channels, w, act, output + p * w.out_channels);
    for (; p < pixels; ++p)
        detail::pointwise_rows<Arch, 1, vectors>(input + p * w.in_channels, w, act, output + p * w.out_channels);
}

}  // namespace mobilenext::kernels::simd
