#pragma once
// The int8 depthwise 3x3 convolution in column quads, for instruction sets whose dot4 sums 4
// bytes per int32 lane in one or two instructions (vpdpbusd; vpmaddubsw + vpmaddwd).
//
// For a block of 4 * kLanes channels, the bytes of one input column of the window (its 3 rows,
// and a zero) are unpacked twice (by bytes, then by pairs of bytes) into 4 vectors of
// [row 0, row 1, row 2, 0] quads per channel. One dot product of such a vector with the weights
// of a window column (DepthwiseWeightsU8S8::quad_weights, packed in the unpacks' order) adds
// that column's 3 taps: 3 per output vector cover the 9 taps, where widening every tap to int32
// (dwconv3x3_u8s8.hpp) costs 9 widening shuffles, 9 multiplies and 9 adds. A row is swept left
// to right and each input column is unpacked once: at stride 1 it feeds 3 output pixels, at
// stride 2 the right column of one pixel is the left column of the next. Packing the 4
// requantized vectors into bytes (packed_requantization.hpp) undoes the unpacks' order, so the
// output is stored in plain channel order. Benchmark: mobilenext_int8_benchmarks, dwconv3x3_u8s8/*.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "../../compiler_hints.hpp"
#include "../int8_args.hpp"
#include "dwconv3x3_u8s8.hpp"
#include "packed_requantization.hpp"

MOBILENEXT_INTRINSICS_BEGIN

namespace mobilenext::kernels::simd {

namespace detail {

// One input column of the window, unpacked: quads[k] holds the channels 16u + 4k + i of every
// 128-bit lane u (the order of quad_weights).
template <class Ops>
struct ColumnQuadsU8 {
    typename Ops::Bytes quads[4];
};

// Where one row sweep reads and writes, for one block of channels. Passed and kept by value:
// the sweep's byte stores may alias anything a pointer reaches, so fields read through a
// pointer would be loaded again after every output pixel.
struct ColumnSweepU8 {
    const std::uint8_t* rows[3];  // the window's input rows at the block's first channel; null: padding
    std::uint8_t* out;            // the output row at the block's first channel
    std::size_t pixel_bytes;      // channels
    int width, out_width;
    int count;  // channels in the block, <= 4 * kLanes
};

// One block's vectors of quad_weights, quad_bias and quad_multipliers, gathered from their
// rows quad_units apart into one place for the sweep: at a run-time stride, the 12 weight
// addresses took 12 registers and spilled; here they are constant offsets from one.
struct ColumnQuadBlockWeights {
    alignas(64) std::int8_t weights[12][64];  // [kx * 4 + v]
    alignas(64) std::int32_t bias[4][16];
    alignas(64) float multipliers[4][16];
};

template <class Ops>
struct ColumnQuadConstantsU8 {
    typename Ops::Bytes input_zero_point;  // what the padding reads
    ColumnQuadsU8<Ops> padding_column;     // a column wholly in the padding
    PackedRequantization<Ops> requant;
};

template <class Ops>
MOBILENEXT_ALWAYS_INLINE inline ColumnQuadsU8<Ops> interleave_column(typename Ops::Bytes r0, typename Ops::Bytes r1, typename Ops::Bytes r2) {
    const auto zero = Ops::zero_bytes();
    const auto lo01 = Ops::unpack_lo_u8(r0, r1), hi01 = Ops::unpack_hi_u8(r0, r1);
    const auto lo2 = Ops::unpack_lo_u8(r2, zero), hi2 = Ops::unpack_hi_u8(r2, zero);
    return {{Ops::unpack_lo_u16(lo01, lo2), Ops::unpack_hi_u16(lo01, lo2), Ops::unpack_lo_u16(hi01, hi2),
             Ops::unpack_hi_u16(hi01, hi2)}};
}

// Input column x of the window (the padding outside [0, width)). Full: the block is a whole
// vector of channels, else a partial load of s.count bytes.
template <class Ops, bool full>
MOBILENEXT_ALWAYS_INLINE inline ColumnQuadsU8<Ops> column_quads(const ColumnSweepU8& s, int x, const ColumnQuadConstantsU8<Ops>& k) {
    if (x < 0 || x >= s.width) return k.padding_column;
    typename Ops::Bytes r[3];
    MOBILENEXT_UNROLL
    for (int ky = 0; ky < 3; ++ky) {
        if (s.rows[ky] == nullptr) {
            r[ky] = k.input_zero_point;
            continue;
        }
        const std::uint8_t* at = s.rows[ky] + std::size_t(x) * s.pixel_bytes;
        r[ky] = full ? Ops::load_bytes(at) : Ops::load_bytes_partial(at, s.count);
    }
    return interleave_column<Ops>(r[0], r[1], r[2]);
}

// acc += the window column kx's 3 taps.
template <class Ops>
MOBILENEXT_ALWAYS_INLINE inline void accumulate_column(typename Ops::Acc (&acc)[4], const ColumnQuadsU8<Ops>& column,
                       const ColumnQuadBlockWeights& b, int kx) {
    MOBILENEXT_UNROLL
    for (int v = 0; v < 4; ++v)
        acc[v] = Ops::dot4(acc[v], column.quads[v], Ops::load_weights(b.weights[kx * 4 + v]));
}

template <class Ops, bool full>
MOBILENEXT_ALWAYS_INLINE inline void store_output_pixel(typename Ops::Acc (&acc)[4], const ColumnQuadBlockWeights& b, const ColumnSweepU8& s,
                        int ox, const ColumnQuadConstantsU8<Ops>& k) {
    const auto bytes = requantize_pack<Ops>(acc, b.multipliers[0], 16, k.requant);
    std::uint8_t* out = s.out + std::size_t(ox) * s.pixel_bytes;
    if constexpr (full)
        Ops::store_bytes(bytes, out);
    else
        Ops::store_bytes_partial(bytes, out, s.count);
}

// One output row of one block of channels. The left column of each pixel is the right column
// of the previous one (and at stride 1 the middle column too), carried in registers.
template <class Ops, int stride, bool full>
void sweep_row(const ColumnQuadBlockWeights& b, const ColumnSweepU8 s, const ColumnQuadConstantsU8<Ops> k) {
    ColumnQuadsU8<Ops> left = column_quads<Ops, full>(s, -1, k), middle = column_quads<Ops, full>(s, 0, k);
    for (int ox = 0; ox < s.out_width; ++ox) {
        if (stride == 2 && ox > 0) middle = column_quads<Ops, full>(s, 2 * ox, k);
        const ColumnQuadsU8<Ops> right = column_quads<Ops, full>(s, stride * ox + 1, k);
        typename Ops::Acc acc[4];
        MOBILENEXT_UNROLL
        for (int v = 0; v < 4; ++v) acc[v] = Ops::load_i32(b.bias[v]);
        accumulate_column<Ops>(acc, left, b, 0);
        accumulate_column<Ops>(acc, middle, b, 1);
        accumulate_column<Ops>(acc, right, b, 2);
        store_output_pixel<Ops, full>(acc, b, s, ox, k);
        if (stride == 1) {
            left = middle;
            middle = right;
        } else {
            left = right;
        }
    }
}

// The vectors of the block of 4 * kLanes channels from channel c (a multiple of 16) on.
template <class Ops>
const ColumnQuadBlockWeights& gather_block(const DepthwiseWeightsU8S8& w, int c, ColumnQuadBlockWeights& b) {
    constexpr std::size_t block_bytes = 4 * Ops::kLanes;
    const std::size_t units = std::size_t(w.quad_units), unit = std::size_t(c / 16);
    for (int q = 0; q < 12; ++q) std::memcpy(b.weights[q], w.quad_weights + (q * units + unit) * 16, block_bytes);
    for (int v = 0; v < 4; ++v) {
        std::memcpy(b.bias[v], w.quad_bias + (v * units + unit) * 4, block_bytes);
        std::memcpy(b.multipliers[v], w.quad_multipliers + (v * units + unit) * 4, block_bytes);
    }
    return b;
}

// The first channel of each block: whole vectors, and where the channels are a multiple of 16
// (a unit) and fill at least one vector, a last vector that ends at the last channel and
// overlaps the one before; its overlapping channels are stored twice with the same values.
// Else the last block is partial, with masked or buffered loads and stores.
template <class Ops>
int block_first_channel(int first, int channels) {
    constexpr int block = 4 * Ops::kLanes;
    const bool overlap_last = channels % 16 == 0 && channels >= block;
    return overlap_last ? std::min(first, channels - block) : first;
}

// Every requested output row of one block of channels, its weights gathered once for all of
// them: gathered per row, the copies took 3% of `network_int8/<set>/...` (the 14x14 and 7x7
// layers have 1000-channel rows of 7-14 pixels).
template <class Ops, int stride>
void sweep_block_rows(const std::uint8_t* input, const DepthwiseRows& r, const DepthwiseWeightsU8S8& w, int c,
                      std::uint8_t* output, const ColumnQuadConstantsU8<Ops>& k) {
    constexpr int kBlock = 4 * Ops::kLanes;
    ColumnQuadBlockWeights block;
    const ColumnQuadBlockWeights& b = gather_block<Ops>(w, c, block);
    const int ow = (r.width - 1) / r.stride + 1;
    const std::size_t pixel_bytes = std::size_t(w.channels), row_bytes = std::size_t(r.width) * pixel_bytes;
    ColumnSweepU8 s{{nullptr, nullptr, nullptr}, nullptr, pixel_bytes, r.width, ow, std::min(kBlock, w.channels - c)};
    for (int oy = r.out_row_begin; oy < r.out_row_end; ++oy) {
        for (int ky = 0; ky < 3; ++ky) {
            const std::uint8_t* row = depthwise_input_row<Ops>(input, r, oy * stride + ky - 1, row_bytes);
            s.rows[ky] = row == nullptr ? nullptr : row + c;
        }
        s.out = output + std::size_t(oy - r.out_row_begin) * ow * pixel_bytes + c;
        if (s.count == kBlock)
            sweep_row<Ops, stride, true>(b, s, k);
        else
            sweep_row<Ops, stride, false>(b, s, k);
    }
}

}  // namespace detail

// reference::dwconv3x3_u8s8, bit for bit, for Ops with kColumnQuads.
template <class Ops>
void dwconv3x3_u8s8_column_quads(const std::uint8_t* input, const DepthwiseRows& r, const DepthwiseWeightsU8S8& w,
                                 std::uint8_t* output) {
    static_assert(Ops::kColumnQuads && 4 * Ops::kLanes <= 64, "quad_units covers blocks of at most 64 channels");
    const auto zero_point = Ops::set1_u8(w.input_zero_point);
    const detail::ColumnQuadConstantsU8<Ops> k{
        zero_point, detail::interleave_column<Ops>(zero_point, zero_point, zero_point),
        PackedRequantization<Ops>(w.requant)};
    constexpr int kBlock = 4 * Ops::kLanes;
    for (int first = 0; first < w.channels; first += kBlock) {
        const int c = detail::block_first_channel<Ops>(first, w.channels);
        if (r.stride == 1)
            detail::sweep_block_rows<Ops, 1>(input, r, w, c, output, k);
        else
            detail::sweep_block_rows<Ops, 2>(input, r, w, c, output, k);
    }
}

}  // namespace mobilenext::kernels::simd

MOBILENEXT_INTRINSICS_END
