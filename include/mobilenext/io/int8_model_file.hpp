#pragma once
// Reading an int8 model file (the format: io/int8_model_format.hpp) into a quantized network
// (model/int8_network_weights.hpp), every tensor checked before it is used: the file's tensors
// are exactly the format's list, each of its dtype and shape; scales finite, positive and
// normal; zero points in [0, 255]; int8 weights in [-64, 64] ([-127, 127] for the classifier);
// biases within the quantizer's +-2^29; the float stem and the classifier's bias finite; the multipliers s_in * s_w[c] / s_out they give
// finite and below the kernels' 1e6. Every refusal is a LoadError naming the file and the
// tensor; nothing is returned half-read. The metadata (architecture, preprocessing, labels,
// test vector, checksum) is read and checked as a float file's (io/model_file.hpp).
#include <cmath>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "../blocks/int8_block_parts.hpp"
#include "../core/error.hpp"
#include "../model/folded_weights.hpp"
#include "../model/int8_network_weights.hpp"
#include "../model/model.hpp"
#include "../model/topology.hpp"
#include "../quantization/bias_quantization.hpp"
#include "../quantization/weight_quantization.hpp"
#include "int8_model_format.hpp"
#include "model_file.hpp"
#include "safetensors.hpp"

namespace mobilenext {

struct Int8ModelFile {
    ModelInfo info;
    Int8NetworkWeights weights;
};

inline bool is_int8_model_file(const SafetensorsContents& contents) {
    return contents.metadata.count(kQuantizationKey) != 0;
}

namespace internal {

// mobilenext.quantization: the scheme must be the one the kernels implement.
inline QuantizationInfo read_quantization_info(const std::map<std::string, std::string>& m, const std::string& path) {
    const std::string key = std::string("__metadata__.") + kQuantizationKey;
    const nlohmann::json j = parse_metadata_json(path, kQuantizationKey, *find_metadata(m, kQuantizationKey));
    if (!j.is_object() || !j.contains("scheme") || !j["scheme"].is_string())
        throw LoadError(path, key, "an object with a \"scheme\" string", j.dump().substr(0, 60));
    QuantizationInfo q;
    q.scheme = j["scheme"].get<std::string>();
    if (q.scheme != kInt8SchemeName)
        throw LoadError(path, key + ".scheme", std::string("'") + kInt8SchemeName + "' (the scheme these kernels run)",
                        "'" + q.scheme + "' (quantize the float model again with this library's `mobilenext quantize`)");
    q.description = std::string("activations ") + kInt8SchemeActivations + "; weights " + kInt8SchemeWeights +
                    "; bias " + kInt8SchemeBias + "; requantization " + kInt8SchemeRequantization +
                    "; shortcut add " + kInt8SchemeShortcut + "; classifier " + kInt8SchemeClassifier;
    if (j.contains("observer") && j["observer"].is_string()) q.observer = j["observer"].get<std::string>();
    if (j.contains("calibration_images") && j["calibration_images"].is_number_unsigned())
        q.calibration_images = j["calibration_images"].get<std::int64_t>();
    return q;
}

// The file's tensors against the format's list: none missing, none unexpected, each of its
// dtype and shape.
inline std::map<std::string, Int8TensorSpec> check_int8_tensor_list(const SafetensorsContents& contents,
                                                                    const Topology& t, const std::string& path) {
    std::map<std::string, Int8TensorSpec> expected;
    for (Int8TensorSpec& spec : int8_model_tensors(t)) {
        const auto found = contents.dtypes.find(spec.name);
        const std::string wanted = spec.dtype + " " + shape_string(spec.shape);
        if (found == contents.dtypes.end()) throw LoadError(path, spec.name, wanted, "no such tensor");
        const bool zero_point_i32 = spec.kind == Int8TensorKind::zero_point && found->second == "I32";
        if (found->second != spec.dtype && !zero_point_i32)
            throw LoadError(path, spec.name, wanted + (spec.kind == Int8TensorKind::zero_point ? " (or I32)" : ""),
                            "dtype " + found->second);
        const std::vector<std::int64_t>& shape = spec.dtype == "F32" ? contents.tensors.at(spec.name).shape
                                                                      : contents.integer_tensors.at(spec.name).shape;
        if (shape != spec.shape) throw LoadError(path, spec.name, wanted, "shape " + shape_string(shape));
        expected.emplace(spec.name, std::move(spec));
    }
    for (const auto& [name, dtype] : contents.dtypes)
        if (expected.count(name) == 0)
            throw LoadError(path, name, "no such tensor in this int8 MobileNeXt", "an unexpected " + dtype + " tensor");
    return expected;
}

// Typed, checked access to the tensors check_int8_tensor_list accepted.
class Int8TensorReader {
public:
    Int8TensorReader(const SafetensorsContents& contents, const std::string& path) : c_(contents), path_(path) {}

    std::vector<float> floats(const std::string& name) const {
        const std::vector<float>& v = c_.tensors.at(name).values;
        for (std::size_t i = 0; i < v.size(); ++i)
            if (!std::isfinite(v[i]))
                throw LoadError(path_, name, "finite values", std::to_string(v[i]) + " at index " + std::to_string(i));
        return v;
    }

    // Scales are multiplied and divided: zero, negative, non-finite and denormal ones are refused.
    std::vector<float> scales(const std::string& name) const {
        const std::vector<float>& v = c_.tensors.at(name).values;
        for (std::size_t i = 0; i < v.size(); ++i)
            if (!(std::isnormal(v[i]) && v[i] > 0.0f))
                throw LoadError(path_, name, "finite, positive, normal scales",
                                std::to_string(v[i]) + (v.size() > 1 ? " at channel " + std::to_string(i) : ""));
        return v;
    }

    U8Quantization quantization(const std::string& prefix) const {
        U8Quantization q;
        q.scale = scales(prefix + ".output.scale").front();
        const std::string zero_point = prefix + ".output.zero_point";
        q.zero_point = c_.integer_tensors.at(zero_point).values.front();
        if (q.zero_point < 0 || q.zero_point > 255)
            throw LoadError(path_, zero_point, "a zero point in [0, 255]", std::to_string(q.zero_point));
        return q;
    }

    // int8 values in [-limit, limit].
    std::vector<std::int8_t> int8s(const std::string& name, int limit) const {
        const std::vector<std::int32_t>& w = c_.integer_tensors.at(name).values;
        std::vector<std::int8_t> out;
        out.reserve(w.size());
        for (std::size_t i = 0; i < w.size(); ++i) {
            if (w[i] < -limit || w[i] > limit)
                throw LoadError(path_, name,
                                "int8 weights in [-" + std::to_string(limit) + ", " + std::to_string(limit) + "]" +
                                    (limit == kMaxInt8Weight ? " (the range every instruction set sums exactly)" : ""),
                                std::to_string(w[i]) + " at index " + std::to_string(i));
            out.push_back(std::int8_t(w[i]));
        }
        return out;
    }

    Int8ConvParts conv(const std::string& layer) const {
        Int8ConvParts parts;
        parts.weights = int8s(layer + ".weight", kMaxInt8Weight);
        parts.bias = c_.integer_tensors.at(layer + ".bias").values;
        for (std::size_t i = 0; i < parts.bias.size(); ++i)
            if (!(std::fabs(double(parts.bias[i])) < kMaxQuantizedBias))
                throw LoadError(path_, layer + ".bias", "biases within +-2^29",
                                std::to_string(parts.bias[i]) + " at channel " + std::to_string(i));
        parts.weight_scales = scales(layer + ".weight_scale");
        return parts;
    }

    const std::string& path() const { return path_; }

private:
    const SafetensorsContents& c_;
    const std::string& path_;
};

inline void check_multipliers_finite(const std::vector<float>& multipliers, const std::string& layer,
                                     const std::string& path) {
    for (std::size_t c = 0; c < multipliers.size(); ++c)
        if (!(std::isfinite(multipliers[c]) && multipliers[c] < 1e6f))
            throw LoadError(path, layer + ".weight_scale",
                            "scales giving finite multipliers s_in * s_w[c] / s_out below 1e6",
                            std::to_string(multipliers[c]) + " at channel " + std::to_string(c));
}

// One block from its tensors; `input` is the previous block's output quantization.
inline Int8SandglassLayers read_int8_block(const BlockSpec& b, const Int8TensorReader& r, const U8Quantization& input) {
    Int8BlockParts parts;
    BlockQuantizations q;
    for (const Int8LayerShape& shape : int8_block_layers(b)) {
        const std::string name = int8_layer_name(b, shape.role);
        switch (shape.role) {
            case Int8LayerRole::input_dw: parts.input_dw = r.conv(name), q.input_dw = r.quantization(name); break;
            case Int8LayerRole::reduce: parts.reduce = r.conv(name), q.reduce = r.quantization(name); break;
            case Int8LayerRole::expand: parts.expand = r.conv(name), q.expand = r.quantization(name); break;
            case Int8LayerRole::output_dw: parts.output_dw = r.conv(name), q.output_dw = r.quantization(name); break;
        }
    }
    if (b.shortcut_channels > 0) q.output = r.quantization(int8_block_name(b));
    Int8SandglassLayers l;
    try {
        l = int8_block_from_parts(b, std::move(parts), input, q);
    } catch (const Error& e) {
        throw LoadError(r.path(), int8_block_name(b), "an int8 block the kernels accept", e.what());
    }
    if (b.has_input_dw()) check_multipliers_finite(l.input_dw.multipliers, int8_layer_name(b, Int8LayerRole::input_dw), r.path());
    check_multipliers_finite(l.reduce.multipliers, int8_layer_name(b, Int8LayerRole::reduce), r.path());
    check_multipliers_finite(l.expand.multipliers, int8_layer_name(b, Int8LayerRole::expand), r.path());
    if (b.has_output_dw())
        check_multipliers_finite(l.output_dw.multipliers, int8_layer_name(b, Int8LayerRole::output_dw), r.path());
    return l;
}

inline Int8NetworkWeights read_int8_network_weights(const SafetensorsContents& contents, const Topology& t,
                                                    const std::string& path) {
    check_int8_tensor_list(contents, t, path);
    const Int8TensorReader r(contents, path);
    const std::string stem = kInt8StemName, classifier = kInt8ClassifierName;
    Int8NetworkWeights w;
    w.topology = t;
    w.stem.weights = r.floats(stem + ".weight");
    w.stem.bias = r.floats(stem + ".bias");
    w.stem.out_channels = t.stem_channels;
    w.stem.weights_per_output = t.config.in_channels * 9;
    w.stem_output = r.quantization(stem);
    U8Quantization input = w.stem_output;
    for (const BlockSpec& b : t.blocks) {
        w.blocks.push_back(read_int8_block(b, r, input));
        input = w.blocks.back().output;
    }
    w.classifier_weight = r.int8s(classifier + ".weight", kMaxLinearWeight);
    w.classifier_weight_scales = r.scales(classifier + ".weight_scale");
    w.classifier_bias = r.floats(classifier + ".bias");
    return w;
}

}  // namespace internal

// The model's description and its quantized network, everything checked. The architecture
// must be stated in the metadata: an int8 file's tensors do not follow the float names the
// architecture is otherwise inferred from.
inline Int8ModelFile read_int8_model(const SafetensorsContents& contents, const std::string& path) {
    if (internal::find_metadata(contents.metadata, "mobilenext.width") == nullptr)
        throw LoadError(path, "__metadata__.mobilenext.width", "the architecture stated in an int8 file's metadata",
                        "no such key");
    Int8ModelFile file;
    file.info = internal::read_model_info(contents, path);
    file.info.quantization = internal::read_quantization_info(contents.metadata, path);
    file.weights = internal::read_int8_network_weights(contents, derive_topology(file.info.config), path);
    return file;
}

}  // namespace mobilenext
