#pragma once
// What an SSDLite detector computes beyond its weights: the classes and how they are scored,
// the priors (anchor boxes) of each feature map, the box variances and the post-processing
// thresholds. None of it is in the weights except what the head shapes reveal (boxes per
// location, classes), so the converter stores it in the file and the loader checks the two
// against each other.
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "../core/error.hpp"

namespace mobilenext {

enum class ScoreFunction {
    softmax,  // over the classes; column 0 is the background and never a detection
    sigmoid   // each column on its own; a detection's label is its column + 1
};

inline const char* score_function_name(ScoreFunction s) { return s == ScoreFunction::softmax ? "softmax" : "sigmoid"; }

// The feature maps an SSDLite-MobileNeXt predicts from: two inside the backbone, four extras.
inline constexpr int kDetectorMaps = 6;

struct DetectorConfig {
    int num_classes = 21;  // columns of the class head (the background included under softmax)
    ScoreFunction score = ScoreFunction::softmax;
    int image_size = 320;  // the input the priors are laid out for (square)
    std::vector<int> feature_maps{20, 10, 5, 3, 2, 1};  // map sizes at image_size
    std::vector<double> strides{16, 32, 64, 120, 160, 320};
    std::vector<double> min_sizes{45, 90, 135, 180, 225, 270};
    std::vector<double> max_sizes{120, 180, 220, 260, 300, 320};
    std::vector<std::vector<double>> aspect_ratios{{2, 3}, {2, 3}, {2, 3}, {2, 3}, {2, 3}, {2, 3}};
    float center_variance = 0.1f, size_variance = 0.2f;
    float threshold = 0.01f;  // a (prior, class) pair is a candidate when its score is above
    float nms_iou = 0.45f;    // boxes of one class overlapping more than this are suppressed
    int max_detections = 100;

    // Priors at each location of map k: the small and the large square, then two per ratio.
    int boxes_per_location(int k) const { return 2 + 2 * int(aspect_ratios[std::size_t(k)].size()); }

    // The authors' two published configurations.
    static DetectorConfig voc() { return DetectorConfig{}; }
    static DetectorConfig coco() {
        DetectorConfig c;
        c.num_classes = 81;
        c.score = ScoreFunction::sigmoid;
        c.max_sizes = {90, 135, 180, 225, 270, 315};
        c.aspect_ratios = {{2, 3}, {2, 3}, {2, 3}, {2, 3}, {2, 3}, {2}};
        c.threshold = 0.05f;
        c.nms_iou = 0.5f;
        return c;
    }
};

// Throws Error naming the field when the configuration cannot describe a detector.
inline void validate_detector_config(const DetectorConfig& c) {
    const auto need = [](bool ok, const std::string& message) { internal::check(ok, "DetectorConfig: " + message); };
    need(c.num_classes >= 1 && c.num_classes <= 4096, "num_classes must be in [1, 4096], found " + std::to_string(c.num_classes));
    need(c.score == ScoreFunction::sigmoid || c.num_classes >= 2, "softmax needs a background and a class");
    need(c.image_size >= 1 && c.image_size <= 4096, "image_size must be in [1, 4096], found " + std::to_string(c.image_size));
    const std::size_t maps = std::size_t(kDetectorMaps);
    need(c.feature_maps.size() == maps && c.strides.size() == maps && c.min_sizes.size() == maps &&
             c.max_sizes.size() == maps && c.aspect_ratios.size() == maps,
         "feature_maps, strides, min_sizes, max_sizes and aspect_ratios need " + std::to_string(maps) + " entries each");
    for (std::size_t k = 0; k < maps; ++k) {
        const std::string map = " of map " + std::to_string(k);
        need(c.feature_maps[k] >= 1, "feature map size" + map + " must be positive");
        need(std::isfinite(c.strides[k]) && c.strides[k] > 0, "stride" + map + " must be positive");
        need(std::isfinite(c.min_sizes[k]) && c.min_sizes[k] > 0 && std::isfinite(c.max_sizes[k]) && c.max_sizes[k] > 0,
             "prior sizes" + map + " must be positive");
        need(c.aspect_ratios[k].size() <= 8, "at most 8 aspect ratios" + map);
        for (double r : c.aspect_ratios[k]) need(std::isfinite(r) && r > 0, "aspect ratios" + map + " must be positive");
    }
    const auto in_unit = [](float v) { return std::isfinite(v) && v >= 0.0f && v <= 1.0f; };
    need(std::isfinite(c.center_variance) && c.center_variance > 0 && std::isfinite(c.size_variance) && c.size_variance > 0,
         "variances must be positive");
    need(in_unit(c.threshold), "threshold must be in [0, 1]");
    need(in_unit(c.nms_iou), "nms_iou must be in [0, 1]");
    need(c.max_detections >= 1 && c.max_detections <= 100000, "max_detections must be in [1, 100000]");
}

// How the detector's input is made from an 8-bit RGB image: resized to height x width
// (OpenCV's bilinear resize, see io/resize_linear_u8.hpp), then (pixel - mean) / std per
// channel, in pixel units as the authors write them.
struct DetectionPreprocessing {
    int height = 320, width = 320;
    std::vector<float> mean{123.0f, 117.0f, 104.0f};
    std::vector<float> std{58.395f, 57.12f, 57.375f};
};

}  // namespace mobilenext
