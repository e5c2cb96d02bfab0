#pragma once
// The SSDLite-MobileNeXt detector on one kernel table: the classifier's stem and fused blocks
// (read by the same reader, under "backbone."), the two blocks whose expansions are maps run
// in two parts (SandglassBlock::expansion_into, output_from_expansion), then the extras, the
// heads, the scores and the decoded boxes. Immutable once built; forward() is const and may
// run on many threads at once, each with its own Workspace and DetectorOutputs.
#include <algorithm>
#include <array>
#include <cstddef>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "../core/error.hpp"
#include "../core/tensor.hpp"
#include "../kernels/kernel_table.hpp"
#include "../kernels/pack_weights.hpp"
#include "../model/network.hpp"
#include "../model/state_dict_reader.hpp"
#include "../model/workspace.hpp"
#include "detector_outputs.hpp"
#include "detector_topology.hpp"
#include "post_process.hpp"
#include "priors.hpp"

namespace mobilenext {

namespace internal {

struct ExtraLayer {
    ExtraLayerSpec spec;
    PackedDepthwise dw;  // stride 2, + ReLU6
    PackedPointwise reduce, expand;
};

struct PredictionHead {
    PackedDepthwise dw;  // empty on the last map
    PackedPointwise pw;
};

// Rows of a head computed per step: enough pixels for the 1x1 convolution's tiles, few
// enough that the depthwise rows it reads stay in L1/L2 (as SandglassBlock's steps).
inline int head_step_rows(int width) { return std::max(1, (64 + width - 1) / width); }

class DetectorNetwork {
public:
    DetectorNetwork(const DetectorTopology& topology, const StateDict& weights, const kernels::KernelTable& kernels,
                    const std::string& source)
        : topology_(topology), k_(&kernels) {
        StateDictReader r(weights, source, kernels);
        BackboneWeights backbone = read_backbone(r, topology_.backbone, kBackbonePrefix);
        stem_ = std::move(backbone.stem);
        blocks_ = std::move(backbone.blocks);
        read_extras(r);
        for (HeadKind kind : {HeadKind::classes, HeadKind::boxes})
            for (int l = 0; l < kDetectorMaps; ++l) heads(kind)[std::size_t(l)] = read_head(r, kind, l);
        r.check_all_used();
    }

    const DetectorTopology& topology() const noexcept { return topology_; }
    const kernels::KernelTable& kernels() const noexcept { return *k_; }

    std::array<MapSize, kDetectorMaps> map_sizes(int height, int width) const {
        return detector_map_sizes(topology_, height, width);
    }
    std::size_t priors(int height, int width) const { return prior_count(topology_.config, map_sizes(height, width)); }

    void check_input_shape(const Shape4& s) const { check_backbone_input(topology_.backbone, s, "detector input"); }

    // Buffer sizes of a pass over `batch` images of height x width on `threads` threads.
    ForwardPlan plan(int batch, int height, int width, int threads) const {
        check_input_shape({batch, height, width, 3});
        ForwardPlan p;
        p.threads = threads;
        const bool bands = threads > batch;
        walk_layer_sizes(
            topology_.backbone, height, width,
            [&](int h, int w) { p.image = std::size_t(h) * w * topology_.backbone.stem_channels; },
            [&](const BlockSpec& b, const BlockSizes& s) {
                const SandglassBlock& block = blocks_[std::size_t(b.index - 1)];
                p.scratch = std::max(p.scratch, block.scratch_floats(s.in_height, s.in_width));
                if (bands && s.out_height <= kLayerParallelMaxHeight)  // map blocks too: forward_backbone fuses them
                    p.layer = std::max(p.layer, block.layer_buffer_floats(s.in_height, s.in_width));
                p.image = std::max(p.image, std::size_t(s.out_height) * s.out_width * b.out_channels);
            });
        const auto maps = map_sizes(height, width);
        for (int k = 0; k < kExtraLayers; ++k) {
            const ExtraLayerSpec& e = topology_.extras[std::size_t(k)];
            const MapSize& out = maps[std::size_t(k) + 2];
            const std::size_t pixels = std::size_t(out.height) * out.width;
            p.scratch = std::max(p.scratch, aligned(pixels * e.in_channels) + aligned(pixels * e.mid_channels));
        }
        for (int l = 0; l < kDetectorMaps; ++l) {
            const MapSize& m = maps[std::size_t(l)];
            const std::size_t rows = std::size_t(std::min(m.height, head_step_rows(m.width)));
            p.scratch = std::max(p.scratch, rows * m.width * topology_.map_channels[std::size_t(l)]);
        }
        p.activation = std::size_t(batch) * p.image;
        p.pooled = 4 * prior_count(topology_.config, maps);  // the priors
        return p;
    }

    // input: NHWC [N][H][W][3], preprocessed. Fills out.maps, out.scores and out.boxes.
    void forward(const float* input, const Shape4& s, DetectorOutputs& out, Workspace& ws) const {
        check_input_shape(s);
        check_input_finite(*k_, input, s, "detector input");
        const WorkspaceClaim claim(ws);
        const ForwardPlan p = plan(s.n, s.h, s.w, ws.threads());
        const auto maps = map_sizes(s.h, s.w);
        try {
            grow_workspace(p, ws);
            prepare_outputs(s.n, maps, out);
        } catch (const std::bad_alloc&) {
            fail("detector input: NHWC " + s.str() + " needs more working memory than can be allocated");
        }
        const int bands = ws.threads() > s.n ? (ws.threads() + s.n - 1) / s.n : 1;
        const float* last = run_backbone(input, s, bands, true, out, ws);
        run_extras(last, s.n, bands, out, ws);
        run_heads(s.n, bands, maps, out, ws);
        finish_outputs(s, bands, maps, out, ws);
    }

    // The stem and the blocks alone, as forward() runs them when `taps`; without, blocks 13
    // and 20 run fused like every other block and write no map: the classifier's backbone.
    // The difference is what the taps cost (benchmarks/bench_detector.cpp, detector/backbone_*).
    void forward_backbone(const float* input, const Shape4& s, bool taps, DetectorOutputs& out, Workspace& ws) const {
        check_input_shape(s);
        const WorkspaceClaim claim(ws);
        grow_workspace(plan(s.n, s.h, s.w, ws.threads()), ws);
        prepare_outputs(s.n, map_sizes(s.h, s.w), out);
        const int bands = ws.threads() > s.n ? (ws.threads() + s.n - 1) / s.n : 1;
        run_backbone(input, s, bands, taps, out, ws);
    }

private:
    static std::size_t aligned(std::size_t floats) { return (floats + 15) / 16 * 16; }
    static bool is_map_block(int index) { return index == kMapBlocks[0] || index == kMapBlocks[1]; }

    std::array<PredictionHead, kDetectorMaps>& heads(HeadKind kind) {
        return kind == HeadKind::classes ? class_heads_ : box_heads_;
    }
    const std::array<PredictionHead, kDetectorMaps>& heads(HeadKind kind) const {
        return kind == HeadKind::classes ? class_heads_ : box_heads_;
    }

    void read_extras(StateDictReader& r) {
        const std::vector<ConvBnLayer> layers = extra_conv_bn_layers(topology_);
        for (int k = 0; k < kExtraLayers; ++k) {
            ExtraLayer& e = extras_[std::size_t(k)];
            e.spec = topology_.extras[std::size_t(k)];
            const ConvBnLayer* l = &layers[std::size_t(3 * k)];
            e.dw = read_conv_bn(r, l[0], [&](const float* w, const float* scale, const float* bias) {
                return pack_depthwise(w, scale, bias, e.spec.in_channels);
            });
            e.reduce = read_conv_bn(r, l[1], [&](const float* w, const float* scale, const float* bias) {
                return pack_pointwise(w, scale, bias, e.spec.in_channels, e.spec.mid_channels, k_->pointwise_panel);
            });
            e.expand = read_conv_bn(r, l[2], [&](const float* w, const float* scale, const float* bias) {
                return pack_pointwise(w, scale, bias, e.spec.mid_channels, e.spec.out_channels, k_->pointwise_panel);
            });
        }
    }

    // A head: dw3x3 with its own bias, BatchNorm folded over both, then the 1x1 with bias; or
    // only the 1x1 on the last map.
    PredictionHead read_head(StateDictReader& r, HeadKind kind, int map) {
        const std::string name = head_name(kind, map);
        const int c = topology_.map_channels[std::size_t(map)];
        const int cols = topology_.config.boxes_per_location(map) * head_columns(topology_, kind);
        PredictionHead h;
        std::string pw = name;
        if (head_is_separable(map)) {
            const HostTensor& conv_bias = r.get(name + ".conv.0.bias", {c});
            const ConvBnLayer dw{LayerRole::input_dw, -1, name + ".conv.0", name + ".conv.1", {c, 1, 3, 3}};
            h.dw = read_conv_bn(r, dw, [&](const float* w, const float* scale, const float* bias) {
                std::vector<float> total(static_cast<std::size_t>(c));
                for (int i = 0; i < c; ++i)
                    total[std::size_t(i)] = scale[i] * conv_bias.values[std::size_t(i)] + bias[i];
                return pack_depthwise(w, scale, total.data(), c);
            });
            pw += ".conv.3";
        }
        const HostTensor& w = r.get(pw + ".weight", {cols, c, 1, 1});
        const HostTensor& b = r.get(pw + ".bias", {cols});
        h.pw = pack_pointwise(w.values.data(), nullptr, b.values.data(), c, cols, k_->pointwise_panel);
        check_packed_finite(h.pw, r.source(), pw, *k_);
        return h;
    }

    void prepare_outputs(int batch, const std::array<MapSize, kDetectorMaps>& maps, DetectorOutputs& out) const {
        const int priors = int(prior_count(topology_.config, maps));
        out.scores.reshape({batch, 1, priors, topology_.config.num_classes});
        out.boxes.reshape({batch, 1, priors, 4});
        for (int l = 0; l < kDetectorMaps; ++l)
            out.maps[std::size_t(l)].reshape({batch, maps[std::size_t(l)].height, maps[std::size_t(l)].width,
                                              topology_.map_channels[std::size_t(l)]});
        out.detections.resize(std::size_t(batch));
        for (auto& d : out.detections) d.clear();
        if (out.nms.size() < std::size_t(batch)) out.nms.resize(std::size_t(batch));
        for (NmsScratch& s : out.nms)
            s.reserve(std::size_t(priors), topology_.config.num_classes, topology_.config.max_detections);
    }

    // Stem and blocks; the map blocks write their expansions into out.maps[0] and [1]. Returns
    // the last block's output.
    const float* run_backbone(const float* input, const Shape4& s, int bands, bool taps, DetectorOutputs& out,
                              Workspace& ws) const {
        float* current = ws.ping.data();
        float* next = ws.pong.data();
        run_stem_in_bands(*k_, stem_, ws, input, s, bands, current);
        int h = conv3x3_output_size(s.h, 2), w = conv3x3_output_size(s.w, 2);
        for (const SandglassBlock& block : blocks_) {
            const int index = block.spec().index;
            if (taps && is_map_block(index))
                run_map_block(block, ws, s.n, bands, current, h, w, out.maps[index == kMapBlocks[0] ? 0 : 1].data(),
                              next);
            else
                run_block_in_bands(block, ws, s.n, bands, current, h, w, next);
            h = block.output_height(h);
            w = block.output_width(w);
            std::swap(current, next);
        }
        return current;
    }

    // A block whose expansion is a map: the expansion's rows in bands into the map, then the
    // output rows in bands from it.
    static void run_map_block(const SandglassBlock& block, Workspace& ws, int batch, int bands, const float* input,
                              int h, int w, float* map, float* output) {
        const BlockSpec& b = block.spec();
        const int oh = block.output_height(h), ow = block.output_width(w);
        const std::size_t in_image = std::size_t(h) * w * b.in_channels,
                          map_image = std::size_t(h) * w * b.out_channels;
        const std::size_t out_image = std::size_t(oh) * ow * b.out_channels;
        ws.pool.run(batch * bands, [&](int task, int thread) {
            const int n = task / bands;
            const auto [y0, y1] = band_rows(h, bands, task % bands);
            block.expansion_into(input + n * in_image, h, w, y0, y1, map + n * map_image,
                                 ws.scratch[std::size_t(thread)].data());
        });
        ws.pool.run(batch * bands, [&](int task, int) {
            const int n = task / bands;
            const auto [y0, y1] = band_rows(oh, bands, task % bands);
            block.output_from_expansion(map + n * map_image, input + n * in_image, h, w, y0, y1,
                                        output + n * out_image);
        });
    }

    // The four extras, each from the previous map into the next, in bands of output rows.
    void run_extras(const float* last, int batch, int bands, DetectorOutputs& out, Workspace& ws) const {
        // The first extra reads the backbone's output: block 20 keeps the size of its input, map 1.
        const float* input = last;
        int h = out.maps[1].height(), w = out.maps[1].width();
        for (int k = 0; k < kExtraLayers; ++k) {
            const ExtraLayer& e = extras_[std::size_t(k)];
            Tensor& map = out.maps[std::size_t(k) + 2];
            const int oh = map.height(), ow = map.width();
            const std::size_t in_image = std::size_t(h) * w * e.spec.in_channels;
            const std::size_t out_image = std::size_t(oh) * ow * e.spec.out_channels;
            ws.pool.run(batch * bands, [&](int task, int thread) {
                const int n = task / bands;
                const auto [y0, y1] = band_rows(oh, bands, task % bands);
                if (y0 >= y1) return;
                const std::size_t pixels = std::size_t(y1 - y0) * ow;
                float* dw = ws.scratch[std::size_t(thread)].data();
                float* mid = dw + aligned(pixels * e.spec.in_channels);
                k_->dwconv3x3(input + n * in_image, {h, w, 2, 0, y0, y1}, e.dw.view(), Activation::relu6, dw);
                k_->pointwise_conv(dw, pixels, e.reduce.view(), Activation::none, mid);
                k_->pointwise_conv(mid, pixels, e.expand.view(), Activation::relu6,
                                   map.data() + n * out_image + std::size_t(y0) * ow * e.spec.out_channels);
            });
            input = map.data();
            h = oh;
            w = ow;
        }
    }

    // Both heads of every map, in bands of rows, writing the heads' outputs where their priors
    // are: a map's [H][W][boxes x columns] is its priors' [H x W x boxes][columns].
    void run_heads(int batch, int bands, const std::array<MapSize, kDetectorMaps>& maps, DetectorOutputs& out,
                   Workspace& ws) const {
        const std::size_t priors = std::size_t(out.priors()), classes = std::size_t(out.classes());
        std::size_t first_prior = 0;
        for (int l = 0; l < kDetectorMaps; ++l) {
            const MapSize m = maps[std::size_t(l)];
            const int c = topology_.map_channels[std::size_t(l)], boxes = topology_.config.boxes_per_location(l);
            const float* map = out.maps[std::size_t(l)].data();
            const std::size_t map_image = std::size_t(m.height) * m.width * c;
            ws.pool.run(batch * bands, [&](int task, int thread) {
                const int n = task / bands;
                const auto [y0, y1] = band_rows(m.height, bands, task % bands);
                float* scratch = ws.scratch[std::size_t(thread)].data();
                const float* image = map + n * map_image;
                float* scores = out.scores.data() + (n * priors + first_prior) * classes;
                float* regressions = out.boxes.data() + (n * priors + first_prior) * 4;
                run_head(class_heads_[std::size_t(l)], image, m, y0, y1, scratch, scores);
                run_head(box_heads_[std::size_t(l)], image, m, y0, y1, scratch, regressions);
            });
            first_prior += std::size_t(m.height) * m.width * boxes;
        }
    }

    // Rows [y0, y1) of one head on one map; `output` points at the map's first prior.
    void run_head(const PredictionHead& head, const float* map, MapSize m, int y0, int y1, float* scratch,
                  float* output) const {
        const int c = head.pw.in_channels, cols = head.pw.out_channels;
        const int step = head_step_rows(m.width);
        for (int r = y0; r < y1; r += step) {
            const int end = std::min(y1, r + step);
            const std::size_t pixels = std::size_t(end - r) * m.width;
            const float* pw_input = map + std::size_t(r) * m.width * c;
            if (head.dw.channels > 0) {
                k_->dwconv3x3(map, {m.height, m.width, 1, 0, r, end}, head.dw.view(), Activation::relu6, scratch);
                pw_input = scratch;
            }
            k_->pointwise_conv(pw_input, pixels, head.pw.view(), Activation::none,
                               output + std::size_t(r) * m.width * cols);
        }
    }

    // Scores from the class logits and corners from the regressions, in place, in bands of priors.
    void finish_outputs(const Shape4& s, int bands, const std::array<MapSize, kDetectorMaps>& maps,
                        DetectorOutputs& out, Workspace& ws) const {
        const DetectorConfig& c = topology_.config;
        const std::size_t priors = std::size_t(out.priors());
        float* prior_boxes = ws.pooled.data();
        make_priors(c, maps, s.h, s.w, prior_boxes);
        ws.pool.run(s.n * bands, [&](int task, int) {
            const int n = task / bands, b = task % bands;
            const std::size_t p0 = priors * std::size_t(b) / std::size_t(bands);
            const std::size_t p1 = priors * std::size_t(b + 1) / std::size_t(bands);
            score_rows(out.scores.data() + (n * priors + p0) * std::size_t(c.num_classes), p1 - p0, c.num_classes,
                       c.score);
            decode_boxes(out.boxes.data() + (n * priors + p0) * 4, prior_boxes + 4 * p0, p1 - p0, c.center_variance,
                         c.size_variance);
        });
    }

    DetectorTopology topology_;
    const kernels::KernelTable* k_;
    PackedStem stem_;
    std::vector<SandglassBlock> blocks_;
    std::array<ExtraLayer, kExtraLayers> extras_;
    std::array<PredictionHead, kDetectorMaps> class_heads_, box_heads_;
};

}  // namespace internal

}  // namespace mobilenext
