#pragma once
// The MobileNeXt network in int8: the stem in float (a 3-channel image gains little from int8
// and its input is not quantized), its output quantized to uint8, the sandglass blocks in int8
// (Int8SandglassBlock), the last block's output dequantized by the global average pool, the
// classifier's int8 weights on those float features (kernels/int8/int8_args.hpp,
// LinearWeightsS8). Built from Int8NetworkWeights (quantization/quantize_network.hpp) for
// one float and one int8 kernel table; immutable afterwards: forward() is const and may run
// on many threads at once, each with its own Workspace.
//
// Its interface is the float internal::Network's (forward on a Tensor or on the caller's
// memory, plan, check_input_shape, topology, kernels_name), so that a model can hold either.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "../blocks/int8_sandglass_block.hpp"
#include "../core/error.hpp"
#include "../core/tensor.hpp"
#include "../kernels/int8/int8_kernel_table.hpp"
#include "../kernels/kernel_table.hpp"
#include "../kernels/pack_weights.hpp"
#include "../quantization/u8_quantization.hpp"
#include "folded_weights.hpp"
#include "int8_network_weights.hpp"
#include "network.hpp"
#include "topology.hpp"
#include "workspace.hpp"

namespace mobilenext {

// Buffer sizes of one int8 forward pass, and where they live in a Workspace: per thread, the
// stem's float output in `layer_in`, the two alternating uint8 activations in `ping` and
// `pong`, the blocks' scratch in `scratch[thread]`; the pooled features of the batch in
// `pooled`. Byte sizes are rounded up to whole floats, and each thread's share of a buffer to
// 64 bytes.
struct Int8ForwardPlan {
    std::size_t stem_floats = 0;       // the stem's output, one image
    std::size_t activation_bytes = 0;  // the largest uint8 activation of one image
    std::size_t scratch_bytes = 0;     // the largest block scratch
    std::size_t pooled_floats = 0;
    int threads = 1;                   // threads that take images (1 when they share each image's layers)

    // Floats of one thread's share of `layer_in`, and of `ping` or `pong`.
    std::size_t stem_share() const { return aligned_floats(stem_floats * sizeof(float)); }
    std::size_t activation_share() const { return aligned_floats(activation_bytes); }
    std::size_t bytes() const {
        return (std::size_t(threads) * (stem_share() + 2 * activation_share() + aligned_floats(scratch_bytes)) +
                pooled_floats) *
               sizeof(float);
    }
    static std::size_t aligned_floats(std::size_t bytes) { return (bytes + 63) / 64 * 16; }
};

namespace internal {

class Int8Network {
public:
    // Both tables must outlive the network (they are static).
    Int8Network(const Int8NetworkWeights& weights, const kernels::KernelTable& float_kernels,
                const kernels::Int8KernelTable& int8_kernels)
        : topology_(weights.topology), k_(&float_kernels), q_(&int8_kernels), stem_output_(weights.stem_output) {
        const Topology& t = topology_;
        check(weights.stem.out_channels == t.stem_channels &&
                  weights.stem.weights_per_output == t.config.in_channels * 9,
              "Int8Network: the stem's weights do not match the topology (" + std::to_string(weights.stem.out_channels) +
                  " x " + std::to_string(weights.stem.weights_per_output) + ", expected " +
                  std::to_string(t.stem_channels) + " x " + std::to_string(t.config.in_channels * 9) + ")");
        check(weights.blocks.size() == t.blocks.size(), "Int8Network: " + std::to_string(weights.blocks.size()) +
                                                            " blocks of weights for " +
                                                            std::to_string(t.blocks.size()) + " blocks");
        const std::size_t classes = std::size_t(t.config.num_classes);
        check(weights.classifier_weight.size() == classes * std::size_t(t.last_channels) &&
                  weights.classifier_weight_scales.size() == classes && weights.classifier_bias.size() == classes,
              "Int8Network: the classifier has " + std::to_string(weights.classifier_weight.size()) + " weights, " +
                  std::to_string(weights.classifier_weight_scales.size()) + " scales and " +
                  std::to_string(weights.classifier_bias.size()) + " biases, expected " +
                  std::to_string(classes * std::size_t(t.last_channels)) + ", " + std::to_string(classes) + " and " +
                  std::to_string(classes));
        U8Quantization input = stem_output_;
        for (std::size_t i = 0; i < t.blocks.size(); ++i) {
            const Int8SandglassLayers& l = weights.blocks[i];
            check(l.input.scale == input.scale && l.input.zero_point == input.zero_point,
                  "Int8Network: block " + std::to_string(t.blocks[i].index) +
                      " expects an input quantization other than the previous layer's output");
            blocks_.emplace_back(t.blocks[i], l, int8_kernels);
            input = l.output;
        }
        output_ = input;
        stem_ = pack_folded_stem(weights.stem, t.config.in_channels);
        classifier_weight_ = weights.classifier_weight;
        classifier_scales_ = weights.classifier_weight_scales;
        classifier_bias_ = weights.classifier_bias;
    }

    const Topology& topology() const noexcept { return topology_; }
    const NetworkConfig& config() const noexcept { return topology_.config; }
    const std::vector<Int8SandglassBlock>& blocks() const noexcept { return blocks_; }
    const kernels::KernelTable& kernels() const noexcept { return *k_; }
    const kernels::Int8KernelTable& int8_kernels() const noexcept { return *q_; }
    // "int8 simd/avx512vnni, float simd/avx512bw": the blocks' and classifier's set, then the stem's.
    std::string kernels_name() const { return "int8 " + q_->name() + ", float " + k_->name(); }

    std::int64_t parameter_count() const { return count_parameters(topology_); }
    std::int64_t multiply_adds(int height, int width) const { return count_multiply_adds(topology_, height, width); }

    // Shape errors before any work or allocation.
    void check_input_shape(const Shape4& s) const { check_backbone_input(topology_, s, "MobileNeXt int8 input"); }

    // `threads`: the workspace's. A batch of at least that many images is split over them by
    // images; a smaller one runs an image at a time, each layer split over all of them.
    Int8ForwardPlan plan(int batch, int height, int width, int threads = 1) const {
        check_input_shape({batch, height, width, topology_.config.in_channels});
        Int8ForwardPlan p;
        p.threads = batch >= threads ? std::max(1, threads) : 1;
        walk_layer_sizes(
            topology_, height, width,
            [&](int h, int w) {
                p.stem_floats = std::size_t(h) * w * topology_.stem_channels;
                p.activation_bytes = p.stem_floats;
            },
            [&](const BlockSpec& b, const BlockSizes& s) {
                const Int8SandglassBlock& block = blocks_[std::size_t(&b - topology_.blocks.data())];
                p.scratch_bytes = std::max(p.scratch_bytes, block.scratch_bytes(s.in_height, s.in_width));
                p.activation_bytes =
                    std::max(p.activation_bytes, std::size_t(s.out_height) * s.out_width * b.out_channels);
            });
        p.pooled_floats = std::size_t(batch) * topology_.last_channels;
        return p;
    }

    std::size_t working_memory_bytes(int batch, int height, int width, int threads = 1) const {
        return plan(batch, height, width, threads).bytes();
    }

    // input: NHWC [batch][height][width][in_channels]; logits: reshaped to [batch][1][1][classes].
    // Allocates only when `workspace` or `logits` are smaller than this input needs.
    void forward(const Tensor& input, Tensor& logits, Workspace& ws) const {
        const Shape4 s = input.shape();
        check_input_shape(s);
        const Shape4 logits_shape{s.n, 1, 1, topology_.config.num_classes};
        if (logits.shape() != logits_shape) logits.reshape(logits_shape);
        forward_checked(input.data(), s, logits.data(), ws);
    }

    // The same on memory the caller owns (as Network::forward).
    void forward(const float* input, const Shape4& shape, float* logits, std::size_t logits_capacity,
                 Workspace& ws) const {
        check_input_shape(shape);
        check_logits_buffers(input, shape, logits, logits_capacity, topology_.config.num_classes,
                             "MobileNeXt int8 input", "MobileNeXt int8 logits");
        forward_checked(input, shape, logits, ws);
    }

    // With its own workspace (allocates on every call).
    Tensor forward(const Tensor& input) const {
        Workspace ws;
        Tensor logits;
        forward(input, logits, ws);
        return logits;
    }

private:
    static void grow(AlignedBuffer& buffer, std::size_t floats) {
        if (buffer.size() < floats) buffer.resize(floats);
    }

    // The pooled features of one image: the mean of each channel's uint8 values over the
    // pixels, dequantized. The sums are exact integers, so the mean depends on no summation
    // order. They are taken for a chunk of channels at a time, pixel after pixel, so that the
    // tensor is read in memory order (a channel at a time would read one byte per pixel row).
    void pool(const std::uint8_t* activation, std::size_t pixels, float* pooled) const {
        constexpr std::size_t kChunk = 256;
        const std::size_t channels = std::size_t(topology_.last_channels);
        for (std::size_t first = 0; first < channels; first += kChunk) {
            const std::size_t count = std::min(kChunk, channels - first);
            std::uint64_t sums[kChunk] = {};
            for (std::size_t p = 0; p < pixels; ++p) {
                const std::uint8_t* row = activation + p * channels + first;
                for (std::size_t c = 0; c < count; ++c) sums[c] += row[c];
            }
            for (std::size_t c = 0; c < count; ++c)
                pooled[first + c] = float(double(output_.scale) *
                                          (double(sums[c]) / double(pixels) - double(output_.zero_point)));
        }
    }

    // A batch of at least as many images as threads: whole images split over the threads, each
    // image layer after layer on one thread in that thread's buffers. A smaller batch: one
    // image after the other, each layer split over all threads by rows or pixels (the stem
    // and its quantization too), joined between layers. Every output value is computed the
    // same way whatever thread runs it, so the bits do not depend on the thread count.
    void forward_checked(const float* input, const Shape4& s, float* logits, Workspace& ws) const {
        check_input_finite(*k_, input, s, "MobileNeXt int8 input");
        const WorkspaceClaim claim(ws);
        const Int8ForwardPlan p = plan(s.n, s.h, s.w, ws.threads());
        try {
            grow(ws.layer_in, std::size_t(p.threads) * p.stem_share());
            grow(ws.ping, std::size_t(p.threads) * p.activation_share());
            grow(ws.pong, std::size_t(p.threads) * p.activation_share());
            for (int t = 0; t < p.threads; ++t)
                grow(ws.scratch[std::size_t(t)], Int8ForwardPlan::aligned_floats(p.scratch_bytes));
            grow(ws.pooled, p.pooled_floats);
        } catch (const std::bad_alloc&) {
            fail("MobileNeXt int8 input: NHWC " + s.str() + " needs " + std::to_string(p.bytes() >> 20) +
                 " MiB of working memory on " + std::to_string(p.threads) + " threads, which cannot be allocated");
        }
        const std::size_t in_image = std::size_t(s.h) * s.w * s.c;
        const int last = topology_.last_channels;
        // `layers`: the pool that shares each layer, or null.
        const auto run_image = [&](int n, int thread, ThreadPool* layers) {
            // uint8 tensors in the float buffers: any object's storage may be accessed as bytes.
            const std::size_t t = std::size_t(thread);
            std::uint8_t* current = reinterpret_cast<std::uint8_t*>(ws.ping.data() + t * p.activation_share());
            std::uint8_t* next = reinterpret_cast<std::uint8_t*>(ws.pong.data() + t * p.activation_share());
            std::uint8_t* scratch = reinterpret_cast<std::uint8_t*>(ws.scratch[t].data());
            float* stem_output = ws.layer_in.data() + t * p.stem_share();
            int h = conv3x3_output_size(s.h, 2), w = conv3x3_output_size(s.w, 2);
            run_stem(input + n * in_image, s, stem_output, current, layers);
            for (const Int8SandglassBlock& block : blocks_) {
                block.forward(current, h, w, next, scratch, layers);
                h = block.output_height(h);
                w = block.output_width(w);
                std::swap(current, next);
            }
            pool(current, std::size_t(h) * w, ws.pooled.data() + std::size_t(n) * last);
        };
        if (ws.threads() == 1) {
            for (int n = 0; n < s.n; ++n) run_image(n, 0, nullptr);
        } else if (p.threads == 1) {
            for (int n = 0; n < s.n; ++n) run_image(n, 0, &ws.pool);
        } else {
            ws.pool.run(s.n, [&](int n, int thread) { run_image(n, thread, nullptr); });
        }
        q_->fully_connected_s8(ws.pooled.data(), s.n, classifier(), logits);
    }

    // The stem of one image and its quantization to uint8, split by output rows over `layers`
    // when not null.
    void run_stem(const float* image, const Shape4& s, float* stem_output, std::uint8_t* quantized,
                  ThreadPool* layers) const {
        const int h = conv3x3_output_size(s.h, 2), w = conv3x3_output_size(s.w, 2);
        const std::size_t row = std::size_t(w) * std::size_t(topology_.stem_channels);
        const auto rows = [&](std::size_t y0, std::size_t y1) {
            k_->stem_conv3x3_s2_relu6(image, s.h, s.w, int(y0), int(y1), stem_.view(), stem_output + y0 * row);
            k_->quantize_u8(stem_output + y0 * row, (y1 - y0) * row, stem_output_.scale, stem_output_.zero_point,
                            quantized + y0 * row);
        };
        run_shares(layers, std::size_t(h), rows);
    }

    Topology topology_;
    const kernels::KernelTable* k_;
    const kernels::Int8KernelTable* q_;
    U8Quantization stem_output_, output_;
    LinearWeightsS8 classifier() const {
        return {classifier_weight_.data(), classifier_scales_.data(), classifier_bias_.data(), topology_.last_channels,
                topology_.config.num_classes};
    }

    PackedStem stem_;
    std::vector<Int8SandglassBlock> blocks_;
    std::vector<std::int8_t> classifier_weight_;  // [classes][last_channels]: what the classifier streams
    std::vector<float> classifier_scales_, classifier_bias_;
};

}  // namespace internal

}  // namespace mobilenext
