#pragma once
// An int8 sandglass block from the parts a quantized network is defined by: per layer the int8
// weights, the int32 bias on the accumulator's scale s_in * s_w[c] (the input's zero point not
// folded in, as ONNX QLinearConv stores it) and the weight scales s_w[c]; per tensor its uint8
// quantization. Everything the kernels take is derived here and only here: the folded bias,
// the multipliers (s_in * s_w[c]) / s_out, the output ranges, the shortcut add's parameters.
// Quantization (quantization/quantize_network.hpp) and reading a file
// (io/int8_model_file.hpp) both go through it, so both give the same bits.
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "../core/error.hpp"
#include "../kernels/int8/int8_args.hpp"
#include "../kernels/int8/pack_int8.hpp"
#include "../kernels/kernel_args.hpp"
#include "block_spec.hpp"
#include "int8_sandglass_block.hpp"

namespace mobilenext {

// One int8 convolution as a file stores it.
struct Int8ConvParts {
    std::vector<std::int8_t> weights;          // [out][weights_per_output], in [-64, 64]
    std::vector<std::int32_t> bias;            // [out] on s_in * s_w[c], the input's zero point not folded in
    std::vector<float> weight_scales;          // [out] s_w[c]
};

struct Int8BlockParts {
    Int8ConvParts input_dw, reduce, expand, output_dw;  // the depthwise ones empty when the form has none
};

// The uint8 quantizations of one block's tensors (each layer's output, and the block's output
// after the shortcut add; unused where the form has no such tensor).
struct BlockQuantizations {
    U8Quantization input_dw, reduce, expand, output_dw, output;
};

// What the kernels take for a convolution of `parts` between `input` and `output`.
struct DerivedInt8Conv {
    std::vector<std::int32_t> folded_bias;
    std::vector<float> multipliers;
    OutputRange range;
};

inline DerivedInt8Conv derive_int8_conv(const Int8ConvParts& parts, int channels, int taps,
                                        const U8Quantization& input, const U8Quantization& output, Activation act) {
    DerivedInt8Conv d;
    d.folded_bias = fold_input_zero_point(parts.bias.data(), parts.weights.data(), channels, taps, input.zero_point);
    d.multipliers.resize(std::size_t(channels));
    // In float, one rounding per operation, as ONNX Runtime's QLinearConv forms its output
    // scales: a multiplier formed in double differs from it in the last bit for some channels,
    // and so does every output that lands near a rounding boundary.
    for (int c = 0; c < channels; ++c) {
        const float accumulator_scale = input.scale * parts.weight_scales[std::size_t(c)];
        d.multipliers[std::size_t(c)] = accumulator_scale / output.scale;
    }
    d.range = output_range(output.scale, output.zero_point, act);
    return d;
}

// The parts and what derive_int8_conv made of them, into either kind of layer.
template <class Layer>
void set_int8_conv(Layer& l, Int8ConvParts&& parts, DerivedInt8Conv&& d) {
    l.weights = std::move(parts.weights);
    l.bias = std::move(d.folded_bias);
    l.multipliers = std::move(d.multipliers);
    l.range = d.range;
    l.accumulator_bias = std::move(parts.bias);
    l.weight_scales = std::move(parts.weight_scales);
}

inline Int8PointwiseLayer int8_pointwise_layer(Int8ConvParts parts, int in_channels, int out_channels,
                                               const U8Quantization& input, const U8Quantization& output,
                                               Activation act) {
    DerivedInt8Conv d = derive_int8_conv(parts, out_channels, in_channels, input, output, act);
    Int8PointwiseLayer l;
    set_int8_conv(l, std::move(parts), std::move(d));
    l.in_channels = in_channels;
    l.out_channels = out_channels;
    return l;
}

inline Int8DepthwiseLayer int8_depthwise_layer(Int8ConvParts parts, int channels, const U8Quantization& input,
                                               const U8Quantization& output, Activation act) {
    DerivedInt8Conv d = derive_int8_conv(parts, channels, 9, input, output, act);
    Int8DepthwiseLayer l;
    set_int8_conv(l, std::move(parts), std::move(d));
    l.channels = channels;
    l.input_zero_point = input.zero_point;
    return l;
}

// The block's layers between the quantization of its input and of its tensors. Throws
// mobilenext::Error naming the layer when a bias does not fit with the zero point folded in,
// or the shortcut's scales are outside what its add accepts.
inline Int8SandglassLayers int8_block_from_parts(const BlockSpec& b, Int8BlockParts parts, const U8Quantization& input,
                                                 const BlockQuantizations& q) {
    const std::string where = "features." + std::to_string(b.index);
    Int8SandglassLayers l;
    l.input = input;
    l.tensors = {q.input_dw, q.reduce, q.expand, q.output_dw};
    const auto named = [&](const char* layer, auto make) {
        try {
            return make();
        } catch (const Error& e) {
            throw Error(where + " " + layer + ": " + e.what());
        }
    };
    U8Quantization reduce_input = input;
    if (b.has_input_dw()) {
        l.input_dw = named("input_dw", [&] {
            return int8_depthwise_layer(std::move(parts.input_dw), b.in_channels, input, q.input_dw, Activation::relu6);
        });
        reduce_input = q.input_dw;
    }
    l.reduce = named("reduce", [&] {
        return int8_pointwise_layer(std::move(parts.reduce), b.in_channels, b.hidden, reduce_input, q.reduce,
                                    Activation::none);
    });
    l.expand = named("expand", [&] {
        return int8_pointwise_layer(std::move(parts.expand), b.hidden, b.out_channels, q.reduce, q.expand,
                                    Activation::relu6);
    });
    U8Quantization last = q.expand;
    if (b.has_output_dw()) {
        l.output_dw = named("output_dw", [&] {
            return int8_depthwise_layer(std::move(parts.output_dw), b.out_channels, q.expand, q.output_dw,
                                        Activation::none);
        });
        last = q.output_dw;
    }
    l.output = last;
    if (b.shortcut_channels > 0) {
        l.shortcut = named("shortcut add", [&] {
            return shortcut_add_u8(last.scale, last.zero_point, input.scale, input.zero_point, q.output.scale,
                                   q.output.zero_point);
        });
        l.output = q.output;
    }
    return l;
}

}  // namespace mobilenext
