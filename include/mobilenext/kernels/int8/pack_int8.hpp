#pragma once
// Packs int8 weights into the layouts of int8_args.hpp and derives the scheme's integer
// parameters (folded biases, output ranges, the shortcut add's parameters). Done once at
// load; the kernels only read the result.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "../../core/error.hpp"
#include "../kernel_args.hpp"
#include "int8_args.hpp"

namespace mobilenext {

struct OutputRange {
    int zero_point = 0;
    int lo = 0, hi = 255;
};

// The output range of int8_args.hpp: [0, 255], or ReLU6 fused as
// [max(0, zero_point), min(255, zero_point + round(6 / scale))].
inline OutputRange output_range(float scale, int zero_point, Activation act) {
    if (!(scale > 0.0f) || zero_point < 0 || zero_point > 255)
        throw Error("output quantization: scale must be > 0 and zero point in [0, 255], found scale " +
                    std::to_string(scale) + ", zero point " + std::to_string(zero_point));
    if (act == Activation::none) return {zero_point, 0, 255};
    const long six = std::lround(6.0 / double(scale));
    return {zero_point, std::max(0, zero_point), int(std::min<long>(255, zero_point + six))};
}

// bias_q[c] - zero_point_in * sum_k w[c][k] for weights [channels][taps]: the bias the kernels
// take, so that they sum q * w with no zero-point term.
inline std::vector<std::int32_t> fold_input_zero_point(const std::int32_t* bias_q, const std::int8_t* weights,
                                                       int channels, int taps, int zero_point_in) {
    std::vector<std::int32_t> folded(static_cast<std::size_t>(channels));
    for (int c = 0; c < channels; ++c) {
        std::int64_t sum = 0;
        for (int k = 0; k < taps; ++k) sum += weights[std::size_t(c) * taps + k];
        const std::int64_t value = std::int64_t(bias_q[c]) - std::int64_t(zero_point_in) * sum;
        if (value <= -(std::int64_t(1) << 30) || value >= (std::int64_t(1) << 30))
            throw Error("int8 bias of channel " + std::to_string(c) + " is beyond +-2^30 with the zero point folded in");
        folded[std::size_t(c)] = std::int32_t(value);
    }
    return folded;
}

namespace internal {

inline void check_int8_weights(const std::int8_t* weights, std::size_t count, const char* what) {
    for (std::size_t i = 0; i < count; ++i)
        if (weights[i] < -64 || weights[i] > 64)
            throw Error(std::string(what) + ": int8 weight " + std::to_string(i) + " is " + std::to_string(weights[i]) +
                        ", outside [-64, 64] (the range every instruction set sums exactly)");
}

inline void check_int8_bias(const std::int32_t* bias, int channels, const char* what) {
    for (int c = 0; c < channels; ++c)
        if (bias[c] <= -(1 << 30) || bias[c] >= (1 << 30))
            throw Error(std::string(what) + ": bias of channel " + std::to_string(c) + " is beyond +-2^30");
}

inline void check_multipliers(const float* multipliers, int channels, const char* what) {
    for (int c = 0; c < channels; ++c)
        if (!(multipliers[c] >= 0.0f && multipliers[c] < 1e6f))
            throw Error(std::string(what) + ": multiplier of channel " + std::to_string(c) + " is not in [0, 1e6)");
}

template <class T>
std::vector<T> padded_copy(const T* values, int count, int padded) {
    std::vector<T> v(std::size_t(padded), T(0));
    std::copy(values, values + count, v.begin());
    return v;
}

// The checks every packed int8 layer makes: weights in [-64, 64], bias and multipliers usable.
inline void check_int8_layer(const std::int8_t* weights, std::size_t weight_count, const std::int32_t* bias,
                             const float* multipliers, int out_channels, const char* what) {
    check_int8_weights(weights, weight_count, what);
    check_int8_bias(bias, out_channels, what);
    check_multipliers(multipliers, out_channels, what);
}

}  // namespace internal

struct PackedPointwiseU8S8 {
    std::vector<std::int8_t> weights;
    std::vector<std::int32_t> bias, weight_sums;
    std::vector<float> multipliers;
    OutputRange range;
    int in_channels = 0, out_channels = 0, out_stride = 0, panel = 0, store_tile = 0;

    PointwiseWeightsU8S8 view() const {
        return {weights.data(), bias.data(), weight_sums.data(),
                {multipliers.data(), range.zero_point, range.lo, range.hi},
                in_channels, out_channels, out_stride, panel, store_tile};
    }
};

// weights: [out][in] int8 in [-64, 64]; bias: [out], the input's zero point folded in
// (fold_input_zero_point); multipliers: [out]. `panel`: Int8KernelTable::pointwise_panel, a
// multiple of 16; `store_tile`: Int8KernelTable::pointwise_store_tile, 0 or a multiple of 16
// dividing the panel (int8_args.hpp).
inline PackedPointwiseU8S8 pack_pointwise_u8s8(const std::int8_t* weights, const std::int32_t* bias,
                                               const float* multipliers, int in_channels, int out_channels,
                                               OutputRange range, int panel, int store_tile = 0) {
    if (in_channels < 1 || in_channels > 65536 || out_channels < 1 || panel < kChannelAlign ||
        panel % kChannelAlign != 0 || store_tile < 0 || store_tile % kChannelAlign != 0 ||
        (store_tile > 0 && panel % store_tile != 0))
        throw Error("pack_pointwise_u8s8: channels " + std::to_string(in_channels) + " -> " +
                    std::to_string(out_channels) + ", panel " + std::to_string(panel) + " or store tile " +
                    std::to_string(store_tile) + " out of range");
    internal::check_int8_layer(weights, std::size_t(in_channels) * out_channels, bias, multipliers, out_channels,
                               "pack_pointwise_u8s8");
    PackedPointwiseU8S8 p;
    p.in_channels = in_channels;
    p.out_channels = out_channels;
    p.out_stride = round_up_channels(out_channels);
    p.panel = panel;
    p.store_tile = store_tile;
    p.range = range;
    p.bias.assign(std::size_t(p.out_stride), 0);
    p.multipliers.assign(std::size_t(p.out_stride), 0.0f);
    p.weight_sums.assign(std::size_t(p.out_stride), 0);
    const int groups = (in_channels + 3) / 4;
    p.weights.assign(std::size_t(groups) * 4 * p.out_stride, 0);
    const PointwiseWeightsU8S8 layout = p.view();
    for (int co = 0; co < out_channels; ++co) {
        const int column = layout.slot(co), first = column / panel * panel;
        const int width = std::min(panel, p.out_stride - first);
        std::int8_t* panel_start = p.weights.data() + std::size_t(first) * groups * 4;
        p.bias[std::size_t(column)] = bias[co];
        p.multipliers[std::size_t(column)] = multipliers[co];
        for (int ci = 0; ci < in_channels; ++ci) {
            const std::int8_t v = weights[std::size_t(co) * in_channels + ci];
            panel_start[(std::size_t(ci / 4) * width + (column - first)) * 4 + ci % 4] = v;
            p.weight_sums[std::size_t(column)] += v;
        }
    }
    return p;
}

struct PackedDepthwiseU8S8 {
    std::vector<std::int32_t> weights, bias;
    std::vector<float> multipliers;
    std::vector<std::int8_t> quad_weights;
    std::vector<std::int32_t> quad_bias;
    std::vector<float> quad_multipliers;
    OutputRange range;
    int channels = 0, channel_stride = 0, input_zero_point = 0, quad_units = 0;

    DepthwiseWeightsU8S8 view() const {
        return {weights.data(),       bias.data(),      {multipliers.data(), range.zero_point, range.lo, range.hi},
                channels,             channel_stride,   input_zero_point,
                quad_weights.data(),  quad_bias.data(), quad_multipliers.data(),
                quad_units};
    }
};

namespace internal {

// The column-quad layout of DepthwiseWeightsU8S8 (int8_args.hpp) from weights [C][9].
inline void pack_depthwise_column_quads(const std::int8_t* weights, const std::int32_t* bias, const float* multipliers,
                                     PackedDepthwiseU8S8& p) {
    const int units = (p.channels + 63) / 64 * 4;
    p.quad_units = units;
    p.quad_weights.assign(std::size_t(3) * 4 * units * 16, 0);
    p.quad_bias.assign(std::size_t(4) * units * 4, 0);
    p.quad_multipliers.assign(std::size_t(4) * units * 4, 0.0f);
    for (int c = 0; c < p.channels; ++c) {
        const int u = c / 16, k = c % 16 / 4, i = c % 4;
        const std::size_t lane = (std::size_t(k) * units + u) * 4 + i;
        p.quad_bias[lane] = bias[c];
        p.quad_multipliers[lane] = multipliers[c];
        for (int ky = 0; ky < 3; ++ky)
            for (int kx = 0; kx < 3; ++kx)
                p.quad_weights[((std::size_t(kx) * 4 + k) * units + u) * 16 + std::size_t(i) * 4 + ky] =
                    weights[std::size_t(c) * 9 + ky * 3 + kx];
    }
}

}  // namespace internal

// weights: [C][1][3][3] int8 in [-64, 64] (PyTorch's layout); bias: [C], the input's zero point
// folded in; multipliers: [C].
inline PackedDepthwiseU8S8 pack_depthwise_u8s8(const std::int8_t* weights, const std::int32_t* bias,
                                               const float* multipliers, int channels, int input_zero_point,
                                               OutputRange range) {
    if (channels < 1 || input_zero_point < 0 || input_zero_point > 255)
        throw Error("pack_depthwise_u8s8: channels " + std::to_string(channels) + " or input zero point " +
                    std::to_string(input_zero_point) + " out of range");
    internal::check_int8_layer(weights, std::size_t(channels) * 9, bias, multipliers, channels,
                               "pack_depthwise_u8s8");
    PackedDepthwiseU8S8 p;
    p.channels = channels;
    p.channel_stride = round_up_channels(channels);
    p.input_zero_point = input_zero_point;
    p.range = range;
    p.bias = internal::padded_copy(bias, channels, p.channel_stride);
    p.multipliers = internal::padded_copy(multipliers, channels, p.channel_stride);
    p.weights.assign(std::size_t(9) * p.channel_stride, 0);
    for (int c = 0; c < channels; ++c)
        for (int tap = 0; tap < 9; ++tap)
            p.weights[std::size_t(tap) * p.channel_stride + c] = weights[std::size_t(c) * 9 + tap];
    internal::pack_depthwise_column_quads(weights, bias, multipliers, p);
    return p;
}

// The parameters of y = a + b (int8_args.hpp). Scales must be normal floats in
// [2^-126, 2^64]: then every product and sum of the add is finite (|a - za| <= 255), and a
// quotient too large for a float is +-inf, which the clamp turns into 0 or 255.
inline ShortcutAddU8 shortcut_add_u8(float scale_a, int zero_point_a, float scale_b, int zero_point_b,
                                     float scale_y, int zero_point_y) {
    const auto usable = [](float s) { return s >= std::numeric_limits<float>::min() && s <= 0x1p64f; };
    const auto in_range = [](int zp) { return zp >= 0 && zp <= 255; };
    if (!usable(scale_a) || !usable(scale_b) || !usable(scale_y) || !in_range(zero_point_a) ||
        !in_range(zero_point_b) || !in_range(zero_point_y))
        throw Error("shortcut_add_u8: scales must be normal floats in [2^-126, 2^64] (found " + std::to_string(scale_a) +
                    ", " + std::to_string(scale_b) + ", " + std::to_string(scale_y) +
                    "), zero points in [0, 255] (found " + std::to_string(zero_point_a) + ", " +
                    std::to_string(zero_point_b) + ", " + std::to_string(zero_point_y) + ")");
    ShortcutAddU8 q;
    q.a_zero_point = zero_point_a;
    q.b_zero_point = zero_point_b;
    q.y_zero_point = zero_point_y;
    q.a_scale = scale_a;
    q.b_scale = scale_b;
    q.y_scale = scale_y;
    q.copy_rest = scale_a == scale_y && zero_point_a == zero_point_y;
    return q;
}

}  // namespace mobilenext
