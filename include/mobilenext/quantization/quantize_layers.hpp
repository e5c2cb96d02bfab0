#pragma once
// One folded float convolution into its int8 layer, given the uint8 quantization of its input
// and output: weights per output channel (weight_quantization.hpp) and the bias on the
// accumulator's scale (bias_quantization.hpp); the rest (folded bias, multipliers
// s_in * s_w[c] / s_out, output range) derived from them by blocks/int8_block_parts.hpp.
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "../blocks/int8_block_parts.hpp"
#include "../blocks/int8_sandglass_block.hpp"
#include "../core/error.hpp"
#include "../kernels/int8/pack_int8.hpp"
#include "../model/folded_weights.hpp"
#include "bias_quantization.hpp"
#include "weight_quantization.hpp"

namespace mobilenext {

// The int8 parts of a folded float convolution for an input of quantization `input`: weights
// per output channel, each channel's scale at least what its bias needs to fit, and the bias on
// the accumulator's scale. `what` names the layer in errors.
inline Int8ConvParts quantize_conv_parts(const FoldedConv& conv, const U8Quantization& input, const std::string& what) {
    try {
        const int channels = conv.out_channels, taps = conv.weights_per_output;
        std::vector<float> min_scales(static_cast<std::size_t>(channels));
        for (int c = 0; c < channels; ++c)
            min_scales[std::size_t(c)] = min_weight_scale_for_bias(conv.bias[std::size_t(c)], input.scale);
        QuantizedWeights w =
            quantize_weights_per_channel(conv.weights.data(), channels, taps, min_scales.data(), "weights");
        Int8ConvParts parts;
        parts.bias = quantize_bias(conv.bias.data(), channels, input.scale, w.scales.data());
        parts.weights = std::move(w.values);
        parts.weight_scales = std::move(w.scales);
        return parts;
    } catch (const Error& e) {
        throw Error(what + ": " + e.what());
    }
}

inline Int8PointwiseLayer quantize_pointwise_layer(const FoldedConv& conv, const U8Quantization& input,
                                                   const U8Quantization& output, Activation act,
                                                   const std::string& what) {
    Int8ConvParts parts = quantize_conv_parts(conv, input, what);
    try {
        return int8_pointwise_layer(std::move(parts), conv.weights_per_output, conv.out_channels, input, output, act);
    } catch (const Error& e) {
        throw Error(what + ": " + e.what());
    }
}

inline Int8DepthwiseLayer quantize_depthwise_layer(const FoldedConv& conv, const U8Quantization& input,
                                                   const U8Quantization& output, Activation act,
                                                   const std::string& what) {
    internal::check(conv.weights_per_output == 9, what + ": a depthwise 3x3 layer has 9 weights per channel, found " +
                                                      std::to_string(conv.weights_per_output));
    Int8ConvParts parts = quantize_conv_parts(conv, input, what);
    try {
        return int8_depthwise_layer(std::move(parts), conv.out_channels, input, output, act);
    } catch (const Error& e) {
        throw Error(what + ": " + e.what());
    }
}

}  // namespace mobilenext
