// The int8 sandglass block on every int8 kernel set against the int8 reference set, bit for bit,
// over the four block forms, stride 1 and 2, channel counts that are not multiples of any
// vector or tile, odd sizes; the quantization helpers' invariants; an int8 network quantized
// from a random-weight float network against that float network, and its kernel sets against
// each other.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <mobilenext/blocks/int8_sandglass_block.hpp>
#include <mobilenext/kernels/int8/int8_kernel_registry.hpp>
#include <mobilenext/kernels/int8/reference_int8_kernels.hpp>

#include "int8_test_support.hpp"
#include <mobilenext/model/folded_weights.hpp>
#include <mobilenext/model/int8_network.hpp>
#include <mobilenext/quantization/activation_observers.hpp>
#include <mobilenext/quantization/bias_quantization.hpp>
#include <mobilenext/quantization/quantize_network.hpp>
#include <mobilenext/quantization/u8_quantization.hpp>
#include <mobilenext/quantization/weight_quantization.hpp>

#include "test_support.hpp"

namespace mobilenext {
namespace {

using kernels::Int8KernelTable;
using test::Int8TableName;
using test::random_ints;
using test::vector_int8_tables;
const Int8KernelTable& Int8Ref = kernels::kReferenceInt8Kernels;

class Int8BlockTest : public ::testing::TestWithParam<const Int8KernelTable*> {
protected:
    const Int8KernelTable& K() const { return *GetParam(); }
};
INSTANTIATE_TEST_SUITE_P(EveryVectorSet, Int8BlockTest, ::testing::ValuesIn(vector_int8_tables()), Int8TableName{});
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Int8BlockTest);

// Multipliers that spread sums of `terms` products of random values over the output range.
std::vector<float> random_multipliers(int channels, int terms, std::mt19937& engine) {
    std::uniform_real_distribution<float> dist(0.3f, 1.5f);
    const float typical = 0.02f / std::sqrt(float(terms));
    std::vector<float> m(static_cast<std::size_t>(channels));
    for (float& x : m) x = dist(engine) * typical;
    return m;
}

// A ReLU6 output's zero point is low (its range starts at 0.0) so that the clamp leaves room.
U8Quantization random_quantization(std::mt19937& engine, bool relu6 = false) {
    std::uniform_real_distribution<float> scale(0.01f, 0.1f);
    return {scale(engine), std::uniform_int_distribution<int>(0, relu6 ? 30 : 255)(engine)};
}

Int8PointwiseLayer random_pointwise_layer(int in, int out, int input_zero_point, const U8Quantization& output,
                                          Activation act, std::mt19937& engine) {
    Int8PointwiseLayer l;
    l.in_channels = in;
    l.out_channels = out;
    l.weights = random_ints<std::int8_t>(std::size_t(in) * out, -64, 64, engine);
    const auto bias = random_ints<std::int32_t>(std::size_t(out), -3000, 3000, engine);
    l.bias = fold_input_zero_point(bias.data(), l.weights.data(), out, in, input_zero_point);
    l.multipliers = random_multipliers(out, in, engine);
    l.range = output_range(output.scale, output.zero_point, act);
    return l;
}

Int8DepthwiseLayer random_depthwise_layer(int channels, int input_zero_point, const U8Quantization& output,
                                          Activation act, std::mt19937& engine) {
    Int8DepthwiseLayer l;
    l.channels = channels;
    l.input_zero_point = input_zero_point;
    l.weights = random_ints<std::int8_t>(std::size_t(channels) * 9, -64, 64, engine);
    const auto bias = random_ints<std::int32_t>(std::size_t(channels), -3000, 3000, engine);
    l.bias = fold_input_zero_point(bias.data(), l.weights.data(), channels, 9, input_zero_point);
    l.multipliers = random_multipliers(channels, 9, engine);
    l.range = output_range(output.scale, output.zero_point, act);
    return l;
}

// Random layers for a spec, each tensor with its own random scale and zero point.
Int8SandglassLayers random_block_layers(const BlockSpec& b, std::mt19937& engine) {
    Int8SandglassLayers l;
    l.input = random_quantization(engine);
    int zero_point = l.input.zero_point;
    if (b.has_input_dw()) {
        const U8Quantization q = random_quantization(engine, true);
        l.input_dw = random_depthwise_layer(b.in_channels, zero_point, q, Activation::relu6, engine);
        zero_point = q.zero_point;
    }
    const U8Quantization hidden = random_quantization(engine), expanded = random_quantization(engine, true);
    l.reduce = random_pointwise_layer(b.in_channels, b.hidden, zero_point, hidden, Activation::none, engine);
    l.expand = random_pointwise_layer(b.hidden, b.out_channels, hidden.zero_point, expanded, Activation::relu6, engine);
    l.output = expanded;
    if (b.has_output_dw()) {
        l.output = random_quantization(engine);
        l.output_dw = random_depthwise_layer(b.out_channels, expanded.zero_point, l.output, Activation::none, engine);
    }
    if (b.shortcut_channels > 0) {
        const U8Quantization y = random_quantization(engine);
        l.shortcut = shortcut_add_u8(l.output.scale, l.output.zero_point, l.input.scale, l.input.zero_point, y.scale,
                                     y.zero_point);
        l.output = y;
    }
    return l;
}

BlockSpec block_spec(BlockForm form, int in, int hidden, int out, int stride, int shortcut) {
    BlockSpec b;
    b.index = 1;
    b.form = form;
    b.in_channels = in;
    b.hidden = hidden;
    b.out_channels = out;
    b.stride = stride;
    b.shortcut_channels = shortcut;
    return b;
}

std::string block_name(const BlockSpec& b, int height, int width) {
    return std::string(block_form_name(b.form)) + " " + std::to_string(b.in_channels) + "->" +
           std::to_string(b.hidden) + "->" + std::to_string(b.out_channels) + " stride " + std::to_string(b.stride) +
           " shortcut " + std::to_string(b.shortcut_channels) + " HxW " + std::to_string(height) + "x" +
           std::to_string(width);
}

// The block's output for one image, with guard bytes after it that must stay untouched.
std::vector<std::uint8_t> run_block(const Int8SandglassBlock& block, const std::vector<std::uint8_t>& input, int height,
                                    int width) {
    const std::size_t out_size = std::size_t(block.output_height(height)) * block.output_width(width) *
                                 std::size_t(block.spec().out_channels);
    std::vector<std::uint8_t> output(out_size + 9, 0xA5);
    AlignedBuffer scratch((block.scratch_bytes(height, width) + 3) / 4);
    block.forward(input.data(), height, width, output.data(), reinterpret_cast<std::uint8_t*>(scratch.data()));
    for (std::size_t i = out_size; i < output.size(); ++i) EXPECT_EQ(output[i], 0xA5) << "written past the output's end";
    output.resize(out_size);
    return output;
}

::testing::AssertionResult same_bytes(const std::vector<std::uint8_t>& actual, const std::vector<std::uint8_t>& expected) {
    if (actual.size() != expected.size())
        return ::testing::AssertionFailure() << actual.size() << " bytes, expected " << expected.size();
    for (std::size_t i = 0; i < expected.size(); ++i)
        if (actual[i] != expected[i])
            return ::testing::AssertionFailure() << "byte " << i << " is " << int(actual[i]) << ", expected "
                                                 << int(expected[i]);
    return ::testing::AssertionSuccess();
}

TEST_P(Int8BlockTest, MatchesReferenceBlockBitForBit) {
    SCOPED_TRACE(K().name());
    std::mt19937 engine(11);
    const BlockSpec specs[] = {
        block_spec(BlockForm::head_t2, 5, 7, 19, 2, 0),
        block_spec(BlockForm::head_t2, 24, 12, 33, 1, 0),
        block_spec(BlockForm::pointwise_only, 17, 5, 33, 1, 0),
        block_spec(BlockForm::pointwise_only, 65, 13, 3, 1, 0),
        block_spec(BlockForm::pointwise_dw_s2, 24, 9, 40, 2, 0),
        block_spec(BlockForm::pointwise_dw_s2, 3, 17, 67, 2, 0),
        block_spec(BlockForm::full, 37, 7, 37, 1, 18),
        block_spec(BlockForm::full, 37, 7, 37, 1, 37),
        block_spec(BlockForm::full, 70, 11, 70, 1, 35),
        block_spec(BlockForm::full, 20, 4, 20, 1, 0),
        block_spec(BlockForm::full, 17, 6, 17, 2, 0),
    };
    const int sizes[][2] = {{1, 1}, {5, 7}, {9, 4}, {16, 13}, {2, 3}};
    for (const BlockSpec& spec : specs) {
        const Int8SandglassLayers layers = random_block_layers(spec, engine);
        const Int8SandglassBlock reference(spec, layers, Int8Ref);
        const Int8SandglassBlock block(spec, layers, K());
        std::uint8_t lowest = 255, highest = 0;
        for (const auto& size : sizes) {
            SCOPED_TRACE(block_name(spec, size[0], size[1]));
            const auto input =
                random_ints<std::uint8_t>(std::size_t(size[0]) * size[1] * spec.in_channels, 0, 255, engine);
            const std::vector<std::uint8_t> expected = run_block(reference, input, size[0], size[1]);
            ASSERT_TRUE(same_bytes(run_block(block, input, size[0], size[1]), expected));
            lowest = std::min(lowest, *std::min_element(expected.begin(), expected.end()));
            highest = std::max(highest, *std::max_element(expected.begin(), expected.end()));
        }
        // The random layers spread the outputs: a constant output would test little.
        EXPECT_GT(highest - lowest, 32) << block_name(spec, 0, 0);
    }
}

TEST(Int8Block, RefusesLayersThatDoNotMatchTheSpec) {
    std::mt19937 engine(12);
    const BlockSpec spec = block_spec(BlockForm::full, 16, 4, 16, 1, 8);
    Int8SandglassLayers layers = random_block_layers(spec, engine);
    layers.reduce.out_channels = 5;
    EXPECT_THROW(Int8SandglassBlock(spec, layers, Int8Ref), Error);
    layers = random_block_layers(spec, engine);
    layers.expand.weights[3] = 65;
    EXPECT_THROW(Int8SandglassBlock(spec, layers, Int8Ref), Error);
    layers = random_block_layers(spec, engine);
    layers.output_dw = Int8DepthwiseLayer{};
    EXPECT_THROW(Int8SandglassBlock(spec, layers, Int8Ref), Error);
}

// The reference block is the layers' reference kernels one after the other.
TEST(Int8Block, ReferenceBlockIsItsLayersInOrder) {
    std::mt19937 engine(13);
    const BlockSpec spec = block_spec(BlockForm::full, 21, 6, 21, 1, 10);
    const Int8SandglassLayers l = random_block_layers(spec, engine);
    const int h = 6, w = 5;
    const std::size_t pixels = std::size_t(h) * w;
    const auto input = random_ints<std::uint8_t>(pixels * 21, 0, 255, engine);
    const auto in_dw = pack_depthwise_u8s8(l.input_dw.weights.data(), l.input_dw.bias.data(),
                                           l.input_dw.multipliers.data(), 21, l.input_dw.input_zero_point,
                                           l.input_dw.range);
    const auto reduce = pack_pointwise_u8s8(l.reduce.weights.data(), l.reduce.bias.data(), l.reduce.multipliers.data(),
                                            21, 6, l.reduce.range, 64);
    const auto expand = pack_pointwise_u8s8(l.expand.weights.data(), l.expand.bias.data(), l.expand.multipliers.data(),
                                            6, 21, l.expand.range, 64);
    const auto out_dw = pack_depthwise_u8s8(l.output_dw.weights.data(), l.output_dw.bias.data(),
                                            l.output_dw.multipliers.data(), 21, l.output_dw.input_zero_point,
                                            l.output_dw.range);
    std::vector<std::uint8_t> t1(pixels * 21), t2(pixels * 6), t3(pixels * 21), t4(pixels * 21), y(pixels * 21);
    Int8Ref.dwconv3x3_u8s8(input.data(), whole_image(h, w, 1), in_dw.view(), t1.data());
    Int8Ref.pointwise_conv_u8s8(t1.data(), pixels, reduce.view(), t2.data());
    Int8Ref.pointwise_conv_u8s8(t2.data(), pixels, expand.view(), t3.data());
    Int8Ref.dwconv3x3_u8s8(t3.data(), whole_image(h, w, 1), out_dw.view(), t4.data());
    Int8Ref.add_partial_shortcut_u8(t4.data(), input.data(), pixels, 21, 10, l.shortcut, y.data());
    EXPECT_TRUE(same_bytes(run_block(Int8SandglassBlock(spec, l, Int8Ref), input, h, w), y));
}

// ---- quantization helpers ----

TEST(Quantization, ZeroIsExactlyRepresentable) {
    const ActivationRange ranges[] = {{0.0f, 6.0f},   {-3.0f, -1.0f}, {2.0f, 5.0f},    {0.0f, 0.0f},
                                      {-1e-9f, 1e-9f}, {-5.0f, 1.0f}, {-0.37f, 11.3f}, {-1e6f, 3e5f}};
    for (const ActivationRange& r : ranges) {
        SCOPED_TRACE("range [" + std::to_string(r.min) + ", " + std::to_string(r.max) + "]");
        const U8Quantization q = choose_u8_quantization(r);
        EXPECT_TRUE(q.scale > 0.0f && std::isfinite(q.scale)) << q.scale;
        EXPECT_GE(q.zero_point, 0);
        EXPECT_LE(q.zero_point, 255);
        EXPECT_EQ(int(quantize_u8(0.0f, q)), q.zero_point);
        EXPECT_EQ(dequantize_u8(std::uint8_t(q.zero_point), q), 0.0f);
        // The range is covered to within half a step at each end.
        EXPECT_LE(dequantize_u8(0, q), std::min(0.0f, r.min) + 0.5f * q.scale + 1e-6f * std::fabs(r.min));
        EXPECT_GE(dequantize_u8(255, q), std::max(0.0f, r.max) - 0.5f * q.scale - 1e-6f * std::fabs(r.max));
    }
    EXPECT_EQ(choose_u8_quantization({0.0f, 6.0f}).zero_point, 0) << "ReLU6 outputs need no zero point";
    EXPECT_THROW(choose_u8_quantization({0.0f, std::numeric_limits<float>::infinity()}), Error);
    EXPECT_THROW(choose_u8_quantization({std::nanf(""), 1.0f}), Error);
    EXPECT_THROW(choose_u8_quantization({2.0f, 1.0f}), Error);
}

TEST(Quantization, QuantizeRoundsHalfToEvenAndSaturates) {
    const U8Quantization q{0.5f, 10};
    EXPECT_EQ(int(quantize_u8(0.25f, q)), 10);   // 0.5 -> 0
    EXPECT_EQ(int(quantize_u8(0.75f, q)), 12);   // 1.5 -> 2
    EXPECT_EQ(int(quantize_u8(-0.25f, q)), 10);  // -0.5 -> 0
    EXPECT_EQ(int(quantize_u8(1e30f, q)), 255);
    EXPECT_EQ(int(quantize_u8(-1e30f, q)), 0);
}

TEST(Quantization, ObserversRefuseNonFiniteCalibrationData) {
    for (ObserverKind kind : {ObserverKind::minmax, ObserverKind::percentile, ObserverKind::mse}) {
        SCOPED_TRACE(observer_kind_name(kind));
        ActivationObserver observer({kind, 99.9}, "test tensor");
        const float values[] = {1.0f, std::numeric_limits<float>::quiet_NaN()};
        try {
            observer.observe(values, 2);
            ADD_FAILURE() << "a NaN was accepted";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("test tensor"), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find("value 1"), std::string::npos) << e.what();
        }
        const float infinite[] = {std::numeric_limits<float>::infinity()};
        EXPECT_THROW(observer.observe(infinite, 1), Error);
    }
    EXPECT_THROW(ActivationObserver({ObserverKind::minmax}).range(), Error) << "no values observed";
}

TEST(Quantization, ObserversClipOutliersAsTheirKindSays) {
    std::mt19937 engine(21);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> values(20000);
    for (float& v : values) v = normal(engine);
    values[77] = 40.0f;  // one outlier
    ActivationObserver minmax({ObserverKind::minmax}), percentile({ObserverKind::percentile, 99.9}),
        mse({ObserverKind::mse});
    for (ActivationObserver* o : {&minmax, &percentile, &mse}) o->observe(values.data(), values.size());
    EXPECT_EQ(minmax.range().max, 40.0f);
    const ActivationRange p = percentile.range(), m = mse.range();
    EXPECT_GT(p.max, 2.5f);
    EXPECT_LT(p.max, 4.0f) << "the 99.9th percentile of a unit normal is near 3.1";
    EXPECT_LT(p.min, -2.5f);
    EXPECT_LT(m.max, 40.0f) << "clipping the lone outlier costs less than the coarser scale";
    EXPECT_GT(m.max, 2.0f);
    EXPECT_LE(m.min, 0.0f);
}

TEST(Quantization, WeightsPerChannelStayWithinTheExactRange) {
    std::mt19937 engine(22);
    const int channels = 9, taps = 37;
    std::vector<float> weights(std::size_t(channels) * taps);
    for (int c = 0; c < channels; ++c)
        for (int k = 0; k < taps; ++k)
            weights[std::size_t(c) * taps + k] =
                c == 4 ? 0.0f : std::uniform_real_distribution<float>(-1.0f, 1.0f)(engine) * std::pow(10.0f, float(c - 4));
    const QuantizedWeights q = quantize_weights_per_channel(weights.data(), channels, taps);
    for (int c = 0; c < channels; ++c) {
        SCOPED_TRACE("channel " + std::to_string(c));
        const float s = q.scales[std::size_t(c)];
        EXPECT_TRUE(s > 0.0f && std::isfinite(s)) << s;
        int largest = 0;
        for (int k = 0; k < taps; ++k) {
            const int v = q.values[std::size_t(c) * taps + k];
            ASSERT_GE(v, -64);
            ASSERT_LE(v, 64);
            largest = std::max(largest, std::abs(v));
            EXPECT_LE(std::fabs(weights[std::size_t(c) * taps + k] - float(v) * s), 0.5f * s * 1.0001f);
        }
        EXPECT_EQ(largest, c == 4 ? 0 : 64) << "the largest weight uses the whole range";
    }
    weights[5] = std::numeric_limits<float>::infinity();
    EXPECT_THROW(quantize_weights_per_channel(weights.data(), channels, taps), Error);
}

TEST(Quantization, BiasesFitTheirInt32Range) {
    const float bias[] = {0.3f, -2.0f, 1e4f};
    const float weight_scales[] = {0.01f, 0.02f, 1e-6f};
    EXPECT_THROW(quantize_bias(bias, 3, 0.01f, weight_scales), Error) << "1e4 / 1e-8 does not fit";
    float fitting[3];
    for (int c = 0; c < 3; ++c) fitting[c] = std::max(weight_scales[c], min_weight_scale_for_bias(bias[c], 0.01f));
    const std::vector<std::int32_t> q = quantize_bias(bias, 3, 0.01f, fitting);
    EXPECT_EQ(q[0], 3000);
    EXPECT_EQ(q[1], -10000);
    EXPECT_LT(std::abs(double(q[2])), kMaxQuantizedBias);
    EXPECT_NEAR(double(q[2]) * 0.01 * fitting[2], 1e4, 1e4 * 1e-6);
}

// ---- the whole network ----

NetworkConfig small_config(double width, int identity_div) {
    NetworkConfig config;
    config.width = width;
    config.identity_div = identity_div;
    config.num_classes = 40;
    return config;
}

// Calibration-like inputs: the distribution of the calibration batch, other samples.
TEST(Int8Network, RefusesNonFiniteCalibrationData) {
    const NetworkConfig config = small_config(0.35, 1);
    const FoldedNetworkWeights folded = read_folded_weights(config, make_random_state_dict(derive_topology(config), 3));
    Tensor batch = testing::random_input(2, 16, 16, 3, 4);
    batch.data()[batch.size() - 2] = std::numeric_limits<float>::quiet_NaN();
    try {
        quantize_network(folded, batch.data(), batch.shape());
        ADD_FAILURE() << "a NaN in the calibration batch was accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("[1][15][15][1]"), std::string::npos) << e.what();
    }
    EXPECT_THROW(quantize_network(folded, batch.data(), Shape4{2, 16, 16, 4}), Error) << "wrong channels";
}

// The layer-by-layer float evaluation calibration observes computes the float network.
TEST(Int8Network, LayerwiseFloatEvaluationMatchesTheFloatNetwork) {
    const NetworkConfig config = small_config(0.5, 2);
    const StateDict weights = make_random_state_dict(derive_topology(config), 5);
    const FoldedNetworkWeights folded = read_folded_weights(config, weights);
    const Tensor x = testing::random_input(2, 40, 48, 3, 6);
    const internal::Network network(config, weights, testing::Ref);
    const Tensor expected = network.forward(x);
    // The last tensor observed is the last block's output.
    std::vector<float> last;
    LayerwiseFloatNetwork(folded, testing::Ref).run(x.data(), x.shape(), [&](int, QuantizationPoint, const float* v, std::size_t n) {
        last.assign(v, v + n);
    });
    const int channels = network.topology().last_channels;
    const std::size_t pixels = last.size() / std::size_t(channels) / 2;
    std::vector<float> pooled(std::size_t(2) * channels), logits(std::size_t(2) * config.num_classes);
    testing::Ref.global_average_pool(last.data(), 2, pixels, channels, pooled.data());
    const PackedPointwise classifier = pack_pointwise(folded.classifier_weight.data(), nullptr,
                                                      folded.classifier_bias.data(), channels, config.num_classes);
    testing::Ref.fully_connected(pooled.data(), 2, classifier.view(), logits.data());
    EXPECT_TRUE(testing::all_close(logits.data(), expected.data(), logits.size(), "logits", 1e-4f, 1e-4f));
}

// Pooled last tensor [batch][pixels][channels] through the float classifier.
std::vector<float> classify(const FoldedNetworkWeights& folded, const std::vector<float>& last, int batch) {
    const int channels = folded.topology.last_channels, classes = folded.topology.config.num_classes;
    std::vector<float> pooled(std::size_t(batch) * channels), logits(std::size_t(batch) * classes);
    testing::Ref.global_average_pool(last.data(), batch, last.size() / std::size_t(channels) / std::size_t(batch),
                                     channels, pooled.data());
    const PackedPointwise classifier = pack_pointwise(folded.classifier_weight.data(), nullptr,
                                                      folded.classifier_bias.data(), channels, classes);
    testing::Ref.fully_connected(pooled.data(), batch, classifier.view(), logits.data());
    return logits;
}

// A folded convolution with its weights and bias replaced by their int8 values dequantized,
// quantized as quantize_conv does for an input of quantization `input`.
FoldedConv dequantized_conv(const FoldedConv& conv, const U8Quantization& input) {
    const int channels = conv.out_channels, taps = conv.weights_per_output;
    std::vector<float> min_scales(static_cast<std::size_t>(channels));
    for (int c = 0; c < channels; ++c) min_scales[std::size_t(c)] = min_weight_scale_for_bias(conv.bias[std::size_t(c)], input.scale);
    const QuantizedWeights w = quantize_weights_per_channel(conv.weights.data(), channels, taps, min_scales.data());
    const std::vector<std::int32_t> bias = quantize_bias(conv.bias.data(), channels, input.scale, w.scales.data());
    FoldedConv d = conv;
    for (int c = 0; c < channels; ++c) {
        for (int k = 0; k < taps; ++k) {
            const std::size_t i = std::size_t(c) * taps + k;
            d.weights[i] = float(w.values[i]) * w.scales[std::size_t(c)];
        }
        d.bias[std::size_t(c)] = float(double(bias[std::size_t(c)]) * input.scale * w.scales[std::size_t(c)]);
    }
    return d;
}

// The int8 scheme evaluated in float (fake quantization): the dequantized int8 weights, and
// every tensor rounded to its uint8 grid where the int8 network quantizes it. What is left
// between this and the int8 network is integer arithmetic: float rounding of the
// multipliers, the shortcut add rounding each float step, sums that land on a rounding boundary.
struct SchemeInFloat {
    std::vector<std::vector<std::uint8_t>> block_outputs;  // each block's output, uint8 codes
    std::vector<std::uint8_t> stem_output;
    std::vector<float> logits;
};

SchemeInFloat evaluate_scheme_in_float(const FoldedNetworkWeights& folded, const Int8NetworkWeights& q, const Tensor& x) {
    FoldedNetworkWeights d = folded;
    for (std::size_t i = 0; i < folded.topology.blocks.size(); ++i) {
        const BlockSpec& b = folded.topology.blocks[i];
        const Int8SandglassLayers& l = q.blocks[i];
        if (b.has_input_dw()) d.blocks[i].input_dw = dequantized_conv(folded.blocks[i].input_dw, l.input);
        d.blocks[i].reduce = dequantized_conv(folded.blocks[i].reduce, b.has_input_dw() ? l.tensors.input_dw : l.input);
        d.blocks[i].expand = dequantized_conv(folded.blocks[i].expand, l.tensors.reduce);
        if (b.has_output_dw()) d.blocks[i].output_dw = dequantized_conv(folded.blocks[i].output_dw, l.tensors.expand);
    }
    SchemeInFloat result;
    result.block_outputs.resize(folded.topology.blocks.size());
    std::vector<float> last;
    LayerwiseFloatNetwork(d, testing::Ref).run(x.data(), x.shape(), [&](int block, QuantizationPoint point, float* v, std::size_t n) {
        U8Quantization p = q.stem_output;
        if (block >= 0) {
            const Int8SandglassLayers& l = q.blocks[std::size_t(block)];
            switch (point) {
                case QuantizationPoint::input_dw: p = l.tensors.input_dw; break;
                case QuantizationPoint::reduce: p = l.tensors.reduce; break;
                case QuantizationPoint::expand: p = l.tensors.expand; break;
                case QuantizationPoint::output_dw: p = l.tensors.output_dw; break;
                case QuantizationPoint::block_output: p = l.output; break;
                case QuantizationPoint::stem_output: break;
            }
        }
        std::vector<std::uint8_t> codes(n);
        for (std::size_t i = 0; i < n; ++i) {
            codes[i] = quantize_u8(v[i], p);
            v[i] = dequantize_u8(codes[i], p);
        }
        // The last tensor a block observes is its output.
        if (block < 0) result.stem_output = codes;
        else result.block_outputs[std::size_t(block)] = std::move(codes);
        last.assign(v, v + n);
    });
    // The classifier's int8 weights, dequantized.
    const std::size_t inputs = std::size_t(folded.topology.last_channels);
    for (std::size_t i = 0; i < q.classifier_weight.size(); ++i)
        d.classifier_weight[i] = float(q.classifier_weight[i]) * q.classifier_weight_scales[i / inputs];
    result.logits = classify(d, last, x.shape().n);
    return result;
}

// The largest difference relative to the span of the expected logits, and how many images'
// best class agrees.
struct LogitDistance {
    float relative = 0.0f;
    int agree = 0;
};

LogitDistance distance(const float* actual, const float* expected, int batch, int classes) {
    const std::size_t count = std::size_t(batch) * classes;
    const auto [lo, hi] = std::minmax_element(expected, expected + count);
    float worst = 0.0f;
    for (std::size_t i = 0; i < count; ++i) worst = std::max(worst, std::fabs(actual[i] - expected[i]));
    LogitDistance d;
    d.relative = worst / (*hi - *lo);
    for (int n = 0; n < batch; ++n) {
        const float* e = expected + std::size_t(n) * classes;
        const float* a = actual + std::size_t(n) * classes;
        d.agree += std::max_element(e, e + classes) - e == std::max_element(a, a + classes) - a;
    }
    return d;
}

struct QuantizedCase {
    double width;
    int identity_div;
    ObserverKind observer;
};

const QuantizedCase kQuantizedCases[] = {{0.5, 1, ObserverKind::minmax}, {0.35, 2, ObserverKind::percentile},
                                         {0.5, 2, ObserverKind::mse}};

std::string case_name(const QuantizedCase& c) {
    return "width " + std::to_string(c.width) + " divisor " + std::to_string(c.identity_div) + " observer " +
           observer_kind_name(c.observer);
}

Int8NetworkWeights quantize_case(const QuantizedCase& c, const FoldedNetworkWeights& folded) {
    const Tensor calibration = testing::random_input(6, 64, 64, 3, 100);
    QuantizationOptions options;
    options.observer.kind = c.observer;
    return quantize_network(folded, calibration.data(), calibration.shape(), options);
}

// Each int8 block, given the uint8 input of the scheme evaluated in float, gives its output:
// the same code for all but a few values on rounding boundaries, which differ by one step. A
// wrong zero point, bias, multiplier, clamp or shortcut parameter moves many values by more.
TEST(Int8Network, BlocksFollowTheSchemeEvaluatedInFloat) {
    for (const QuantizedCase& c : kQuantizedCases) {
        SCOPED_TRACE(case_name(c));
        const NetworkConfig config = small_config(c.width, c.identity_div);
        const FoldedNetworkWeights folded = read_folded_weights(config, make_random_state_dict(derive_topology(config), 9));
        const Int8NetworkWeights quantized = quantize_case(c, folded);
        const Tensor x = testing::random_input(1, 64, 64, 3, 200);
        const SchemeInFloat scheme = evaluate_scheme_in_float(folded, quantized, x);
        const internal::Int8Network int8(quantized, testing::Ref, Int8Ref);
        int h = 32, w = 32;
        const std::vector<std::uint8_t>* input = &scheme.stem_output;
        std::size_t differing = 0, total = 0;
        for (std::size_t i = 0; i < int8.blocks().size(); ++i) {
            const Int8SandglassBlock& block = int8.blocks()[i];
            SCOPED_TRACE(block_name(block.spec(), h, w));
            std::vector<std::uint8_t> in = *input;
            const std::vector<std::uint8_t> actual = run_block(block, in, h, w);
            const std::vector<std::uint8_t>& expected = scheme.block_outputs[i];
            ASSERT_EQ(actual.size(), expected.size());
            for (std::size_t k = 0; k < actual.size(); ++k) {
                const int step = std::abs(int(actual[k]) - int(expected[k]));
                ASSERT_LE(step, 1) << "value " << k << " is " << int(actual[k]) << ", the scheme in float gives "
                                   << int(expected[k]);
                differing += step;
            }
            total += actual.size();
            h = block.output_height(h);
            w = block.output_width(w);
            input = &expected;
        }
        std::printf("[   INFO   ] %s: %zu of %zu block output values one step off the scheme in float\n",
                    case_name(c).c_str(), differing, total);
        EXPECT_LT(double(differing), 1e-3 * double(total));
    }
}

// The int8 network against the float network, on inputs drawn like its calibration batch.
// Random-weight networks amplify small changes from block to block: the rare one-step
// differences of the test above already move the logits by several percent of their span
// (measured here against the scheme in float), and rounding the activations alone (float
// weights, every tensor rounded to its uint8 grid) moves them by about as much as the whole
// int8 network does. So the bound is loose, and the best class must mostly agree.
TEST(Int8Network, StaysNearTheFloatNetwork) {
    for (const QuantizedCase& c : kQuantizedCases) {
        SCOPED_TRACE(case_name(c));
        const NetworkConfig config = small_config(c.width, c.identity_div);
        const StateDict weights = make_random_state_dict(derive_topology(config), 9);
        const FoldedNetworkWeights folded = read_folded_weights(config, weights);
        const Int8NetworkWeights quantized = quantize_case(c, folded);
        const internal::Network network(config, weights, testing::Ref);
        const internal::Int8Network int8(quantized, testing::Ref, Int8Ref);
        const int batch = 8, classes = config.num_classes;
        const Tensor x = testing::random_input(batch, 64, 64, 3, 200);
        const Tensor expected = network.forward(x), actual = int8.forward(x);
        ASSERT_EQ(actual.shape(), expected.shape());
        const LogitDistance to_scheme =
            distance(actual.data(), evaluate_scheme_in_float(folded, quantized, x).logits.data(), batch, classes);
        const LogitDistance to_float = distance(actual.data(), expected.data(), batch, classes);
        std::printf("[   INFO   ] %s: max |int8 - float| %.2f%% of the float logits' span, best class as float on %d "
                    "of %d; max |int8 - scheme in float| %.2f%%\n",
                    case_name(c).c_str(), 100.0 * to_float.relative, to_float.agree, batch, 100.0 * to_scheme.relative);
        EXPECT_LT(to_scheme.relative, 0.2f);
        EXPECT_LT(to_float.relative, 0.4f);
        EXPECT_GE(to_float.agree, batch / 2);
    }
}

// Every int8 kernel set gives the reference set's logits bit for bit (the float parts on one
// float set), whatever the workspace's thread count.
TEST(Int8Network, KernelSetsGiveIdenticalLogits) {
    const NetworkConfig config = small_config(0.5, 2);
    const StateDict weights = make_random_state_dict(derive_topology(config), 13);
    const Tensor calibration = testing::random_input(3, 64, 64, 3, 14);
    const Int8NetworkWeights quantized =
        quantize_network(read_folded_weights(config, weights), calibration.data(), calibration.shape());
    const kernels::KernelTable& float_kernels = *internal::kernel_tables().front();
    const internal::Int8Network reference(quantized, float_kernels, Int8Ref);
    const Tensor x = testing::random_input(3, 61, 67, 3, 15);
    Workspace one;
    Tensor expected;
    reference.forward(x, expected, one);
    for (const Int8KernelTable* table : kernels::available_int8_kernels()) {
        const internal::Int8Network network(quantized, float_kernels, *table);
        SCOPED_TRACE(network.kernels_name());
        for (int threads : {1, 2, 3}) {
            Workspace ws(threads);
            Tensor actual;
            network.forward(x, actual, ws);
            network.forward(x, actual, ws);  // warm workspace
            ASSERT_EQ(actual.shape(), expected.shape());
            EXPECT_EQ(std::memcmp(actual.data(), expected.data(), expected.size() * sizeof(float)), 0)
                << threads << " threads";
        }
    }
}

TEST(Int8Network, RefusesBadInputs) {
    const NetworkConfig config = small_config(0.35, 1);
    const StateDict weights = make_random_state_dict(derive_topology(config), 16);
    const Tensor calibration = testing::random_input(1, 32, 32, 3, 17);
    const internal::Int8Network network(
        quantize_network(read_folded_weights(config, weights), calibration.data(), calibration.shape()), testing::Ref,
        Int8Ref);
    Tensor x = testing::random_input(1, 32, 32, 3, 18);
    Tensor logits;
    Workspace ws;
    x.data()[5] = std::numeric_limits<float>::infinity();
    EXPECT_THROW(network.forward(x, logits, ws), Error);
    EXPECT_THROW(network.forward(testing::random_input(1, 32, 32, 4, 18), logits, ws), Error);
    float small[3];
    EXPECT_THROW(network.forward(calibration.data(), calibration.shape(), small, 3, ws), Error);
}

}  // namespace
}  // namespace mobilenext
