#pragma once
// The MobileNeXt network: stem, sandglass blocks, global average pool, classifier. Built from
// a state dict in the authors' naming (BatchNorm folded and weights packed here, once), it is
// immutable afterwards: forward() is const and may run on many threads at once, each with its
// own Workspace.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <new>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "../blocks/sandglass_block.hpp"
#include "../core/error.hpp"
#include "../core/tensor.hpp"
#include "../kernels/kernel_table.hpp"
#include "../kernels/pack_weights.hpp"
#include "batch_norm_fold.hpp"
#include "forward_plan.hpp"
#include "random_weights.hpp"
#include "state_dict.hpp"
#include "state_dict_reader.hpp"
#include "topology.hpp"
#include "workspace.hpp"

namespace mobilenext {

namespace internal {

// Largest tensor of one image anywhere in the network (in floats): kernels index within one
// image with int.
inline constexpr std::int32_t kMaxImageElements = std::numeric_limits<std::int32_t>::max();

// Shape errors of a backbone's input before any work or allocation. (Messages are built only
// on failure: this runs on every forward pass, which must not allocate.)
inline void check_backbone_input(const Topology& t, const Shape4& s, const char* what) {
    internal::check_shape(s, what);
    if (s.c != t.config.in_channels)
        internal::fail(std::string(what) + ": expected " + std::to_string(t.config.in_channels) +
                       " channels (NHWC), found " + std::to_string(s.c) + " in shape " + s.str());
    const auto fits = [](std::int64_t h, std::int64_t w, int channels) {
        return h * w <= std::int64_t(kMaxImageElements) / channels;
    };
    bool ok = fits(s.h, s.w, std::max(s.c, t.stem_channels));
    walk_layer_sizes(t, s.h, s.w, [](int, int) {}, [&](const BlockSpec& b, const BlockSizes& z) {
        ok = ok && fits(z.in_height, z.in_width, std::max({b.in_channels, b.hidden, b.out_channels}));
    });
    if (!ok)
        internal::fail(std::string(what) + ": NHWC " + s.str() + " is too large: a tensor of one image would hold more than " +
                       std::to_string(kMaxImageElements) + " values");
}

// Refuses NaN and infinities in the input: the clamps of ReLU6 would turn them into finite
// values and the outputs into a confident answer (PyTorch propagates them).
inline void check_input_finite(const kernels::KernelTable& k, const float* input, const Shape4& s, const char* what) {
    const std::size_t count = std::size_t(s.n) * s.h * s.w * s.c;
    const std::size_t bad = k.first_beyond(input, count, std::numeric_limits<float>::max());
    if (bad == count) return;
    const std::size_t c = bad % s.c, x = bad / s.c % s.w, y = bad / s.c / s.w % s.h, n = bad / s.c / s.w / s.h;
    internal::fail(std::string(what) + ": element [" + std::to_string(n) + "][" + std::to_string(y) + "][" +
                   std::to_string(x) + "][" + std::to_string(c) + "] (NHWC) is " + std::to_string(input[bad]) +
                   "; inputs must be finite");
}

// The caller's buffers of a forward pass on raw memory: non-null, float-aligned, and room for
// shape.n x classes logits. `input_what` and `logits_what` name them in messages (literals:
// this runs on every forward pass, which must not allocate).
inline void check_logits_buffers(const float* input, const Shape4& shape, const float* logits,
                                 std::size_t logits_capacity, int classes, const char* input_what,
                                 const char* logits_what) {
    check_user_buffer(input, input_what);
    check_user_buffer(logits, logits_what);
    const std::size_t needed = std::size_t(shape.n) * std::size_t(classes);
    if (logits_capacity < needed)
        fail(std::string(logits_what) + ": the buffer holds " + std::to_string(logits_capacity) + " floats, " +
             std::to_string(needed) + " needed for " + std::to_string(shape.n) + " x " + std::to_string(classes) +
             " logits");
}

// Grows the workspace's buffers to a plan (never shrinks them).
inline void grow_workspace(const ForwardPlan& p, Workspace& ws) {
    if (ws.ping.size() < p.activation) ws.ping.resize(p.activation);
    if (ws.pong.size() < p.activation) ws.pong.resize(p.activation);
    if (ws.pooled.size() < p.pooled) ws.pooled.resize(p.pooled);
    for (AlignedBuffer& scratch : ws.scratch)
        if (scratch.size() < p.scratch) scratch.resize(p.scratch);
    for (AlignedBuffer* buffer : {&ws.layer_in, &ws.layer_hidden, &ws.layer_out})
        if (buffer->size() < p.layer) buffer->resize(p.layer);
}

// Blocks whose output has at most this many rows run layer after layer with each layer split
// over the threads, when a batch is cut into bands: bands of so few rows would recompute too
// many halo rows.
inline constexpr int kLayerParallelMaxHeight = 14;

// Band b of `bands` equal bands of `rows` rows: [first, end).
inline std::pair<int, int> band_rows(int rows, int bands, int b) {
    return {rows * b / bands, rows * (b + 1) / bands};
}

// The stem over a batch of NHWC images of `shape`, each cut into `bands` bands of output rows.
inline void run_stem_in_bands(const kernels::KernelTable& k, const PackedStem& stem, Workspace& ws, const float* input,
                              const Shape4& shape, int bands, float* output) {
    const int h = conv3x3_output_size(shape.h, 2), w = conv3x3_output_size(shape.w, 2);
    const std::size_t in_image = std::size_t(shape.h) * shape.w * shape.c, out_image = std::size_t(h) * w * stem.out_channels;
    ws.pool.run(shape.n * bands, [&](int task, int) {
        const int n = task / bands;
        const auto [y0, y1] = band_rows(h, bands, task % bands);
        k.stem_conv3x3_s2_relu6(input + n * in_image, shape.h, shape.w, y0, y1, stem.view(),
                                output + n * out_image + std::size_t(y0) * w * stem.out_channels);
    });
}

// One block over a batch of images of height x width, each cut into `bands` bands of output
// rows: tasks (image, band) over the workspace's threads; or, for a block of so few rows
// that bands would recompute many halo rows, each image layer after layer with every layer
// split over the threads. `output` does not overlap `input`.
inline void run_block_in_bands(const SandglassBlock& block, Workspace& ws, int batch, int bands, const float* input,
                               int height, int width, float* output) {
    const int oh = block.output_height(height), ow = block.output_width(width);
    const std::size_t in_image = std::size_t(height) * width * block.spec().in_channels;
    const std::size_t out_image = std::size_t(oh) * ow * block.spec().out_channels;
    if (bands > 1 && oh <= kLayerParallelMaxHeight) {
        for (int n = 0; n < batch; ++n)
            block.forward_by_layers(ws.pool, input + n * in_image, height, width, output + n * out_image,
                                    ws.layer_in.data(), ws.layer_hidden.data(), ws.layer_out.data());
        return;
    }
    ws.pool.run(batch * bands, [&](int task, int thread) {
        const int n = task / bands;
        const auto [y0, y1] = band_rows(oh, bands, task % bands);
        block.forward_rows(input + n * in_image, height, width, y0, y1, output + n * out_image,
                           ws.scratch[std::size_t(thread)].data());
    });
}

// The network on one kernel table. Model (model.hpp) is the public face: it builds a Network
// through its validating builder and owns it.
class Network {
public:
    // `source` names where the weights came from, for error messages. `kernels` must outlive
    // the network (the tables are static).
    Network(const NetworkConfig& config, const StateDict& weights, const kernels::KernelTable& kernels,
            const std::string& source = "state dict")
        : topology_(derive_topology(config)), k_(&kernels) {
        internal::StateDictReader r(weights, source, kernels);
        const Topology& t = topology_;
        BackboneWeights backbone = read_backbone(r, t);
        stem_ = std::move(backbone.stem);
        blocks_ = std::move(backbone.blocks);
        const HostTensor& fc_w = r.get(kClassifierWeight, {config.num_classes, t.last_channels});
        const HostTensor& fc_b = r.get(kClassifierBias, {config.num_classes});
        // In 64-column panels whatever the kernel set: the classifier streams its weights row by
        // row, each row updating the panel's logits in L1, a chain from row to row through a
        // store and a load; a 64-column panel runs four times as many of those chains side by
        // side as a 16-column one (`fully_connected/<set>/batch:1/1280->1000`).
        classifier_ = pack_pointwise(fc_w.values.data(), nullptr, fc_b.values.data(), t.last_channels, config.num_classes);
        internal::check_packed_finite(classifier_, source, "classifier.1", kernels);
        r.check_all_used();
    }

    // A network with random weights (random BatchNorm statistics included), see random_weights.hpp.
    static Network random(const NetworkConfig& config, std::uint64_t seed, const kernels::KernelTable& kernels) {
        return Network(config, make_random_state_dict(derive_topology(config), seed), kernels, "random weights");
    }

    const Topology& topology() const noexcept { return topology_; }
    const NetworkConfig& config() const noexcept { return topology_.config; }
    const std::vector<SandglassBlock>& blocks() const noexcept { return blocks_; }
    const kernels::KernelTable& kernels() const noexcept { return *k_; }
    std::string kernels_name() const { return k_->name(); }

    std::int64_t parameter_count() const { return count_parameters(topology_); }
    std::int64_t multiply_adds(int height, int width) const { return count_multiply_adds(topology_, height, width); }

    // Buffer sizes for a batch of `batch` images of height x width on `threads` threads.
    ForwardPlan plan(int batch, int height, int width, int threads = 1) const {
        check_input_shape({batch, height, width, topology_.config.in_channels});
        ForwardPlan p;
        p.threads = threads;
        const bool bands = threads > batch;
        walk_layer_sizes(
            topology_, height, width, [&](int h, int w) { p.image = std::size_t(h) * w * topology_.stem_channels; },
            [&](const BlockSpec& b, const BlockSizes& s) {
                const SandglassBlock& block = blocks_[std::size_t(&b - topology_.blocks.data())];
                p.scratch = std::max(p.scratch, block.scratch_floats(s.in_height, s.in_width));
                if (bands && s.out_height <= kLayerParallelMaxHeight)
                    p.layer = std::max(p.layer, block.layer_buffer_floats(s.in_height, s.in_width));
                p.image = std::max(p.image, std::size_t(s.out_height) * s.out_width * b.out_channels);
            });
        // Bands: the whole batch goes block by block. Whole images: each thread holds one.
        p.activation = std::size_t(bands ? batch : std::min(batch, threads)) * p.image;
        p.pooled = std::size_t(batch) * topology_.last_channels;
        return p;
    }

    // Working memory of one forward pass (all workspace buffers), in bytes.
    std::size_t working_memory_bytes(int batch, int height, int width, int threads = 1) const {
        return plan(batch, height, width, threads).bytes();
    }

    // input: NHWC [batch][height][width][in_channels]; logits: reshaped to [batch][1][1][classes].
    // Runs on workspace.threads() threads. Allocates only when `workspace` or `logits` are
    // smaller than this input needs.
    void forward(const Tensor& input, Tensor& logits, Workspace& ws) const {
        const Shape4 s = input.shape();
        check_input_shape(s);
        const Shape4 logits_shape{s.n, 1, 1, topology_.config.num_classes};
        if (logits.shape() != logits_shape) logits.reshape(logits_shape);
        forward_checked(input.data(), s, logits.data(), ws);
    }

    // The same on memory the caller owns: `input` holds shape.n x shape.h x shape.w x
    // shape.c floats (NHWC), `logits` room for `logits_capacity` floats of which
    // shape.n x num_classes are written. Pointers must be non-null and float-aligned.
    void forward(const float* input, const Shape4& shape, float* logits, std::size_t logits_capacity,
                 Workspace& ws) const {
        check_input_shape(shape);
        check_logits_buffers(input, shape, logits, logits_capacity, topology_.config.num_classes, "MobileNeXt input",
                             "MobileNeXt logits");
        forward_checked(input, shape, logits, ws);
    }

    // Convenience form with its own single-threaded workspace (allocates on every call).
    Tensor forward(const Tensor& input) const {
        Workspace ws;
        Tensor logits;
        forward(input, logits, ws);
        return logits;
    }

    // Shape errors before any work or allocation.
    void check_input_shape(const Shape4& s) const { check_backbone_input(topology_, s, "MobileNeXt input"); }

    static constexpr std::int32_t kMaxImageElements = internal::kMaxImageElements;

private:
    // The classifier streams its weights (5 MB at 1000 classes) from memory once per pass:
    // split over the threads (by images, or by columns for one image), more cores bring more
    // bandwidth. Each logit is the same sum in the same order whatever the split.
    void classify(Workspace& ws, int batch, float* logits) const {
        const int threads = ws.threads(), classes = topology_.config.num_classes;
        const float* pooled = ws.pooled.data();
        if (threads == 1) {
            k_->fully_connected(pooled, batch, classifier_.view(), logits);
        } else if (batch == 1) {
            const int panel = classifier_.panel, panels = (classes + panel - 1) / panel;
            ws.pool.run(threads, [&](int part, int) {
                const int c0 = panels * part / threads * panel;
                const int c1 = std::min(classes, panels * (part + 1) / threads * panel);
                if (c0 < c1) k_->fully_connected(pooled, 1, classifier_.view().columns(c0, c1), logits + c0);
            });
        } else {
            const int last = topology_.last_channels;
            ws.pool.run(threads, [&](int part, int) {
                const int n0 = batch * part / threads, n1 = batch * (part + 1) / threads;
                if (n0 < n1)
                    k_->fully_connected(pooled + std::size_t(n0) * last, n1 - n0, classifier_.view(),
                                             logits + std::size_t(n0) * classes);
            });
        }
    }

    // At least as many images as threads: each thread takes whole images through the whole
    // network, one after another, in its own pair of activation buffers (`image_floats`
    // each). An image's activations then stay in the core's L2 from block to block, as at
    // batch 1, instead of a batch's worth going out to memory between blocks. Blocks that
    // can write their output over their input (SandglassBlock::runs_in_place) do: their
    // output lines are then the lines just read, not another buffer's back from L3.
    void forward_whole_images(const float* input, const Shape4& s, float* logits, Workspace& ws,
                              std::size_t image_floats) const {
        const std::size_t in_image = std::size_t(s.h) * s.w * s.c;
        const int last = topology_.last_channels;
        ws.pool.run(s.n, [&](int n, int thread) {
            float* current = ws.ping.data() + std::size_t(thread) * image_floats;
            float* next = ws.pong.data() + std::size_t(thread) * image_floats;
            int h = conv3x3_output_size(s.h, 2), w = conv3x3_output_size(s.w, 2);
            // The stem's rows are computed as the first block comes to need them, so that
            // they are still in L2 when it reads them.
            int stem_rows = 0;
            const auto stem_rows_ready = [&](int end) {
                if (end <= stem_rows) return;
                k_->stem_conv3x3_s2_relu6(input + n * in_image, s.h, s.w, stem_rows, end, stem_.view(),
                                               current + std::size_t(stem_rows) * w * stem_.out_channels);
                stem_rows = end;
            };
            for (const auto& block : blocks_) {
                const int oh = block.output_height(h);
                const bool in_place = block.runs_in_place();
                float* out = in_place ? current : next;
                float* scratch = ws.scratch[std::size_t(thread)].data();
                if (&block == &blocks_.front())
                    block.forward_rows(current, h, w, 0, oh, out, scratch, stem_rows_ready);
                else
                    block.forward_rows(current, h, w, 0, oh, out, scratch);
                w = block.output_width(w);
                h = oh;
                if (!in_place) std::swap(current, next);
            }
            k_->global_average_pool(current, 1, std::size_t(h) * w, last, ws.pooled.data() + std::size_t(n) * last);
        });
        classify(ws, s.n, logits);
    }

    void forward_checked(const float* input, const Shape4& s, float* logits, Workspace& ws) const {
        check_input_finite(*k_, input, s, "MobileNeXt input");
        const WorkspaceClaim claim(ws);
        const int threads = ws.threads();
        const ForwardPlan p = plan(s.n, s.h, s.w, threads);
        try {
            grow_workspace(p, ws);
        } catch (const std::bad_alloc&) {
            internal::fail("MobileNeXt input: NHWC " + s.str() + " needs " + std::to_string(p.bytes() >> 20) +
                           " MiB of working memory on " + std::to_string(threads) + " threads, which cannot be allocated");
        }

        if (s.n >= threads) {
            forward_whole_images(input, s, logits, ws, p.image);
            return;
        }
        // Fewer images than threads: each image is cut into bands of output rows, and the
        // (image, band) tasks go block by block.
        const int bands = (threads + s.n - 1) / s.n;

        float* current = ws.ping.data();
        float* next = ws.pong.data();
        int h = conv3x3_output_size(s.h, 2), w = conv3x3_output_size(s.w, 2);
        run_stem_in_bands(*k_, stem_, ws, input, s, bands, current);
        for (const auto& block : blocks_) {
            run_block_in_bands(block, ws, s.n, bands, current, h, w, next);
            h = block.output_height(h);
            w = block.output_width(w);
            std::swap(current, next);
        }
        k_->global_average_pool(current, s.n, std::size_t(h) * w, topology_.last_channels, ws.pooled.data());
        classify(ws, s.n, logits);
    }

    Topology topology_;
    const kernels::KernelTable* k_;
    PackedStem stem_;
    std::vector<SandglassBlock> blocks_;
    PackedPointwise classifier_;
};

}  // namespace internal

}  // namespace mobilenext
