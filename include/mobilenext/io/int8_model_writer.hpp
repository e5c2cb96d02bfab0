#pragma once
// Writing an int8 model file (the format: io/int8_model_format.hpp) from a quantized network
// (quantization/quantize_network.hpp), with the test vector computed by the int8 network on
// the reference kernels and the checksum of the data.
#include <charconv>
#include <cstdint>
#include <map>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "../core/error.hpp"
#include "../core/tensor.hpp"
#include "../kernels/int8/reference_int8_kernels.hpp"
#include "../kernels/reference_kernels.hpp"
#include "../model/int8_network.hpp"
#include "../model/int8_network_weights.hpp"
#include "../model/model.hpp"
#include "../model/topology.hpp"
#include "int8_model_format.hpp"
#include "model_file.hpp"
#include "safetensors_writer.hpp"

namespace mobilenext {

// What an int8 file states besides its tensors.
struct Int8ModelDescription {
    // The float file's metadata: its preprocessing and labels are carried over.
    std::map<std::string, std::string> float_metadata;
    std::string observer;        // "minmax", "percentile", "mse"
    int calibration_images = 0;
};

namespace internal {

inline std::string shortest_decimal(double v) {
    char text[32];
    const auto result = std::to_chars(text, text + sizeof text, v);
    return std::string(text, result.ptr);
}

inline nlohmann::json int8_scheme_json(const Int8ModelDescription& d) {
    return {{"scheme", kInt8SchemeName},
            {"activations", kInt8SchemeActivations},
            {"weights", kInt8SchemeWeights},
            {"bias", kInt8SchemeBias},
            {"requantization", kInt8SchemeRequantization},
            {"shortcut_add", kInt8SchemeShortcut},
            {"classifier", kInt8SchemeClassifier},
            {"observer", d.observer},
            {"calibration_images", d.calibration_images}};
}

inline std::string test_vector_json(const TestVector& tv) {
    return nlohmann::json{{"input_shape", tv.input_shape}, {"input_seed", kInt8TestVectorSeed}, {"output", tv.output}}
        .dump();
}

inline std::map<std::string, std::string> int8_metadata(const NetworkConfig& c, const Int8ModelDescription& d,
                                                        const TestVector& tv) {
    std::map<std::string, std::string> m;
    for (const char* key : {"format", "mobilenext.preprocess", "mobilenext.labels"})
        if (const std::string* v = find_metadata(d.float_metadata, key)) m[key] = *v;
    m["mobilenext.layout"] = layout_name(c.layout);
    m["mobilenext.width"] = shortest_decimal(c.width);
    m["mobilenext.identity_div"] = std::to_string(c.identity_div);
    m["mobilenext.num_classes"] = std::to_string(c.num_classes);
    m["mobilenext.in_channels"] = std::to_string(c.in_channels);
    m[kQuantizationKey] = int8_scheme_json(d).dump();
    m["mobilenext.test_vector"] = test_vector_json(tv);
    return m;
}

inline std::vector<std::int32_t> widened(const std::vector<std::int8_t>& values) {
    return std::vector<std::int32_t>(values.begin(), values.end());
}

// The tensors of one block, in int8_model_tensors' order.
inline void append_block_entries(const BlockSpec& b, const Int8SandglassLayers& l, std::vector<SafetensorsEntry>& out) {
    const auto quantization = [&](const std::string& prefix, const U8Quantization& q) {
        out.push_back(f32_entry(prefix + ".output.scale", {}, {q.scale}));
        out.push_back(integer_entry(prefix + ".output.zero_point", "U8", {}, {q.zero_point}));
    };
    for (const Int8LayerShape& shape : int8_block_layers(b)) {
        const std::string name = int8_layer_name(b, shape.role);
        const std::vector<std::int64_t> weight_shape{shape.out_channels, shape.in_channels / shape.groups,
                                                     shape.kernel, shape.kernel};
        const auto write_layer = [&](const auto& layer, const U8Quantization& output) {
            out.push_back(integer_entry(name + ".weight", "I8", weight_shape, widened(layer.weights)));
            out.push_back(integer_entry(name + ".bias", "I32", {shape.out_channels}, layer.accumulator_bias));
            out.push_back(f32_entry(name + ".weight_scale", {shape.out_channels}, layer.weight_scales));
            quantization(name, output);
        };
        switch (shape.role) {
            case Int8LayerRole::input_dw: write_layer(l.input_dw, l.tensors.input_dw); break;
            case Int8LayerRole::reduce: write_layer(l.reduce, l.tensors.reduce); break;
            case Int8LayerRole::expand: write_layer(l.expand, l.tensors.expand); break;
            case Int8LayerRole::output_dw: write_layer(l.output_dw, l.tensors.output_dw); break;
        }
    }
    if (b.shortcut_channels > 0) quantization(int8_block_name(b), l.output);
}

inline std::vector<SafetensorsEntry> int8_model_entries(const Int8NetworkWeights& w) {
    const Topology& t = w.topology;
    std::vector<SafetensorsEntry> out;
    const std::string stem = kInt8StemName, classifier = kInt8ClassifierName;
    out.push_back(f32_entry(stem + ".weight", {t.stem_channels, t.config.in_channels, 3, 3}, w.stem.weights));
    out.push_back(f32_entry(stem + ".bias", {t.stem_channels}, w.stem.bias));
    out.push_back(f32_entry(stem + ".output.scale", {}, {w.stem_output.scale}));
    out.push_back(integer_entry(stem + ".output.zero_point", "U8", {}, {w.stem_output.zero_point}));
    for (std::size_t i = 0; i < t.blocks.size(); ++i) append_block_entries(t.blocks[i], w.blocks[i], out);
    out.push_back(integer_entry(classifier + ".weight", "I8", {t.config.num_classes, t.last_channels},
                                widened(w.classifier_weight)));
    out.push_back(f32_entry(classifier + ".weight_scale", {t.config.num_classes}, w.classifier_weight_scales));
    out.push_back(f32_entry(classifier + ".bias", {t.config.num_classes}, w.classifier_bias));
    // The list the reader checks against: the two must never disagree.
    const std::vector<Int8TensorSpec> expected = int8_model_tensors(t);
    check(expected.size() == out.size(), "int8 model writer: " + std::to_string(out.size()) + " tensors, the format has " +
                                             std::to_string(expected.size()));
    for (std::size_t i = 0; i < out.size(); ++i)
        check(out[i].name == expected[i].name && out[i].dtype == expected[i].dtype && out[i].shape == expected[i].shape,
              "int8 model writer: tensor " + out[i].name + " is not the format's " + expected[i].name);
    return out;
}

}  // namespace internal

// The logits of the int8 network on the reference kernels (float and int8) for the seeded input
// every int8 file's test vector uses.
inline TestVector int8_test_vector(const Int8NetworkWeights& w) {
    const int c = w.topology.config.in_channels, size = kInt8TestVectorSize;
    TestVector tv;
    tv.input_shape = {1, c, size, size};
    tv.input = internal::test_vector_input(kInt8TestVectorSeed, std::size_t(c) * size * size);
    const internal::Int8Network network(w, kernels::kReferenceKernels, kernels::kReferenceInt8Kernels);
    const Tensor logits = network.forward(Tensor::from_nchw(tv.input.data(), 1, c, size, size));
    tv.output.assign(logits.data(), logits.data() + logits.size());
    return tv;
}

// The file's bytes, with the test vector given (int8_test_vector of these weights, unless a
// test wants a file whose weights do not compute it).
inline std::string int8_model_bytes(const Int8NetworkWeights& w, const Int8ModelDescription& d, const TestVector& tv) {
    return safetensors_file_bytes(internal::int8_model_entries(w), internal::int8_metadata(w.topology.config, d, tv),
                                  true);
}

// Writes the int8 file; returns its size in bytes.
inline std::size_t write_int8_model(const std::string& path, const Int8NetworkWeights& w,
                                    const Int8ModelDescription& d) {
    const std::string bytes = int8_model_bytes(w, d, int8_test_vector(w));
    write_file_atomically(path, bytes);
    return bytes.size();
}

}  // namespace mobilenext
