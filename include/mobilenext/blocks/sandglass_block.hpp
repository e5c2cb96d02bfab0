#pragma once
// The sandglass block, on the kernels of a kernel table chosen at run time. One class covers
// the four forms of MOBILENEXT.md; which layers exist comes from the BlockSpec:
//   [dw3x3(in) + ReLU6] -> pw(in -> hidden) -> pw(hidden -> out) + ReLU6 -> [dw3x3(out, stride)]
//   then, when shortcut_channels > 0: out[:, :k] += input[:, :k].
#include <algorithm>
#include <cstddef>
#include <string>
#include <utility>

#include "../core/error.hpp"
#include "../kernels/kernel_args.hpp"
#include "../kernels/kernel_table.hpp"
#include "../kernels/pack_weights.hpp"
#include "block_spec.hpp"

namespace mobilenext {

struct SandglassWeights {
    PackedDepthwise input_dw;  // empty when the form has none
    PackedPointwise reduce, expand;
    PackedDepthwise output_dw;  // empty when the form has none
};

class SandglassBlock {
public:
    // `kernels` must outlive the block (the tables are static). The pointwise weights may be
    // packed in any panel width; kernels.pointwise_panel is the fastest.
    SandglassBlock(const BlockSpec& spec, SandglassWeights weights, const kernels::KernelTable& kernels)
        : spec_(spec), weights_(std::move(weights)), k_(&kernels) {
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

    // Whether forward_rows() may write its output over its input, all the rows of an image in
    // one call: stride 1, as many output as input channels, and a shortcut the kernels can
    // add in place (PartialShortcut). Output rows [y, end) are stored after the input rows
    // their step reads (up to end + 1) have been read, and no later step reads below row end
    // but the shortcut, which reads each value just before it is overwritten. The block's
    // output lines are then lines it has just read, in L1/L2, rather than lines of another
    // buffer that come back from L3 to be overwritten.
    bool runs_in_place() const {
        const BlockSpec& b = spec_;
        return b.stride == 1 && b.in_channels == b.out_channels &&
               shortcut_may_alias_output(b.out_channels, b.shortcut_channels);
    }

    int output_height(int height) const { return block_output_size(spec_, height); }
    int output_width(int width) const { return block_output_size(spec_, width); }

    // Output rows computed per step: enough pixels for the GEMM micro-kernel to reach its
    // speed, few enough that a step's wide rows stay in L1/L2 instead of going to memory.
    int rows_per_step(int height, int width) const {
        const int out_width = output_width(width);
        return std::max(1, std::min(output_height(height), (kStepPixels + out_width - 1) / out_width));
    }

    // Scratch floats forward_rows() needs for one image of height x width.
    std::size_t scratch_floats(int height, int width) const {
        const std::size_t pixels = std::size_t(step_input_rows(height, width)) * std::size_t(width);
        std::size_t floats = aligned(pixels * spec_.hidden);
        if (spec_.has_input_dw()) floats += aligned(pixels * spec_.in_channels);
        if (spec_.has_output_dw()) floats += aligned(std::size_t(window_ring_rows(height, width)) * width * spec_.out_channels);
        return floats;
    }

    // One image: input [height][width][in] -> output rows [out_row_begin, out_row_end) of
    // [oh][ow][out] (`output` points at row 0 of the image; it may be `input` when
    // runs_in_place() and the rows are all of the image's, otherwise it does not overlap it).
    //
    // The wide tensors never exist whole. The rows of the expansion that the output rows need
    // are computed a step at a time into a ring of rows (the rows shared with the next step
    // stay where they are and are not recomputed), from the input rows through the input
    // depthwise and the reduction, and the output depthwise reads the ring.
    void forward_rows(const float* input, int height, int width, int out_row_begin, int out_row_end, float* output,
                      float* scratch) const {
        forward_rows(input, height, width, out_row_begin, out_row_end, output, scratch, [](int) {});
    }

    // The same, calling input_ready(end) before the input rows below `end` are first read
    // (`end` never decreases from one call to the next): the input can be produced as the
    // block comes to need it, and is then still in cache when read.
    template <class InputReady>
    void forward_rows(const float* input, int height, int width, int out_row_begin, int out_row_end, float* output,
                      float* scratch, const InputReady& input_ready) const {
        const BlockSpec& b = spec_;
        const int step = rows_per_step(height, width);
        const std::size_t max_rows = std::size_t(step_input_rows(height, width));
        float* hidden = scratch;
        float* dw_rows = hidden + aligned(max_rows * width * b.hidden);
        float* window = dw_rows + (b.has_input_dw() ? aligned(max_rows * width * b.in_channels) : 0);
        const int ow = output_width(width);

        if (!b.has_output_dw()) {  // pw-pw: output rows are expansion rows
            for (int y = out_row_begin; y < out_row_end; y += step) {
                const int end = std::min(out_row_end, y + step);
                input_ready(std::min(height, end + (b.has_input_dw() ? 1 : 0)));
                expansion_rows(input, height, width, y, end, dw_rows, hidden, output + std::size_t(y) * width * b.out_channels);
            }
            return;
        }
        const std::size_t row_floats = std::size_t(width) * b.out_channels;
        const int ring = window_ring_rows(height, width);
        // Image row r lives in ring row (r + offset) mod ring. Every step after the first adds
        // step * stride rows (a divisor of the ring), so the offset that starts the second step's
        // rows at a multiple of it keeps each step's rows contiguous in the ring: one GEMM call.
        const int first_end = std::min(height, (std::min(out_row_end, out_row_begin + step) - 1) * b.stride + 2);
        const int added = step * b.stride;
        const int offset = ring == height ? 0 : (added - first_end % added) % added;
        int computed_end = -1;  // image rows [.., computed_end) are in the ring
        for (int y = out_row_begin; y < out_row_end; y += step) {
            const int end = std::min(out_row_end, y + step);
            const int need_first = std::max(0, y * b.stride - 1);
            const int need_end = std::min(height, (end - 1) * b.stride + 2);
            // Rows not yet in the ring, in runs that do not pass its end.
            for (int r = std::max(need_first, computed_end); r < need_end;) {
                const int slot = (r + offset) % ring, run_end = std::min(need_end, r + (ring - slot));
                input_ready(std::min(height, run_end + (b.has_input_dw() ? 1 : 0)));
                expansion_rows(input, height, width, r, run_end, dw_rows, hidden, window + std::size_t(slot) * row_floats);
                r = run_end;
            }
            computed_end = need_end;
            DepthwiseRows rows{height, width, b.stride, -offset, y, end};
            rows.ring_rows = ring;
            output_depthwise(window, rows, input, output + std::size_t(y) * ow * b.out_channels);
        }
    }

    // A block whose expansion is wanted whole (a detector's feature map is taken there) runs
    // in two parts. First rows [first, end) of the expansion (after its ReLU6) into
    // `expanded`, which holds the whole image's [height][width][out_channels]: a step at a
    // time, so the input depthwise and the reduction stay in `scratch` (scratch_floats()).
    // Bands of rows split over threads never compute a row twice: the depthwise that follows
    // reads the finished image, not a ring.
    void expansion_into(const float* input, int height, int width, int first, int end, float* expanded,
                        float* scratch) const {
        const int step = rows_per_step(height, width);
        const std::size_t max_rows = std::size_t(step_input_rows(height, width));
        float* hidden = scratch;
        float* dw_rows = hidden + aligned(max_rows * width * spec_.hidden);
        for (int r = first; r < end; r += step)
            expansion_rows(input, height, width, r, std::min(end, r + step), dw_rows, hidden,
                           expanded + std::size_t(r) * width * spec_.out_channels);
    }

    // Then output rows [out_row_begin, out_row_end) from the whole expansion, the shortcut
    // (if any) from the block's `input`. `output` points at row 0. Needs an output depthwise.
    void output_from_expansion(const float* expanded, const float* input, int height, int width, int out_row_begin,
                               int out_row_end, float* output) const {
        output_depthwise(expanded, whole_image(height, width, spec_.stride).with_rows(out_row_begin, out_row_end), input,
                         output + std::size_t(out_row_begin) * output_width(width) * spec_.out_channels);
    }

    // Floats of each whole-image intermediate forward_by_layers() needs.
    std::size_t layer_buffer_floats(int height, int width) const {
        return std::size_t(height) * width * std::max({spec_.in_channels, spec_.hidden, spec_.out_channels});
    }

    // One image, layer after layer, each layer split over the threads of `pool` (rows for
    // the depthwise layers, pixels for the pointwise ones). For small images, where bands of
    // rows would recompute a large share of halo rows. wide_in, hidden, wide_out: whole-image
    // buffers of layer_buffer_floats().
    template <class Pool>
    void forward_by_layers(Pool& pool, const float* input, int height, int width, float* output, float* wide_in,
                           float* hidden, float* wide_out) const {
        const BlockSpec& b = spec_;
        const int n = pool.threads();
        const auto split = [n](int total, int part, int granule) {
            const int units = (total + granule - 1) / granule;
            return std::pair<int, int>(std::min(total, units * part / n * granule),
                                       std::min(total, units * (part + 1) / n * granule));
        };
        const int pixels = height * width;
        const float* reduce_input = input;
        if (b.has_input_dw()) {
            pool.run(n, [&](int part, int) {
                const auto [y0, y1] = split(height, part, 1);
                if (y0 < y1)
                    k_->dwconv3x3(input, {height, width, 1, 0, y0, y1}, weights_.input_dw.view(), Activation::relu6,
                                       wide_in + std::size_t(y0) * width * b.in_channels);
            });
            reduce_input = wide_in;
        }
        // Pixel shares in multiples of 24, a multiple of every GEMM tile height.
        pool.run(n, [&](int part, int) {
            const auto [p0, p1] = split(pixels, part, 24);
            if (p0 < p1)
                k_->pointwise_conv(reduce_input + std::size_t(p0) * b.in_channels, std::size_t(p1 - p0),
                                        weights_.reduce.view(), Activation::none, hidden + std::size_t(p0) * b.hidden);
        });
        float* expanded = b.has_output_dw() ? wide_out : output;
        pool.run(n, [&](int part, int) {
            const auto [p0, p1] = split(pixels, part, 24);
            if (p0 < p1)
                k_->pointwise_conv(hidden + std::size_t(p0) * b.hidden, std::size_t(p1 - p0), weights_.expand.view(),
                                        Activation::relu6, expanded + std::size_t(p0) * b.out_channels);
        });
        if (!b.has_output_dw()) return;
        const int oh = output_height(height), ow = output_width(width);
        pool.run(n, [&](int part, int) {
            const auto [y0, y1] = split(oh, part, 1);
            if (y0 >= y1) return;
            output_depthwise(wide_out, whole_image(height, width, b.stride).with_rows(y0, y1), input,
                             output + std::size_t(y0) * ow * b.out_channels);
        });
    }

    // A batch of whole images, on the calling thread. scratch: scratch_floats(height, width).
    void forward(const float* input, int batch, int height, int width, float* output, float* scratch) const {
        const std::size_t in_image = std::size_t(height) * width * spec_.in_channels;
        const std::size_t out_image = std::size_t(output_height(height)) * output_width(width) * spec_.out_channels;
        for (int n = 0; n < batch; ++n)
            forward_rows(input + n * in_image, height, width, 0, output_height(height), output + n * out_image, scratch);
    }

private:
    static constexpr int kStepPixels = 64;

    // Input rows one step reads: its output rows' windows.
    int step_input_rows(int height, int width) const {
        return std::min(height, rows_per_step(height, width) * spec_.stride + 2);
    }

    // Rows of the ring that holds the expansion's rows for the output depthwise: a multiple of
    // the rows each step adds (step * stride) with room for the rows shared with the previous
    // step (two at stride 1, one at stride 2), or the whole image when that is no larger.
    int window_ring_rows(int height, int width) const {
        const int added = rows_per_step(height, width) * spec_.stride;
        const int ring = (added + 2 + added - 1) / added * added;
        return std::min(height, ring);
    }
    // Scratch areas start on 64-byte boundaries.
    static std::size_t aligned(std::size_t floats) { return (floats + 15) / 16 * 16; }

    // The output depthwise on rows.out_row_begin .. rows.out_row_end (`out` points at the
    // first), with the shortcut from the block's `input` added as each vector is stored.
    void output_depthwise(const float* expanded, const DepthwiseRows& rows, const float* input, float* out) const {
        if (spec_.shortcut_channels > 0)
            k_->dwconv3x3_add_shortcut(
                expanded, rows, weights_.output_dw.view(),
                {input + std::size_t(rows.out_row_begin) * rows.width * spec_.in_channels, spec_.shortcut_channels}, out);
        else
            k_->dwconv3x3(expanded, rows, weights_.output_dw.view(), Activation::none, out);
    }

    // Rows [first, end) of the expansion (pw(pw([dw](input))) with ReLU6), written to `out`.
    void expansion_rows(const float* input, int height, int width, int first, int end, float* dw_rows,
                        float* hidden, float* out) const {
        if (end <= first) return;
        const std::size_t pixels = std::size_t(end - first) * width;
        const float* reduce_input = input + std::size_t(first) * width * spec_.in_channels;
        if (spec_.has_input_dw()) {
            const DepthwiseRows rows{height, width, 1, 0, first, end};
            k_->dwconv3x3(input, rows, weights_.input_dw.view(), Activation::relu6, dw_rows);
            reduce_input = dw_rows;
        }
        k_->pointwise_conv(reduce_input, pixels, weights_.reduce.view(), Activation::none, hidden);
        k_->pointwise_conv(hidden, pixels, weights_.expand.view(), Activation::relu6, out);
    }

private:
    BlockSpec spec_;
    SandglassWeights weights_;
    const kernels::KernelTable* k_;
};

}  // namespace mobilenext
