#pragma once
// Reading a converted detector file's metadata (tools/convert.py writes it): the width, the
// detector configuration (mobilenext.detector), the preprocessing, the labels and the stored
// test vector. Every value is checked here, before any weight is packed; the weights' shapes
// against the configuration are checked by the builder (detector_definitions.hpp).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../core/error.hpp"
#include "../detection/detector.hpp"
#include "model_file.hpp"
#include "safetensors.hpp"

namespace mobilenext {

namespace internal {

inline const char* const kDetectorKey = "__metadata__.mobilenext.detector";

inline bool is_detector_file(const SafetensorsContents& contents) {
    const std::string* task = find_metadata(contents.metadata, "mobilenext.task");
    return task != nullptr && *task == "detection";
}

// A JSON number field of an object, within [lo, hi].
inline double json_number(const std::string& path, const std::string& key, const nlohmann::json& j, const char* field,
                          double lo, double hi) {
    if (!j.contains(field)) throw LoadError(path, key + "." + field, "a number", "no such field");
    const nlohmann::json& v = j[field];
    if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < lo || v.get<double>() > hi)
        throw LoadError(path, key + "." + field, "a number in [" + format_number(lo) + ", " + format_number(hi) + "]",
                        v.dump().substr(0, 60));
    return v.get<double>();
}

inline int json_int(const std::string& path, const std::string& key, const nlohmann::json& j, const char* field, int lo,
                    int hi) {
    const double v = json_number(path, key, j, field, lo, hi);
    if (v != std::floor(v)) throw LoadError(path, key + "." + field, "an integer", j[field].dump());
    return int(v);
}

inline std::vector<double> json_doubles(const std::string& path, const std::string& key, const nlohmann::json& j) {
    std::vector<double> out;
    for (float v : json_floats(path, key, j)) out.push_back(double(v));
    // Exact values where the JSON has them (json_floats rounds to float).
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = j[i].get<double>();
    return out;
}

inline DetectorConfig read_detector_config(const std::map<std::string, std::string>& m, const std::string& path,
                                           int num_classes) {
    const std::string* text = find_metadata(m, "mobilenext.detector");
    if (text == nullptr)
        throw LoadError(path, kDetectorKey, "the detector's configuration (convert the checkpoint with tools/convert.py)",
                        "none");
    const std::string key = kDetectorKey;
    const nlohmann::json j = parse_metadata_json(path, "mobilenext.detector", *text);
    if (!j.is_object()) throw LoadError(path, key, "a JSON object", j.type_name());
    DetectorConfig c;
    c.num_classes = num_classes;
    if (!j.contains("score") || !j["score"].is_string() ||
        (j["score"].get<std::string>() != "softmax" && j["score"].get<std::string>() != "sigmoid"))
        throw LoadError(path, key + ".score", "\"softmax\" or \"sigmoid\"", j.contains("score") ? j["score"].dump() : "none");
    c.score = j["score"].get<std::string>() == "softmax" ? ScoreFunction::softmax : ScoreFunction::sigmoid;
    c.image_size = json_int(path, key, j, "image_size", 1, 4096);
    const auto list = [&](const char* field) -> const nlohmann::json& {
        if (!j.contains(field) || !j[field].is_array() || j[field].size() != std::size_t(kDetectorMaps))
            throw LoadError(path, key + "." + field, "a list of " + std::to_string(kDetectorMaps) + " entries, one per map",
                            j.contains(field) ? j[field].dump().substr(0, 60) : "none");
        return j[field];
    };
    c.feature_maps.clear();
    for (double v : json_doubles(path, key + ".feature_maps", list("feature_maps"))) c.feature_maps.push_back(int(v));
    c.strides = json_doubles(path, key + ".strides", list("strides"));
    c.min_sizes = json_doubles(path, key + ".min_sizes", list("min_sizes"));
    c.max_sizes = json_doubles(path, key + ".max_sizes", list("max_sizes"));
    const nlohmann::json& ratios = list("aspect_ratios");
    c.aspect_ratios.clear();
    for (std::size_t k = 0; k < ratios.size(); ++k)
        c.aspect_ratios.push_back(json_doubles(path, key + ".aspect_ratios[" + std::to_string(k) + "]", ratios[k]));
    c.center_variance = float(json_number(path, key, j, "center_variance", 1e-6, 1e6));
    c.size_variance = float(json_number(path, key, j, "size_variance", 1e-6, 1e6));
    c.threshold = float(json_number(path, key, j, "threshold", 0, 1));
    c.nms_iou = float(json_number(path, key, j, "nms_iou", 0, 1));
    c.max_detections = json_int(path, key, j, "max_detections", 1, 100000);
    try {
        validate_detector_config(c);
    } catch (const Error& e) {
        throw LoadError(path, key, "a valid detector configuration", e.what());
    }
    return c;
}

// mobilenext.preprocess of a detector: {"size": [H, W], "interpolation": "opencv-linear",
// "pixel_mean": [3], "pixel_std": [3]}.
inline DetectionPreprocessing read_detection_preprocessing(const std::map<std::string, std::string>& m,
                                                           const std::string& path, int image_size) {
    DetectionPreprocessing p;
    p.height = p.width = image_size;
    const std::string* text = find_metadata(m, "mobilenext.preprocess");
    if (text == nullptr) return p;
    const std::string key = "__metadata__.mobilenext.preprocess";
    const nlohmann::json j = parse_metadata_json(path, "mobilenext.preprocess", *text);
    if (!j.is_object()) throw LoadError(path, key, "a JSON object", j.type_name());
    if (j.contains("size")) {
        const std::vector<float> size = json_floats(path, key + ".size", j["size"]);
        if (size.size() != 2 || size[0] < 1 || size[1] < 1 || size[0] > kMaxPreprocessSize || size[1] > kMaxPreprocessSize ||
            size[0] != std::floor(size[0]) || size[1] != std::floor(size[1]))
            throw LoadError(path, key + ".size", "[height, width] in [1, " + std::to_string(kMaxPreprocessSize) + "]",
                            j["size"].dump().substr(0, 60));
        p.height = int(size[0]);
        p.width = int(size[1]);
    }
    if (j.contains("interpolation") && j["interpolation"] != "opencv-linear")
        throw LoadError(path, key + ".interpolation", "\"opencv-linear\"", j["interpolation"].dump().substr(0, 60));
    if (j.contains("pixel_mean")) p.mean = json_floats(path, key + ".pixel_mean", j["pixel_mean"]);
    if (j.contains("pixel_std")) p.std = json_floats(path, key + ".pixel_std", j["pixel_std"]);
    if (p.mean.size() != 3 || p.std.size() != 3)
        throw LoadError(path, key, "3 pixel means and stds (RGB)",
                        std::to_string(p.mean.size()) + " and " + std::to_string(p.std.size()));
    for (float s : p.std)
        if (!(s > 0.0f)) throw LoadError(path, key + ".pixel_std", "positive values", std::to_string(s));
    return p;
}

// Names by label: K under softmax (0 the background), K + 1 under sigmoid (labels from 1).
inline std::vector<std::string> read_detector_labels(const std::map<std::string, std::string>& m,
                                                     const std::string& path, const DetectorConfig& c) {
    std::vector<std::string> labels;
    const std::string* text = find_metadata(m, "mobilenext.labels");
    if (text == nullptr) return labels;
    const std::string key = "__metadata__.mobilenext.labels";
    const nlohmann::json j = parse_metadata_json(path, "mobilenext.labels", *text);
    if (!j.is_array()) throw LoadError(path, key, "a JSON list of names", j.type_name());
    for (const auto& v : j) {
        if (!v.is_string()) throw LoadError(path, key, "strings", v.dump().substr(0, 60));
        labels.push_back(v.get<std::string>());
    }
    const std::size_t expected = std::size_t(c.num_classes) + (c.score == ScoreFunction::sigmoid ? 1 : 0);
    if (labels.size() != expected)
        throw LoadError(path, key,
                        std::to_string(expected) + " names (one per label; " +
                            (c.score == ScoreFunction::sigmoid ? "sigmoid labels count from 1" : "0 is the background") + ")",
                        std::to_string(labels.size()));
    return labels;
}

// The stored input, scores and boxes; their sizes are checked against the network by the builder.
inline std::optional<DetectorTestVector> read_detector_test_vector(const std::map<std::string, std::string>& m,
                                                                   const std::string& path) {
    const std::string* text = find_metadata(m, "mobilenext.test_vector");
    if (text == nullptr) return std::nullopt;
    const std::string key = "__metadata__.mobilenext.test_vector";
    const nlohmann::json j = parse_metadata_json(path, "mobilenext.test_vector", *text);
    if (!j.is_object() || !j.contains("input_shape") || !j.contains("input_seed") || !j.contains("scores") ||
        !j.contains("boxes"))
        throw LoadError(path, key, "an object with input_shape, input_seed, scores, boxes", j.dump().substr(0, 60));
    DetectorTestVector tv;
    std::uint64_t count = 1;
    for (float d : json_floats(path, key + ".input_shape", j["input_shape"])) {
        if (d < 1 || d > 4096 || d != std::floor(d))
            throw LoadError(path, key + ".input_shape", "4 positive sizes", j["input_shape"].dump().substr(0, 60));
        tv.input_shape.push_back(std::int64_t(d));
        count *= std::uint64_t(d);
    }
    if (tv.input_shape.size() != 4 || tv.input_shape[1] != 3 || count > (1u << 24))
        throw LoadError(path, key + ".input_shape", "[N, 3, H, W] of at most 2^24 values", j["input_shape"].dump());
    const nlohmann::json& seed = j["input_seed"];
    if (!seed.is_number_unsigned()) throw LoadError(path, key + ".input_seed", "a non-negative integer", seed.dump());
    tv.input = test_vector_input(seed.get<std::uint64_t>(), std::size_t(count));
    tv.scores = json_floats(path, key + ".scores", j["scores"]);
    tv.boxes = json_floats(path, key + ".boxes", j["boxes"]);
    return tv;
}

inline DetectorInfo read_detector_info(const SafetensorsContents& contents, const std::string& path) {
    DetectorInfo info;
    info.path = path;
    info.metadata = contents.metadata;
    info.checksum_verified = verify_data_checksum(contents, path);
    const auto& m = contents.metadata;
    const std::string* width = find_metadata(m, "mobilenext.width");
    const std::string* classes = find_metadata(m, "mobilenext.num_classes");
    if (width == nullptr || classes == nullptr)
        throw LoadError(path, width == nullptr ? "__metadata__.mobilenext.width" : "__metadata__.mobilenext.num_classes",
                        "the detector's width and classes (convert the checkpoint with tools/convert.py)", "none");
    info.width = metadata_number(path, "mobilenext.width", *width);
    if (const std::string* div = find_metadata(m, "mobilenext.identity_div"); div != nullptr && *div != "1")
        throw LoadError(path, "__metadata__.mobilenext.identity_div", "1 (the detector's backbone keeps the whole shortcut)",
                        "'" + *div + "'");
    if (const std::string* layout = find_metadata(m, "mobilenext.layout"); layout != nullptr && *layout != "official")
        throw LoadError(path, "__metadata__.mobilenext.layout", "'official'", "'" + *layout + "'");
    if (const std::string* c = find_metadata(m, "mobilenext.in_channels"); c != nullptr && *c != "3")
        throw LoadError(path, "__metadata__.mobilenext.in_channels", "3 (RGB)", "'" + *c + "'");
    info.config = read_detector_config(m, path, metadata_int(path, "mobilenext.num_classes", *classes));
    info.preprocessing = read_detection_preprocessing(m, path, info.config.image_size);
    info.labels = read_detector_labels(m, path, info.config);
    info.test_vector = read_detector_test_vector(m, path);
    return info;
}

}  // namespace internal

}  // namespace mobilenext
