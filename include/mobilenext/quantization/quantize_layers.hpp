#pragma once
// One folded float convolution into its int8 layer, given the uint8 quantization of its input
// and output: weights per output channel (weight_quantization.hpp), the bias on the
// accumulator's scale (bias_quantization.hpp) with the input's zero point folded in, the
// requantization multipliers s_in * s_w[c] / s_out and the output range (ReLU6 folded in).
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "../blocks/int8_sandglass_block.hpp"
#include "../core/error.hpp"
#include "../kernels/int8/pack_int8.hpp"
#include "../model/folded_weights.hpp"
#include "bias_quantization.hpp"
#include "weight_quantization.hpp"

namespace mobilenext {

struct QuantizedConv {
    std::vector<std::int8_t> weights;  // [out][weights_per_output]
    std::vector<std::int32_t> bias;    // the input's zero point folded in
    std::vector<float> multipliers;
    OutputRange range;
};

// `what` names the layer in errors.
inline QuantizedConv quantize_conv(const FoldedConv& conv, const U8Quantization& input, const U8Quantization& output,
                                   Activation act, const std::string& what) {
    try {
        const int channels = conv.out_channels, taps = conv.weights_per_output;
        std::vector<float> min_scales(static_cast<std::size_t>(channels));
        for (int c = 0; c < channels; ++c)
            min_scales[std::size_t(c)] = min_weight_scale_for_bias(conv.bias[std::size_t(c)], input.scale);
        const QuantizedWeights w =
            quantize_weights_per_channel(conv.weights.data(), channels, taps, min_scales.data(), "weights");
        const std::vector<std::int32_t> bias = quantize_bias(conv.bias.data(), channels, input.scale, w.scales.data());
        QuantizedConv q;
        q.weights = w.values;
        q.bias = fold_input_zero_point(bias.data(), w.values.data(), channels, taps, input.zero_point);
        q.multipliers.resize(static_cast<std::size_t>(channels));
        for (int c = 0; c < channels; ++c)
            q.multipliers[std::size_t(c)] =
                float(double(input.scale) * double(w.scales[std::size_t(c)]) / double(output.scale));
        q.range = output_range(output.scale, output.zero_point, act);
        return q;
    } catch (const Error& e) {
        throw Error(what + ": " + e.what());
    }
}

inline Int8PointwiseLayer quantize_pointwise_layer(const FoldedConv& conv, const U8Quantization& input,
                                                   const U8Quantization& output, Activation act,
                                                   const std::string& what) {
    QuantizedConv q = quantize_conv(conv, input, output, act, what);
    Int8PointwiseLayer l;
    l.weights = std::move(q.weights);
    l.bias = std::move(q.bias);
    l.multipliers = std::move(q.multipliers);
    l.range = q.range;
    l.in_channels = conv.weights_per_output;
    l.out_channels = conv.out_channels;
    return l;
}

inline Int8DepthwiseLayer quantize_depthwise_layer(const FoldedConv& conv, const U8Quantization& input,
                                                   const U8Quantization& output, Activation act,
                                                   const std::string& what) {
    internal::check(conv.weights_per_output == 9, what + ": a depthwise 3x3 layer has 9 weights per channel, found " +
                                                      std::to_string(conv.weights_per_output));
    QuantizedConv q = quantize_conv(conv, input, output, act, what);
    Int8DepthwiseLayer l;
    l.weights = std::move(q.weights);
    l.bias = std::move(q.bias);
    l.multipliers = std::move(q.multipliers);
    l.range = q.range;
    l.channels = conv.out_channels;
    l.input_zero_point = input.zero_point;
    return l;
}

}  // namespace mobilenext
