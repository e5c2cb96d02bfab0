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

inline std::string block_layer_name(const BlockSpec& b, int layer) {
    return "features." + std::to_string(b.index) + ".conv." + std::to_string(layer);
}

struct ExpectedTensor {
    std::string name;
    std::vector<std::int64_t> shape;
};

// Every tensor of the model in state-dict order, BatchNorm statistics included
// (num_batches_tracked excepted: it does not affect inference).
inline std::vector<ExpectedTensor> expected_state_dict(const Topology& t) {
    std::vector<ExpectedTensor> out;
    const auto conv_bn = [&out](const std::string& conv, const std::string& bn, std::vector<std::int64_t> shape) {
        const std::int64_t channels = shape[0];
        out.push_back({conv + ".weight", std::move(shape)});
        for (const char* field : {"weight", "bias", "running_mean", "running_var"})
            out.push_back({bn + "." + field, {channels}});
    };
    conv_bn("features.0.0", "features.0.1", {t.stem_channels, t.config.in_channels, 3, 3});
    for (const BlockSpec& b : t.blocks) {
        const BlockLayerIndices j = block_layer_indices(b.form);
        const auto layer = [&b](int index) { return block_layer_name(b, index); };
        if (b.has_input_dw()) conv_bn(layer(j.input_dw), layer(j.input_dw + 1), {b.in_channels, 1, 3, 3});
        conv_bn(layer(j.reduce), layer(j.reduce + 1), {b.hidden, b.in_channels, 1, 1});
        conv_bn(layer(j.expand), layer(j.expand + 1), {b.out_channels, b.hidden, 1, 1});
        if (b.has_output_dw()) conv_bn(layer(j.output_dw), layer(j.output_dw + 1), {b.out_channels, 1, 3, 3});
    }
    out.push_back({"classifier.1.weight", {t.config.num_classes, t.last_channels}});
    out.push_back({"classifier.1.bias", {t.config.num_classes}});
    return out;
}

}  // namespace mobilenext
