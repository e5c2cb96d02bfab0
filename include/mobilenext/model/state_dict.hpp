#pragma once
// Weights by PyTorch state-dict name, in PyTorch's layouts, before folding and packing: what a
// weight file holds and what the network is built from. expected_state_dict() lists, for a
// topology, every tensor the authors' layout has, with its shape.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "topology.hpp"

namespace mobilenext {

struct HostTensor {
    std::vector<std::int64_t> shape;
    std::vector<float> values;
};

using StateDict = std::map<std::string, HostTensor>;

inline std::string shape_string(const std::vector<std::int64_t>& shape) {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

// Index j of the layers inside `features.{i}.conv` (activations count), per form.
struct BlockLayerIndices {
    int input_dw = -1, reduce = -1, expand = -1, output_dw = -1;  // BatchNorm at index + 1
};

inline BlockLayerIndices block_layer_indices(BlockForm form) {
    switch (form) {
        case BlockForm::head_t2:
        case BlockForm::full: return {0, 3, 5, 8};
        case BlockForm::pointwise_only: return {-1, 0, 2, -1};
        case BlockForm::pointwise_dw_s2: return {-1, 0, 2, 5};
    }
    return {};
}

inline std::string block_layer_name(const BlockSpec& b, int layer, const std::string& prefix = "") {
    return prefix + "features." + std::to_string(b.index) + ".conv." + std::to_string(layer);
}

// What each convolution of the network is for.
enum class LayerRole { stem, input_dw, reduce, expand, output_dw };

// A convolution followed by BatchNorm, as the state dict names it.
struct ConvBnLayer {
    LayerRole role;
    int block = -1;  // index into Topology::blocks; -1 for the stem
    std::string conv, bn;
    std::vector<std::int64_t> weight_shape;  // [out, in / groups, kh, kw]
};

inline const char* const kClassifierWeight = "classifier.1.weight";
inline const char* const kClassifierBias = "classifier.1.bias";

// The one table of the network's convolutions, in state-dict order: the network reads its
// weights by walking it, and expected_state_dict() (shape inference, random weights) lists
// its tensors from it. The classifier (kClassifierWeight, kClassifierBias) follows. `prefix`
// is what the names start with ("backbone." in a detector).
inline std::vector<ConvBnLayer> conv_bn_layers(const Topology& t, const std::string& prefix = "") {
    std::vector<ConvBnLayer> out;
    out.push_back({LayerRole::stem, -1, prefix + "features.0.0", prefix + "features.0.1",
                   {t.stem_channels, t.config.in_channels, 3, 3}});
    for (std::size_t i = 0; i < t.blocks.size(); ++i) {
        const BlockSpec& b = t.blocks[i];
        const BlockLayerIndices j = block_layer_indices(b.form);
        const auto add = [&](LayerRole role, int index, std::vector<std::int64_t> shape) {
            out.push_back({role, int(i), block_layer_name(b, index, prefix), block_layer_name(b, index + 1, prefix),
                           std::move(shape)});
        };
        if (b.has_input_dw()) add(LayerRole::input_dw, j.input_dw, {b.in_channels, 1, 3, 3});
        add(LayerRole::reduce, j.reduce, {b.hidden, b.in_channels, 1, 1});
        add(LayerRole::expand, j.expand, {b.out_channels, b.hidden, 1, 1});
        if (b.has_output_dw()) add(LayerRole::output_dw, j.output_dw, {b.out_channels, 1, 3, 3});
    }
    return out;
}

struct ExpectedTensor {
    std::string name;
    std::vector<std::int64_t> shape;
};

// A convolution's weight and its BatchNorm's four tensors, appended to `out`.
inline void add_conv_bn_tensors(const ConvBnLayer& layer, std::vector<ExpectedTensor>& out) {
    out.push_back({layer.conv + ".weight", layer.weight_shape});
    for (const char* field : {"weight", "bias", "running_mean", "running_var"})
        out.push_back({layer.bn + "." + field, {layer.weight_shape[0]}});
}

// Every tensor of the model in state-dict order, BatchNorm statistics included
// (num_batches_tracked excepted: it does not affect inference).
inline std::vector<ExpectedTensor> expected_state_dict(const Topology& t) {
    std::vector<ExpectedTensor> out;
    for (const ConvBnLayer& layer : conv_bn_layers(t)) add_conv_bn_tensors(layer, out);
    out.push_back({kClassifierWeight, {t.config.num_classes, t.last_channels}});
    out.push_back({kClassifierBias, {t.config.num_classes}});
    return out;
}

}  // namespace mobilenext
