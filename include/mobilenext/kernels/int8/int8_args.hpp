#pragma once
// The int8 quantization scheme and what every int8 kernel receives.
//
// Activations: uint8 q, asymmetric per tensor: real = scale * (q - zero_point), zero_point in
// [0, 255], NHWC like the float tensors.
//
// Weights: int8, symmetric per output channel (zero point 0), every value in [-64, 64].
// AVX2 and AVX-512 without VNNI multiply with vpmaddubsw, which sums adjacent u8 x s8 products
// into int16 with saturation. With |w| <= 64 a pair is at most 2 * 255 * 64 = 32640 < 32767,
// so it never saturates and every instruction set computes the same exact int32 sums.
//
// Bias: int32 per output channel with the input's zero point folded in:
//   bias[c] = bias_q[c] - zero_point_in * sum_k w[c][k]   (fold_input_zero_point in pack_int8.hpp)
// so a kernel computes acc = bias[c] + sum_k q_in[k] * w[c][k] in int32, exactly: a sum stays
// within 2^31 while K * 255 * 64 + |bias| < 2^31 (K <= 65536 and |bias| < 2^30 are checked at
// packing).
//
// Requantization (1x1 and depthwise): one float multiplier per output channel,
// M[c] = s_in * s_w[c] / s_out, and
//   y = clamp(round_half_even(float(acc) * M[c]) + zero_point_out, lo, hi)
// float(acc) is the round-to-nearest int32 -> float conversion, then one float multiply, with
// no fused add anywhere (the bias stays in int32), so no instruction set can contract it
// differently. The clamp is done in float, on [lo - zero_point_out, hi - zero_point_out],
// before the float -> int conversion: huge values cannot overflow the conversion, and since
// both bounds are integers, clamping before or after rounding gives the same value. Rounding is
// half to even: _mm*_cvtps_epi32 under the default MXCSR, vcvtnq_s32_f32 on NEON,
// std::nearbyint in the reference (default rounding mode). lo, hi: [0, 255] with no
// activation; ReLU6 fused as lo = max(0, zero_point_out), hi = min(255, zero_point_out +
// round(6 / s_out)) (output_range in pack_int8.hpp, computed once when the weights are packed).
// This is ONNX QLinearConv (integer accumulation, then saturate(round(acc * M[c]) +
// zero_point_out)) with M[c] formed as ONNX Runtime forms it: in float, (s_in * s_w[c]) / s_out,
// each operation rounded (derive_int8_conv in blocks/int8_block_parts.hpp).
//
// Depthwise 3x3 (padding 1, stride 1 or 2): padding reads the input's zero point (real 0.0),
// which the folded bias then cancels like any other input value.
//
// Partial shortcut add (the sandglass block's partial identity, y = a + b on the first
// shortcut_channels channels): the definition of ONNX's QLinearAdd (and of the graph
// DequantizeLinear, Add, QuantizeLinear) in float, each operation rounded to float as written:
//   y = clamp(round_half_even((float(a - za) * s_a + float(b - zb) * s_b) / s_y) + zy, 0, 255)
// The two products are rounded before they are added: a fused multiply-add would round once
// and give other bytes near every rounding boundary, so the kernels keep the compiler from
// contracting them (rounded_product in the vector operations, a stored value in the
// reference). The division is a true division, as QuantizeLinear's: a multiply by 1 / s_y
// differs from it in the last bit. a - za is an integer of at most 9 bits, exact in float, and
// every value is finite (scales are positive normal floats, checked at packing). The clamp is
// done in float before rounding, as in the requantization. The channels beyond
// shortcut_channels are a requantized alone (the same formula with b = zb, whose product is
// +0), or copied when a and y share scale and zero point.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "../kernel_args.hpp"

namespace mobilenext {

// How a uint8 activation tensor maps to real values: real = scale * (q - zero_point).
struct U8Quantization {
    float scale = 1.0f;
    int zero_point = 0;
};

// The output side of a requantization: multipliers per output channel and the output range.
struct Requantization {
    const float* multipliers = nullptr;  // [channel stride] M[c] = s_in * s_w[c] / s_out; 0 in the padding
    int zero_point = 0;                  // of the output
    int lo = 0, hi = 255;                // the output range, ReLU6 folded in
};

// A 1x1 convolution, uint8 [pixels][in_channels] -> uint8 [pixels][out_channels], both dense.
// Weights in column panels like PointwiseWeights, of 4-byte groups: panel p holds the columns
// [p * panel, p * panel + width) as [in_groups][width][4] int8, input channels 4g .. 4g + 3 of
// each column together (in_groups = ceil(in_channels / 4), the missing channels zero), the
// layout a dot product of 4 bytes per int32 lane reads. width = min(panel, out_stride - first
// column); panel and out_stride are multiples of the widest vector's int32 lanes (16).
//
// Store tiles: with store_tile > 0 (a multiple of 16 dividing panel: 4 vectors of a kernel's
// int32 lanes), every whole tile of store_tile columns from column 0 on that ends at or before
// out_channels holds its output channels in pack order: channel first + 16j + 4k + i in slot
// first + k * store_tile / 4 + 4j + i. Vector k of such a tile then holds the channels that
// packing 4 int32 vectors into bytes (int32 -> int16 -> uint8, each within 128-bit lanes) puts
// in plain order, and the tile is stored with one vector store. Weights, bias, weight sums and
// multipliers are all in slot order; slot() maps a channel to its slot.
struct PointwiseWeightsU8S8 {
    const std::int8_t* weights = nullptr;
    const std::int32_t* bias = nullptr;         // [out_stride] by slot, zero point folded in; 0 in the padding
    const std::int32_t* weight_sums = nullptr;  // [out_stride] by slot, sum_k w[c][k]: for s8 x s8 dot products on q - 128
    Requantization requant;                     // multipliers by slot
    int in_channels = 0;
    int out_channels = 0;
    int out_stride = 0;
    int panel = 0;
    int store_tile = 0;

    int in_groups() const { return (in_channels + 3) / 4; }
    int panel_width(int co) const { return std::min(panel, out_stride - co / panel * panel); }
    // Whether the columns from `first` (a multiple of store_tile) on form a tile in pack order.
    bool packed_tile(int first) const { return store_tile > 0 && first + store_tile <= out_channels; }
    // Where output channel co is kept.
    int slot(int co) const {
        if (store_tile == 0) return co;
        const int first = co / store_tile * store_tile, r = co - first;
        if (!packed_tile(first)) return co;
        return first + r % 16 / 4 * (store_tile / 4) + r / 16 * 4 + r % 4;
    }
    // The weight of input channel ci for output channel co.
    std::int8_t at(int ci, int co) const {
        const int column = slot(co), first = column / panel * panel;
        return weights[std::size_t(first) * in_groups() * 4 + std::size_t(ci / 4) * panel_width(column) * 4 +
                       std::size_t(column - first) * 4 + std::size_t(ci % 4)];
    }
};

// A depthwise 3x3 convolution on uint8 NHWC rows (DepthwiseRows says which).
struct DepthwiseWeightsU8S8 {
    const std::int32_t* weights = nullptr;  // [9][channel_stride] tap-major, values in [-64, 64], 0 in the padding
    const std::int32_t* bias = nullptr;     // [channel_stride], zero point folded in
    Requantization requant;
    int channels = 0;
    int channel_stride = 0;  // a multiple of kChannelAlign
    int input_zero_point = 0;  // what the padding reads
    // The same weights, bias and multipliers in column quads, for kernels that take the dot
    // products of a window column's 3 taps (and a zero) at once (simd/dwconv3x3_u8s8_column_quads.hpp).
    // Channels go in units of 16 (one 128-bit lane of input bytes), quad_units of them (a
    // multiple of 4: the widest vector's 64 channels); vector k's 4 int32 lanes in unit u stand
    // for the channels 16u + 4k + i, i = 0 .. 3:
    //   quad_weights[((kx * 4 + k) * quad_units + u) * 16 + i * 4 + ky] = w[16u + 4k + i][ky][kx]
    //     (ky = 3 zero),
    //   quad_bias[(k * quad_units + u) * 4 + i], quad_multipliers[...] likewise.
    // It is the order in which unpacking 4 rows of bytes by bytes, then by pairs of bytes,
    // leaves them, and packing 4 int32 vectors into bytes undoes it.
    const std::int8_t* quad_weights = nullptr;  // [3][4][quad_units][16]
    const std::int32_t* quad_bias = nullptr;    // [4][quad_units][4]
    const float* quad_multipliers = nullptr;    // [4][quad_units][4]
    int quad_units = 0;
};

// A fully connected layer with int8 weights on float inputs (the classifier):
//   y[n][c] = bias[c] + scale[c] * sum_k x[n][k] * w[c][k]
// Only the weights are quantized, symmetric per output channel in [-127, 127]: the layer
// streams every weight once per image and does little else, so its time is the bytes it
// reads, a quarter of float's. The sum is in float, in one fixed order with every product
// rounded (reference::dot_s8), so every instruction set gives the same bits.
struct LinearWeightsS8 {
    const std::int8_t* weights = nullptr;  // [out_features][in_features]
    const float* scales = nullptr;         // [out_features]
    const float* bias = nullptr;           // [out_features]
    int in_features = 0, out_features = 0;
};

// The partial shortcut add (see the scheme above).
struct ShortcutAddU8 {
    int a_zero_point = 0, b_zero_point = 0, y_zero_point = 0;
    float a_scale = 1.0f, b_scale = 1.0f, y_scale = 1.0f;  // positive normal floats
    bool copy_rest = false;  // a and y share scale and zero point: the channels beyond the shortcut are copied
};

}  // namespace mobilenext
