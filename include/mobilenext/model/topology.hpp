#pragma once
// The MobileNeXt architecture derived from (width, identity divisor, classes, input
// channels, source layout): every block's form, channels, hidden size, stride and shortcut,
// and the counts users compare with the paper (parameters, multiply-adds).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../blocks/block_spec.hpp"
#include "../kernels/kernel_args.hpp"

namespace mobilenext {

// Which training code the weights come from. Both compute sandglass blocks; the topologies
// differ (see derive_topology).
enum class Layout {
    official,           // the authors' released code
    mobilenext_pytorch  // the third-party `mobilenext.pytorch` re-implementation
};

inline const char* layout_name(Layout layout) {
    return layout == Layout::official ? "official" : "mobilenext.pytorch";
}

struct NetworkConfig {
    double width = 1.0;     // width multiplier
    int identity_div = 1;   // the shortcut covers the first C / identity_div channels
    int num_classes = 1000;
    int in_channels = 3;
    Layout layout = Layout::official;
};

struct Topology {
    NetworkConfig config;
    int stem_channels = 0;
    std::vector<BlockSpec> blocks;
    int last_channels = 0;  // channels entering the classifier
};

// `make_div(v, d)` of MOBILENEXT.md, in double like the Python it mirrors.
inline int make_divisible(double v, int divisor) {
    int rounded = std::max(divisor, int(v + divisor / 2.0) / divisor * divisor);
    if (rounded < 0.9 * v) rounded += divisor;
    return rounded;
}

inline std::string format_number(double v) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", v);
    return text;
}

inline void validate_config(const NetworkConfig& c) {
    internal::check(std::isfinite(c.width) && c.width >= 0.1 && c.width <= 4.0,
                    "NetworkConfig: width multiplier must be in [0.1, 4], found " + format_number(c.width));
    internal::check(c.identity_div >= 1 && c.identity_div <= 4096,
                    "NetworkConfig: identity divisor must be in [1, 4096], found " + std::to_string(c.identity_div));
    internal::check(c.num_classes >= 1 && c.num_classes <= (1 << 20),
                    "NetworkConfig: classes must be in [1, 2^20], found " + std::to_string(c.num_classes));
    internal::check(c.in_channels >= 1 && c.in_channels <= kMaxInputChannels,
                    "NetworkConfig: input channels must be in [1, " + std::to_string(kMaxInputChannels) + "], found " +
                        std::to_string(c.in_channels));
}

inline Topology derive_topology(const NetworkConfig& config) {
    validate_config(config);
    struct Row { int t, c, n, s; };
    static const Row rows[] = {{2, 96, 1, 2},  {6, 144, 1, 1}, {6, 192, 3, 2}, {6, 288, 3, 2},
                               {6, 384, 4, 1}, {6, 576, 4, 2}, {6, 960, 3, 1}, {6, 1280, 1, 1}};
    const double w = config.width;
    const bool official = config.layout == Layout::official;
    Topology topo;
    topo.config = config;
    topo.stem_channels = make_divisible(32 * w, 8);
    int inp = topo.stem_channels;
    int index = 1;
    for (const Row& row : rows) {
        // The authors keep the last row at 1280 channels below width 1; the third-party code
        // scales it like every other row.
        const int oup = (official && row.c == 1280 && w < 1.0) ? 1280 : make_divisible(row.c * w, 8);
        for (int i = 0; i < row.n; ++i) {
            const int stride = i == 0 ? row.s : 1;
            BlockSpec b;
            b.index = index++;
            b.in_channels = inp;
            b.out_channels = oup;
            b.stride = stride;
            if (official) {
                const bool keep_3x3 = i == 0 && row.n == 1 && row.s == 1;
                b.hidden = inp / row.t;
                if (b.hidden < oup / 6.0) b.hidden = make_divisible(std::ceil(oup / 6.0), 16);
                if (row.t == 2)
                    b.form = BlockForm::head_t2;
                else if (inp != oup && stride == 1 && !keep_3x3)
                    b.form = BlockForm::pointwise_only;
                else if (inp != oup && stride == 2 && !keep_3x3)
                    b.form = BlockForm::pointwise_dw_s2;
                else
                    b.form = BlockForm::full;
                // The authors build the full form with stride 1 in both depthwise layers; it
                // meets a stride-2 row only at tiny widths where the row keeps its channels.
                if (b.form == BlockForm::full) b.stride = 1;
                if (b.form == BlockForm::full && !keep_3x3) b.shortcut_channels = oup / config.identity_div;
            } else {
                b.hidden = inp / row.t;
                b.form = BlockForm::full;
                if (stride == 1 && inp == oup) b.shortcut_channels = oup / config.identity_div;
            }
            internal::check(b.hidden >= 1, "derive_topology: block " + std::to_string(b.index) +
                                               " has an empty hidden layer at width " + std::to_string(w));
            topo.blocks.push_back(b);
            inp = oup;
        }
    }
    topo.last_channels = inp;
    return topo;
}

// Parameters as PyTorch counts them for the unfolded model: convolution weights, BatchNorm
// weight and bias (running statistics are buffers, not parameters), classifier.
inline std::int64_t count_parameters(const Topology& t) {
    const auto conv_bn = [](std::int64_t weights, std::int64_t out) { return weights + 2 * out; };
    std::int64_t total = conv_bn(std::int64_t(t.stem_channels) * t.config.in_channels * 9, t.stem_channels);
    for (const BlockSpec& b : t.blocks) {
        if (b.has_input_dw()) total += conv_bn(std::int64_t(b.in_channels) * 9, b.in_channels);
        total += conv_bn(std::int64_t(b.in_channels) * b.hidden, b.hidden);
        total += conv_bn(std::int64_t(b.hidden) * b.out_channels, b.out_channels);
        if (b.has_output_dw()) total += conv_bn(std::int64_t(b.out_channels) * 9, b.out_channels);
    }
    return total + std::int64_t(t.last_channels) * t.config.num_classes + t.config.num_classes;
}

// Multiply-adds of one image of height x width: convolutions and the classifier (the usual
// convention; BatchNorm folds away, activations and additions are not counted).
// The one walk of layer sizes for an input image of height x width: calls
// f(stem_height, stem_width) for the stem's output, then f(block, in_height, in_width,
// out_height, out_width) for each block in order. Allocates nothing (forward passes use it).
struct BlockSizes {
    int in_height, in_width, out_height, out_width;
};

template <class StemFn, class BlockFn>
void walk_layer_sizes(const Topology& t, int height, int width, const StemFn& stem, const BlockFn& block) {
    int h = conv3x3_output_size(height, 2), w = conv3x3_output_size(width, 2);
    stem(h, w);
    for (const BlockSpec& b : t.blocks) {
        const BlockSizes sizes{h, w, block_output_size(b, h), block_output_size(b, w)};
        block(b, sizes);
        h = sizes.out_height;
        w = sizes.out_width;
    }
}

inline std::int64_t count_multiply_adds(const Topology& t, int height, int width) {
    std::int64_t total = 0;
    walk_layer_sizes(
        t, height, width,
        [&](int h, int w) { total += std::int64_t(h) * w * t.stem_channels * t.config.in_channels * 9; },
        [&](const BlockSpec& b, const BlockSizes& s) {
            const std::int64_t pixels = std::int64_t(s.in_height) * s.in_width;
            if (b.has_input_dw()) total += pixels * b.in_channels * 9;
            total += pixels * b.in_channels * b.hidden + pixels * b.hidden * b.out_channels;
            if (b.has_output_dw()) total += std::int64_t(s.out_height) * s.out_width * b.out_channels * 9;
        });
    return total + std::int64_t(t.last_channels) * t.config.num_classes;
}

}  // namespace mobilenext
