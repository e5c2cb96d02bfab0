#pragma once
// Loading a converted MobileNeXt: a safetensors file whose tensors carry the authors'
// state-dict names. The architecture comes from the file's `__metadata__` (written by
// tools/convert.py) or, for a file written straight from a state_dict(), is inferred from the
// tensor shapes. BatchNorm is folded and weights are packed during load; on any error nothing
// is returned (no half-loaded model). With verify_test_vector, the input and PyTorch output
// stored by the converter are run and compared before the model is handed out.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../core/error.hpp"
#include "../core/tensor.hpp"
#include "../kernels/kernel_table.hpp"
#include "../model/model.hpp"
#include "../model/state_dict.hpp"
#include "../model/topology.hpp"
#include "image_preprocess.hpp"
#include "safetensors.hpp"

namespace mobilenext {

namespace internal {

inline const std::string* find_metadata(const std::map<std::string, std::string>& m, const std::string& key) {
    const auto it = m.find(key);
    return it == m.end() ? nullptr : &it->second;
}

// Largest resize and crop a file may ask for: above any classifier's input, and small enough
// that preprocessing an image stays in tens of MB (a resize to 16384 spent 1.7 GB per image).
inline constexpr int kMaxPreprocessSize = 2048;

// The converter's test-vector input from a seed instead of stored values (tools/convert.py,
// test_vector_input): splitmix64's sequence, value k of it as (x >> 40) * 2^-22 - 2, exactly a
// float in [-2, 2). 12,675 values of a 65x65 RGB input cost as JSON text about as long to
// parse as the rest of the load's checks.
inline std::vector<float> test_vector_input(std::uint64_t seed, std::size_t count) {
    std::vector<float> values(count);
    std::uint64_t state = seed;
    for (float& v : values) {
        state += 0x9E3779B97F4A7C15ULL;
        std::uint64_t z = state;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        z ^= z >> 31;
        v = float(z >> 40) * 0x1p-22f - 2.0f;
    }
    return values;
}

// Metadata values nest two levels at most (the test vector's object of arrays). Deeper text
// is refused while parsing, before a deep tree exists: its recursive dump() in an error
// message, or the parse itself, would overflow the stack.
inline constexpr int kMaxMetadataDepth = 4;

inline nlohmann::json parse_metadata_json(const std::string& path, const std::string& key, const std::string& text) {
    const std::string where = "__metadata__." + key;
    const auto limit_depth = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json&) {
        if ((event == nlohmann::json::parse_event_t::object_start || event == nlohmann::json::parse_event_t::array_start) &&
            depth >= kMaxMetadataDepth)
            throw LoadError(path, where, "JSON nested at most " + std::to_string(kMaxMetadataDepth) + " deep",
                            "deeper nesting");
        return true;
    };
    try {
        return nlohmann::json::parse(text, limit_depth);
    } catch (const nlohmann::json::exception&) {
        throw LoadError(path, where, "JSON text", "'" + text.substr(0, 60) + "'");
    }
}

// Locale-independent: "0.5" is a number whatever the user's locale says about commas.
inline double metadata_number(const std::string& path, const std::string& key, const std::string& text) {
    double v = 0.0;
    const char* end = text.data() + text.size();
    const auto [ptr, error] = std::from_chars(text.data(), end, v);
    if (text.empty() || error != std::errc() || ptr != end || !std::isfinite(v))
        throw LoadError(path, "__metadata__." + key, "a number", "'" + text.substr(0, 60) + "'");
    return v;
}

inline int metadata_int(const std::string& path, const std::string& key, const std::string& text) {
    const double v = metadata_number(path, key, text);
    if (v != std::floor(v) || v < 0 || v > 1e9)
        throw LoadError(path, "__metadata__." + key, "a non-negative integer", "'" + text + "'");
    return int(v);
}

inline std::vector<float> json_floats(const std::string& path, const std::string& key, const nlohmann::json& j) {
    if (!j.is_array()) throw LoadError(path, key, "an array of numbers", j.type_name());
    std::vector<float> out;
    out.reserve(j.size());
    for (const auto& v : j) {
        if (!v.is_number()) throw LoadError(path, key, "an array of numbers", "an element of type " + std::string(v.type_name()));
        const float f = v.get<float>();
        // 1e39 is a JSON number but no float: as infinity it would pass any comparison.
        if (!std::isfinite(f))
            throw LoadError(path, key, "numbers that are finite as float",
                            "element " + std::to_string(out.size()) + " = " + std::to_string(v.get<double>()));
        out.push_back(f);
    }
    return out;
}

struct Mismatch {
    std::size_t index = 0;  // position in expected_state_dict: how far the file fits
    std::string name, expected, found;
};

// The first tensor of `dict` that does not fit `topology`, if any.
inline std::optional<Mismatch> first_mismatch(const StateDict& dict, const Topology& topology) {
    const std::vector<ExpectedTensor> expected = expected_state_dict(topology);
    for (std::size_t i = 0; i < expected.size(); ++i) {
        const ExpectedTensor& e = expected[i];
        const auto it = dict.find(e.name);
        if (it == dict.end()) return Mismatch{i, e.name, "shape " + shape_string(e.shape), "no such tensor"};
        if (it->second.shape != e.shape)
            return Mismatch{i, e.name, "shape " + shape_string(e.shape), "shape " + shape_string(it->second.shape)};
    }
    return std::nullopt;
}

// Width from the shapes: the standard multipliers first, then a fine grid; the first whose
// whole list of tensors and shapes fits wins.
inline NetworkConfig infer_config(const StateDict& dict, const std::string& path) {
    if (dict.count("classifier.weight") && !dict.count("classifier.1.weight"))
        throw LoadError(path, "classifier.weight",
                        "the authors' names (classifier.1.weight); convert third-party checkpoints with tools/convert.py",
                        "a third-party layout");
    const auto stem = dict.find("features.0.0.weight");
    const auto head = dict.find("classifier.1.weight");
    if (stem == dict.end() || stem->second.shape.size() != 4)
        throw LoadError(path, "features.0.0.weight", "the stem convolution of a MobileNeXt, shape [C, in, 3, 3]",
                        stem == dict.end() ? "no such tensor" : "shape " + shape_string(stem->second.shape));
    if (head == dict.end() || head->second.shape.size() != 2)
        throw LoadError(path, "classifier.1.weight", "the classifier of a MobileNeXt, shape [classes, channels]",
                        head == dict.end() ? "no such tensor" : "shape " + shape_string(head->second.shape));
    NetworkConfig config;
    config.in_channels = int(std::clamp<std::int64_t>(stem->second.shape[1], 0, 1 << 20));
    config.num_classes = int(std::clamp<std::int64_t>(head->second.shape[0], 0, 1 << 21));
    std::vector<double> candidates{1.0, 0.75, 0.5, 0.35, 1.4, 0.25, 1.3, 1.25, 1.5, 2.0};
    for (int i = 10; i <= 400; ++i) candidates.push_back(i / 100.0);
    // When no width fits, report the width that fits furthest into the file.
    std::optional<Mismatch> closest;
    for (double w : candidates) {
        config.width = w;
        Topology t;
        try {
            t = derive_topology(config);
        } catch (const Error&) {
            continue;
        }
        if (t.stem_channels != stem->second.shape[0] || t.last_channels != head->second.shape[1]) continue;
        const std::optional<Mismatch> mismatch = first_mismatch(dict, t);
        if (!mismatch) return config;
        if (!closest || mismatch->index > closest->index) closest = mismatch;
    }
    if (closest)
        throw LoadError(path, closest->name, closest->expected + " (no MobileNeXt width fits these tensors)",
                        closest->found);
    throw LoadError(path, "features.0.0.weight", "stem and classifier shapes of some MobileNeXt width",
                    "stem " + shape_string(stem->second.shape) + ", classifier " + shape_string(head->second.shape));
}

// The architecture: from the metadata (tools/convert.py), else inferred from the shapes.
inline void read_architecture(const SafetensorsContents& contents, const std::string& path, ModelInfo& info) {
    const auto& m = contents.metadata;
    if (const std::string* width = find_metadata(m, "mobilenext.width")) {
        info.architecture_from_metadata = true;
        info.config.width = metadata_number(path, "mobilenext.width", *width);
        if (const std::string* v = find_metadata(m, "mobilenext.identity_div"))
            info.config.identity_div = metadata_int(path, "mobilenext.identity_div", *v);
        if (const std::string* v = find_metadata(m, "mobilenext.num_classes"))
            info.config.num_classes = metadata_int(path, "mobilenext.num_classes", *v);
        if (const std::string* v = find_metadata(m, "mobilenext.in_channels"))
            info.config.in_channels = metadata_int(path, "mobilenext.in_channels", *v);
        if (const std::string* v = find_metadata(m, "mobilenext.layout")) {
            if (*v == "official")
                info.config.layout = Layout::official;
            else if (*v == "mobilenext.pytorch")
                info.config.layout = Layout::mobilenext_pytorch;
            else
                throw LoadError(path, "__metadata__.mobilenext.layout", "'official' or 'mobilenext.pytorch'", "'" + *v + "'");
        }
    } else {
        info.config = infer_config(contents.tensors, path);
        if (const std::string* v = find_metadata(m, "mobilenext.identity_div"))
            info.config.identity_div = metadata_int(path, "mobilenext.identity_div", *v);
    }
    try {
        validate_config(info.config);
    } catch (const Error& e) {
        throw LoadError(path, "__metadata__", "a valid MobileNeXt architecture", e.what());
    }
}

// The evaluation transform (mobilenext.preprocess), with the channel count's defaults.
inline void read_preprocessing(const std::map<std::string, std::string>& m, const std::string& path, ModelInfo& info) {
    if (const std::string* text = find_metadata(m, "mobilenext.preprocess")) {
        const std::string key = "__metadata__.mobilenext.preprocess";
        const nlohmann::json j = parse_metadata_json(path, "mobilenext.preprocess", *text);
        if (!j.is_object()) throw LoadError(path, key, "a JSON object", j.type_name());
        Preprocessing& p = info.preprocessing;
        const auto int_field = [&](const char* name, int& field) {
            if (!j.contains(name)) return;
            if (!j[name].is_number_integer() || j[name].get<std::int64_t>() < 1 ||
                j[name].get<std::int64_t>() > kMaxPreprocessSize)
                throw LoadError(path, key + "." + name, "an integer in [1, " + std::to_string(kMaxPreprocessSize) + "]",
                                j[name].dump());
            field = j[name].get<int>();
        };
        int_field("resize", p.resize);
        int_field("crop", p.crop);
        if (j.contains("interpolation")) {
            if (!j["interpolation"].is_string()) throw LoadError(path, key + ".interpolation", "a string", j["interpolation"].dump());
            p.interpolation = j["interpolation"].get<std::string>();
        }
        if (j.contains("mean")) p.mean = json_floats(path, key + ".mean", j["mean"]);
        if (j.contains("std")) p.std = json_floats(path, key + ".std", j["std"]);
        for (float s : p.std)
            if (!(s > 0.0f)) throw LoadError(path, key + ".std", "positive values", std::to_string(s));
    }
    const std::size_t channels = std::size_t(info.config.in_channels);
    Preprocessing& p = info.preprocessing;
    // A one-channel model keeps the first channel's statistics when they are RGB ones. Other
    // channel counts have no customary statistics: unless the file states them, pixels are
    // only scaled to [0, 1].
    if (channels == 1 && p.mean.size() == 3) p.mean.resize(1);
    if (channels == 1 && p.std.size() == 3) p.std.resize(1);
    if (p.mean.size() == 3 && channels != 3 && !find_metadata(m, "mobilenext.preprocess")) {
        p.mean.assign(channels, 0.0f);
        p.std.assign(channels, 1.0f);
    }
    if (p.mean.size() != channels || p.std.size() != channels)
        throw LoadError(path, "__metadata__.mobilenext.preprocess", std::to_string(channels) + " means and stds",
                        std::to_string(p.mean.size()) + " and " + std::to_string(p.std.size()));
}

// Class names (mobilenext.labels), one per class.
inline void read_labels(const std::map<std::string, std::string>& m, const std::string& path, ModelInfo& info) {
    if (const std::string* text = find_metadata(m, "mobilenext.labels")) {
        const nlohmann::json j = parse_metadata_json(path, "mobilenext.labels", *text);
        if (!j.is_array()) throw LoadError(path, "__metadata__.mobilenext.labels", "a JSON list of names", j.type_name());
        for (const auto& v : j) {
            if (!v.is_string()) throw LoadError(path, "__metadata__.mobilenext.labels", "strings", v.dump());
            info.labels.push_back(v.get<std::string>());
        }
        if (info.labels.size() != std::size_t(info.config.num_classes))
            throw LoadError(path, "__metadata__.mobilenext.labels", std::to_string(info.config.num_classes) + " names",
                            std::to_string(info.labels.size()));
    }
}

// The stored input and logits (mobilenext.test_vector), checked against the configuration.
inline void read_test_vector(const std::map<std::string, std::string>& m, const std::string& path, ModelInfo& info) {
    if (const std::string* text = find_metadata(m, "mobilenext.test_vector")) {
        const std::string key = "__metadata__.mobilenext.test_vector";
        const nlohmann::json j = parse_metadata_json(path, "mobilenext.test_vector", *text);
        if (!j.is_object() || !j.contains("input_shape") || !(j.contains("input") || j.contains("input_seed")) ||
            !j.contains("output"))
            throw LoadError(path, key, "an object with input_shape, input (or input_seed), output",
                            j.dump().substr(0, 60));
        TestVector tv;
        std::uint64_t count = 1;
        for (float d : json_floats(path, key + ".input_shape", j["input_shape"])) {
            if (d < 1 || d > 4096 || d != std::floor(d)) throw LoadError(path, key + ".input_shape", "4 positive sizes", j["input_shape"].dump());
            tv.input_shape.push_back(std::int64_t(d));
            count *= std::uint64_t(d);
        }
        if (tv.input_shape.size() != 4 || tv.input_shape[1] != info.config.in_channels || count > (1u << 26))
            throw LoadError(path, key + ".input_shape",
                            "[N, " + std::to_string(info.config.in_channels) + ", H, W]", j["input_shape"].dump());
        if (j.contains("input")) {
            tv.input = json_floats(path, key + ".input", j["input"]);
        } else {
            const nlohmann::json& seed = j["input_seed"];
            if (!seed.is_number_unsigned()) throw LoadError(path, key + ".input_seed", "a non-negative integer", seed.dump());
            tv.input = test_vector_input(seed.get<std::uint64_t>(), std::size_t(count));
        }
        tv.output = json_floats(path, key + ".output", j["output"]);
        if (tv.input.size() != count)
            throw LoadError(path, key + ".input", std::to_string(count) + " values", std::to_string(tv.input.size()));
        const std::size_t outputs = std::size_t(tv.input_shape[0]) * std::size_t(info.config.num_classes);
        if (tv.output.size() != outputs)
            throw LoadError(path, key + ".output", std::to_string(outputs) + " values", std::to_string(tv.output.size()));
        info.test_vector = std::move(tv);
    }
}

// Whether the file stores a checksum of its data (tools/convert.py writes one); throws when
// the data does not have it.
inline bool verify_data_checksum(const SafetensorsContents& contents, const std::string& path) {
    const std::string* stored = find_metadata(contents.metadata, kChecksumKey);
    if (stored == nullptr) return false;
    if (*stored != contents.data_checksum)
        throw LoadError(path, std::string("__metadata__.") + kChecksumKey, "tensor data of checksum " + *stored,
                        contents.data_checksum + ": the data changed after conversion (corrupt or tampered file)");
    return true;
}

// What a converted file says about its model; the data checksum verified when it stores one.
inline ModelInfo read_model_info(const SafetensorsContents& contents, const std::string& path) {
    ModelInfo info;
    info.path = path;
    info.metadata = contents.metadata;
    if (const std::string* task = find_metadata(contents.metadata, "mobilenext.task"); task != nullptr && *task != "classification")
        throw LoadError(path, "__metadata__.mobilenext.task",
                        "a classifier (a detector file loads with mobilenext::Detector::load, `mobilenext detect`)",
                        "'" + *task + "'");
    info.checksum_verified = verify_data_checksum(contents, path);
    info.identity_div_stated = find_metadata(contents.metadata, "mobilenext.identity_div") != nullptr;
    read_architecture(contents, path, info);
    read_preprocessing(contents.metadata, path, info);
    read_labels(contents.metadata, path, info);
    read_test_vector(contents.metadata, path, info);
    return info;
}

// Non-finite weights are refused: a NaN or infinity makes every logit meaningless, and a
// model file that holds one is broken, not something to run. (Scanned with the model's own
// kernel set: its vector scan takes one branch per four vectors, where GCC at -O2 does not
// vectorise the scalar loop, a compare and a branch per value. Part of the load in "file to
// first result" of `mobilenext bench` and benchmarks/compare_onnxruntime.sh.)
inline void check_finite(const StateDict& dict, const std::string& path, const kernels::KernelTable& k) {
    for (const auto& [name, t] : dict) {
        const std::size_t bad = k.first_beyond(t.values.data(), t.values.size(), std::numeric_limits<float>::max());
        if (bad != t.values.size())
            throw LoadError(path, name, "finite values", std::to_string(t.values[bad]) + " at index " + std::to_string(bad));
    }
}

}  // namespace internal

}  // namespace mobilenext
