#pragma once
// The int8 1x1 convolution on the vector operations of one instruction set (Ops: see
// avx512_int8_ops.hpp): a register tile of Ops::kTilePixels pixels x Ops::kTileVectors vectors
// of output channels keeps int32 accumulators; each step broadcasts 4 input bytes of a pixel
// as one word and takes the dot products with the 4 weights of every output channel of the
// tile. The panels of the packed weights are walked one after another, all pixels on one panel
// before the next, so a panel's weights stay in cache while the pixels stream by.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "../../compiler_hints.hpp"
#include "../int8_args.hpp"
#include "packed_requantization.hpp"
#include "partial_vector_u8.hpp"

MOBILENEXT_INTRINSICS_BEGIN

namespace mobilenext::kernels::simd {

namespace detail {

// Where one register tile reads and writes.
struct PointwiseTileU8S8 {
    const std::uint8_t* input;  // the tile's first pixel
    std::uint8_t* output;       // its first pixel's output row
    const std::int8_t* weights; // the tile's first column of its panel's first group
    std::size_t group_bytes;    // from one group of 4 input channels to the next: panel width x 4
    int first_column;           // output channel of the tile's first lane
};

template <class Ops, int V, int P>
void accumulate_group(typename Ops::Acc (&acc)[P][V], const std::int8_t* weights, const std::uint8_t* input,
                      std::size_t in_stride, int offset, int count) {
    typename Ops::Weights w[V];
    for (int v = 0; v < V; ++v) w[v] = Ops::load_weights(weights + v * Ops::kLanes * 4);
    for (int p = 0; p < P; ++p) {
        const std::uint8_t* at = input + std::size_t(p) * in_stride + offset;
        const auto four = Ops::broadcast_u8x4(count == 4 ? load_u8x4<Ops>(at) : load_u8x4_partial<Ops>(at, count));
        for (int v = 0; v < V; ++v) acc[p][v] = Ops::dot4(acc[p][v], four, w[v]);
    }
}

// A tile of 4 vectors whose columns are in pack order (PointwiseWeightsU8S8::store_tile): one
// byte vector per pixel.
template <class Ops, int P>
void store_packed_tile(typename Ops::Acc (&acc)[P][4], const PointwiseWeightsU8S8& w, const PointwiseTileU8S8& t) {
    const PackedRequantization<Ops> k(w.requant);
    const float* m = w.requant.multipliers + t.first_column;
    for (int p = 0; p < P; ++p) {
        typename Ops::I32 sums[4];
        for (int v = 0; v < 4; ++v)
            sums[v] = Ops::finish(acc[p][v], w.bias + t.first_column + v * Ops::kLanes,
                                  w.weight_sums + t.first_column + v * Ops::kLanes);
        Ops::store_bytes(requantize_pack<Ops>(sums, m, Ops::kLanes, k),
                         t.output + std::size_t(p) * w.out_channels + t.first_column);
    }
}

// A layer of exactly V = 1 or 2 vectors of outputs (16 or 32 channels on AVX-512, 8 or 16 on
// AVX2): its output rows are contiguous, so 4 / V pixels' tiles make one byte vector, packed
// as 4 vectors and put back in order with one dword permutation. Against narrowing and
// storing each vector on its own, the zero point is added once per two vectors and one store
// replaces four (benchmark: mobilenext_int8_benchmarks, pointwise_conv_u8s8/*, 32->16 and
// 96->32).
template <class Ops, int V, int P>
void store_whole_rows(typename Ops::Acc (&acc)[P][V], const PointwiseWeightsU8S8& w, const PointwiseTileU8S8& t) {
    constexpr int kPixels = 4 / V;  // per byte vector
    const PackedRequantization<Ops> k(w.requant);
    const auto requantized = [&](int p, int v) {
        const auto sum = Ops::finish(acc[p][v], w.bias + v * Ops::kLanes, w.weight_sums + v * Ops::kLanes);
        return Ops::requantize_to_int(sum, w.requant.multipliers + v * Ops::kLanes, k.hi);
    };
    for (int p = 0; p < P; p += kPixels) {
        const auto packed = Ops::pack_requantized_u8(requantized(p, 0), requantized(p + 1 / V, 1 % V),
                                                     requantized(p + 2 / V, 2 % V), requantized(p + 3 / V, 3 % V),
                                                     k.zero_point_i16, k.lo_u8);
        Ops::store_bytes(Ops::vector_major(packed), t.output + std::size_t(p) * w.out_channels);
    }
}

template <class Ops, int V, int P>
void store_tile(typename Ops::Acc (&acc)[P][V], const PointwiseWeightsU8S8& w, const PointwiseTileU8S8& t) {
    if constexpr (Ops::kPackedStore && V == 4) {
        if (w.store_tile == 4 * Ops::kLanes && w.packed_tile(t.first_column))
            return store_packed_tile<Ops, P>(acc, w, t);
    }
    if constexpr (Ops::kPackedStore && (V == 1 || V == 2) && P % (4 / V) == 0) {
        if (w.out_channels == V * Ops::kLanes) return store_whole_rows<Ops, V, P>(acc, w, t);
    }
    const auto zero_point = Ops::set1(w.requant.zero_point);
    const float lo = float(w.requant.lo - w.requant.zero_point), hi = float(w.requant.hi - w.requant.zero_point);
    for (int p = 0; p < P; ++p)
        for (int v = 0; v < V; ++v) {
            const int column = t.first_column + v * Ops::kLanes;
            const int count = std::min(Ops::kLanes, w.out_channels - column);
            if (count <= 0) break;
            const auto sum = Ops::finish(acc[p][v], w.bias + column, w.weight_sums + column);
            const auto y = Ops::requantize(sum, w.requant.multipliers + column, lo, hi, zero_point);
            std::uint8_t* out = t.output + std::size_t(p) * w.out_channels + column;
            if (count == Ops::kLanes)
                Ops::store_u8(y, out);
            else
                store_u8_partial<Ops>(y, out, count);
        }
}

// P pixels x V vectors of output channels.
template <class Ops, int V, int P>
void pointwise_tile(const PointwiseWeightsU8S8& w, const PointwiseTileU8S8& t) {
    typename Ops::Acc acc[P][V];
    for (int p = 0; p < P; ++p)
        for (int v = 0; v < V; ++v) acc[p][v] = Ops::zero_acc();
    const std::size_t in_stride = std::size_t(w.in_channels);
    const int full_groups = w.in_channels / 4;
    for (int g = 0; g < full_groups; ++g)
        accumulate_group<Ops, V, P>(acc, t.weights + g * t.group_bytes, t.input, in_stride, 4 * g, 4);
    if (w.in_channels % 4 != 0)
        accumulate_group<Ops, V, P>(acc, t.weights + full_groups * t.group_bytes, t.input, in_stride, 4 * full_groups,
                                    w.in_channels % 4);
    store_tile<Ops, V, P>(acc, w, t);
}

// The tile of `vectors` (<= V) vectors: the last columns of a panel may not fill the widest.
template <class Ops, int P, int V = Ops::kTileVectors>
void pointwise_tile_of(int vectors, const PointwiseWeightsU8S8& w, const PointwiseTileU8S8& t) {
    if constexpr (V > 1) {
        if (vectors < V) return pointwise_tile_of<Ops, P, V - 1>(vectors, w, t);
    }
    pointwise_tile<Ops, V, P>(w, t);
}

template <class Ops, int P>
void pointwise_pixels(const std::uint8_t* input, const PointwiseWeightsU8S8& w, int panel_first, std::uint8_t* output) {
    const int width = w.panel_width(panel_first);
    const std::int8_t* panel = w.weights + std::size_t(panel_first) * w.in_groups() * 4;
    const int step = Ops::kTileVectors * Ops::kLanes;
    for (int column = 0; column < width && panel_first + column < w.out_channels; column += step) {
        const PointwiseTileU8S8 t{input, output, panel + std::size_t(column) * 4, std::size_t(width) * 4,
                                  panel_first + column};
        pointwise_tile_of<Ops, P>(std::min(step, width - column) / Ops::kLanes, w, t);
    }
}

}  // namespace detail

// reference::pointwise_conv_u8s8, bit for bit, for weights packed with any panel that is a
// multiple of Ops::kLanes (Int8KernelTable::pointwise_panel: the tile's width).
template <class Ops>
void pointwise_conv_u8s8(const std::uint8_t* input, std::size_t pixels, const PointwiseWeightsU8S8& w,
                         std::uint8_t* output) {
    constexpr int P = Ops::kTilePixels;
    const std::size_t in_stride = std::size_t(w.in_channels), out_stride = std::size_t(w.out_channels);
    for (int first = 0; first < w.out_channels; first += w.panel) {
        std::size_t p = 0;
        for (; p + P <= pixels; p += P)
            detail::pointwise_pixels<Ops, P>(input + p * in_stride, w, first, output + p * out_stride);
        for (; p < pixels; ++p)
            detail::pointwise_pixels<Ops, 1>(input + p * in_stride, w, first, output + p * out_stride);
    }
}

}  // namespace mobilenext::kernels::simd

MOBILENEXT_INTRINSICS_END
