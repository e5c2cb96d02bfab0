#pragma once
#include <algorithm>
#include <cstddef>
#include <type_traits>

#include "../kernel_args.hpp"
#include "vector_ops.hpp"

namespace mobilenext::kernels::simd {

namespace detail {

// Rows of a register tile: accumulators fill 24 of the 32 vector registers of AVX-512 and
// NEON, 12 of the 16 of SSE and AVX2; the rest hold weights and the broadcast input.
template <class Arch>
constexpr int tile_rows(int vectors) {
    constexpr int L = int(vfloat<Arch>::size);
    constexpr int budget = (L == 16 || std::is_base_of<xsimd::neon, Arch>::value) ? 24 : 12;
    return budget / vectors > 4 ? budget / vectors : 4;
}

// One register tile of the GEMM: `rows` pixels x `vectors` vectors of output channels,
// starting at output channel `co` (`output` points at column co of the first pixel). The
// accumulators stay in registers over the whole reduction; each step loads `vectors` weight
// vectors and broadcasts one input per pixel (an FMA operand straight from memory on AVX-512).
template <class Arch, int rows, int vectors>
inline void pointwise_tile(const float* input, const PointwiseWeights& w, int co, Activation act, float* output) {
    using V = vfloat<Arch>;
    constexpr int L = int(V::size);
    V acc[rows][vectors];
    MOBILENEXT_UNROLL
    for (int j = 0; j < vectors; ++j) {
        const V b = V::load_unaligned(w.bias + co + j * L);
        MOBILENEXT_UNROLL
        for (int i = 0; i < rows; ++i) acc[i][j] = b;
    }
    const float* wrow = w.weights + co;
    for (int ci = 0; ci < w.in_channels; ++ci, wrow += w.out_stride) {
        V wv[vectors];
        MOBILENEXT_UNROLL
        for (int j = 0; j < vectors; ++j) wv[j] = V::load_unaligned(wrow + j * L);
        MOBILENEXT_UNROLL
        for (int i = 0; i < rows; ++i) {
            const V a(input[std::size_t(i) * w.in_channels + ci]);
            MOBILENEXT_UNROLL
            for (int j = 0; j < vectors; ++j) acc[i][j] = xsimd::fma(a, wv[j], acc[i][j]);
        }
    }
    MOBILENEXT_UNROLL
    for (int i = 0; i < rows; ++i)
        MOBILENEXT_UNROLL
        for (int j = 0; j < vectors; ++j) {
            const int left = w.out_channels - (co + j * L);
            if (left > 0)
                store_first<Arch>(activate<Arch>(acc[i][j], act), output + std::size_t(i) * w.out_channels + j * L, left);
        }
}

// Pixels [0, pixels) for the output columns [co, co + vectors * L): tiles of `rows` pixels,
// then the last few in tiles of 4 and 1.
template <class Arch, int vectors>
inline void pointwise_columns(const float* input, std::size_t pixels, const PointwiseWeights& w, int co,
                              Activation act, float* output) {
    std::size_t p = 0;
    const auto tiles = [&](auto rows_constant) {
        constexpr int rows = decltype(rows_constant)::value;
        for (; p + rows <= pixels; p += rows)
            pointwise_tile<Arch, rows, vectors>(input + p * w.in_channels, w, co, act, output + p * w.out_channels + co);
    };
    tiles(std::integral_constant<int, tile_rows<Arch>(vectors)>());
    tiles(std::integral_constant<int, 4>());
    tiles(std::integral_constant<int, 1>());
}

}  // namespace detail

// Pointwise (1x1) convolution: the same contract as reference::pointwise_conv. Requires the
// packed layout (out_stride a multiple of kChannelAlign, zero padding).
//
// Output columns go in tiles of up to 4 vectors, the rows of a tile as many as the
// accumulator registers allow: narrow outputs (the reductions to 16-64 channels) get tall
// tiles, so every weight vector loaded feeds many FMAs.
template <class Arch = xsimd::default_arch>
void pointwise_conv(const float* input, std::size_t pixels, const PointwiseWeights& w, Activation act,
                    float* output) {
    constexpr int L = int(vfloat<Arch>::size);
    const int vectors_total = (w.out_channels + L - 1) / L;
    // Widest tile that divides the columns evenly, else tiles of 4 and narrower last ones.
    const int width = vectors_total % 4 == 0 ? 4 : vectors_total % 3 == 0 ? 3 : vectors_total <= 2 ? vectors_total : 4;
    // Pixels go in chunks whose inputs stay in L1 while every column tile passes over them; 24
    // is a multiple of every tile height.
    const std::size_t chunk = std::max<std::size_t>(24, (8192 / std::max(1, w.in_channels)) / 24 * 24);
    for (std::size_t p0 = 0; p0 < pixels; p0 += chunk) {
        const std::size_t n = std::min(chunk, pixels - p0);
        const float* in = input + p0 * w.in_channels;
        float* out = output + p0 * w.out_channels;
        int v = 0;
        const auto columns = [&](int count) {
            switch (count) {
                case 4: detail::pointwise_columns<Arch, 4>(in, n, w, v * L, act, out); break;
                case 3: detail::pointwise_columns<Arch, 3>(in, n, w, v * L, act, out); break;
                case 2: detail::pointwise_columns<Arch, 2>(in, n, w, v * L, act, out); break;
                default: detail::pointwise_columns<Arch, 1>(in, n, w, v * L, act, out); break;
            }
            v += count;
        };
        while (v + width <= vectors_total) columns(width);
        while (v < vectors_total) columns(std::min(vectors_total - v, 3));
    }
}

}  // namespace mobilenext::kernels::simd
