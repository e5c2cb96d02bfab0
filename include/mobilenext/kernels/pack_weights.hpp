#pragma once
// Packs PyTorch-layout convolution weights, scaled per output channel by folded BatchNorm,
// into the layouts of kernel_args.hpp. Done once at load; the kernels only read the result.
#include <algorithm>
#include <cstddef>
#include <string>

#include "../core/aligned_buffer.hpp"
#include "../core/error.hpp"
#include "kernel_args.hpp"

namespace mobilenext {

struct PackedDepthwise {
    AlignedBuffer weights, bias;
    int channels = 0;
    DepthwiseWeights view() const { return {weights.data(), bias.data(), channels, round_up_channels(channels)}; }
};

struct PackedPointwise {
    AlignedBuffer weights, bias;
    int in_channels = 0, out_channels = 0;
    int panel = kPointwisePanel;
    PointwiseWeights view() const {
        return {weights.data(), bias.data(), in_channels, out_channels, round_up_channels(out_channels), panel};
    }
};

struct PackedStem {
    AlignedBuffer weights, bias;
    int in_channels = 0, out_channels = 0;
    StemWeights view() const {
        return {weights.data(), bias.data(), in_channels, out_channels, round_up_channels(out_channels)};
    }
};

namespace internal {
inline AlignedBuffer pack_bias(const float* bias, int channels) {
    AlignedBuffer packed(std::size_t(round_up_channels(channels)));
    for (int c = 0; c < channels; ++c) packed[c] = bias[c];
    return packed;
}
}  // namespace internal

// torch_weights: [C][1][3][3]; scale and bias: [C].
inline PackedDepthwise pack_depthwise(const float* torch_weights, const float* scale, const float* bias, int channels) {
    PackedDepthwise p;
    p.channels = channels;
    const int stride = round_up_channels(channels);
    p.weights.resize(std::size_t(9) * stride);
    for (int c = 0; c < channels; ++c)
        for (int tap = 0; tap < 9; ++tap) p.weights[std::size_t(tap) * stride + c] = torch_weights[c * 9 + tap] * scale[c];
    p.bias = internal::pack_bias(bias, channels);
    return p;
}

// torch_weights: [out][in] (a 1x1 convolution's [out][in][1][1], or a Linear's [out][in]),
// into the column panels of PointwiseWeights, `panel` columns each (a multiple of
// kChannelAlign; see KernelTable::pointwise_panel in kernel_table.hpp, filled from
// simd::pointwise_panel<Arch>() in simd_kernels.hpp).
inline PackedPointwise pack_pointwise(const float* torch_weights, const float* scale, const float* bias,
                                      int in_channels, int out_channels, int panel = kPointwisePanel) {
    internal::check(panel > 0 && panel % kChannelAlign == 0,
                    "pointwise weights: panels of " + std::to_string(panel) + " columns, expected a multiple of " +
                        std::to_string(kChannelAlign));
    PackedPointwise p;
    p.in_channels = in_channels;
    p.out_channels = out_channels;
    p.panel = panel;
    p.weights.resize(std::size_t(in_channels) * round_up_channels(out_channels));
    p.bias = internal::pack_bias(bias, out_channels);
    const PointwiseWeights view = p.view();
    float* const packed = p.weights.data();
    for (int co = 0; co < out_channels; ++co) {
        const float s = scale ? scale[co] : 1.0f;
        const std::size_t offset = std::size_t(view.at(0, co) - view.weights), step = std::size_t(view.panel_width(co));
        for (int ci = 0; ci < in_channels; ++ci)
            packed[offset + std::size_t(ci) * step] = torch_weights[std::size_t(co) * in_channels + ci] * s;
    }
    return p;
}

// torch_weights: [out][in][3][3].
inline PackedStem pack_stem(const float* torch_weights, const float* scale, const float* bias, int in_channels,
                            int out_channels) {
    PackedStem p;
    p.in_channels = in_channels;
    p.out_channels = out_channels;
    const int stride = round_up_channels(out_channels);
    p.weights.resize(std::size_t(9) * in_channels * stride);
    for (int co = 0; co < out_channels; ++co)
        for (int ci = 0; ci < in_channels; ++ci)
            for (int tap = 0; tap < 9; ++tap)
                p.weights[(std::size_t(tap) * in_channels + ci) * stride + co] =
                    torch_weights[(std::size_t(co) * in_channels + ci) * 9 + tap] * scale[co];
    p.bias = internal::pack_bias(bias, out_channels);
    return p;
}

}  // namespace mobilenext
