#pragma once
// A network's weights with BatchNorm folded in but not packed: each convolution's weights in
// PyTorch's layout, scaled per output channel, and its bias. What quantization starts from
// (quantization/quantize_network.hpp). Read from a state dict by the same StateDictReader and
// BatchNorm folding as the float network, and scaled with the same float product
// (weight * scale[c]) that the pack functions form, so the values are the float network's
// bit for bit.
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../kernels/pack_weights.hpp"
#include "../kernels/reference_kernels.hpp"
#include "state_dict.hpp"
#include "state_dict_reader.hpp"
#include "topology.hpp"

namespace mobilenext {

struct FoldedConv {
    std::vector<float> weights;  // [out][in / groups][kh][kw], BatchNorm's scale applied
    std::vector<float> bias;     // [out], BatchNorm's shift
    int out_channels = 0;
    int weights_per_output = 0;  // in / groups * kh * kw

    bool empty() const { return out_channels == 0; }
};

struct FoldedBlockWeights {
    FoldedConv input_dw, reduce, expand, output_dw;  // the depthwise ones empty when the form has none
};

struct FoldedNetworkWeights {
    Topology topology;
    FoldedConv stem;
    std::vector<FoldedBlockWeights> blocks;
    std::vector<float> classifier_weight;  // [classes][last_channels]
    std::vector<float> classifier_bias;    // [classes]
};

namespace internal {

inline FoldedConv read_folded_conv(StateDictReader& r, const ConvBnLayer& layer) {
    const int out = int(layer.weight_shape[0]);
    const FoldedBatchNorm f = r.batch_norm(layer.bn, out);
    const HostTensor& w = r.get(layer.conv + ".weight", layer.weight_shape);
    FoldedConv c;
    c.out_channels = out;
    c.weights_per_output = int(w.values.size() / std::size_t(out));
    c.weights.resize(w.values.size());
    for (int co = 0; co < out; ++co)
        for (int k = 0; k < c.weights_per_output; ++k) {
            const std::size_t i = std::size_t(co) * std::size_t(c.weights_per_output) + std::size_t(k);
            c.weights[i] = w.values[i] * f.scale[std::size_t(co)];
        }
    c.bias = f.bias;
    for (const std::vector<float>* values : {&c.weights, &c.bias})
        for (std::size_t i = 0; i < values->size(); ++i)
            if (!(std::fabs((*values)[i]) <= kMaxFoldedWeight))
                throw LoadError(r.source(), layer.conv + ".weight",
                                "weights that stay finite, within 1e12, once BatchNorm is folded into them",
                                std::to_string((*values)[i]) +
                                    (values == &c.weights ? " in the folded weights" : " in the folded bias"));
    return c;
}

}  // namespace internal

// `source` names where the weights came from, for error messages. Refuses what the float
// network refuses: missing, misshapen or unexpected tensors, BatchNorm that folds to
// non-finite values.
inline FoldedNetworkWeights read_folded_weights(const NetworkConfig& config, const StateDict& weights,
                                                const std::string& source = "state dict") {
    FoldedNetworkWeights folded;
    folded.topology = derive_topology(config);
    const Topology& t = folded.topology;
    internal::StateDictReader r(weights, source, kernels::kReferenceKernels);
    folded.blocks.resize(t.blocks.size());
    for (const ConvBnLayer& layer : conv_bn_layers(t)) {
        FoldedConv conv = internal::read_folded_conv(r, layer);
        FoldedBlockWeights* b = layer.block >= 0 ? &folded.blocks[std::size_t(layer.block)] : nullptr;
        switch (layer.role) {
            case LayerRole::stem: folded.stem = std::move(conv); break;
            case LayerRole::input_dw: b->input_dw = std::move(conv); break;
            case LayerRole::reduce: b->reduce = std::move(conv); break;
            case LayerRole::expand: b->expand = std::move(conv); break;
            case LayerRole::output_dw: b->output_dw = std::move(conv); break;
        }
    }
    folded.classifier_weight = r.get(kClassifierWeight, {config.num_classes, t.last_channels}).values;
    folded.classifier_bias = r.get(kClassifierBias, {config.num_classes}).values;
    r.check_all_used();
    return folded;
}

// Packed for the float kernels: the BatchNorm scale is already in the weights, so the packing
// multiplies by one (exact), giving the float network's packed values.
inline PackedStem pack_folded_stem(const FoldedConv& stem, int in_channels) {
    const std::vector<float> ones(std::size_t(stem.out_channels), 1.0f);
    return pack_stem(stem.weights.data(), ones.data(), stem.bias.data(), in_channels, stem.out_channels);
}

inline PackedDepthwise pack_folded_depthwise(const FoldedConv& dw) {
    const std::vector<float> ones(std::size_t(dw.out_channels), 1.0f);
    return pack_depthwise(dw.weights.data(), ones.data(), dw.bias.data(), dw.out_channels);
}

inline PackedPointwise pack_folded_pointwise(const FoldedConv& pw, int panel = kPointwisePanel) {
    return pack_pointwise(pw.weights.data(), nullptr, pw.bias.data(), pw.weights_per_output, pw.out_channels, panel);
}

}  // namespace mobilenext
