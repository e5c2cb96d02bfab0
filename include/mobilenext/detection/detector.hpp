#pragma once
// mobilenext::Detector, the SSDLite-MobileNeXt object detector: loaded from a converted
// detector file (tools/convert.py recognises the authors' detection checkpoints), built from a
// state dict and a configuration, or with random weights; always through one validating
// builder, on a kernel set chosen at run time like Model's.
//
// A type of its own beside Model, not a mode of it: what it returns (boxes, labels, scores,
// raw scores and boxes, six feature maps) and how it preprocesses (a plain resize, pixel
// statistics) share nothing with a classifier's logits, and a type says at compile time which
// calls make sense. What the two share (blocks, kernels, kernel tables, the state-dict reader,
// the file parser, Workspace) is the same code.
#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../core/tensor.hpp"
#include "../io/image_preprocess.hpp"
#include "../model/model.hpp"
#include "../model/state_dict.hpp"
#include "../model/workspace.hpp"
#include "detector_config.hpp"
#include "detector_outputs.hpp"
#include "detector_topology.hpp"
#include "post_process.hpp"
#include "priors.hpp"

namespace mobilenext {

// An input and the scores and boxes PyTorch computed for it, stored by the converter.
struct DetectorTestVector {
    std::vector<std::int64_t> input_shape;  // NCHW
    std::vector<float> input;               // NCHW
    std::vector<float> scores;              // [N][priors][classes]
    std::vector<float> boxes;               // [N][priors][4]
};

struct DetectorInfo {
    std::string path;  // the file, or what the weights came from
    double width = 1.0;
    DetectorConfig config;
    DetectionPreprocessing preprocessing;
    // Names by label: index 0 is the background (softmax); sigmoid labels count from 1. Empty
    // when the file has none.
    std::vector<std::string> labels;
    std::optional<DetectorTestVector> test_vector;
    TestVectorStatus test_vector_status = TestVectorStatus::absent;
    bool checksum_verified = false;
    std::map<std::string, std::string> metadata;
};

// Overrides of the file's post-processing for one call (unset: the file's configuration).
struct DetectionOptions {
    std::optional<float> threshold;
    std::optional<float> nms_iou;
    std::optional<int> max_detections;
};

namespace internal {
class DetectorNetwork;
}

class MOBILENEXT_API Detector {
public:
    // A converted detector file. LoadOptions::identity_div must be unset or 1 (the authors'
    // detector backbone keeps the whole shortcut).
    static Detector load(const std::string& path, const LoadOptions& options = {});
    static Detector from_safetensors(const SafetensorsContents& contents, const std::string& path,
                                     const LoadOptions& options = {});
    // A state dict in the authors' detection naming (backbone.features.*, backbone.extras.*,
    // box_head.predictor.*) with its width and configuration in `info`.
    static Detector from_state_dict(const StateDict& weights, DetectorInfo info, const LoadOptions& options = {});
    // Random weights (random BatchNorm statistics included), the same for the same seed.
    static Detector random(double width, const DetectorConfig& config, std::uint64_t seed,
                           const LoadOptions& options = {});

    std::string kernels_name() const;
    const DetectorInfo& info() const noexcept;
    const DetectorConfig& config() const noexcept;
    const DetectorTopology& topology() const noexcept;

    // The raw outputs of a preprocessed NHWC batch [N][H][W][3] (any size the backbone takes):
    // outputs.scores, outputs.boxes (relative to the input) and outputs.maps. Runs on
    // workspace.threads() threads; allocates only while `workspace` and `outputs` are smaller
    // than this input needs.
    void forward(const Tensor& input, DetectorOutputs& outputs, Workspace& workspace) const;
    void forward(const float* input, const Shape4& shape, DetectorOutputs& outputs, Workspace& workspace) const;

    // forward(), then outputs.detections: per image, best first, boxes in the input's pixels.
    void detect(const Tensor& input, DetectorOutputs& outputs, Workspace& workspace,
                const DetectionOptions& options = {}) const;
    void detect(const float* input, const Shape4& shape, DetectorOutputs& outputs, Workspace& workspace,
                const DetectionOptions& options = {}) const;

    // An 8-bit RGB image, preprocessed as info().preprocessing says (resized, normalised);
    // boxes in the image's own pixels. The second form reuses buffers (no allocation for the
    // network once warm).
    std::vector<Detection> detect(const Image& image, const DetectionOptions& options = {}) const;
    const std::vector<Detection>& detect(const Image& image, DetectorOutputs& outputs, Workspace& workspace,
                                         const DetectionOptions& options = {}) const;

    // The preprocessed NHWC input of an image (what detect(image) runs), into `input`.
    void preprocess(const Image& image, Tensor& input) const;

    void check_input_shape(const Shape4& shape) const;
    std::array<MapSize, kDetectorMaps> map_sizes(int height, int width) const;
    std::size_t priors(int height, int width) const;
    std::size_t working_memory_bytes(int batch, int height, int width, int threads = 1) const;
    std::int64_t parameter_count() const;

    const internal::DetectorNetwork& network() const noexcept;

    struct State;

private:
    explicit Detector(std::shared_ptr<const State> state);
    void select(const Shape4& input, DetectorOutputs& outputs, Workspace& workspace, const DetectionOptions& options,
                float scale_x, float scale_y) const;
    std::shared_ptr<const State> state_;
};

}  // namespace mobilenext
