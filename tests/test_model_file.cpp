// Loading a MobileNeXt from a safetensors file: the architecture inferred from the shapes or
// taken from the metadata, logits identical to a network built from the same state dict,
// test vectors, preprocessing and labels, and a LoadError naming the file and the tensor or
// metadata field for every file that does not describe a working MobileNeXt.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <mobilenext/io/model_file.hpp>
#include <mobilenext/io/npy.hpp>
#include <mobilenext/io/safetensors.hpp>
#include <mobilenext/mobilenext.hpp>

#include "safetensors_writer.hpp"
#include "test_support.hpp"

namespace mobilenext {
namespace {

using Metadata = std::map<std::string, std::string>;
using testing::safetensors_from_state_dict;

const std::string kFile = "mobilenext_test.safetensors";

// Errors about the default file name unless a test names another.
void expect_error(const std::optional<LoadError>& error, const std::string& tensor,
                  std::initializer_list<std::string> parts, const std::string& file = kFile) {
    testing::expect_error(error, tensor, parts, file);
}

NetworkConfig make_config(double width, int classes = 37, int in_channels = 3, int identity_div = 1,
                          Layout layout = Layout::official) {
    NetworkConfig c;
    c.width = width;
    c.num_classes = classes;
    c.in_channels = in_channels;
    c.identity_div = identity_div;
    c.layout = layout;
    return c;
}

StateDict random_dict(const NetworkConfig& config, std::uint64_t seed = 5) {
    return make_random_state_dict(derive_topology(config), seed);
}

// What tools/convert.py writes to describe the architecture (the width as Python's repr).
Metadata architecture_metadata(const NetworkConfig& c, const std::string& width_text) {
    return {{"mobilenext.width", width_text},
            {"mobilenext.identity_div", std::to_string(c.identity_div)},
            {"mobilenext.num_classes", std::to_string(c.num_classes)},
            {"mobilenext.in_channels", std::to_string(c.in_channels)},
            {"mobilenext.layout", layout_name(c.layout)}};
}

// Through the writer and the parser, as a file on disk would go.
Model load_bytes(const std::string& bytes, const LoadOptions& options = {}) {
    return Model::from_safetensors(parse_safetensors(bytes.data(), bytes.size(), kFile), kFile, options);
}

Model load_dict(const StateDict& dict, const Metadata& metadata = {}, const LoadOptions& options = {}) {
    return load_bytes(safetensors_from_state_dict(dict, metadata), options);
}

// The LoadError that loading throws, if any. Any other exception escapes and fails the test.
std::optional<LoadError> load_error(const StateDict& dict, const Metadata& metadata = {}, const LoadOptions& options = {}) {
    try {
        load_dict(dict, metadata, options);
    } catch (const LoadError& e) {
        return e;
    }
    return std::nullopt;
}


Tensor random_input(int n, int h, int w, int c, std::uint32_t seed) {
    Tensor t(n, h, w, c);
    const auto v = testing::random_vector(t.size(), seed, -2.0f, 2.0f);
    std::copy(v.begin(), v.end(), t.data());
    return t;
}

template <class Net>
std::vector<float> logits_of(const Net& net, const Tensor& x) {
    const Tensor y = net.forward(x);
    return std::vector<float>(y.data(), y.data() + y.size());
}

// The model computes exactly what a network built directly from `dict` computes.
void expect_same_logits(const Model& model, const NetworkConfig& config, const StateDict& dict) {
    const Tensor x = random_input(2, 32, 40, config.in_channels, 17);
    const std::vector<float> expected = logits_of(Model::from_state_dict(config, dict), x);
    const std::vector<float> actual = logits_of(model, x);
    ASSERT_EQ(actual.size(), expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i)
        ASSERT_EQ(testing::float_bits(actual[i]), testing::float_bits(expected[i])) << "logit " << i;
}

// A test vector in the converter's format: one 32x32 input and the logits `net` gives for it.
std::string make_test_vector(const Model& net, std::vector<float>* output = nullptr) {
    const int channels = net.config().in_channels;
    const std::vector<float> input = testing::random_vector(std::size_t(channels) * 32 * 32, 23, -2.0f, 2.0f);
    const std::vector<float> logits = logits_of(net, Tensor::from_nchw(input.data(), 1, channels, 32, 32));
    if (output) *output = logits;
    nlohmann::json j;
    j["input_shape"] = {1, channels, 32, 32};
    j["input"] = input;
    j["output"] = logits;
    return j.dump();
}

// ---------------------------------------------------------------- architecture from shapes

TEST(ModelFile, InfersStandardWidthsFromShapes) {
    struct Case { double width; int classes, in_channels; };
    const Case cases[] = {{0.35, 37, 3}, {0.5, 10, 1}, {0.75, 1000, 3}, {1.0, 37, 3}, {1.4, 5, 3}};
    for (const Case& c : cases) {
        SCOPED_TRACE("width " + std::to_string(c.width));
        const NetworkConfig config = make_config(c.width, c.classes, c.in_channels);
        const StateDict dict = random_dict(config);
        const Model model = load_dict(dict);
        const ModelInfo& info = model.info();
        EXPECT_EQ(info.path, kFile);
        EXPECT_FALSE(info.architecture_from_metadata);
        EXPECT_EQ(info.config.width, c.width);
        EXPECT_EQ(info.config.num_classes, c.classes);
        EXPECT_EQ(info.config.in_channels, c.in_channels);
        EXPECT_EQ(info.config.identity_div, 1);
        EXPECT_EQ(info.config.layout, Layout::official);
        EXPECT_TRUE(info.metadata.empty());
        EXPECT_TRUE(info.labels.empty());
        EXPECT_FALSE(info.test_vector.has_value());
        expect_same_logits(model, config, dict);
    }
}

TEST(ModelFile, InfersANonStandardWidthUpToItsTopology) {
    // Nearby widths round to the same channel counts, so any width with this exact list of
    // tensors and shapes is a correct answer.
    const NetworkConfig config = make_config(0.6);
    const StateDict dict = random_dict(config);
    const Model model = load_dict(dict);
    const NetworkConfig& inferred = model.info().config;
    EXPECT_FALSE(model.info().architecture_from_metadata);
    EXPECT_NEAR(inferred.width, 0.6, 0.05);
    const std::vector<ExpectedTensor> expected = expected_state_dict(derive_topology(config));
    const std::vector<ExpectedTensor> found = expected_state_dict(derive_topology(inferred));
    ASSERT_EQ(found.size(), expected.size()) << "inferred width " << inferred.width;
    for (std::size_t i = 0; i < expected.size(); ++i) {
        EXPECT_EQ(found[i].name, expected[i].name);
        EXPECT_EQ(found[i].shape, expected[i].shape) << expected[i].name;
    }
    expect_same_logits(model, config, dict);
}

TEST(ModelFile, LoadsFromDisk) {
    const NetworkConfig config = make_config(0.5, 12);
    StateDict dict = random_dict(config);
    const testing::TempFile file(safetensors_from_state_dict(dict));
    const std::string& path = file.path();
    const Model model = Model::load(path);
    EXPECT_EQ(model.info().path, path);
    EXPECT_EQ(model.info().config.width, 0.5);
    EXPECT_EQ(model.info().config.num_classes, 12);
    expect_same_logits(model, config, dict);
}

TEST(ModelFile, HalfPrecisionFileLoads) {
    // A file stored in F16 computes what its weights, widened to float, compute.
    const NetworkConfig config = make_config(0.35, 7);
    StateDict dict = random_dict(config);
    const Model model = load_bytes(safetensors_from_state_dict(dict, {}, testing::FloatFormat::f16));
    for (auto& [name, t] : dict)
        for (float& v : t.values) v = internal::half_to_float(testing::float_to_half(v));
    expect_same_logits(model, config, dict);
}

TEST(ModelFile, BatchNormStepCountersAreAccepted) {
    const NetworkConfig config = make_config(0.35, 7);
    const StateDict dict = random_dict(config);
    testing::SafetensorsWriter w;
    for (const auto& [name, t] : dict) w.add(name, t);
    w.add_i64("features.0.1.num_batches_tracked", {}, {100});
    w.add_i64("features.3.conv.1.num_batches_tracked", {}, {100});
    const Model model = load_bytes(w.bytes());
    expect_same_logits(model, config, dict);
}

// ---------------------------------------------------------------- architecture from metadata

TEST(ModelFile, ArchitectureFromMetadata) {
    const NetworkConfig config = make_config(0.5, 37, 3, 2);
    const StateDict dict = random_dict(config);
    Metadata metadata = architecture_metadata(config, "0.5");
    metadata["format"] = "mobilenext";
    const Model model = load_dict(dict, metadata);
    const ModelInfo& info = model.info();
    EXPECT_TRUE(info.architecture_from_metadata);
    EXPECT_EQ(info.config.width, 0.5);
    EXPECT_EQ(info.config.identity_div, 2);
    EXPECT_EQ(info.config.num_classes, 37);
    EXPECT_EQ(info.config.in_channels, 3);
    EXPECT_EQ(info.config.layout, Layout::official);
    EXPECT_EQ(info.metadata, metadata);
    expect_same_logits(model, config, dict);
    // The divisor changes the shortcut and so the logits: it was really applied.
    const Tensor x = random_input(1, 32, 32, 3, 3);
    EXPECT_NE(logits_of(model, x), logits_of(Model::from_state_dict(make_config(0.5, 37, 3, 1), dict), x));
}

TEST(ModelFile, NonStandardWidthFromMetadataIsExact) {
    const NetworkConfig config = make_config(0.6, 20, 1, 3);
    const StateDict dict = random_dict(config);
    const Model model = load_dict(dict, architecture_metadata(config, "0.6"));
    EXPECT_EQ(model.info().config.width, 0.6);
    EXPECT_EQ(model.info().config.in_channels, 1);
    EXPECT_EQ(model.info().config.identity_div, 3);
    expect_same_logits(model, config, dict);
}

TEST(ModelFile, ThirdPartyLayoutFromMetadata) {
    const NetworkConfig config = make_config(0.75, 37, 3, 1, Layout::mobilenext_pytorch);
    const StateDict dict = random_dict(config);
    const Model model = load_dict(dict, architecture_metadata(config, "0.75"));
    EXPECT_EQ(model.info().config.layout, Layout::mobilenext_pytorch);
    expect_same_logits(model, config, dict);
}

TEST(ModelFile, ThirdPartyLayoutWithoutMetadataIsRefused) {
    // Shapes alone are matched against the authors' layout only.
    const NetworkConfig config = make_config(0.75, 37, 3, 1, Layout::mobilenext_pytorch);
    const std::optional<LoadError> e = load_error(random_dict(config));
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->file(), kFile) << e->what();
    EXPECT_FALSE(e->tensor().empty()) << e->what();
}

TEST(ModelFile, IdentityDivFromMetadataWithoutWidth) {
    const NetworkConfig config = make_config(0.5, 37, 3, 3);
    const StateDict dict = random_dict(config);
    const Model model = load_dict(dict, {{"mobilenext.identity_div", "3"}});
    EXPECT_FALSE(model.info().architecture_from_metadata);
    EXPECT_EQ(model.info().config.identity_div, 3);
    expect_same_logits(model, config, dict);
}

TEST(ModelFile, IdentityDivOptionOverridesTheFile) {
    const NetworkConfig config = make_config(0.5, 37, 3, 4);
    const StateDict dict = random_dict(config);
    LoadOptions options;
    options.identity_div = 4;
    const Model from_metadata = load_dict(dict, architecture_metadata(make_config(0.5, 37, 3, 2), "0.5"), options);
    EXPECT_EQ(from_metadata.info().config.identity_div, 4);
    expect_same_logits(from_metadata, config, dict);
    const Model inferred = load_dict(dict, {}, options);
    EXPECT_EQ(inferred.info().config.identity_div, 4);
    expect_same_logits(inferred, config, dict);
}

// ---------------------------------------------------------------- tensors that do not fit

TEST(ModelFile, MissingTensor) {
    const NetworkConfig config = make_config(0.5);
    StateDict dict = random_dict(config);
    dict.erase("features.7.conv.3.weight");
    expect_error(load_error(dict), "features.7.conv.3.weight",
                 {"no MobileNeXt width fits these tensors", "found no such tensor"});
    expect_error(load_error(dict, architecture_metadata(config, "0.5")), "features.7.conv.3.weight",
                 {"expected a tensor of shape [", "found none (missing)"});
}

// Widths 0.5 and 0.35 share the stem (16) and last (1280) channels: a 0.35 file missing one
// deep tensor must be reported against the width that fits it furthest, naming that tensor.
TEST(ModelFile, MissingTensorOfASmallWidthIsNamed) {
    const NetworkConfig config = make_config(0.35);
    StateDict dict = random_dict(config);
    dict.erase("features.10.conv.3.weight");
    expect_error(load_error(dict), "features.10.conv.3.weight", {"found no such tensor"});
}

TEST(ModelFile, UnexpectedTensor) {
    const NetworkConfig config = make_config(0.5);
    StateDict dict = random_dict(config);
    dict["features.0.1.extra"] = HostTensor{{16}, std::vector<float>(16, 1.0f)};
    expect_error(load_error(dict), "features.0.1.extra",
                 {"no such tensor in this MobileNeXt", "an unexpected tensor of shape [16]"});
    expect_error(load_error(dict, architecture_metadata(config, "0.5")), "features.0.1.extra", {"unexpected tensor"});
}

// Integer tensors other than BatchNorm step counters are unexpected like any other tensor.
TEST(ModelFile, UnexpectedIntegerTensor) {
    const NetworkConfig config = make_config(0.35, 7);
    testing::SafetensorsWriter w;
    for (const auto& [name, t] : random_dict(config)) w.add(name, t);
    w.add_i64("features.0.1.step", {}, {1});
    try {
        load_bytes(w.bytes());
        FAIL() << "no LoadError";
    } catch (const LoadError& e) {
        expect_error(e, "features.0.1.step", {});
    }
}

TEST(ModelFile, WrongShape) {
    const NetworkConfig config = make_config(0.5);
    StateDict dict = random_dict(config);
    dict["classifier.1.bias"] = HostTensor{{38}, std::vector<float>(38, 0.0f)};
    expect_error(load_error(dict), "classifier.1.bias", {"expected shape [37]", "found shape [38]"});
    expect_error(load_error(dict, architecture_metadata(config, "0.5")), "classifier.1.bias",
                 {"expected shape [37]", "found shape [38]"});

    StateDict conv = random_dict(config);
    HostTensor& dw = conv["features.4.conv.0.weight"];
    dw.shape = {dw.shape[0], 1, 9, 1};  // same element count, wrong shape
    const std::string expected = "shape " + shape_string({dw.shape[0], 1, 3, 3});
    expect_error(load_error(conv), "features.4.conv.0.weight", {expected, "found shape [" + std::to_string(dw.shape[0]) + ", 1, 9, 1]"});
}

TEST(ModelFile, MetadataContradictingTheShapes) {
    const NetworkConfig config = make_config(0.5);
    const StateDict dict = random_dict(config);
    // The stem's BatchNorm is read first; which of its four tensors comes first is up to the compiler.
    const std::optional<LoadError> wide = load_error(dict, architecture_metadata(make_config(1.0), "1.0"));
    ASSERT_TRUE(wide.has_value());
    EXPECT_EQ(wide->tensor().rfind("features.0.1.", 0), 0u) << wide->what();
    expect_error(wide, wide->tensor(), {"expected shape [32]", "found shape [16]"});
    expect_error(load_error(dict, architecture_metadata(make_config(0.5, 1000), "0.5")), "classifier.1.weight",
                 {"expected shape [1000, 1280]", "found shape [37, 1280]"});
    expect_error(load_error(dict, architecture_metadata(make_config(0.5, 37, 1), "0.5")), "features.0.0.weight",
                 {"shape [16, 1, 3, 3]", "found shape [16, 3, 3, 3]"});
}

TEST(ModelFile, MetadataWidthNotANumber) {
    const StateDict dict = random_dict(make_config(0.5));
    for (const char* text : {"wide", "0.5x", "", "nan", "inf", "1e400", "0,5"}) {
        SCOPED_TRACE(text);
        Metadata m = architecture_metadata(make_config(0.5), text);
        expect_error(load_error(dict, m), "__metadata__.mobilenext.width", {"expected a number", std::string("found '") + text + "'"});
    }
}

TEST(ModelFile, MetadataArchitectureOutOfRange) {
    const StateDict dict = random_dict(make_config(0.5));
    expect_error(load_error(dict, architecture_metadata(make_config(0.5), "9")), "__metadata__",
                 {"a valid MobileNeXt architecture", "width multiplier must be in [0.1, 4]"});
    Metadata m = architecture_metadata(make_config(0.5), "0.5");
    m["mobilenext.num_classes"] = "0";
    expect_error(load_error(dict, m), "__metadata__", {"a valid MobileNeXt architecture", "classes"});
    m = architecture_metadata(make_config(0.5), "0.5");
    m["mobilenext.identity_div"] = "1.5";
    expect_error(load_error(dict, m), "__metadata__.mobilenext.identity_div", {"a non-negative integer", "'1.5'"});
    m["mobilenext.identity_div"] = "0";
    expect_error(load_error(dict, m), "__metadata__", {"identity divisor"});
}

// Without mobilenext.width the identity divisor from the metadata is still validated, as a
// LoadError naming the file.
TEST(ModelFile, InvalidIdentityDivWithoutWidthIsALoadError) {
    const StateDict dict = random_dict(make_config(0.5));
    const std::optional<LoadError> e = load_error(dict, {{"mobilenext.identity_div", "0"}});
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->file(), kFile) << e->what();
    EXPECT_EQ(e->tensor().rfind("__metadata__", 0), 0u) << e->what();
}

TEST(ModelFile, UnknownLayout) {
    const StateDict dict = random_dict(make_config(0.5));
    Metadata m = architecture_metadata(make_config(0.5), "0.5");
    m["mobilenext.layout"] = "keras";
    expect_error(load_error(dict, m), "__metadata__.mobilenext.layout",
                 {"expected 'official' or 'mobilenext.pytorch'", "found 'keras'"});
}

TEST(ModelFile, FileThatFitsNoMobileNeXt) {
    const NetworkConfig config = make_config(0.5);
    StateDict dict = random_dict(config);
    dict["features.0.0.weight"] = HostTensor{{7, 3, 3, 3}, std::vector<float>(7 * 27, 0.1f)};
    for (const char* f : {"weight", "bias", "running_mean", "running_var"})
        dict[std::string("features.0.1.") + f] = HostTensor{{7}, std::vector<float>(7, 1.0f)};
    expect_error(load_error(dict), "features.0.0.weight",
                 {"stem and classifier shapes of some MobileNeXt width", "found stem [7, 3, 3, 3], classifier [37, 1280]"});

    StateDict no_stem = random_dict(config);
    no_stem.erase("features.0.0.weight");
    expect_error(load_error(no_stem), "features.0.0.weight", {"the stem convolution of a MobileNeXt", "no such tensor"});

    StateDict flat_head = random_dict(config);
    flat_head["classifier.1.weight"].shape = {37 * 1280};
    expect_error(load_error(flat_head), "classifier.1.weight", {"the classifier of a MobileNeXt", "found shape [47360]"});

    expect_error(load_error(StateDict{}), "features.0.0.weight", {"no such tensor"});
}

TEST(ModelFile, ThirdPartyHeadName) {
    StateDict dict = random_dict(make_config(0.5));
    dict["classifier.weight"] = dict.at("classifier.1.weight");
    dict["classifier.bias"] = dict.at("classifier.1.bias");
    dict.erase("classifier.1.weight");
    dict.erase("classifier.1.bias");
    expect_error(load_error(dict), "classifier.weight",
                 {"the authors' names (classifier.1.weight)", "tools/convert.py", "found a third-party layout"});
}

TEST(ModelFile, NonFiniteWeightsAreRefused) {
    const NetworkConfig config = make_config(0.35, 7);
    const StateDict good = random_dict(config);
    StateDict nan = good;
    nan["features.3.conv.3.weight"].values[5] = std::numeric_limits<float>::quiet_NaN();
    expect_error(load_error(nan), "features.3.conv.3.weight", {"expected finite values", "nan at index 5"});
    StateDict inf = good;
    inf["features.0.1.running_var"].values[0] = -std::numeric_limits<float>::infinity();
    expect_error(load_error(inf, architecture_metadata(config, "0.35")), "features.0.1.running_var",
                 {"expected finite values", "-inf at index 0"});
    // Finite in F64 but not in float: refused as well.
    testing::SafetensorsWriter w;
    for (const auto& [name, t] : good)
        if (name != "classifier.1.bias") w.add(name, t);
    std::string data;
    for (int i = 0; i < 7; ++i) {
        const double d = i == 2 ? 1e300 : 0.5;
        std::uint64_t b;
        std::memcpy(&b, &d, 8);
        testing::append_le(data, b, 8);
    }
    w.add_raw("classifier.1.bias", "F64", {7}, data);
    try {
        load_bytes(w.bytes());
        FAIL() << "no LoadError";
    } catch (const LoadError& e) {
        expect_error(e, "classifier.1.bias", {"finite values", "inf at index 2"});
    }
}

TEST(ModelFile, BatchNormThatFoldsToGarbageIsRefused) {
    const NetworkConfig config = make_config(0.35, 7);
    const StateDict good = random_dict(config);
    // A negative variance has no square root: every logit would be NaN.
    StateDict negative = good;
    negative["features.4.conv.1.running_var"].values[3] = -0.5f;
    expect_error(load_error(negative), "features.4.conv.1.running_var", {"variances >= 0", "running_var[3] = -0.5"});
    // Finite values that overflow float once folded: gamma 3e38 over a zero variance.
    StateDict overflowing = good;
    overflowing["features.0.1.weight"].values[1] = 3e38f;
    overflowing["features.0.1.running_var"].values[1] = 0.0f;
    expect_error(load_error(overflowing), "features.0.1.weight", {"fit in float", "channel 1 folds to scale inf"});
}

// ---------------------------------------------------------------- labels, test vectors, preprocessing

TEST(ModelFile, Labels) {
    const NetworkConfig config = make_config(0.35, 3);
    const StateDict dict = random_dict(config);
    const Model model = load_dict(dict, {{"mobilenext.labels", R"(["cat", "dog", "caf\u00e9"])"}});
    EXPECT_EQ(model.info().labels, (std::vector<std::string>{"cat", "dog", "caf\xc3\xa9"}));

    expect_error(load_error(dict, {{"mobilenext.labels", R"(["cat", "dog"])"}}), "__metadata__.mobilenext.labels",
                 {"expected 3 names", "found 2"});
    expect_error(load_error(dict, {{"mobilenext.labels", R"(["a", "b", "c", "d"])"}}), "__metadata__.mobilenext.labels",
                 {"expected 3 names", "found 4"});
    expect_error(load_error(dict, {{"mobilenext.labels", R"(["a", 2, "c"])"}}), "__metadata__.mobilenext.labels",
                 {"strings", "found 2"});
    expect_error(load_error(dict, {{"mobilenext.labels", "cat dog"}}), "__metadata__.mobilenext.labels", {"JSON text"});
}

TEST(ModelFile, CorrectTestVectorPasses) {
    const NetworkConfig config = make_config(0.35, 11);
    const StateDict dict = random_dict(config);
    std::vector<float> output;
    const std::string tv = make_test_vector(Model::from_state_dict(config, dict), &output);
    Metadata m = architecture_metadata(config, "0.35");
    m["mobilenext.test_vector"] = tv;
    const Model model = load_dict(dict, m);
    ASSERT_TRUE(model.info().test_vector.has_value());
    EXPECT_EQ(model.info().test_vector->input_shape, (std::vector<std::int64_t>{1, 3, 32, 32}));
    EXPECT_EQ(model.info().test_vector->input.size(), 3u * 32 * 32);
    EXPECT_EQ(model.info().test_vector->output, output);
    // Without architecture metadata too.
    EXPECT_NO_THROW(load_dict(dict, {{"mobilenext.test_vector", tv}}));
}

TEST(ModelFile, WrongTestVectorIsRefusedUnlessVerificationIsOff) {
    const NetworkConfig config = make_config(0.35, 11);
    const StateDict dict = random_dict(config);
    std::vector<float> output;
    nlohmann::json j = nlohmann::json::parse(make_test_vector(Model::from_state_dict(config, dict), &output));
    j["output"][4] = output[4] + 1.0f;
    Metadata m = architecture_metadata(config, "0.35");
    m["mobilenext.test_vector"] = j.dump();
    expect_error(load_error(dict, m), "__metadata__.mobilenext.test_vector",
                 {"logits within", "of PyTorch's", "at logit 4", "does not compute what it was converted from"});

    LoadOptions skip;
    skip.verify_test_vector = false;
    const Model model = load_dict(dict, m, skip);
    ASSERT_TRUE(model.info().test_vector.has_value());
    EXPECT_EQ(model.info().test_vector->output[4], output[4] + 1.0f);
    expect_same_logits(model, config, dict);
    EXPECT_NO_THROW(load_dict(dict, m, LoadOptions{false, std::nullopt, ""}));
}

TEST(ModelFile, MalformedTestVector) {
    const NetworkConfig config = make_config(0.35, 11);
    const StateDict dict = random_dict(config);
    const std::string key = "__metadata__.mobilenext.test_vector";
    const nlohmann::json good = nlohmann::json::parse(make_test_vector(Model::from_state_dict(config, dict)));
    const auto with = [&](const std::string& field, const nlohmann::json& value) {
        nlohmann::json j = good;
        j[field] = value;
        return Metadata{{"mobilenext.test_vector", j.dump()}};
    };
    expect_error(load_error(dict, {{"mobilenext.test_vector", "{"}}), key, {"JSON text"});
    expect_error(load_error(dict, {{"mobilenext.test_vector", R"({"input": []})"}}), key,
                 {"an object with input_shape, input (or input_seed), output"});
    expect_error(load_error(dict, with("input_shape", {1, 1, 32, 32})), key + ".input_shape", {"[N, 3, H, W]"});
    expect_error(load_error(dict, with("input_shape", {1, 3, 32})), key + ".input_shape", {"[N, 3, H, W]"});
    expect_error(load_error(dict, with("input_shape", {1, 3, 32, 0.5})), key + ".input_shape", {"4 positive sizes"});
    expect_error(load_error(dict, with("input", {1.0, 2.0})), key + ".input", {"3072 values", "found 2"});
    expect_error(load_error(dict, with("output", {1.0})), key + ".output", {"11 values", "found 1"});
    expect_error(load_error(dict, with("output", "text")), key + ".output", {"an array of numbers"});
}

TEST(ModelFile, PreprocessingMetadata) {
    const NetworkConfig config = make_config(0.35, 7);
    const StateDict dict = random_dict(config);
    const Model model = load_dict(
        dict, {{"mobilenext.preprocess",
                R"({"resize": 160, "crop": 128, "interpolation": "bilinear", "mean": [0.5, 0.25, 0.125], "std": [0.5, 0.5, 0.25]})"}});
    const Preprocessing& p = model.info().preprocessing;
    EXPECT_EQ(p.resize, 160);
    EXPECT_EQ(p.crop, 128);
    EXPECT_EQ(p.interpolation, "bilinear");
    EXPECT_EQ(p.mean, (std::vector<float>{0.5f, 0.25f, 0.125f}));
    EXPECT_EQ(p.std, (std::vector<float>{0.5f, 0.5f, 0.25f}));

    // Fields left out keep the ImageNet defaults.
    const Preprocessing defaults;
    const Model partial = load_dict(dict, {{"mobilenext.preprocess", R"({"crop": 200})"}});
    EXPECT_EQ(partial.info().preprocessing.crop, 200);
    EXPECT_EQ(partial.info().preprocessing.resize, defaults.resize);
    EXPECT_EQ(partial.info().preprocessing.mean, defaults.mean);
    const Model none = load_dict(dict);
    EXPECT_EQ(none.info().preprocessing.std, defaults.std);
}

TEST(ModelFile, OneChannelModelKeepsTheFirstChannelStatistics) {
    const NetworkConfig config = make_config(0.35, 7, 1);
    const StateDict dict = random_dict(config);
    const Model model = load_dict(
        dict, {{"mobilenext.preprocess", R"({"mean": [0.5, 0.25, 0.125], "std": [0.75, 0.5, 0.25]})"}});
    EXPECT_EQ(model.info().preprocessing.mean, std::vector<float>{0.5f});
    EXPECT_EQ(model.info().preprocessing.std, std::vector<float>{0.75f});
    const Preprocessing defaults;
    const Model plain = load_dict(dict);
    EXPECT_EQ(plain.info().preprocessing.mean, std::vector<float>{defaults.mean[0]});
    EXPECT_EQ(plain.info().preprocessing.std, std::vector<float>{defaults.std[0]});
}

// A weights-only file of a model with neither 1 nor 3 input channels loads: without stated
// statistics, its pixels are only scaled.
TEST(ModelFile, TwoChannelModelWithoutPreprocessingLoads) {
    const NetworkConfig config = make_config(0.35, 7, 2);
    const StateDict dict = random_dict(config);
    const Model model = load_dict(dict);
    EXPECT_EQ(model.info().config.in_channels, 2);
    expect_same_logits(model, config, dict);
}

TEST(ModelFile, MalformedPreprocessing) {
    const StateDict dict = random_dict(make_config(0.35, 7));
    const std::string key = "__metadata__.mobilenext.preprocess";
    const auto pre = [](const std::string& json) { return Metadata{{"mobilenext.preprocess", json}}; };
    expect_error(load_error(dict, pre("{resize}")), key, {"expected JSON text", "found '{resize}'"});
    expect_error(load_error(dict, pre("[1, 2]")), key, {"a JSON object", "found array"});
    expect_error(load_error(dict, pre(R"({"crop": 0})")), key + ".crop", {"an integer in [1, 2048]", "found 0"});
    expect_error(load_error(dict, pre(R"({"resize": 256.5})")), key + ".resize", {"found 256.5"});
    expect_error(load_error(dict, pre(R"({"interpolation": 3})")), key + ".interpolation", {"a string", "found 3"});
    expect_error(load_error(dict, pre(R"({"std": [0.2, 0.0, 0.2]})")), key + ".std", {"positive values"});
    expect_error(load_error(dict, pre(R"({"mean": [0.2, "x", 0.2]})")), key + ".mean", {"an array of numbers"});
    expect_error(load_error(dict, pre(R"({"mean": [0.5, 0.5]})")), key, {"3 means and stds", "found 2 and 3"});
}

TEST(ModelFile, MissingFileIsALoadError) {
    const std::string path = ::testing::TempDir() + "mobilenext_missing_model.safetensors";
    try {
        Model::load(path);
        FAIL() << "no LoadError";
    } catch (const LoadError& e) {
        expect_error(e, "", {"no such file"}, path);
    }
}

// ---------------------------------------------------------------- one validating builder

// A NaN weight and a weight that overflows once its BatchNorm scale is folded in are refused
// the same way whether the model comes from a file, from a state dict or from a parsed file.
TEST(ModelFile, EveryEntryPointRefusesTheSameBrokenWeights) {
    const NetworkConfig config = make_config(0.35);
    StateDict nan = random_dict(config);
    nan["features.3.conv.2.weight"].values[5] = std::numeric_limits<float>::quiet_NaN();
    StateDict overflow = random_dict(config);
    overflow["features.0.0.weight"].values[0] = 3e38f;
    overflow["features.0.1.weight"].values[0] = 100.0f;  // gamma: folded scale x weight = inf
    StateDict huge = random_dict(config);
    huge["features.0.0.weight"].values[0] = 3e38f;  // finite once folded, infinite in the first layer
    for (const StateDict* dict : {&nan, &overflow, &huge}) {
        const std::string tensor = dict == &nan ? "features.3.conv.2.weight" : "features.0.0.weight";
        expect_error(load_error(*dict, architecture_metadata(config, "0.35")), tensor, {"finite"});
        ModelInfo info;
        info.path = kFile;
        info.config = config;
        try {
            Model::from_state_dict(*dict, info);
            ADD_FAILURE() << "from_state_dict accepted " << tensor;
        } catch (const LoadError& e) {
            EXPECT_EQ(e.tensor(), tensor);
            EXPECT_NE(std::string(e.what()).find("finite"), std::string::npos) << e.what();
        }
    }
}

TEST(ModelFile, TestVectorStatusSaysWhatWasChecked) {
    const NetworkConfig config = make_config(0.35);
    const StateDict dict = random_dict(config);
    EXPECT_EQ(load_dict(dict, architecture_metadata(config, "0.35")).info().test_vector_status, TestVectorStatus::absent);
    Metadata m = architecture_metadata(config, "0.35");
    m["mobilenext.test_vector"] = make_test_vector(Model::from_state_dict(config, dict));
    EXPECT_EQ(load_dict(dict, m).info().test_vector_status, TestVectorStatus::checked);
    EXPECT_EQ(load_dict(dict, m, LoadOptions{false, std::nullopt, ""}).info().test_vector_status,
              TestVectorStatus::skipped);
    EXPECT_EQ(Model::random(config, 3).info().test_vector_status, TestVectorStatus::absent);
}

// An expected logit of 1e39 is a JSON number but no float: as infinity it made the tolerance
// infinite and every comparison pass.
TEST(ModelFile, TestVectorValuesMustBeFiniteFloats) {
    const NetworkConfig config = make_config(0.35);
    const StateDict dict = random_dict(config);
    nlohmann::json j = nlohmann::json::parse(make_test_vector(Model::from_state_dict(config, dict)));
    j["output"][0] = 1e39;
    Metadata m = architecture_metadata(config, "0.35");
    m["mobilenext.test_vector"] = j.dump();
    expect_error(load_error(dict, m), "__metadata__.mobilenext.test_vector.output", {"finite as float", "element 0"});
}

// Metadata nested 100,000 deep overflowed the stack when parsed (or dumped into a message).
TEST(ModelFile, DeeplyNestedMetadataIsRefusedWithoutRecursion) {
    const NetworkConfig config = make_config(0.35);
    const StateDict dict = random_dict(config);
    const std::string deep = std::string(100000, '[') + std::string(100000, ']');
    for (const char* key : {"mobilenext.labels", "mobilenext.test_vector", "mobilenext.preprocess"}) {
        Metadata m = architecture_metadata(config, "0.35");
        m[key] = deep;
        expect_error(load_error(dict, m), std::string("__metadata__.") + key, {"nested at most"});
    }
    Metadata m = architecture_metadata(config, "0.35");
    m["mobilenext.preprocess"] = R"({"resize": )" + deep + "}";
    expect_error(load_error(dict, m), "__metadata__.mobilenext.preprocess", {"nested at most"});
}

TEST(ModelFile, APyTorchCheckpointIsNamedAsSuch) {
    for (const std::string& bytes : {std::string("PK\x03\x04" "archive....", 15), std::string("\x80\x02}q\x00(X\x05", 8)}) {
        try {
            load_bytes(bytes);
            ADD_FAILURE() << "no error";
        } catch (const LoadError& e) {
            EXPECT_NE(std::string(e.what()).find("a PyTorch checkpoint"), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find("tools/convert.py"), std::string::npos) << e.what();
        }
    }
}

// The converter stores the test vector's input as a seed; the loader makes the same values.
TEST(ModelFile, TestVectorInputFromASeedIsTheConvertersSequence) {
    // tools/convert.py's test_vector_input(0, 4), as numpy computes it.
    EXPECT_EQ(internal::test_vector_input(0, 4),
              (std::vector<float>{0x1.8882ap+0f, -0x1.18762p-2f, -0x1.e4ee8cp+0f, 0x1.e22eep+0f}));
    const NetworkConfig config = make_config(0.35);
    const StateDict dict = random_dict(config);
    const Model model = Model::from_state_dict(config, dict);
    const std::vector<float> input = internal::test_vector_input(7, std::size_t(3) * 65 * 65);
    const Tensor logits = model.forward(Tensor::from_nchw(input.data(), 1, 3, 65, 65));
    nlohmann::json j;
    j["input_shape"] = {1, 3, 65, 65};
    j["input_seed"] = 7;
    j["output"] = std::vector<float>(logits.data(), logits.data() + logits.size());
    Metadata m = architecture_metadata(config, "0.35");
    m["mobilenext.test_vector"] = j.dump();
    EXPECT_EQ(load_dict(dict, m).info().test_vector_status, TestVectorStatus::checked);
    j["input_seed"] = 8;
    m["mobilenext.test_vector"] = j.dump();
    expect_error(load_error(dict, m), "__metadata__.mobilenext.test_vector", {"does not compute"});
}

}  // namespace
}  // namespace mobilenext
