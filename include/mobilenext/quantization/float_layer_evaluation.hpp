#pragma once
// The float network evaluated layer after layer over a whole batch, no layer fused with
// another: every tensor the int8 network quantizes exists whole here (the stem's output, each
// block layer's output, the block's output after the shortcut add), for calibration to observe.
// The fused float blocks never hold them (the shortcut is added inside the output depthwise,
// the wide tensors stream through rings of rows).
#include <cstddef>
#include <vector>

#include "../core/aligned_buffer.hpp"
#include "../core/tensor.hpp"
#include "../kernels/kernel_table.hpp"
#include "../kernels/pack_weights.hpp"
#include "../model/folded_weights.hpp"
#include "../model/topology.hpp"

namespace mobilenext {

// Where calibration observes a tensor.
enum class QuantizationPoint {
    stem_output,   // the first block's input
    input_dw,      // after the input depthwise + ReLU6
    reduce,        // after the reduction (linear)
    expand,        // after the expansion + ReLU6
    output_dw,     // after the output depthwise (linear), before the shortcut
    block_output   // after the shortcut add (blocks with a shortcut only)
};

class LayerwiseFloatNetwork {
public:
    // `kernels` must outlive the evaluation (the tables are static).
    LayerwiseFloatNetwork(const FoldedNetworkWeights& weights, const kernels::KernelTable& kernels)
        : topology_(weights.topology), k_(&kernels) {
        stem_ = pack_folded_stem(weights.stem, topology_.config.in_channels);
        for (std::size_t i = 0; i < topology_.blocks.size(); ++i) {
            const BlockSpec& b = topology_.blocks[i];
            const FoldedBlockWeights& w = weights.blocks[i];
            Layers l;
            if (b.has_input_dw()) l.input_dw = pack_folded_depthwise(w.input_dw);
            l.reduce = pack_folded_pointwise(w.reduce, kernels.pointwise_panel);
            l.expand = pack_folded_pointwise(w.expand, kernels.pointwise_panel);
            if (b.has_output_dw()) l.output_dw = pack_folded_depthwise(w.output_dw);
            blocks_.push_back(std::move(l));
        }
    }

    // input: NHWC [s.n][s.h][s.w][in_channels], checked by the caller. Calls
    // observe(block, point, values, count) for every tensor in order, block -1 for the stem.
    // The observer may change the values: the layers after it read what it leaves (rounding
    // each tensor to its uint8 grid there evaluates the int8 scheme in float).
    template <class Observe>
    void run(const float* input, const Shape4& s, const Observe& observe) const {
        int h = conv3x3_output_size(s.h, 2), w = conv3x3_output_size(s.w, 2);
        const std::size_t in_image = std::size_t(s.h) * s.w * s.c;
        AlignedBuffer x(std::size_t(s.n) * h * w * topology_.stem_channels);
        for (int n = 0; n < s.n; ++n)
            k_->stem_conv3x3_s2_relu6(input + n * in_image, s.h, s.w, 0, h, stem_.view(),
                                      x.data() + std::size_t(n) * h * w * topology_.stem_channels);
        observe(-1, QuantizationPoint::stem_output, x.data(), x.size());
        for (std::size_t i = 0; i < blocks_.size(); ++i) {
            const BlockSpec& b = topology_.blocks[i];
            const Layers& l = blocks_[i];
            const int block = int(i);
            const std::size_t image = std::size_t(h) * w, pixels = image * std::size_t(s.n);
            const float* reduce_input = x.data();
            AlignedBuffer t1;
            if (b.has_input_dw()) {
                t1.resize(pixels * b.in_channels);
                for (int n = 0; n < s.n; ++n)
                    k_->dwconv3x3(x.data() + n * image * b.in_channels, whole_image(h, w, 1), l.input_dw.view(),
                                  Activation::relu6, t1.data() + n * image * b.in_channels);
                observe(block, QuantizationPoint::input_dw, t1.data(), t1.size());
                reduce_input = t1.data();
            }
            AlignedBuffer t2(pixels * b.hidden), t3(pixels * b.out_channels);
            k_->pointwise_conv(reduce_input, pixels, l.reduce.view(), Activation::none, t2.data());
            observe(block, QuantizationPoint::reduce, t2.data(), t2.size());
            k_->pointwise_conv(t2.data(), pixels, l.expand.view(), Activation::relu6, t3.data());
            observe(block, QuantizationPoint::expand, t3.data(), t3.size());
            if (!b.has_output_dw()) {
                x = std::move(t3);
                continue;
            }
            const int oh = conv3x3_output_size(h, b.stride), ow = conv3x3_output_size(w, b.stride);
            const std::size_t out_image = std::size_t(oh) * ow * b.out_channels;
            AlignedBuffer t4(out_image * s.n);
            for (int n = 0; n < s.n; ++n)
                k_->dwconv3x3(t3.data() + n * image * b.out_channels, whole_image(h, w, b.stride), l.output_dw.view(),
                              Activation::none, t4.data() + n * out_image);
            observe(block, QuantizationPoint::output_dw, t4.data(), t4.size());
            if (b.shortcut_channels > 0) {
                k_->add_partial_shortcut(x.data(), pixels, b.out_channels, b.shortcut_channels, t4.data());
                observe(block, QuantizationPoint::block_output, t4.data(), t4.size());
            }
            x = std::move(t4);
            h = oh;
            w = ow;
        }
    }

private:
    struct Layers {
        PackedDepthwise input_dw;
        PackedPointwise reduce, expand;
        PackedDepthwise output_dw;
    };

    Topology topology_;
    const kernels::KernelTable* k_;
    PackedStem stem_;
    std::vector<Layers> blocks_;
};

}  // namespace mobilenext
