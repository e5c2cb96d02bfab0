#pragma once
// Post-training quantization of a MobileNeXt, in C++: the float network's folded weights
// (model/folded_weights.hpp) and a calibration batch in, the int8 network's weights out
// (model/int8_network_weights.hpp; Int8Network runs them).
//
// The calibration batch runs through the float network layer after layer
// (float_layer_evaluation.hpp); an observer per quantized tensor (activation_observers.hpp)
// turns the values it takes into a range, and the range into a uint8 scale and zero point
// (u8_quantization.hpp). Then each block's layers are quantized between the quantizations of
// their input and output (quantize_layers.hpp), and the partial shortcut gets its add's
// parameters. A block's output quantization is the next block's input quantization.
#include <cmath>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "../blocks/int8_block_parts.hpp"
#include "../core/error.hpp"
#include "../core/tensor.hpp"
#include "../kernels/int8/pack_int8.hpp"
#include "../kernels/kernel_table.hpp"
#include "../kernels/reference_kernels.hpp"
#include "../model/folded_weights.hpp"
#include "../model/int8_network_weights.hpp"
#include "../model/network.hpp"
#include "../model/state_dict.hpp"
#include "activation_observers.hpp"
#include "float_layer_evaluation.hpp"
#include "quantize_layers.hpp"
#include "u8_quantization.hpp"
#include "weight_quantization.hpp"

namespace mobilenext {

struct QuantizationOptions {
    ObserverOptions observer;  // how each tensor's observed values become its range
};

namespace internal {

inline void check_calibration_finite(const float* values, const Shape4& s) {
    const std::size_t count = std::size_t(s.n) * s.h * s.w * s.c;
    for (std::size_t i = 0; i < count; ++i)
        if (!std::isfinite(values[i])) {
            const std::size_t c = i % s.c, x = i / s.c % s.w, y = i / s.c / s.w % s.h, n = i / s.c / s.w / s.h;
            fail("calibration batch: element [" + std::to_string(n) + "][" + std::to_string(y) + "][" +
                 std::to_string(x) + "][" + std::to_string(c) + "] (NHWC) is " + std::to_string(values[i]) +
                 "; calibration data must be finite");
        }
}

inline std::string quantization_point_name(const Topology& t, int block, QuantizationPoint point) {
    if (block < 0) return "stem output (features.0)";
    const BlockSpec& b = t.blocks[std::size_t(block)];
    const BlockLayerIndices j = block_layer_indices(b.form);
    switch (point) {
        case QuantizationPoint::input_dw: return block_layer_name(b, j.input_dw) + " output";
        case QuantizationPoint::reduce: return block_layer_name(b, j.reduce) + " output";
        case QuantizationPoint::expand: return block_layer_name(b, j.expand) + " output";
        case QuantizationPoint::output_dw: return block_layer_name(b, j.output_dw) + " output";
        case QuantizationPoint::block_output:
        case QuantizationPoint::stem_output: break;
    }
    return "features." + std::to_string(b.index) + " output (after the shortcut add)";
}

// One block's int8 layers between the quantizations of its input and of its tensors.
inline Int8SandglassLayers quantize_block(const BlockSpec& b, const FoldedBlockWeights& w, const U8Quantization& input,
                                          const BlockQuantizations& q) {
    const BlockLayerIndices j = block_layer_indices(b.form);
    Int8BlockParts parts;
    U8Quantization reduce_input = input;
    if (b.has_input_dw()) {
        parts.input_dw = quantize_conv_parts(w.input_dw, input, block_layer_name(b, j.input_dw));
        reduce_input = q.input_dw;
    }
    parts.reduce = quantize_conv_parts(w.reduce, reduce_input, block_layer_name(b, j.reduce));
    parts.expand = quantize_conv_parts(w.expand, q.reduce, block_layer_name(b, j.expand));
    if (b.has_output_dw()) parts.output_dw = quantize_conv_parts(w.output_dw, q.expand, block_layer_name(b, j.output_dw));
    return int8_block_from_parts(b, std::move(parts), input, q);
}

}  // namespace internal

// calibration: NHWC [shape.n][shape.h][shape.w][in_channels] floats, preprocessed as the
// network's inputs are, finite. `float_kernels` runs the float evaluation (any table gives
// ranges that differ only by float rounding; the reference is the slowest).
inline Int8NetworkWeights quantize_network(const FoldedNetworkWeights& folded, const float* calibration,
                                           const Shape4& shape, const QuantizationOptions& options = {},
                                           const kernels::KernelTable& float_kernels = kernels::kReferenceKernels) {
    const Topology& t = folded.topology;
    internal::check(calibration != nullptr, "calibration batch: null pointer");
    internal::check_backbone_input(t, shape, "calibration batch");
    internal::check(folded.blocks.size() == t.blocks.size(),
                    "quantize_network: " + std::to_string(folded.blocks.size()) + " blocks of weights for " +
                        std::to_string(t.blocks.size()) + " blocks");
    internal::check_calibration_finite(calibration, shape);

    U8Quantization stem_output;
    std::vector<BlockQuantizations> quantizations(t.blocks.size());
    const LayerwiseFloatNetwork network(folded, float_kernels);
    network.run(calibration, shape, [&](int block, QuantizationPoint point, const float* values, std::size_t count) {
        const std::string what = internal::quantization_point_name(t, block, point);
        ActivationObserver observer(options.observer, what);
        observer.observe(values, count);
        const U8Quantization q = choose_u8_quantization(observer.range(), what);
        if (block < 0) {
            stem_output = q;
            return;
        }
        BlockQuantizations& b = quantizations[std::size_t(block)];
        switch (point) {
            case QuantizationPoint::input_dw: b.input_dw = q; break;
            case QuantizationPoint::reduce: b.reduce = q; break;
            case QuantizationPoint::expand: b.expand = q; break;
            case QuantizationPoint::output_dw: b.output_dw = q; break;
            case QuantizationPoint::block_output: b.output = q; break;
            case QuantizationPoint::stem_output: break;
        }
    });

    Int8NetworkWeights out;
    out.topology = t;
    out.stem = folded.stem;
    out.stem_output = stem_output;
    QuantizedWeights classifier =
        quantize_weights_per_channel(folded.classifier_weight.data(), t.config.num_classes, t.last_channels, nullptr,
                                     "classifier.weight", kMaxLinearWeight);
    out.classifier_weight = std::move(classifier.values);
    out.classifier_weight_scales = std::move(classifier.scales);
    out.classifier_bias = folded.classifier_bias;
    U8Quantization input = stem_output;
    for (std::size_t i = 0; i < t.blocks.size(); ++i) {
        out.blocks.push_back(internal::quantize_block(t.blocks[i], folded.blocks[i], input, quantizations[i]));
        input = out.blocks.back().output;
    }
    return out;
}

}  // namespace mobilenext
