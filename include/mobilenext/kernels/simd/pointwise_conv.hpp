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
// NEON, 12 of the 16 of SSE and AVX2; the rest hold weights and the broadcast input. A
// one-vector tile stops at 10 rows: each row's input is at its own offset, and 24 of them do
// not fit the 16 general registers (the compiler keeps them on the stack and in vector
// registers and reloads them at every step). The 12-row AVX2 tiles stop at 10 too. The
// reductions to 16 channels show it: `pointwise_conv/simd/avx512bw/12544px/32->16`.
template <class Arch>
constexpr int tile_rows(int vectors) {
    return vectors == 1 ? std::min(10, accumulator_budget<Arch>()) : accumulator_budget<Arch>() / vectors;
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
// stream the prefetchers run ahead on (in 64-column panels a tile reads one 64-byte line in
// four of each panel row, and the 7x7 layers, whose weights come from memory, wait on them:
// `network/simd/fma3+avx2/width:1.00/batch:1/threads:1`); with 32, 64 (a tile of 4 AVX-512
// vectors).
template <class Arch>
constexpr int pointwise_panel() {
    return vector_registers<Arch>() == 32 ? kPointwisePanel : kChannelAlign;
}

namespace detail {

// What every register tile of one column tile shares, worked out once per column tile (the
// panel's address and row length take a division; the reduction of the 16-32-channel
// expansions is 16-32 steps, so a tile's fixed costs weigh on it as much as its FMAs do).
struct ColumnTile {
    const float* weights;      // row 0 of the tile's columns in their panel
    std::size_t weight_step;   // floats from one input channel's row to the next
    const float* bias;         // the tile's first column
    int in_channels;
    int out_channels;          // floats per output pixel
    int columns;               // columns of the tile that exist (the last tile may have fewer)
    Activation act;
    // The next column tile's weights, prefetched a row per step, every count-th row by each of
    // the column's count tiles: floats from one prefetched row to the next, the end of the
    // rows, cache lines per row.
    std::size_t ahead_step;
    const float* ahead_end;
    int ahead_lines;
};

// Every row of a register tile starts from the bias of the tile's columns.
template <class Arch, int rows, int vectors>
MOBILENEXT_ALWAYS_INLINE inline void start_tile(vfloat<Arch> (&acc)[rows][vectors], const float* bias) {
    constexpr int L = int(vfloat<Arch>::size);
    MOBILENEXT_UNROLL
    for (int j = 0; j < vectors; ++j) {
        const vfloat<Arch> b = vfloat<Arch>::load_unaligned(bias + j * L);
        MOBILENEXT_UNROLL
        for (int i = 0; i < rows; ++i) acc[i][j] = b;
    }
}

// The epilogue of a register tile: the activation, then the stores of its `columns` output
// channels (a multiple of the vector, or a partial last vector) for each of its rows. One
// test per tile for the activation and for a partial last vector, not one per vector.
template <class Arch, int rows, int vectors>
MOBILENEXT_ALWAYS_INLINE inline void store_tile(vfloat<Arch> (&acc)[rows][vectors], Activation act, int columns,
                                                float* output, std::size_t out_stride) {
    constexpr int L = int(vfloat<Arch>::size);
    if (act == Activation::relu6) {
        MOBILENEXT_UNROLL
        for (int i = 0; i < rows; ++i)
            MOBILENEXT_UNROLL
            for (int j = 0; j < vectors; ++j) acc[i][j] = activate<Arch>(acc[i][j], Activation::relu6);
    }
    if (columns == vectors * L) {
        MOBILENEXT_UNROLL
        for (int i = 0; i < rows; ++i)
            MOBILENEXT_UNROLL
            for (int j = 0; j < vectors; ++j) acc[i][j].store_unaligned(output + i * out_stride + j * L);
        return;
    }
    MOBILENEXT_UNROLL
    for (int i = 0; i < rows; ++i)
        MOBILENEXT_UNROLL
        for (int j = 0; j < vectors; ++j)
            if (columns > j * L) store_first<Arch>(acc[i][j], output + i * out_stride + j * L, columns - j * L);
}

// One step of a register tile's reduction: input channel ci of its `rows` pixels times the
// weight row `wrow` (its `vectors` vectors of output channels).
template <class Arch, int rows, int vectors>
MOBILENEXT_ALWAYS_INLINE inline void pointwise_tile_step(vfloat<Arch> (&acc)[rows][vectors], const float* input,
                                                         std::size_t in_channels, const float* wrow) {
    using V = vfloat<Arch>;
    constexpr int L = int(V::size);
    V wv[vectors];
    MOBILENEXT_UNROLL
    for (int j = 0; j < vectors; ++j) wv[j] = V::load_unaligned(wrow + j * L);
    MOBILENEXT_UNROLL
    for (int i = 0; i < rows; ++i) {
        const V a(input[std::size_t(i) * in_channels]);
        MOBILENEXT_UNROLL
        for (int j = 0; j < vectors; ++j) acc[i][j] = fused_multiply_add(a, wv[j], acc[i][j]);
    }
}

// One register tile of the GEMM: `rows` pixels x `vectors` vectors of output channels
// (`output` points at the tile's first column of its first pixel). The accumulators stay in
// registers over the whole reduction; each step loads `vectors` weight vectors and broadcasts
// one input per pixel.
//
// `ahead`, when not null, is the first row of the next column tile's weights this tile
// prefetches (one per step, t.ahead_step apart, up to t.ahead_end), so a layer whose weights
// come from L3 or memory does not wait on them tile after tile. The steps that prefetch go in
// a loop of their own: with the prefetching's pointers live in every step, Clang ran out of
// registers in the 6 x 4 tiles and kept accumulators and row offsets on the stack
// (`pointwise_conv/simd/avx512bw/...` built with Clang against the GCC build).
// `Owner`: the instruction set of the kernel table the tile is compiled for. A half-vector tile
// of AVX-512 (HalfVectorArch) runs AVX2 vectors, but is compiled with AVX-512's flags; as a
// function of its own it is never merged with the AVX2 table's copy of the same tile
// (tests/check_dispatch_isolation.sh).
template <class Arch, int rows, int vectors, class Owner = Arch>
inline void pointwise_tile(const float* input, const ColumnTile& t, float* output, const float* ahead) {
    using V = vfloat<Arch>;
    // Copies: the stores below could alias `t`, and would make the compiler read it again.
    const int in_channels = t.in_channels, columns = t.columns;
    const std::size_t out_stride = std::size_t(t.out_channels), step = t.weight_step;
    const std::size_t k = std::size_t(in_channels);
    V acc[rows][vectors];
    start_tile<Arch, rows, vectors>(acc, t.bias);
    const float* wrow = t.weights;
    int ci = 0;
    if (ahead && ahead < t.ahead_end) {
        const std::size_t ahead_step = t.ahead_step;
        const int ahead_lines = t.ahead_lines;
        const int prefetching = int(std::min<std::size_t>(
            std::size_t(in_channels), (std::size_t(t.ahead_end - ahead) + ahead_step - 1) / ahead_step));
        for (; ci < prefetching; ++ci, wrow += step, ahead += ahead_step) {
            for (int line = 0; line < ahead_lines; ++line) __builtin_prefetch(ahead + line * 16, 0, 2);
            pointwise_tile_step<Arch, rows, vectors>(acc, input + ci, k, wrow);
        }
    }
    for (; ci < in_channels; ++ci, wrow += step) pointwise_tile_step<Arch, rows, vectors>(acc, input + ci, k, wrow);
    store_tile<Arch, rows, vectors>(acc, t.act, columns, output, out_stride);
}

template <class Arch>
using PointwiseTileFn = void (*)(const float*, const ColumnTile&, float*, const float*);

// pointwise_tile for every height 1 .. N, indexed by height - 1.
template <class Arch, int vectors, class Owner, int... heights>
constexpr std::array<PointwiseTileFn<Arch>, sizeof...(heights)> pointwise_tiles(std::integer_sequence<int, heights...>) {
    return {&pointwise_tile<Arch, heights + 1, vectors, Owner>...};
}

// Pixels [0, pixels) for the output columns [co, co + vectors * L): as few tiles as the
// tallest height allows, their heights differing by at most one. A short last tile would
// stream the whole weight panel for one or two pixels (49 pixels in tiles of 6 would leave
// one): 49 becomes 4 tiles of 6 and 5 of 5.
template <class Arch, int vectors, class Owner = Arch>
inline void pointwise_columns(const float* input, std::size_t pixels, const PointwiseWeights& w, int co,
                              Activation act, float* output, int next_co, int next_vectors) {
    constexpr int L = int(vfloat<Arch>::size);
    constexpr int tallest = tile_rows<Arch>(vectors);
    static constexpr auto tiles = pointwise_tiles<Arch, vectors, Owner>(std::make_integer_sequence<int, tallest>());
    const std::size_t count = (pixels + tallest - 1) / tallest;
    if (count == 0) return;
    const std::size_t base = pixels / count, taller = pixels % count;
    // The tiles share the prefetching of the next column tile's weights (tile k its rows k,
    // k + count, ...): issued all by the first tile, the prefetches went ahead of that tile's
    // own loads, which waited behind them when the weights came from L3 (the 7x7 blocks' 1x1
    // layers in `network/simd/avx512bw/width:1.00/batch:1/threads:1`).
    const std::size_t next_row = next_vectors > 0 ? std::size_t(w.panel_width(next_co)) : 0;
    const float* ahead = next_vectors > 0 ? w.at(0, next_co) : nullptr;
    ColumnTile t{w.at(0, co),
                 std::size_t(w.panel_width(co)),
                 w.bias + co,
                 w.in_channels,
                 w.out_channels,
                 std::min(vectors * L, w.out_channels - co),
                 act,
                 next_row * count,
                 ahead ? ahead + next_row * std::size_t(w.in_channels) : nullptr,
                 (next_vectors * int(sizeof(float)) * L + 63) / 64};
    std::size_t p = 0;
    for (std::size_t k = 0; k < count; ++k) {
        const std::size_t rows = base + (k < taller ? 1 : 0);
        tiles[rows - 1](input + p * w.in_channels, t, output + p * w.out_channels + co, ahead ? ahead + k * next_row : nullptr);
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

// Calls f(std::integral_constant<int, count>()): a column tile's width in vectors, as found by
// column_tile_vectors, made a compile-time constant for the register tiles.
template <class Arch, class F>
inline void with_column_tile_vectors(int count, const F& f) {
    constexpr int widest = widest_column_tile<Arch>();
    switch (count) {
        case 4:
            if constexpr (widest >= 4) f(std::integral_constant<int, 4>());
            break;
        case 3:
            if constexpr (widest >= 3) f(std::integral_constant<int, 3>());
            break;
        case 2: f(std::integral_constant<int, 2>()); break;
        default: f(std::integral_constant<int, 1>()); break;
    }
}

// The instruction set of half a vector, for a last column tile of at most half a vector of
// columns (the 8-channel reductions of widths 0.35-0.5, a 72-channel layer's last 8): on
// AVX-512 the 256-bit AVX2 vectors, where a 512-bit tile would leave half its lanes idle and
// a core that splits 512-bit FMAs in two, or has two 256-bit FMA units for one 512-bit, does
// as many useful FLOPs per cycle (the 16 -> 8 reductions of width 0.35 in
// `network/simd/avx512bw/width:0.35/batch:1/threads:1`). `void` where there is none.
template <class Arch, class = void>
struct HalfVectorArch {
    using type = void;
};
#if defined(__AVX512F__) && defined(__AVX2__) && defined(__FMA__)
template <class Arch>
struct HalfVectorArch<Arch, std::enable_if_t<std::is_base_of<xsimd::avx512f, Arch>::value>> {
    using type = xsimd::fma3<xsimd::avx2>;
};
#endif

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
            using Half = typename detail::HalfVectorArch<Arch>::type;
            if constexpr (!std::is_void<Half>::value) {
                if (count == 1 && w.out_channels - co <= L / 2) {
                    detail::pointwise_columns<Half, 1, Arch>(in, n, w, co, act, out, 0, 0);
                    co = next;
                    continue;
                }
            }
            // Prefetching pays on the first pass over the weights; later chunks find them in cache.
            const int next_count = k == 0 && next < w.out_channels ? detail::column_tile_vectors<Arch>(w, next) : 0;
            detail::with_column_tile_vectors<Arch>(count, [&](auto vectors) {
                detail::pointwise_columns<Arch, decltype(vectors)::value>(in, n, w, co, act, out, next, next_count);
            });
            co = next;
        }
        p0 += n;
    }
}

}  // namespace mobilenext::kernels::simd
