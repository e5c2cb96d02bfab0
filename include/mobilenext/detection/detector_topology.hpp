#pragma once
// The SSDLite-MobileNeXt detector's architecture (see the README's "Detection"): the authors'
// MobileNeXt backbone with identity divisor 1, its two feature maps taken inside blocks 13
// and 20 (after the expansion's ReLU6, before the last depthwise), four extra layers
// (dw3x3 stride 2 + ReLU6, pw linear, pw + ReLU6), and per map a class and a box head
// (separable: dw3x3 with bias + BN + ReLU6, pw with bias; the last map a plain 1x1 with bias).
// One list of its tensors (detector_tensors) serves loading, random weights and checks.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "../model/state_dict.hpp"
#include "../model/topology.hpp"
#include "detector_config.hpp"
#include "priors.hpp"

namespace mobilenext {

// The blocks (their index in `features`) whose expansions are maps 0 and 1.
inline constexpr std::array<int, 2> kMapBlocks{13, 20};
inline constexpr int kExtraLayers = kDetectorMaps - 2;

struct ExtraLayerSpec {
    int in_channels, mid_channels, out_channels;  // dw(in, stride 2), pw(in -> mid), pw(mid -> out)
};

struct DetectorTopology {
    Topology backbone;
    DetectorConfig config;
    std::array<ExtraLayerSpec, kExtraLayers> extras{};
    std::array<int, kDetectorMaps> map_channels{};
};

inline const char* const kBackbonePrefix = "backbone.";

inline DetectorTopology derive_detector_topology(double width, const DetectorConfig& config) {
    validate_detector_config(config);
    DetectorTopology t;
    NetworkConfig backbone;
    backbone.width = width;
    backbone.num_classes = 1;  // no classifier: the count only keeps the backbone's config valid
    t.backbone = derive_topology(backbone);
    t.config = config;
    internal::check(t.backbone.blocks.size() >= std::size_t(kMapBlocks[1]),
                    "detector: the backbone has " + std::to_string(t.backbone.blocks.size()) + " blocks, expected " +
                        std::to_string(kMapBlocks[1]));
    for (int m = 0; m < 2; ++m) {
        const BlockSpec& b = t.backbone.blocks[std::size_t(kMapBlocks[std::size_t(m)] - 1)];
        internal::check(b.has_output_dw() && b.shortcut_channels == 0,
                        "detector: block " + std::to_string(b.index) + " must end with a depthwise and have no shortcut " +
                            "at width " + format_number(width) + " for map " + std::to_string(m) + " to be taken inside it");
        t.map_channels[std::size_t(m)] = b.out_channels;
    }
    // (out channels, reduction ratio) of the extras; the first takes the backbone's last channels.
    const std::array<std::pair<int, double>, kExtraLayers> extras{{{512, 0.2}, {256, 0.25}, {256, 0.5}, {128, 0.5}}};
    int in = t.backbone.last_channels;
    for (int k = 0; k < kExtraLayers; ++k) {
        const auto [out, ratio] = extras[std::size_t(k)];
        t.extras[std::size_t(k)] = {in, int(in * ratio), out};
        t.map_channels[std::size_t(k) + 2] = out;
        in = out;
    }
    return t;
}

// The maps' sizes for an input of height x width: the backbone's walk, then each extra halves.
inline std::array<MapSize, kDetectorMaps> detector_map_sizes(const DetectorTopology& t, int height, int width) {
    std::array<MapSize, kDetectorMaps> maps{};
    int h = 0, w = 0;
    walk_layer_sizes(t.backbone, height, width, [](int, int) {}, [&](const BlockSpec& b, const BlockSizes& s) {
        if (b.index == kMapBlocks[0]) maps[0] = {s.in_height, s.in_width};
        if (b.index == kMapBlocks[1]) maps[1] = {s.in_height, s.in_width};
        h = s.out_height;
        w = s.out_width;
    });
    for (int k = 0; k < kExtraLayers; ++k) {
        h = conv3x3_output_size(h, 2);
        w = conv3x3_output_size(w, 2);
        maps[std::size_t(k) + 2] = {h, w};
    }
    return maps;
}

// State-dict names of the extras and heads.
inline std::string extra_layer_name(int k, int j) {
    return std::string(kBackbonePrefix) + "extras." + std::to_string(k) + "." + std::to_string(j);
}
enum class HeadKind { classes, boxes };
inline std::string head_name(HeadKind kind, int map) {
    return std::string("box_head.predictor.") + (kind == HeadKind::classes ? "cls_headers." : "reg_headers.") +
           std::to_string(map);
}
// Outputs per prior of a head: the classes, or the four box regressions.
inline int head_columns(const DetectorTopology& t, HeadKind kind) { return kind == HeadKind::classes ? t.config.num_classes : 4; }
// The last map's heads are plain 1x1 convolutions, the others separable.
inline bool head_is_separable(int map) { return map < kDetectorMaps - 1; }

// The extras' convolutions, each followed by BatchNorm, in state-dict order.
inline std::vector<ConvBnLayer> extra_conv_bn_layers(const DetectorTopology& t) {
    std::vector<ConvBnLayer> out;
    for (int k = 0; k < kExtraLayers; ++k) {
        const ExtraLayerSpec& e = t.extras[std::size_t(k)];
        out.push_back({LayerRole::input_dw, -1, extra_layer_name(k, 0), extra_layer_name(k, 1), {e.in_channels, 1, 3, 3}});
        out.push_back({LayerRole::reduce, -1, extra_layer_name(k, 3), extra_layer_name(k, 4), {e.mid_channels, e.in_channels, 1, 1}});
        out.push_back({LayerRole::expand, -1, extra_layer_name(k, 5), extra_layer_name(k, 6), {e.out_channels, e.mid_channels, 1, 1}});
    }
    return out;
}

// Every tensor of the detector with its shape, in state-dict order (num_batches_tracked excepted).
inline std::vector<ExpectedTensor> detector_tensors(const DetectorTopology& t) {
    std::vector<ExpectedTensor> out;
    for (const ConvBnLayer& layer : conv_bn_layers(t.backbone, kBackbonePrefix)) add_conv_bn_tensors(layer, out);
    for (const ConvBnLayer& layer : extra_conv_bn_layers(t)) add_conv_bn_tensors(layer, out);
    for (HeadKind kind : {HeadKind::classes, HeadKind::boxes})
        for (int l = 0; l < kDetectorMaps; ++l) {
            const std::int64_t c = t.map_channels[std::size_t(l)];
            const std::int64_t cols = std::int64_t(t.config.boxes_per_location(l)) * head_columns(t, kind);
            const std::string name = head_name(kind, l);
            if (!head_is_separable(l)) {
                out.push_back({name + ".weight", {cols, c, 1, 1}});
                out.push_back({name + ".bias", {cols}});
                continue;
            }
            out.push_back({name + ".conv.0.weight", {c, 1, 3, 3}});
            out.push_back({name + ".conv.0.bias", {c}});
            for (const char* field : {"weight", "bias", "running_mean", "running_var"})
                out.push_back({name + ".conv.1." + field, {c}});
            out.push_back({name + ".conv.3.weight", {cols, c, 1, 1}});
            out.push_back({name + ".conv.3.bias", {cols}});
        }
    return out;
}

// Parameters as PyTorch counts them (BatchNorm running statistics are buffers).
inline std::int64_t count_detector_parameters(const DetectorTopology& t) {
    std::int64_t total = 0;
    for (const ExpectedTensor& e : detector_tensors(t)) {
        if (internal::ends_with(e.name, "running_mean") || internal::ends_with(e.name, "running_var")) continue;
        std::int64_t n = 1;
        for (std::int64_t d : e.shape) n *= d;
        total += n;
    }
    return total;
}

}  // namespace mobilenext
