#pragma once
// The sandglass block, templated on the kernel set (ReferenceKernels or SimdKernels<Arch>).
// One class covers the four forms of MOBILENEXT.md; which layers exist comes from the
// BlockSpec:
//   [dw3x3(in) + ReLU6] -> pw(in -> hidden) -> pw(hidden -> out) + ReLU6 -> [dw3x3(out, stride)]
//   then, when shortcut_channels > 0: out[:, :k] += input[:, :k].
#include <algorithm>
#include <cstddef>
#include <string>
#include <utility>

#include "../kernels/kernel_args.hpp"
#include "../kernels/pack_weights.hpp"
#include "../model/topology.hpp"

namespace mobilenext {

struct SandglassWeights {
    PackedDepthwise input_dw;  // empty when the form has none
    PackedPointwise reduce, expand;
    PackedDepthwise output_dw;  // empty when the form has none
};

template <class Kernels>
class SandglassBlock {
public:
    SandglassBlock(const BlockSpec& spec, SandglassWeights weights) : spec_(spec), weights_(std::move(weights)) {
        const std::string where = "SandglassBlock " + std::to_string(spec.index) + ": ";
        internal::check(spec.stride == 1 || (spec.stride == 2 && spec.has_output_dw()),
                        where + "stride " + std::to_string(spec.stride) + " needs an output depthwise layer");
        internal::check(spec.shortcut_channels == 0 || (spec.stride == 1 && spec.in_channels == spec.out_channels &&
                                                         spec.shortcut_channels <= spec.out_channels),
                        where + "a shortcut needs stride 1 and equal input and output channels");
        const auto check_layer = [&where](bool ok, const char* layer) {
            internal::check(ok, where + "weights of the " + std::string(layer) + " layer do not match the spec");
        };
        check_layer(!spec.has_input_dw() || weights_.input_dw.channels == spec.in_channels, "input depthwise");
        check_layer(weights_.reduce.in_channels == spec.in_channels && weights_.reduce.out_channels == spec.hidden,
                    "reduction");
        check_layer(weights_.expand.in_channels == spec.hidden && weights_.expand.out_channels == spec.out_channels,
                    "expansion");
        check_layer(!spec.has_output_dw() || weights_.output_dw.channels == spec.out_channels, "output depthwise");
    }

    const BlockSpec& spec() const noexcept { return spec_; }

    int output_height(int height) const { return spec_.has_output_dw() ? conv3x3_output_size(height, spec_.stride) : height; }
    int output_width(int width) const { return spec_.has_output_dw() ? conv3x3_output_size(width, spec_.stride) : width; }

    // Scratch floats forward() needs for `pixels` input pixels (the whole batch).
    std::size_t wide_scratch_floats(std::size_t pixels) const {
        return spec_.has_output_dw() || spec_.has_input_dw()
                   ? pixels * std::size_t(std::max(spec_.in_channels, spec_.out_channels))
                   : 0;
    }
    std::size_t narrow_scratch_floats(std::size_t pixels) const { return pixels * std::size_t(spec_.hidden); }

    // input: [batch][height][width][in]; output: [batch][oh][ow][out], not aliasing input.
    // wide and narrow: scratch of the sizes above.
    void forward(const float* input, int batch, int height, int width, float* output, float* wide,
                 float* narrow) const {
        const std::size_t pixels = std::size_t(batch) * height * width;
        const float* reduce_input = input;
        if (spec_.has_input_dw()) {
            Kernels::dwconv3x3(input, batch, height, width, weights_.input_dw.view(), 1, Activation::relu6, wide);
            reduce_input = wide;
        }
        Kernels::pointwise_conv(reduce_input, pixels, weights_.reduce.view(), Activation::none, narrow);
        if (spec_.has_output_dw()) {
            Kernels::pointwise_conv(narrow, pixels, weights_.expand.view(), Activation::relu6, wide);
            Kernels::dwconv3x3(wide, batch, height, width, weights_.output_dw.view(), spec_.stride, Activation::none,
                               output);
        } else {
            Kernels::pointwise_conv(narrow, pixels, weights_.expand.view(), Activation::relu6, output);
        }
        if (spec_.shortcut_channels > 0)
            Kernels::add_partial_shortcut(input, pixels, spec_.out_channels, spec_.shortcut_channels, output);
    }

private:
    BlockSpec spec_;
    SandglassWeights weights_;
};

}  // namespace mobilenext
