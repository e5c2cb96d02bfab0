#pragma once
// The int8 depthwise 3x3 convolution on the vector operations of one instruction set (Ops: see
// avx512_int8_ops.hpp). Per output pixel and vector of channels: 9 multiply-adds in int32 of
// the zero-extended input bytes by the int32 weights (the weights in [-64, 64], so pmaddwd's
// int16 multiply is exact), then the requantization. A tap in the padding reads a vector of
// the input's zero point; the channels past the last whole vector go through a partial vector.
#include <cstddef>
#include <cstdint>

#include "../int8_args.hpp"
#include "partial_vector_u8.hpp"

namespace mobilenext::kernels::simd {

namespace detail {

// The input pixel each of the 9 taps of one output pixel reads, null in the padding.
struct DepthwiseTapsU8 {
    const std::uint8_t* at[9];
};

template <class Ops>
struct DepthwiseConstantsU8 {
    typename Ops::I32 input_zero_point, output_zero_point;
    float lo, hi;  // the output range less the output's zero point
};

template <class Ops>
typename Ops::I32 depthwise_sum(const DepthwiseTapsU8& taps, const DepthwiseWeightsU8S8& w, int c, int count,
                                const DepthwiseConstantsU8<Ops>& k) {
    typename Ops::I32 acc = Ops::load_i32(w.bias + c);
    for (int t = 0; t < 9; ++t) {
        typename Ops::I32 q = k.input_zero_point;
        if (taps.at[t] != nullptr)
            q = count == Ops::kLanes ? Ops::load_u8(taps.at[t] + c) : load_u8_partial<Ops>(taps.at[t] + c, count);
        acc = Ops::add(acc, Ops::mul_small(q, Ops::load_i32(w.weights + std::size_t(t) * w.channel_stride + c)));
    }
    return acc;
}

template <class Ops>
void depthwise_pixel(const DepthwiseTapsU8& taps, const DepthwiseWeightsU8S8& w, const DepthwiseConstantsU8<Ops>& k,
                     std::uint8_t* out) {
    int c = 0;
    for (; c + Ops::kLanes <= w.channels; c += Ops::kLanes) {
        const auto sum = depthwise_sum<Ops>(taps, w, c, Ops::kLanes, k);
        Ops::store_u8(Ops::requantize(sum, w.requant.multipliers + c, k.lo, k.hi, k.output_zero_point), out + c);
    }
    if (c < w.channels) {
        const int count = w.channels - c;
        const auto sum = depthwise_sum<Ops>(taps, w, c, count, k);
        store_u8_partial<Ops>(Ops::requantize(sum, w.requant.multipliers + c, k.lo, k.hi, k.output_zero_point),
                              out + c, count);
    }
}

// The start of image row y in `input` (DepthwiseRows::input_row), null outside the image.
template <class Ops>
const std::uint8_t* depthwise_input_row(const std::uint8_t* input, const DepthwiseRows& r, int y,
                                        std::size_t row_bytes) {
    if (y < 0 || y >= r.height) return nullptr;
    const int row = y - r.input_first_row;
    const int at = r.ring_rows > 0 ? (row % r.ring_rows + r.ring_rows) % r.ring_rows : row;
    return input + std::size_t(at) * row_bytes;
}

// Calls pixel(taps, out) for every output pixel of the rows r asks for, `channels` bytes a
// pixel, out where its output goes. A template of Ops like every kernel function, so that each
// instruction set's translation unit has its own copy (int8_kernel_table_entry.hpp).
template <class Ops, class Pixel>
void for_each_depthwise_pixel(const std::uint8_t* input, const DepthwiseRows& r, int channels, std::uint8_t* output,
                              Pixel pixel) {
    const int ow = (r.width - 1) / r.stride + 1;
    const std::size_t pixel_bytes = std::size_t(channels), row_bytes = std::size_t(r.width) * pixel_bytes;
    for (int oy = r.out_row_begin; oy < r.out_row_end; ++oy) {
        const std::uint8_t* rows[3];
        for (int ky = 0; ky < 3; ++ky) rows[ky] = depthwise_input_row<Ops>(input, r, oy * r.stride + ky - 1, row_bytes);
        std::uint8_t* out_row = output + std::size_t(oy - r.out_row_begin) * ow * pixel_bytes;
        for (int ox = 0; ox < ow; ++ox) {
            DepthwiseTapsU8 taps;
            for (int ky = 0; ky < 3; ++ky)
                for (int kx = 0; kx < 3; ++kx) {
                    const int x = ox * r.stride + kx - 1;
                    const bool inside = rows[ky] != nullptr && x >= 0 && x < r.width;
                    taps.at[ky * 3 + kx] = inside ? rows[ky] + std::size_t(x) * pixel_bytes : nullptr;
                }
            pixel(taps, out_row + std::size_t(ox) * pixel_bytes);
        }
    }
}

}  // namespace detail

// reference::dwconv3x3_u8s8, bit for bit.
template <class Ops>
void dwconv3x3_u8s8(const std::uint8_t* input, const DepthwiseRows& r, const DepthwiseWeightsU8S8& w,
                    std::uint8_t* output) {
    const detail::DepthwiseConstantsU8<Ops> k{Ops::set1(w.input_zero_point), Ops::set1(w.requant.zero_point),
                                              float(w.requant.lo - w.requant.zero_point),
                                              float(w.requant.hi - w.requant.zero_point)};
    detail::for_each_depthwise_pixel<Ops>(input, r, w.channels, output,
                                     [&](const detail::DepthwiseTapsU8& taps, std::uint8_t* out) {
                                         detail::depthwise_pixel<Ops>(taps, w, k, out);
                                     });
}

}  // namespace mobilenext::kernels::simd
