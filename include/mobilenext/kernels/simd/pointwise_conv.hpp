#pragma once
#include <algorithm>
#include <array>
#include <cstddef>
#include <type_traits>
#include <utility>

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
            for (int j = 0; j < vectors; ++j) acc[i][j] = fused_multiply_add(a, wv[j], acc[i][j]);
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

template <class Arch, int vectors>
using PointwiseTileFn = void (*)(const float*, const PointwiseWeights&, int, Activation, float*);

// pointwise_tile for every height 1 .. N, indexed by height - 1.
template <class Arch, int vectors, int... heights>
constexpr std::array<PointwiseTileFn<Arch, vectors>, sizeof...(heights)> pointwise_tiles(
    std::integer_sequence<int, heights...>) {
    return {&pointwise_tile<Arch, heights + 1, vectors>...};
}

// Pixels [0, pixels) for the output columns [co, co + vectors * L): as few tiles as the
// tallest height allows, their heights differing by at most one. A short last tile would
// stream the whole weight panel for one or two pixels (49 pixels in tiles of 6 would leave
// one): 49 becomes 4 tiles of 6 and 5 of 5.
template <class Arch, int vectors>
inline void pointwise_columns(const float* input, std::size_t pixels, const PointwiseWeights& w, int co,
                              Activation act, float* output) {
    constexpr int tallest = tile_rows<Arch>(vectors);
    static constexpr auto tiles =
        pointwise_tiles<Arch, vectors>(std::make_integer_sequence<int, tallest>());
    const std::size_t count = (pixels + tallest - 1) / tallest;
    if (count == 0) return;
    const std::size_t base = pixels / count, taller = pixels % count;
    std::size_t p = 0;
    for (std::size_t t = 0; t < count; ++t) {
        const std::size_t rows = base + (t < taller ? 1 : 0);
        tiles[rows - 1](input + p * w.in_channels, w, co, act, output + p * w.out_channels + co);
        p += rows;
    }
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
    // Pixels go in chunks whose inputs stay in L1 while every column tile passes over them
    // (a multiple of 24, so the tallest tiles fill them). The last chunk takes what is left (49 pixels go as
    // 24 + 25, not 24 + 24 + 1: a lone pixel would stream every weight for four FMAs a load).
    const std::size_t chunk = std::max<std::size_t>(24, (8192 / std::max(1, w.in_channels)) / 24 * 24);
    const std::size_t chunks = std::max<std::size_t>(1, pixels / chunk);
    for (std::size_t k = 0, p0 = 0; k < chunks; ++k) {
        const std::size_t n = k + 1 < chunks ? chunk : pixels - p0;
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
        p0 += n;
    }
}

}  // namespace mobilenext::kernels::simd
