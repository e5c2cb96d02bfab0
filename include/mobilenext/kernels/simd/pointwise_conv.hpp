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
    return accumulator_budget<Arch>() / vectors;
}

// Widest column tile, in vectors: 4 x 6 rows with 32 registers; 2 x 6 rows with 16 (a tile
// of 4 vectors would have 4 rows, 16 accumulators, and spill).
template <class Arch>
constexpr int widest_column_tile() {
    return vector_registers<Arch>() == 32 ? 4 : 2;
}

}  // namespace detail

// Columns per panel of the pointwise weights these kernels read best: with 16 registers one
// panel per column tile of AVX2 (16 columns), so that a tile's weights are one contiguous
// stream (in 64-column panels it read one line of every four, and the 7x7 layers, whose
// weights come from memory, ran about 11% slower); with 32, 64 (a tile of 4 AVX-512 vectors).
template <class Arch>
constexpr int pointwise_panel() {
    return vector_registers<Arch>() == 32 ? kPointwisePanel : kChannelAlign;
}

namespace detail {

// One register tile of the GEMM: `rows` pixels x `vectors` vectors of output channels,
// starting at output channel `co` (`output` points at column co of the first pixel). The
// accumulators stay in registers over the whole reduction; each step loads `vectors` weight
// vectors and broadcasts one input per pixel (an FMA operand straight from memory on AVX-512).
//
// `ahead`, when not null, is the weight rows the next column tile will read (`ahead_step`
// floats apart, `ahead_lines` cache lines each): one row is prefetched per step, so a layer
// whose weights come from L3 or memory does not wait on them tile after tile.
template <class Arch, int rows, int vectors>
inline void pointwise_tile(const float* input, const PointwiseWeights& w, int co, Activation act, float* output,
                           const float* ahead, std::size_t ahead_step, int ahead_lines) {
    using V = vfloat<Arch>;
    constexpr int L = int(V::size);
    V acc[rows][vectors];
    MOBILENEXT_UNROLL
    for (int j = 0; j < vectors; ++j) {
        const V b = V::load_unaligned(w.bias + co + j * L);
        MOBILENEXT_UNROLL
        for (int i = 0; i < rows; ++i) acc[i][j] = b;
    }
    const float* wrow = w.at(0, co);
    const std::size_t step = std::size_t(w.panel_width(co));
    for (int ci = 0; ci < w.in_channels; ++ci, wrow += step) {
        if (ahead) {
            for (int line = 0; line < ahead_lines; ++line) __builtin_prefetch(ahead + line * 16, 0, 2);
            ahead += ahead_step;
        }
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
using PointwiseTileFn = void (*)(const float*, const PointwiseWeights&, int, Activation, float*, const float*,
                                 std::size_t, int);

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
                              Activation act, float* output, int next_co, int next_vectors) {
    constexpr int tallest = tile_rows<Arch>(vectors);
    static constexpr auto tiles =
        pointwise_tiles<Arch, vectors>(std::make_integer_sequence<int, tallest>());
    const std::size_t count = (pixels + tallest - 1) / tallest;
    if (count == 0) return;
    const std::size_t base = pixels / count, taller = pixels % count;
    // The first tile prefetches the next column tile's weights.
    const float* ahead = next_vectors > 0 ? w.at(0, next_co) : nullptr;
    const std::size_t ahead_step = next_vectors > 0 ? std::size_t(w.panel_width(next_co)) : 0;
    const int ahead_lines = (next_vectors * int(sizeof(float)) * int(vfloat<Arch>::size) + 63) / 64;
    std::size_t p = 0;
    for (std::size_t t = 0; t < count; ++t) {
        const std::size_t rows = base + (t < taller ? 1 : 0);
        tiles[rows - 1](input + p * w.in_channels, w, co, act, output + p * w.out_channels + co,
                        t == 0 ? ahead : nullptr, ahead_step, ahead_lines);
        p += rows;
    }
}

// Vectors of the column tile that starts at column co. Tiles never cross a panel: the widest
// that divides the panel's vectors evenly, else tiles of the widest and a narrower last one.
template <class Arch>
inline int column_tile_vectors(const PointwiseWeights& w, int co) {
    constexpr int L = int(vfloat<Arch>::size), widest = widest_column_tile<Arch>();
    const int panel = co / w.panel * w.panel;
    const int vectors = (std::min(w.panel, w.out_channels - panel) + L - 1) / L;
    const int width = vectors % widest == 0 ? widest
                      : vectors % 3 == 0 && widest >= 3 ? 3
                      : vectors <= widest ? vectors
                                          : widest;
    const int v = (co - panel) / L;
    return v + width <= vectors ? width : vectors - v;
}

}  // namespace detail

// Pointwise (1x1) convolution: the same contract as reference::pointwise_conv. Requires the
// packed layout (column panels, out_stride a multiple of kChannelAlign, zero padding).
//
// Output columns go in tiles of up to 4 vectors within a panel, the rows of a tile as many as
// the accumulator registers allow: narrow outputs (the reductions to 16-64 channels) get tall
// tiles, so every weight vector loaded feeds many FMAs.
template <class Arch = xsimd::default_arch>
void pointwise_conv(const float* input, std::size_t pixels, const PointwiseWeights& w, Activation act,
                    float* output) {
    constexpr int L = int(vfloat<Arch>::size);
    static_assert(kChannelAlign % L == 0, "a panel (a multiple of kChannelAlign) holds whole vectors");
    // Pixels go in chunks whose inputs stay in L1 while every column tile passes over them
    // (a multiple of 24, so the tallest tiles fill them). The last chunk takes what is left (49 pixels go as
    // 24 + 25, not 24 + 24 + 1: a lone pixel would stream every weight for four FMAs a load).
    const std::size_t chunk = std::max<std::size_t>(24, (8192 / std::max(1, w.in_channels)) / 24 * 24);
    const std::size_t chunks = std::max<std::size_t>(1, pixels / chunk);
    for (std::size_t k = 0, p0 = 0; k < chunks; ++k) {
        const std::size_t n = k + 1 < chunks ? chunk : pixels - p0;
        const float* in = input + p0 * w.in_channels;
        float* out = output + p0 * w.out_channels;
        for (int co = 0; co < w.out_channels;) {
            const int count = detail::column_tile_vectors<Arch>(w, co), next = co + count * L;
            // Prefetching pays on the first pass over the weights; later chunks find them in cache.
            const int next_count = k == 0 && next < w.out_channels ? detail::column_tile_vectors<Arch>(w, next) : 0;
            constexpr int widest = detail::widest_column_tile<Arch>();
            switch (count) {
                case 4:
                    if constexpr (widest >= 4) detail::pointwise_columns<Arch, 4>(in, n, w, co, act, out, next, next_count);
                    break;
                case 3:
                    if constexpr (widest >= 3) detail::pointwise_columns<Arch, 3>(in, n, w, co, act, out, next, next_count);
                    break;
                case 2: detail::pointwise_columns<Arch, 2>(in, n, w, co, act, out, next, next_count); break;
                default: detail::pointwise_columns<Arch, 1>(in, n, w, co, act, out, next, next_count); break;
            }
            co = next;
        }
        p0 += n;
    }
}

}  // namespace mobilenext::kernels::simd
