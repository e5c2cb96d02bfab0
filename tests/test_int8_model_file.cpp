// The int8 model file (io/int8_model_format.hpp): a quantized network written and loaded back
// through Model gives the in-memory Int8Network's logits bit for bit on every int8 kernel set;
// every value the format forbids is refused as a LoadError naming the tensor; the stored test
// vector catches a changed weight and the checksum a changed byte.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <mobilenext/io/int8_model_file.hpp>
#include <mobilenext/io/int8_model_format.hpp>
#include <mobilenext/io/int8_model_writer.hpp>
#include <mobilenext/io/safetensors.hpp>
#include <mobilenext/io/safetensors_writer.hpp>
#include <mobilenext/kernels/int8/int8_kernel_registry.hpp>
#include <mobilenext/mobilenext.hpp>
#include <mobilenext/model/folded_weights.hpp>
#include <mobilenext/model/int8_network.hpp>
#include <mobilenext/model/kernel_registry.hpp>
#include <mobilenext/quantization/quantize_network.hpp>

#include "safetensors_writer.hpp"
#include "test_support.hpp"

namespace mobilenext {
namespace {

const std::string kFile = "int8.safetensors";

// A small network with every block form and partial shortcuts, quantized once for all tests.
const Int8NetworkWeights& quantized() {
    static const Int8NetworkWeights weights = [] {
        NetworkConfig config;
        config.width = 0.35;
        config.identity_div = 2;
        config.num_classes = 40;
        const FoldedNetworkWeights folded = read_folded_weights(config, make_random_state_dict(derive_topology(config), 7));
        const Tensor calibration = testing::random_input(4, 48, 48, 3, 11);
        return quantize_network(folded, calibration.data(), calibration.shape());
    }();
    return weights;
}

Int8ModelDescription description() {
    Int8ModelDescription d;
    d.observer = "minmax";
    d.calibration_images = 4;
    return d;
}

const TestVector& test_vector() {
    static const TestVector tv = int8_test_vector(quantized());
    return tv;
}

Model load_bytes(const std::string& bytes, const LoadOptions& options = {}) {
    return Model::from_safetensors(parse_safetensors(bytes.data(), bytes.size(), kFile), kFile, options);
}

std::optional<LoadError> load_error(const std::string& bytes, const LoadOptions& options = {}) {
    try {
        load_bytes(bytes, options);
    } catch (const LoadError& e) {
        return e;
    }
    return std::nullopt;
}

// A file of the quantized network's tensors after `edit`, with a valid checksum.
std::string edited_file(const std::function<void(std::vector<SafetensorsEntry>&)>& edit) {
    std::vector<SafetensorsEntry> entries = internal::int8_model_entries(quantized());
    edit(entries);
    return safetensors_file_bytes(entries, internal::int8_metadata(quantized().topology.config, description(), test_vector()),
                                  true);
}

SafetensorsEntry& entry(std::vector<SafetensorsEntry>& entries, const std::string& name) {
    for (SafetensorsEntry& e : entries)
        if (e.name == name) return e;
    throw Error("no tensor " + name);
}

// The name of the first tensor of the format's list that is of `kind` and whose name ends with `suffix`.
std::string first_tensor(Int8TensorKind kind, const std::string& suffix = "") {
    for (const Int8TensorSpec& s : int8_model_tensors(quantized().topology))
        if (s.kind == kind && s.name.size() >= suffix.size() &&
            s.name.compare(s.name.size() - suffix.size(), suffix.size(), suffix) == 0 && s.name.rfind("stem", 0) != 0)
            return s.name;
    throw Error("no such tensor kind");
}

void set_f32(std::vector<SafetensorsEntry>& entries, const std::string& name, float value) {
    SafetensorsEntry& e = entry(entries, name);
    e = f32_entry(name, e.shape, std::vector<float>(e.bytes.size() / 4, value));
}

std::string reduce_layer() { return int8_layer_name(quantized().topology.blocks.front(), Int8LayerRole::reduce); }

TEST(Int8ModelFile, RoundTripGivesTheInt8NetworksLogitsBitForBit) {
    const std::string bytes = int8_model_bytes(quantized(), description(), test_vector());
    const Tensor x = testing::random_input(3, 37, 45, 3, 5);
    for (const kernels::Int8KernelTable* table : kernels::available_int8_kernels()) {
        LoadOptions options;
        options.kernels = table->name();
        const Model model = load_bytes(bytes, options);
        ASSERT_NE(model.int8_network(), nullptr);
        const internal::Int8Network& loaded = *model.int8_network();
        const internal::Int8Network in_memory(quantized(), loaded.kernels(), *table);
        EXPECT_EQ(&loaded.int8_kernels(), table);
        Workspace one(1), three(3);
        Tensor a, b;
        model.forward(x, a, one);
        in_memory.forward(x, b, three);
        ASSERT_EQ(a.size(), b.size());
        EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << table->name();
        EXPECT_EQ(model.info().test_vector_status, TestVectorStatus::checked) << table->name();
        EXPECT_NE(model.kernels_name().find("int8 " + table->name()), std::string::npos) << model.kernels_name();
    }
}

TEST(Int8ModelFile, WrittenToDiskLoadsWithItsDescription) {
    const testing::TempFile file("", "int8.safetensors");
    const std::size_t bytes = write_int8_model(file.path(), quantized(), description());
    EXPECT_GT(bytes, 0u);
    const Model model = Model::load(file.path());
    ASSERT_TRUE(model.info().quantization.has_value());
    EXPECT_EQ(model.info().quantization->scheme, kInt8SchemeName);
    EXPECT_EQ(model.info().quantization->observer, "minmax");
    EXPECT_EQ(model.info().quantization->calibration_images, 4);
    EXPECT_TRUE(model.info().checksum_verified);
    EXPECT_TRUE(model.info().architecture_from_metadata);
    EXPECT_EQ(model.config().identity_div, 2);
    EXPECT_EQ(model.parameter_count(), count_parameters(quantized().topology));
    EXPECT_EQ(model.working_memory_bytes(2, 40, 40, 2), model.int8_network()->working_memory_bytes(2, 40, 40, 2));
    EXPECT_THROW(model.network(), Error);
}

TEST(Int8ModelFile, FloatModelsStayFloat) {
    NetworkConfig config;
    config.width = 0.35;
    const Model model = Model::random(config, 1);
    EXPECT_FALSE(model.info().quantization.has_value());
    EXPECT_EQ(model.int8_network(), nullptr);
    EXPECT_NO_THROW(model.network());
}

TEST(Int8ModelFile, UnknownKernelSetAndIdentityDivisorOverrideAreRefused) {
    const std::string bytes = int8_model_bytes(quantized(), description(), test_vector());
    LoadOptions unknown;
    unknown.kernels = "simd/none";
    EXPECT_THROW(load_bytes(bytes, unknown), Error);
    LoadOptions divisor;
    divisor.identity_div = 4;
    testing::expect_error(load_error(bytes, divisor), "__metadata__.mobilenext.identity_div", {"calibrated"}, kFile);
}

TEST(Int8ModelFile, TestVectorCatchesAChangedWeight) {
    Int8NetworkWeights changed = quantized();
    std::vector<std::int8_t>& w = changed.blocks.front().reduce.weights;
    w[0] = std::int8_t(w[0] > 0 ? -64 : 64);
    const std::string bytes = int8_model_bytes(changed, description(), test_vector());
    testing::expect_error(load_error(bytes), "__metadata__.mobilenext.test_vector", {"reference int8 network"}, kFile);
    LoadOptions unchecked;
    unchecked.verify_test_vector = false;
    EXPECT_EQ(load_bytes(bytes, unchecked).info().test_vector_status, TestVectorStatus::skipped);
}

TEST(Int8ModelFile, ChecksumCatchesAChangedByte) {
    std::string bytes = int8_model_bytes(quantized(), description(), test_vector());
    bytes[bytes.size() - 1] = char(bytes[bytes.size() - 1] ^ 1);
    testing::expect_error(load_error(bytes), "__metadata__.mobilenext.checksum", {"changed"}, kFile);
}

TEST(Int8ModelFile, RefusesAnotherScheme) {
    std::string text = int8_model_bytes(quantized(), description(), test_vector());
    const std::size_t at = text.find(kInt8SchemeName);
    ASSERT_NE(at, std::string::npos);
    text[at] = 'x';  // the same length: the header stays valid, the checksum covers only the data
    testing::expect_error(load_error(text), std::string("__metadata__.") + kQuantizationKey + ".scheme",
                          {kInt8SchemeName}, kFile);
}

// ---- one refusal per kind: the message names the tensor ----

void expect_refused(const std::string& tensor, float value, const std::string& part) {
    const std::string bytes = edited_file([&](std::vector<SafetensorsEntry>& e) { set_f32(e, tensor, value); });
    testing::expect_error(load_error(bytes), tensor, {part}, kFile);
}

TEST(Int8ModelFile, RefusesZeroScale) { expect_refused(first_tensor(Int8TensorKind::scale), 0.0f, "positive"); }
TEST(Int8ModelFile, RefusesNegativeScale) { expect_refused("stem.output.scale", -0.5f, "positive"); }
TEST(Int8ModelFile, RefusesInfiniteScale) {
    expect_refused(first_tensor(Int8TensorKind::scale), std::numeric_limits<float>::infinity(), "finite");
}
TEST(Int8ModelFile, RefusesNaNWeightScale) {
    expect_refused(first_tensor(Int8TensorKind::weight_scales), std::numeric_limits<float>::quiet_NaN(), "finite");
}
TEST(Int8ModelFile, RefusesDenormalWeightScale) {
    expect_refused(first_tensor(Int8TensorKind::weight_scales), 1e-40f, "normal");
}
TEST(Int8ModelFile, RefusesNonFiniteFloatWeights) {
    expect_refused("classifier.bias", std::numeric_limits<float>::infinity(), "finite");
}

TEST(Int8ModelFile, RefusesMultipliersThatAreNotFinite) {
    const std::string scale = reduce_layer() + ".weight_scale";
    expect_refused(scale, 3e38f, "multipliers");
}

TEST(Int8ModelFile, RefusesZeroPointsOutsideTheByteRange) {
    const std::string name = first_tensor(Int8TensorKind::zero_point);
    for (int zero_point : {256, -1}) {
        const std::string bytes = edited_file([&](std::vector<SafetensorsEntry>& e) {
            entry(e, name) = integer_entry(name, "I32", {}, {zero_point});
        });
        testing::expect_error(load_error(bytes), name, {"[0, 255]", std::to_string(zero_point)}, kFile);
    }
}

TEST(Int8ModelFile, ReadsI32ZeroPoints) {
    const std::string name = first_tensor(Int8TensorKind::zero_point);
    const std::string bytes = edited_file([&](std::vector<SafetensorsEntry>& e) {
        SafetensorsEntry& z = entry(e, name);
        z = integer_entry(name, "I32", {}, {std::int32_t(static_cast<unsigned char>(z.bytes[0]))});
    });
    EXPECT_NO_THROW(load_bytes(bytes));
}

TEST(Int8ModelFile, RefusesWeightsBeyond64) {
    const std::string name = reduce_layer() + ".weight";
    const std::string bytes = edited_file([&](std::vector<SafetensorsEntry>& e) { entry(e, name).bytes[3] = char(65); });
    testing::expect_error(load_error(bytes), name, {"[-64, 64]", "65"}, kFile);
}

// The classifier's weights take [-127, 127]: 127 loads (the test vector, which it changes, not
// run), -128 is refused.
TEST(Int8ModelFile, ClassifierWeightsTakeTheSymmetricInt8Range) {
    const std::string name = "classifier.weight";
    LoadOptions unverified;
    unverified.verify_test_vector = false;
    EXPECT_NO_THROW(load_bytes(
        edited_file([&](std::vector<SafetensorsEntry>& e) { entry(e, name).bytes[2] = char(127); }), unverified));
    const std::string bytes = edited_file([&](std::vector<SafetensorsEntry>& e) { entry(e, name).bytes[2] = char(-128); });
    testing::expect_error(load_error(bytes), name, {"[-127, 127]", "-128"}, kFile);
}

TEST(Int8ModelFile, RefusesBiasesBeyondTheQuantizersRange) {
    const std::string name = reduce_layer() + ".bias";
    const std::string bytes = edited_file([&](std::vector<SafetensorsEntry>& e) {
        SafetensorsEntry& b = entry(e, name);
        std::vector<std::int32_t> values(b.bytes.size() / 4, 0);
        values[1] = std::numeric_limits<std::int32_t>::max();
        b = integer_entry(name, "I32", b.shape, values);
    });
    testing::expect_error(load_error(bytes), name, {"2^29"}, kFile);
}

TEST(Int8ModelFile, RefusesAWrongShape) {
    const std::string name = reduce_layer() + ".weight_scale";
    const std::string bytes = edited_file([&](std::vector<SafetensorsEntry>& e) {
        SafetensorsEntry& s = entry(e, name);
        s = f32_entry(name, {s.shape[0] + 1}, std::vector<float>(std::size_t(s.shape[0] + 1), 0.01f));
    });
    testing::expect_error(load_error(bytes), name, {"shape"}, kFile);
}

TEST(Int8ModelFile, RefusesAWrongDtype) {
    const std::string name = reduce_layer() + ".weight";
    const std::string bytes = edited_file([&](std::vector<SafetensorsEntry>& e) {
        SafetensorsEntry& w = entry(e, name);
        std::vector<std::int32_t> values;
        for (char c : w.bytes) values.push_back(std::int32_t(static_cast<signed char>(c)));
        w = integer_entry(name, "I32", w.shape, values);
    });
    testing::expect_error(load_error(bytes), name, {"I8", "dtype I32"}, kFile);
}

TEST(Int8ModelFile, RefusesAMissingTensor) {
    const std::string name = reduce_layer() + ".bias";
    const std::string bytes = edited_file([&](std::vector<SafetensorsEntry>& e) {
        for (auto it = e.begin(); it != e.end(); ++it)
            if (it->name == name) {
                e.erase(it);
                break;
            }
    });
    testing::expect_error(load_error(bytes), name, {"no such tensor"}, kFile);
}

TEST(Int8ModelFile, RefusesAnUnexpectedTensor) {
    const std::string bytes = edited_file([&](std::vector<SafetensorsEntry>& e) {
        e.push_back(f32_entry("features.1.extra", {2}, {1.0f, 2.0f}));
    });
    testing::expect_error(load_error(bytes), "features.1.extra", {"unexpected"}, kFile);
}

TEST(Int8ModelFile, TheTensorListMatchesTheWriter) {
    const std::vector<SafetensorsEntry> entries = internal::int8_model_entries(quantized());
    const std::vector<Int8TensorSpec> list = int8_model_tensors(quantized().topology);
    ASSERT_EQ(entries.size(), list.size());
    for (std::size_t i = 0; i < list.size(); ++i) {
        EXPECT_EQ(entries[i].name, list[i].name);
        EXPECT_EQ(entries[i].dtype, list[i].dtype) << list[i].name;
        EXPECT_EQ(entries[i].shape, list[i].shape) << list[i].name;
    }
}

}  // namespace
}  // namespace mobilenext
