#pragma once
// The definitions of Detector's members (detector.hpp) and its one validating builder.
// Included by mobilenext.hpp in header-only use (inline there) and compiled once into
// mobilenext::dispatch (src/dispatch/detector.cpp).
#if defined(MOBILENEXT_DISPATCH) && !defined(MOBILENEXT_BUILDING_DISPATCH)
#error "detector_definitions.hpp is compiled into mobilenext::dispatch; its users include mobilenext.hpp or detector.hpp"
#endif

#include <algorithm>
#include <cmath>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "../core/error.hpp"
#include "../io/detector_file.hpp"
#include "../io/model_file.hpp"
#include "../io/resize_linear_u8.hpp"
#include "../io/safetensors.hpp"
#include "../model/kernel_registry.hpp"
#ifndef MOBILENEXT_BUILDING_DISPATCH
// Header-only use: the kernel registry is defined with Model's members.
#include "../model/model_definitions.hpp"
#endif
#include "../model/random_weights.hpp"
#include "detector.hpp"
#include "detector_network.hpp"

namespace mobilenext {

struct Detector::State {
    DetectorInfo info;
    internal::DetectorNetwork network;
};

namespace internal {

// The heads' shapes against the configuration, with the reason when they disagree (the
// reader's plain shape mismatch would not say that the configuration is the other side).
inline void check_head_shapes(const StateDict& weights, const DetectorTopology& t, const std::string& path) {
    for (HeadKind kind : {HeadKind::classes, HeadKind::boxes})
        for (int l = 0; l < kDetectorMaps; ++l) {
            const std::string name = head_name(kind, l) + (head_is_separable(l) ? ".conv.3.weight" : ".weight");
            const auto it = weights.find(name);
            if (it == weights.end() || it->second.shape.empty()) continue;  // the reader reports it
            const int boxes = t.config.boxes_per_location(l), cols = head_columns(t, kind);
            if (it->second.shape[0] == std::int64_t(boxes) * cols) continue;
            throw LoadError(path, name,
                            std::to_string(boxes) + " boxes per location (2 + 2 x " +
                                std::to_string(t.config.aspect_ratios[std::size_t(l)].size()) + " aspect ratios of map " +
                                std::to_string(l) + ") x " + std::to_string(cols) +
                                (kind == HeadKind::classes ? " classes" : " coordinates") + " = " +
                                std::to_string(boxes * cols) + " outputs, as the detector configuration says",
                            "shape " + shape_string(it->second.shape));
        }
}

// Runs the stored test vector: scores and boxes within 1e-4 x max(1, |value|) of PyTorch's.
inline void verify_detector_test_vector(const DetectorNetwork& network, const DetectorTestVector& tv,
                                        const std::string& path) {
    const auto& s = tv.input_shape;
    const Tensor input = Tensor::from_nchw(tv.input.data(), int(s[0]), int(s[1]), int(s[2]), int(s[3]));
    DetectorOutputs out;
    Workspace ws;
    network.forward(input.data(), input.shape(), out, ws);
    const std::string key = "__metadata__.mobilenext.test_vector";
    const auto compare = [&](const char* what, const std::vector<float>& expected, const Tensor& found) {
        if (expected.size() != found.size())
            throw LoadError(path, key + "." + what, std::to_string(found.size()) + " values for this network and input",
                            std::to_string(expected.size()));
        for (std::size_t i = 0; i < expected.size(); ++i) {
            const float diff = std::fabs(found.data()[i] - expected[i]);
            if (!(diff <= 1e-4f * std::max(1.0f, std::fabs(expected[i]))))
                throw LoadError(path, key + "." + what, "values within 1e-4 of PyTorch's",
                                std::to_string(found.data()[i]) + " instead of " + std::to_string(expected[i]) +
                                    " at index " + std::to_string(i) + ": the file does not compute what it was converted from");
        }
    };
    compare("scores", tv.scores, out.scores);
    compare("boxes", tv.boxes, out.boxes);
}

// The one way a Detector is made: the configuration, the feature maps it implies at its
// image size, the head shapes, integer tensors it does not have, non-finite values, the
// shapes and unexpected tensors (the reader), folded values, and the stored test vector.
inline std::shared_ptr<const Detector::State> build_detector(const StateDict& weights, const std::set<std::string>& skipped,
                                                             DetectorInfo info, const LoadOptions& options) {
    const std::string& path = info.path;
    if (options.identity_div && *options.identity_div != 1)
        throw LoadError(path, "LoadOptions::identity_div", "1 (the detector's backbone keeps the whole shortcut)",
                        std::to_string(*options.identity_div));
    DetectorTopology t;
    try {
        t = derive_detector_topology(info.width, info.config);
    } catch (const Error& e) {
        throw LoadError(path, kDetectorKey, "a valid SSDLite-MobileNeXt", e.what());
    }
    const auto maps = detector_map_sizes(t, info.config.image_size, info.config.image_size);
    for (int k = 0; k < kDetectorMaps; ++k) {
        const MapSize m = maps[std::size_t(k)];
        if (m.height != info.config.feature_maps[std::size_t(k)])
            throw LoadError(path, std::string(kDetectorKey) + ".feature_maps",
                            "the maps the network makes at image_size " + std::to_string(info.config.image_size) +
                                ": map " + std::to_string(k) + " of " + std::to_string(m.height),
                            std::to_string(info.config.feature_maps[std::size_t(k)]));
    }
    const kernels::KernelTable& table = kernel_table(options.kernels);
    for (const std::string& name : skipped)
        if (!ends_with(name, "num_batches_tracked"))
            throw LoadError(path, name, "no such tensor in this detector", "an unexpected integer tensor");
    check_head_shapes(weights, t, path);
    check_finite(weights, path, table);
    DetectorNetwork network(t, weights, table, path);
    if (info.test_vector) {
        if (options.verify_test_vector) verify_detector_test_vector(network, *info.test_vector, path);
        info.test_vector_status = options.verify_test_vector ? TestVectorStatus::checked : TestVectorStatus::skipped;
    } else {
        info.test_vector_status = TestVectorStatus::absent;
    }
    return std::make_shared<const Detector::State>(Detector::State{std::move(info), std::move(network)});
}

}  // namespace internal

MOBILENEXT_MODEL_INLINE Detector::Detector(std::shared_ptr<const State> state) : state_(std::move(state)) {}

MOBILENEXT_MODEL_INLINE Detector Detector::load(const std::string& path, const LoadOptions& options) {
    return from_safetensors(read_safetensors(path), path, options);
}

MOBILENEXT_MODEL_INLINE Detector Detector::from_safetensors(const SafetensorsContents& contents, const std::string& path,
                                                            const LoadOptions& options) {
    if (!internal::is_detector_file(contents))
        throw LoadError(path, "__metadata__.mobilenext.task",
                        "\"detection\" (a detector converted by tools/convert.py; classifiers load with Model::load)",
                        internal::find_metadata(contents.metadata, "mobilenext.task") ? "another task" : "none");
    return Detector(internal::build_detector(contents.tensors, contents.skipped, internal::read_detector_info(contents, path),
                                             options));
}

MOBILENEXT_MODEL_INLINE Detector Detector::from_state_dict(const StateDict& weights, DetectorInfo info,
                                                           const LoadOptions& options) {
    if (info.path.empty()) info.path = "state dict";
    return Detector(internal::build_detector(weights, {}, std::move(info), options));
}

MOBILENEXT_MODEL_INLINE Detector Detector::random(double width, const DetectorConfig& config, std::uint64_t seed,
                                                  const LoadOptions& options) {
    DetectorInfo info;
    info.path = "random weights (seed " + std::to_string(seed) + ")";
    info.width = width;
    info.config = config;
    info.preprocessing.height = info.preprocessing.width = config.image_size;
    const StateDict weights = make_random_state_dict(detector_tensors(derive_detector_topology(width, config)), seed);
    return Detector(internal::build_detector(weights, {}, std::move(info), options));
}

MOBILENEXT_MODEL_INLINE std::string Detector::kernels_name() const { return state_->network.kernels().name(); }
MOBILENEXT_MODEL_INLINE const DetectorInfo& Detector::info() const noexcept { return state_->info; }
MOBILENEXT_MODEL_INLINE const DetectorConfig& Detector::config() const noexcept { return state_->info.config; }
MOBILENEXT_MODEL_INLINE const DetectorTopology& Detector::topology() const noexcept { return state_->network.topology(); }
MOBILENEXT_MODEL_INLINE const internal::DetectorNetwork& Detector::network() const noexcept { return state_->network; }

MOBILENEXT_MODEL_INLINE void Detector::forward(const Tensor& input, DetectorOutputs& outputs, Workspace& workspace) const {
    state_->network.forward(input.data(), input.shape(), outputs, workspace);
}

MOBILENEXT_MODEL_INLINE void Detector::forward(const float* input, const Shape4& shape, DetectorOutputs& outputs,
                                               Workspace& workspace) const {
    internal::check_user_buffer(input, "detector input");
    state_->network.forward(input, shape, outputs, workspace);
}

MOBILENEXT_MODEL_INLINE void Detector::select(const Shape4& input, DetectorOutputs& outputs, Workspace& workspace,
                                              const DetectionOptions& options, float scale_x, float scale_y) const {
    const DetectorConfig& c = config();
    const internal::DetectionRule rule{c.score,
                                       c.num_classes,
                                       options.threshold.value_or(c.threshold),
                                       options.nms_iou.value_or(c.nms_iou),
                                       options.max_detections.value_or(c.max_detections),
                                       float(input.w),
                                       float(input.h),
                                       scale_x,
                                       scale_y};
    if (!(rule.threshold >= 0.0f && rule.threshold <= 1.0f) || !(rule.nms_iou >= 0.0f && rule.nms_iou <= 1.0f) ||
        rule.max_detections < 1)
        internal::fail("DetectionOptions: threshold and nms_iou must be in [0, 1] and max_detections positive");
    for (internal::NmsScratch& s : outputs.nms)
        s.reserve(std::size_t(outputs.priors()), c.num_classes, rule.max_detections);
    workspace.pool.run(input.n, [&](int n, int) {
        internal::select_detections(outputs.scores_of(n), outputs.boxes_of(n), std::size_t(outputs.priors()), rule,
                                    info().labels, outputs.nms[std::size_t(n)], outputs.detections[std::size_t(n)]);
    });
}

MOBILENEXT_MODEL_INLINE void Detector::detect(const Tensor& input, DetectorOutputs& outputs, Workspace& workspace,
                                              const DetectionOptions& options) const {
    detect(input.data(), input.shape(), outputs, workspace, options);
}

MOBILENEXT_MODEL_INLINE void Detector::detect(const float* input, const Shape4& shape, DetectorOutputs& outputs,
                                              Workspace& workspace, const DetectionOptions& options) const {
    forward(input, shape, outputs, workspace);
    select(shape, outputs, workspace, options, 1.0f, 1.0f);
}

MOBILENEXT_MODEL_INLINE void Detector::preprocess(const Image& image, Tensor& input) const {
    const DetectionPreprocessing& p = info().preprocessing;
    if (image.channels != 3 || image.width < 1 || image.height < 1 ||
        image.pixels.size() != std::size_t(image.width) * image.height * 3)
        internal::fail("Detector: expected an RGB image (3 channels, width x height x 3 bytes), found " +
                       std::to_string(image.width) + " x " + std::to_string(image.height) + " x " +
                       std::to_string(image.channels) + " with " + std::to_string(image.pixels.size()) + " bytes");
    std::vector<std::uint8_t> resized(std::size_t(p.width) * p.height * 3);
    resize_linear_u8(image.pixels.data(), image.height, image.width, 3, resized.data(), p.height, p.width);
    input.reshape({1, p.height, p.width, 3});
    float* out = input.data();
    for (std::size_t i = 0; i < resized.size(); ++i) out[i] = (float(resized[i]) - p.mean[i % 3]) / p.std[i % 3];
}

MOBILENEXT_MODEL_INLINE std::vector<Detection> Detector::detect(const Image& image, const DetectionOptions& options) const {
    DetectorOutputs outputs;
    Workspace workspace;
    return detect(image, outputs, workspace, options);
}

MOBILENEXT_MODEL_INLINE const std::vector<Detection>& Detector::detect(const Image& image, DetectorOutputs& outputs,
                                                                        Workspace& workspace,
                                                                        const DetectionOptions& options) const {
    preprocess(image, outputs.input);
    const Shape4 shape = outputs.input.shape();
    forward(outputs.input.data(), shape, outputs, workspace);
    select(shape, outputs, workspace, options, float(image.width) / float(shape.w), float(image.height) / float(shape.h));
    return outputs.detections[0];
}

MOBILENEXT_MODEL_INLINE void Detector::check_input_shape(const Shape4& shape) const {
    state_->network.check_input_shape(shape);
}

MOBILENEXT_MODEL_INLINE std::array<MapSize, kDetectorMaps> Detector::map_sizes(int height, int width) const {
    return state_->network.map_sizes(height, width);
}

MOBILENEXT_MODEL_INLINE std::size_t Detector::priors(int height, int width) const {
    return state_->network.priors(height, width);
}

MOBILENEXT_MODEL_INLINE std::size_t Detector::working_memory_bytes(int batch, int height, int width, int threads) const {
    return state_->network.plan(batch, height, width, threads).bytes();
}

MOBILENEXT_MODEL_INLINE std::int64_t Detector::parameter_count() const { return count_detector_parameters(topology()); }

}  // namespace mobilenext
