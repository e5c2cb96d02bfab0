#pragma once
// The int8 model file: a safetensors file (io/safetensors.hpp) holding a quantized MobileNeXt
// (model/int8_network_weights.hpp), written by io/int8_model_writer.hpp (`mobilenext
// quantize`) and read by io/int8_model_file.hpp (Model::load).
//
// Tensors, all named by int8_model_tensors() below (writer, reader and tests use that one list):
//   stem.weight            F32 [C, in, 3, 3]   the stem convolution, BatchNorm folded in (ReLU6 after it)
//   stem.bias              F32 [C]
//   stem.output.scale      F32 []              the uint8 quantization of the stem's output, the
//   stem.output.zero_point U8  []              first block's input
//   per block (features.N, N = BlockSpec::index) and each of its layers L in input_dw, reduce,
//   expand, output_dw that its form has:
//     features.N.L.weight        I8  [out, in / groups, kh, kw]  PyTorch's order, values in [-64, 64]
//     features.N.L.bias          I32 [out]  on the scale s_in * s_w[c], the input's zero point NOT
//                                           folded in (ONNX QLinearConv's bias)
//     features.N.L.weight_scale  F32 [out]  s_w[c], symmetric per output channel
//     features.N.L.output.scale, features.N.L.output.zero_point   the layer output's quantization
//   and for a block with a partial shortcut, the quantization of its output after the add:
//     features.N.output.scale, features.N.output.zero_point
//   classifier.weight        I8  [classes, last_channels]  values in [-127, 127]
//   classifier.weight_scale  F32 [classes]  symmetric per class; the inputs, the pooled
//                                           features, stay float (LinearWeightsS8)
//   classifier.bias          F32 [classes]
// A block's input quantization is the previous block's output (the stem's for the first); a
// block without a shortcut outputs its last layer's tensor. Scales are finite, positive, normal
// floats; zero points are U8 (I32 also read) in [0, 255]. Real value = scale * (q - zero_point).
//
// Metadata: the float file's architecture (mobilenext.width, identity_div, num_classes,
// in_channels, layout), mobilenext.preprocess and mobilenext.labels carried over;
// mobilenext.quantization, a JSON object naming the scheme (kernels/int8/int8_args.hpp) with
// the observer and the number of calibration images; mobilenext.test_vector ({input_shape,
// input_seed, output}, as in float files) computed when the file was written by the int8
// network on the reference kernels (float and int8), checked at load; mobilenext.checksum of
// the data section as float files store it.
#include <cstdint>
#include <string>
#include <vector>

#include "../blocks/block_spec.hpp"
#include "../model/topology.hpp"

namespace mobilenext {

// The metadata key whose presence makes a file an int8 model, and the scheme it must state.
inline constexpr const char* kQuantizationKey = "mobilenext.quantization";
inline constexpr const char* kInt8SchemeName = "mobilenext-int8-v2";

// The scheme as the file states it (mobilenext.quantization, besides the calibration fields).
inline constexpr const char* kInt8SchemeActivations = "uint8, asymmetric per tensor";
inline constexpr const char* kInt8SchemeWeights = "int8, symmetric per output channel, in [-64, 64]";
inline constexpr const char* kInt8SchemeBias = "int32 on s_in * s_w[c], input zero point not folded in";
inline constexpr const char* kInt8SchemeRequantization =
    "float multiplier (s_in * s_w[c]) / s_out per channel, formed in float, round half to even";
inline constexpr const char* kInt8SchemeShortcut =
    "float (ONNX QLinearAdd): ((a - za) * s_a + (b - zb) * s_b) / s_y, each operation rounded, round half to even";
inline constexpr const char* kInt8SchemeClassifier =
    "int8 weights, symmetric per class, in [-127, 127], on the float pooled features, float sums";

// The test vector's input: the float converter's 65 x 65, from a seed (test_vector_input in
// io/model_file.hpp).
inline constexpr int kInt8TestVectorSize = 65;
inline constexpr std::uint64_t kInt8TestVectorSeed = 0;

// What a tensor of the file holds, for the checks its values get.
enum class Int8TensorKind {
    float_values,   // F32, finite
    int8_weights,   // I8 in [-64, 64]
    linear_weights, // I8 in [-127, 127] (the classifier)
    int32_bias,     // I32
    scale,          // F32 scalar, finite, positive, normal
    weight_scales,  // F32 per channel, each finite, positive, normal
    zero_point      // U8 (or I32) scalar in [0, 255]
};

struct Int8TensorSpec {
    std::string name;
    std::string dtype;  // what the writer writes
    std::vector<std::int64_t> shape;
    Int8TensorKind kind;
};

enum class Int8LayerRole { input_dw, reduce, expand, output_dw };

inline const char* int8_layer_role_name(Int8LayerRole role) {
    switch (role) {
        case Int8LayerRole::input_dw: return "input_dw";
        case Int8LayerRole::reduce: return "reduce";
        case Int8LayerRole::expand: return "expand";
        case Int8LayerRole::output_dw: return "output_dw";
    }
    return "?";
}

// "features.N.L"
inline std::string int8_layer_name(const BlockSpec& b, Int8LayerRole role) {
    return "features." + std::to_string(b.index) + "." + int8_layer_role_name(role);
}

// "features.N": the prefix of the block output's quantization (blocks with a shortcut).
inline std::string int8_block_name(const BlockSpec& b) { return "features." + std::to_string(b.index); }

inline constexpr const char* kInt8StemName = "stem";
inline constexpr const char* kInt8ClassifierName = "classifier";

// The layers a block's form has, in order, with their input and output channels and kernel size.
struct Int8LayerShape {
    Int8LayerRole role;
    int in_channels, out_channels, kernel, groups;
};

inline std::vector<Int8LayerShape> int8_block_layers(const BlockSpec& b) {
    std::vector<Int8LayerShape> layers;
    if (b.has_input_dw()) layers.push_back({Int8LayerRole::input_dw, b.in_channels, b.in_channels, 3, b.in_channels});
    layers.push_back({Int8LayerRole::reduce, b.in_channels, b.hidden, 1, 1});
    layers.push_back({Int8LayerRole::expand, b.hidden, b.out_channels, 1, 1});
    if (b.has_output_dw())
        layers.push_back({Int8LayerRole::output_dw, b.out_channels, b.out_channels, 3, b.out_channels});
    return layers;
}

// Every tensor of an int8 file of topology `t`, in the order the writer writes them.
inline std::vector<Int8TensorSpec> int8_model_tensors(const Topology& t) {
    using K = Int8TensorKind;
    std::vector<Int8TensorSpec> list;
    const auto quantization = [&](const std::string& prefix) {
        list.push_back({prefix + ".output.scale", "F32", {}, K::scale});
        list.push_back({prefix + ".output.zero_point", "U8", {}, K::zero_point});
    };
    const std::string stem = kInt8StemName;
    list.push_back({stem + ".weight", "F32", {t.stem_channels, t.config.in_channels, 3, 3}, K::float_values});
    list.push_back({stem + ".bias", "F32", {t.stem_channels}, K::float_values});
    quantization(stem);
    for (const BlockSpec& b : t.blocks) {
        for (const Int8LayerShape& l : int8_block_layers(b)) {
            const std::string name = int8_layer_name(b, l.role);
            list.push_back({name + ".weight", "I8", {l.out_channels, l.in_channels / l.groups, l.kernel, l.kernel},
                            K::int8_weights});
            list.push_back({name + ".bias", "I32", {l.out_channels}, K::int32_bias});
            list.push_back({name + ".weight_scale", "F32", {l.out_channels}, K::weight_scales});
            quantization(name);
        }
        if (b.shortcut_channels > 0) quantization(int8_block_name(b));
    }
    const std::string classifier = kInt8ClassifierName;
    list.push_back({classifier + ".weight", "I8", {t.config.num_classes, t.last_channels}, K::linear_weights});
    list.push_back({classifier + ".weight_scale", "F32", {t.config.num_classes}, K::weight_scales});
    list.push_back({classifier + ".bias", "F32", {t.config.num_classes}, K::float_values});
    return list;
}

}  // namespace mobilenext
