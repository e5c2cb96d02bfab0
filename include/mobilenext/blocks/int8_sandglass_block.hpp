#pragma once
// The sandglass block in int8 (kernels/int8/int8_args.hpp), on an int8 kernel table chosen at
// run time. The same four forms as SandglassBlock:
//   [dw3x3(in) + ReLU6] -> pw(in -> hidden) -> pw(hidden -> out) + ReLU6 -> [dw3x3(out, stride)]
//   then, when shortcut_channels > 0: out[:, :k] = out[:, :k] + input[:, :k],
// every layer's output a uint8 tensor with its own scale and zero point.
//
// Int8SandglassLayers is the block as quantization makes it, independent of any kernel set
// (weights in PyTorch's order); Int8SandglassBlock packs it for one table.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../kernels/int8/int8_args.hpp"
#include "../kernels/int8/int8_kernel_table.hpp"
#include "../kernels/int8/pack_int8.hpp"
#include "../kernels/kernel_args.hpp"
#include "../runtime/thread_pool.hpp"
#include "block_spec.hpp"

namespace mobilenext {

// A 1x1 convolution in int8, unpacked.
struct Int8PointwiseLayer {
    std::vector<std::int8_t> weights;  // [out][in], in [-64, 64]
    std::vector<std::int32_t> bias;    // [out], the input's zero point folded in (fold_input_zero_point)
    std::vector<float> multipliers;    // [out] s_in * s_w[c] / s_out
    OutputRange range;                 // the output's zero point and clamp (ReLU6 folded in)
    int in_channels = 0, out_channels = 0;
    // What the above is derived from (int8_block_parts.hpp), as files store it.
    std::vector<std::int32_t> accumulator_bias;  // [out] on s_in * s_w[c], no zero point folded in
    std::vector<float> weight_scales;            // [out] s_w[c]
};

// A depthwise 3x3 convolution in int8, unpacked.
struct Int8DepthwiseLayer {
    std::vector<std::int8_t> weights;  // [channels][9], in [-64, 64]
    std::vector<std::int32_t> bias;    // [channels], the input's zero point folded in
    std::vector<float> multipliers;    // [channels]
    OutputRange range;
    int channels = 0;          // 0: the form has no such layer
    int input_zero_point = 0;  // what the padding reads (real 0.0)
    std::vector<std::int32_t> accumulator_bias;  // [channels] as in Int8PointwiseLayer
    std::vector<float> weight_scales;            // [channels]
};

// The quantization of the tensors inside a block, for inspection and for evaluating the
// scheme in float: the layers' multipliers and output ranges already hold them.
struct Int8BlockTensors {
    U8Quantization input_dw, reduce, expand, output_dw;  // each layer's output; unused where the form has none
};

struct Int8SandglassLayers {
    U8Quantization input, output;  // of the block's input and output tensors
    Int8BlockTensors tensors;
    Int8DepthwiseLayer input_dw;
    Int8PointwiseLayer reduce, expand;
    Int8DepthwiseLayer output_dw;
    ShortcutAddU8 shortcut;  // used when the spec has shortcut channels
};

class Int8SandglassBlock {
public:
    // `kernels` must outlive the block (the tables are static).
    Int8SandglassBlock(const BlockSpec& spec, const Int8SandglassLayers& layers, const kernels::Int8KernelTable& kernels)
        : spec_(spec), input_(layers.input), output_(layers.output), shortcut_(layers.shortcut), k_(&kernels) {
        const std::string where = "Int8SandglassBlock " + std::to_string(spec.index) + ": ";
        internal::check(spec.stride == 1 || (spec.stride == 2 && spec.has_output_dw()),
                        where + "stride " + std::to_string(spec.stride) + " needs an output depthwise layer");
        internal::check(spec.shortcut_channels == 0 || (spec.stride == 1 && spec.in_channels == spec.out_channels &&
                                                         spec.shortcut_channels <= spec.out_channels),
                        where + "a shortcut needs stride 1 and equal input and output channels");
        const auto check_layer = [&where](bool ok, const char* layer, int expected, int found) {
            internal::check(ok, where + "the " + std::string(layer) + " layer has " + std::to_string(found) +
                                    " channels, the spec " + std::to_string(expected));
        };
        check_layer(layers.input_dw.channels == (spec.has_input_dw() ? spec.in_channels : 0), "input depthwise",
                    spec.has_input_dw() ? spec.in_channels : 0, layers.input_dw.channels);
        check_layer(layers.reduce.in_channels == spec.in_channels, "reduction (input)", spec.in_channels,
                    layers.reduce.in_channels);
        check_layer(layers.reduce.out_channels == spec.hidden, "reduction (output)", spec.hidden,
                    layers.reduce.out_channels);
        check_layer(layers.expand.in_channels == spec.hidden, "expansion (input)", spec.hidden,
                    layers.expand.in_channels);
        check_layer(layers.expand.out_channels == spec.out_channels, "expansion (output)", spec.out_channels,
                    layers.expand.out_channels);
        check_layer(layers.output_dw.channels == (spec.has_output_dw() ? spec.out_channels : 0), "output depthwise",
                    spec.has_output_dw() ? spec.out_channels : 0, layers.output_dw.channels);
        try {
            if (spec.has_input_dw()) input_dw_ = pack_depthwise(layers.input_dw);
            reduce_ = pack_pointwise(layers.reduce, kernels);
            expand_ = pack_pointwise(layers.expand, kernels);
            if (spec.has_output_dw()) output_dw_ = pack_depthwise(layers.output_dw);
        } catch (const Error& e) {
            throw Error(where + e.what());
        }
    }

    const BlockSpec& spec() const noexcept { return spec_; }
    const U8Quantization& input_quantization() const noexcept { return input_; }
    const U8Quantization& output_quantization() const noexcept { return output_; }
    const kernels::Int8KernelTable& kernels() const noexcept { return *k_; }

    int output_height(int height) const { return block_output_size(spec_, height); }
    int output_width(int width) const { return block_output_size(spec_, width); }

    // Scratch bytes forward() needs for one image of height x width: the input depthwise's
    // output, then the expansion's, in one area (the first is dead once the reduction has read
    // it), and the reduction's.
    std::size_t scratch_bytes(int height, int width) const {
        const std::size_t pixels = std::size_t(height) * std::size_t(width);
        const int wide = std::max(spec_.has_input_dw() ? spec_.in_channels : 0,
                                  spec_.has_output_dw() ? spec_.out_channels : 0);
        return aligned(pixels * std::size_t(wide)) + aligned(pixels * std::size_t(spec_.hidden));
    }

    // One image: input [height][width][in] uint8 -> output [oh][ow][out] uint8, which must not
    // overlap the input. scratch: scratch_bytes(height, width), 64-byte aligned. With a pool,
    // each layer is split over its threads by output rows (depthwise) or pixels (1x1, the
    // shortcut), a share each, and joined before the next layer reads it; every output value
    // is computed as one thread would, so the bytes do not depend on the thread count.
    //
    // Whole tensors, one layer after the other: each layer is one kernel call over the image
    // (or a share of it), the plainest order to check against the float layers, at the cost of
    // the wide tensors of a whole image going out to L2 or L3 between layers (at a quarter of
    // the float bytes). The float block's row streaming (a ring of expansion rows feeding the
    // output depthwise, so that they are read back from L1) is the next step; the int8
    // depthwise kernels already take DepthwiseRows with a ring for it.
    void forward(const std::uint8_t* input, int height, int width, std::uint8_t* output, std::uint8_t* scratch,
                 ThreadPool* pool = nullptr) const {
        const BlockSpec& b = spec_;
        const std::size_t pixels = std::size_t(height) * std::size_t(width);
        const int wide = std::max(b.has_input_dw() ? b.in_channels : 0, b.has_output_dw() ? b.out_channels : 0);
        std::uint8_t* wide_buffer = scratch;
        std::uint8_t* hidden = scratch + aligned(pixels * std::size_t(wide));
        const auto depthwise = [&](const std::uint8_t* in, int stride, const PackedDepthwiseU8S8& layer,
                                   std::uint8_t* out) {
            const DepthwiseRows rows = whole_image(height, width, stride);
            const std::size_t row_bytes = std::size_t(conv3x3_output_size(width, stride)) * std::size_t(layer.channels);
            run_shares(pool, std::size_t(rows.out_row_end), [&](std::size_t y0, std::size_t y1) {
                k_->dwconv3x3_u8s8(in, rows.with_rows(int(y0), int(y1)), layer.view(), out + y0 * row_bytes);
            });
        };
        const auto pointwise = [&](const std::uint8_t* in, const PackedPointwiseU8S8& layer, std::uint8_t* out) {
            run_shares(pool, pixels, [&](std::size_t p0, std::size_t p1) {
                k_->pointwise_conv_u8s8(in + p0 * std::size_t(layer.in_channels), p1 - p0, layer.view(),
                                        out + p0 * std::size_t(layer.out_channels));
            });
        };

        const std::uint8_t* reduce_input = input;
        if (b.has_input_dw()) {
            depthwise(input, 1, input_dw_, wide_buffer);
            reduce_input = wide_buffer;
        }
        pointwise(reduce_input, reduce_, hidden);
        if (!b.has_output_dw()) {
            pointwise(hidden, expand_, output);
            return;
        }
        pointwise(hidden, expand_, wide_buffer);
        depthwise(wide_buffer, b.stride, output_dw_, output);
        if (b.shortcut_channels > 0)
            run_shares(pool, pixels, [&](std::size_t p0, std::size_t p1) {
                const std::size_t at = p0 * std::size_t(b.out_channels);
                k_->add_partial_shortcut_u8(output + at, input + at, p1 - p0, b.out_channels, b.shortcut_channels,
                                            shortcut_, output + at);
            });
    }

private:
    static std::size_t aligned(std::size_t bytes) { return (bytes + 63) / 64 * 64; }

    static PackedDepthwiseU8S8 pack_depthwise(const Int8DepthwiseLayer& l) {
        check_sizes(l.weights.size(), std::size_t(l.channels) * 9, l.bias.size(), l.multipliers.size(),
                    std::size_t(l.channels), "depthwise");
        return pack_depthwise_u8s8(l.weights.data(), l.bias.data(), l.multipliers.data(), l.channels,
                                   l.input_zero_point, l.range);
    }

    static PackedPointwiseU8S8 pack_pointwise(const Int8PointwiseLayer& l, const kernels::Int8KernelTable& k) {
        check_sizes(l.weights.size(), std::size_t(l.in_channels) * std::size_t(l.out_channels), l.bias.size(),
                    l.multipliers.size(), std::size_t(l.out_channels), "pointwise");
        return pack_pointwise_u8s8(l.weights.data(), l.bias.data(), l.multipliers.data(), l.in_channels,
                                   l.out_channels, l.range, k.pointwise_panel, k.pointwise_store_tile);
    }

    static void check_sizes(std::size_t weights, std::size_t expected_weights, std::size_t bias,
                            std::size_t multipliers, std::size_t channels, const char* what) {
        internal::check(weights == expected_weights && bias == channels && multipliers == channels,
                        std::string(what) + " layer: " + std::to_string(weights) + " weights, " +
                            std::to_string(bias) + " biases, " + std::to_string(multipliers) +
                            " multipliers; expected " + std::to_string(expected_weights) + ", " +
                            std::to_string(channels) + ", " + std::to_string(channels));
    }

    BlockSpec spec_;
    U8Quantization input_, output_;
    ShortcutAddU8 shortcut_;
    PackedDepthwiseU8S8 input_dw_;
    PackedPointwiseU8S8 reduce_, expand_;
    PackedDepthwiseU8S8 output_dw_;
    const kernels::Int8KernelTable* k_;
};

}  // namespace mobilenext
