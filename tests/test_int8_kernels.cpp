// Every int8 vector kernel set against the int8 reference kernels, bit for bit, over edge
// shapes (channel counts below, at and above every vector and tile width, odd sizes, bands of
// rows), zero points 0, 128 and 255, with and without ReLU6; and the reference kernels against
// naive loops written from the scheme of int8_args.hpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <mobilenext/kernels/int8/int8_kernel_registry.hpp>
#include <mobilenext/kernels/int8/pack_int8.hpp>
#include <mobilenext/kernels/int8/reference_int8_kernels.hpp>

#include "int8_test_support.hpp"

namespace mobilenext {
namespace {

using kernels::Int8KernelTable;
using test::Int8TableName;
using test::random_ints;
using test::vector_int8_tables;
const Int8KernelTable& Ref = kernels::kReferenceInt8Kernels;
const int kZeroPoints[] = {0, 128, 255};

class Int8KernelTest : public ::testing::TestWithParam<const Int8KernelTable*> {
protected:
    const Int8KernelTable& K() const { return *GetParam(); }
};
INSTANTIATE_TEST_SUITE_P(EveryVectorSet, Int8KernelTest, ::testing::ValuesIn(vector_int8_tables()), Int8TableName{});
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Int8KernelTest);

// Multipliers that spread sums of `terms` products over the output range, some clamped; every
// fourth a power of two, whose products land on ties (x.5) that round half to even.
std::vector<float> random_multipliers(int channels, int terms, std::mt19937& engine) {
    std::uniform_real_distribution<float> dist(0.2f, 3.0f);
    const float typical = 1.0f / (std::sqrt(float(terms)) * 255.0f * 64.0f / 3.0f / 64.0f);
    std::vector<float> m(static_cast<std::size_t>(channels));
    for (int c = 0; c < channels; ++c)
        m[std::size_t(c)] = c % 4 == 3 ? std::ldexp(1.0f, -1 - c % 7) : dist(engine) * typical;
    return m;
}

OutputRange range_for(int zero_point, bool relu6) {
    return output_range(0.05f, zero_point, relu6 ? Activation::relu6 : Activation::none);
}

::testing::AssertionResult same_bytes(const std::vector<std::uint8_t>& actual, const std::vector<std::uint8_t>& expected) {
    for (std::size_t i = 0; i < expected.size(); ++i)
        if (actual[i] != expected[i])
            return ::testing::AssertionFailure() << "element " << i << " is " << int(actual[i]) << ", expected "
                                                 << int(expected[i]);
    return ::testing::AssertionSuccess();
}

struct PointwiseCase {
    std::vector<std::uint8_t> input;
    std::vector<std::int8_t> weights;  // [out][in]
    std::vector<std::int32_t> bias;
    std::vector<float> multipliers;
    OutputRange range;
    int in = 0, out = 0;
    std::size_t pixels = 0;
};

PointwiseCase random_pointwise(std::size_t pixels, int in, int out, int zero_point, bool relu6, std::mt19937& engine) {
    PointwiseCase c;
    c.in = in;
    c.out = out;
    c.pixels = pixels;
    c.input = random_ints<std::uint8_t>(pixels * in, 0, 255, engine);
    c.weights = random_ints<std::int8_t>(std::size_t(out) * in, -64, 64, engine);
    const auto bias_q = random_ints<std::int32_t>(std::size_t(out), -20000, 20000, engine);
    c.bias = fold_input_zero_point(bias_q.data(), c.weights.data(), out, in, zero_point);
    c.multipliers = random_multipliers(out, in, engine);
    c.range = range_for(255 - zero_point, relu6);
    return c;
}

// On `k`, with the weights packed as `packing` wants them (by default as k does).
std::vector<std::uint8_t> run_pointwise(const Int8KernelTable& k, const PointwiseCase& c,
                                        const Int8KernelTable* packing = nullptr) {
    const Int8KernelTable& layout = packing != nullptr ? *packing : k;
    const PackedPointwiseU8S8 packed =
        pack_pointwise_u8s8(c.weights.data(), c.bias.data(), c.multipliers.data(), c.in, c.out, c.range,
                            layout.pointwise_panel, layout.pointwise_store_tile);
    std::vector<std::uint8_t> output(c.pixels * c.out + 7, 0xA5);
    k.pointwise_conv_u8s8(c.input.data(), c.pixels, packed.view(), output.data());
    for (std::size_t i = c.pixels * c.out; i < output.size(); ++i)
        EXPECT_EQ(output[i], 0xA5) << "written past the output's end";
    output.resize(c.pixels * c.out);
    return output;
}

std::string pointwise_name(std::size_t pixels, int in, int out, int zero_point, bool relu6) {
    return "pointwise " + std::to_string(pixels) + " px " + std::to_string(in) + "->" + std::to_string(out) +
           " zero point in " + std::to_string(zero_point) + (relu6 ? " relu6" : "");
}

TEST_P(Int8KernelTest, PointwiseMatchesReference) {
    SCOPED_TRACE(K().name());
    std::mt19937 engine(1);
    int index = 0;
    for (int in : {1, 3, 4, 5, 17, 33, 63, 64, 65, 100})
        for (int out : {1, 3, 5, 16, 17, 32, 33, 63, 64, 65, 100, 129})
            for (std::size_t pixels : {1, 7, 13, 67}) {
                const int zero_point = kZeroPoints[index % 3];
                const bool relu6 = index++ % 2 == 1;
                SCOPED_TRACE(pointwise_name(pixels, in, out, zero_point, relu6));
                const PointwiseCase c = random_pointwise(pixels, in, out, zero_point, relu6, engine);
                const std::vector<std::uint8_t> expected = run_pointwise(Ref, c);
                ASSERT_TRUE(same_bytes(run_pointwise(K(), c), expected));
                // The reference reads the set's packing (store tiles in pack order) too.
                ASSERT_TRUE(same_bytes(run_pointwise(Ref, c, &K()), expected));
            }
}

// vpmaddubsw's worst case: every activation 255, every weight +64 or -64. A pair of products
// is +-32640, just inside int16: no saturation, so the sums are exact.
TEST_P(Int8KernelTest, PointwiseExtremeValuesDoNotSaturate) {
    SCOPED_TRACE(K().name());
    for (int in : {4, 100, 576})
        for (int out : {16, 65}) {
            SCOPED_TRACE(pointwise_name(3, in, out, 0, false));
            PointwiseCase c;
            c.in = in;
            c.out = out;
            c.pixels = 3;
            c.input.assign(c.pixels * in, 255);
            for (int co = 0; co < out; ++co)
                for (int ci = 0; ci < in; ++ci) c.weights.push_back(std::int8_t(co % 2 == 0 ? 64 : -64));
            c.bias.assign(std::size_t(out), 0);
            // 255 * 64 * in maps to 100 above or below the zero point 128.
            c.multipliers.assign(std::size_t(out), 100.0f / (255.0f * 64.0f * float(in)));
            c.range = range_for(128, false);
            const std::vector<std::uint8_t> actual = run_pointwise(K(), c);
            ASSERT_TRUE(same_bytes(actual, run_pointwise(Ref, c)));
            for (std::size_t p = 0; p < c.pixels; ++p)
                for (int co = 0; co < out; ++co) ASSERT_EQ(int(actual[p * out + co]), co % 2 == 0 ? 228 : 28);
        }
}

// A band of output rows [y0, y1) computed from the window of input rows it needs.
struct DepthwiseShape {
    int height, width, channels, stride;
};

std::string depthwise_name(const DepthwiseShape& s, int zero_point, bool relu6, int y0) {
    return "dwconv3x3 HxW " + std::to_string(s.height) + "x" + std::to_string(s.width) + " channels " +
           std::to_string(s.channels) + " stride " + std::to_string(s.stride) + " zero point in " +
           std::to_string(zero_point) + (relu6 ? " relu6" : "") + " from output row " + std::to_string(y0);
}

PackedDepthwiseU8S8 random_depthwise(int channels, int zero_point, bool relu6, std::mt19937& engine) {
    const auto weights = random_ints<std::int8_t>(std::size_t(channels) * 9, -64, 64, engine);
    const auto bias_q = random_ints<std::int32_t>(std::size_t(channels), -5000, 5000, engine);
    const auto bias = fold_input_zero_point(bias_q.data(), weights.data(), channels, 9, zero_point);
    const auto multipliers = random_multipliers(channels, 9, engine);
    return pack_depthwise_u8s8(weights.data(), bias.data(), multipliers.data(), channels, zero_point,
                               range_for((zero_point + 77) % 256, relu6));
}

std::vector<std::uint8_t> run_depthwise(const Int8KernelTable& k, const std::vector<std::uint8_t>& image,
                                        const DepthwiseShape& s, const PackedDepthwiseU8S8& packed, int y0) {
    const int oh = conv3x3_output_size(s.height, s.stride), ow = conv3x3_output_size(s.width, s.stride);
    const int first = std::max(0, y0 * s.stride - 1);
    const DepthwiseRows rows{s.height, s.width, s.stride, first, y0, oh};
    const std::size_t row_bytes = std::size_t(s.width) * s.channels;
    const std::vector<std::uint8_t> window(image.begin() + std::ptrdiff_t(first * row_bytes), image.end());
    std::vector<std::uint8_t> output(std::size_t(oh - y0) * ow * s.channels + 5, 0x5A);
    k.dwconv3x3_u8s8(window.data(), rows, packed.view(), output.data());
    for (std::size_t i = output.size() - 5; i < output.size(); ++i)
        EXPECT_EQ(output[i], 0x5A) << "written past the output's end";
    output.resize(output.size() - 5);
    return output;
}

TEST_P(Int8KernelTest, Dwconv3x3MatchesReference) {
    SCOPED_TRACE(K().name());
    std::mt19937 engine(2);
    int index = 0;
    for (int channels : {1, 3, 17, 48, 64, 80, 100, 130})
        for (int width : {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 16})
            for (int height : {1, 3, 5, 8})
                for (int stride : {1, 2}) {
                    const int zero_point = kZeroPoints[index % 3];
                    const bool relu6 = index++ % 2 == 1;
                    const DepthwiseShape s{height, width, channels, stride};
                    const PackedDepthwiseU8S8 packed = random_depthwise(channels, zero_point, relu6, engine);
                    const auto image = random_ints<std::uint8_t>(std::size_t(height) * width * channels, 0, 255, engine);
                    const int oh = conv3x3_output_size(height, stride);
                    for (int y0 : {0, oh / 2}) {
                        SCOPED_TRACE(depthwise_name(s, zero_point, relu6, y0));
                        ASSERT_TRUE(same_bytes(run_depthwise(K(), image, s, packed, y0),
                                               run_depthwise(Ref, image, s, packed, y0)));
                    }
                }
}

struct ShortcutCase {
    std::vector<std::uint8_t> a, b;
    ShortcutAddU8 q;
    std::size_t pixels;
    int channels, kept;
};

std::vector<std::uint8_t> run_shortcut(const Int8KernelTable& k, const ShortcutCase& c, bool in_place) {
    std::vector<std::uint8_t> output = c.a;
    if (in_place)
        k.add_partial_shortcut_u8(output.data(), c.b.data(), c.pixels, c.channels, c.kept, c.q, output.data());
    else
        k.add_partial_shortcut_u8(c.a.data(), c.b.data(), c.pixels, c.channels, c.kept, c.q, output.data());
    return output;
}

std::string shortcut_name(const ShortcutCase& c) {
    return "shortcut " + std::to_string(c.pixels) + " px channels " + std::to_string(c.channels) + " kept " +
           std::to_string(c.kept) + " zero points " + std::to_string(c.q.a_zero_point) + " " +
           std::to_string(c.q.b_zero_point) + " " + std::to_string(c.q.y_zero_point) + " scales " +
           std::to_string(c.q.a_scale) + " " + std::to_string(c.q.b_scale) + " " + std::to_string(c.q.y_scale) +
           (c.q.copy_rest ? " copy rest" : "");
}

TEST_P(Int8KernelTest, AddPartialShortcutMatchesReference) {
    SCOPED_TRACE(K().name());
    std::mt19937 engine(3);
    // Equal scales (copied channels), ordinary ones, ties (x.5 to even), a scale ratio that
    // sends every sum to 0 or 255, and the extremes shortcut_add_u8 accepts (quotients of
    // +-inf, clamped).
    const float scales[][3] = {{0.05f, 0.05f, 0.05f}, {0.05f, 0.03f, 0.07f}, {0.1f, 0.02f, 0.04f},
                               {1e-4f, 2e-4f, 1.0f},  {0.5f, 0.25f, 1.0f},   {3.0f, 5.0f, 0.01f},
                               {0x1p64f, 0x1p-126f, 0x1p-126f}};
    int index = 0;
    for (int channels : {2, 3, 17, 64, 100})
        for (int kept : {1, channels / 2, channels - 1, channels})
            for (std::size_t pixels : {1, 7, 13})
                for (const auto& s : scales) {
                    if (kept < 1) continue;
                    const int za = kZeroPoints[index % 3], zb = kZeroPoints[(index + 2) % 3];
                    const int zy = index % 4 == 0 ? za : (za + 40) % 256;
                    ++index;
                    ShortcutCase c{random_ints<std::uint8_t>(pixels * channels, 0, 255, engine),
                                   random_ints<std::uint8_t>(pixels * channels, 0, 255, engine),
                                   shortcut_add_u8(s[0], za, s[1], zb, s[2], zy), pixels, channels, kept};
                    SCOPED_TRACE(shortcut_name(c));
                    const std::vector<std::uint8_t> expected = run_shortcut(Ref, c, false);
                    ASSERT_TRUE(same_bytes(run_shortcut(K(), c, false), expected));
                    ASSERT_TRUE(same_bytes(run_shortcut(K(), c, true), expected)) << "in place";
                    ASSERT_TRUE(same_bytes(run_shortcut(Ref, c, true), expected)) << "reference in place";
                }
}

// Every pair (a, b) of bytes, for scales drawn at random: the vector add skips the division
// except next to rounding boundaries (simd/add_partial_shortcut_u8.hpp), so it must meet
// every boundary the 65,536 pairs reach the way the reference does.
TEST_P(Int8KernelTest, AddPartialShortcutMatchesReferenceOnEveryPair) {
    SCOPED_TRACE(K().name());
    std::mt19937 engine(21);
    std::uniform_real_distribution<float> exponent(-8.0f, 2.0f);
    std::vector<std::uint8_t> a(256 * 256), b(a.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
        a[i] = std::uint8_t(i % 256);
        b[i] = std::uint8_t(i / 256);
    }
    for (int trial = 0; trial < 24; ++trial) {
        const float sa = std::exp2(exponent(engine)), sb = std::exp2(exponent(engine)),
                    sy = std::exp2(exponent(engine));
        const int za = int(engine() % 256), zb = int(engine() % 256), zy = int(engine() % 256);
        const ShortcutCase c{a, b, shortcut_add_u8(sa, za, sb, zb, sy, zy), 256, 256, 256};
        SCOPED_TRACE(shortcut_name(c));
        ASSERT_TRUE(same_bytes(run_shortcut(K(), c, false), run_shortcut(Ref, c, false)));
    }
}

// The classifier's int8 weights on float inputs: every set adds in the reference's order with
// unfused products, so the bits agree; the reference is within float rounding of double sums.
struct LinearCase {
    std::vector<float> x, scales, bias;
    std::vector<std::int8_t> weights;
    int batch, in, out;
    LinearWeightsS8 view() const { return {weights.data(), scales.data(), bias.data(), in, out}; }
};

LinearCase random_linear_case(int batch, int in, int out, std::mt19937& engine) {
    std::uniform_real_distribution<float> unit(-1.0f, 1.0f), scale(0.001f, 0.05f);
    LinearCase c{{}, {}, {}, random_ints<std::int8_t>(std::size_t(out) * in, -127, 127, engine), batch, in, out};
    for (int i = 0; i < batch * in; ++i) c.x.push_back(4.0f * unit(engine));
    for (int i = 0; i < out; ++i) {
        c.scales.push_back(scale(engine));
        c.bias.push_back(unit(engine));
    }
    return c;
}

// |y - sum| allowed: float rounding of a sum of `in` terms of these magnitudes.
float linear_tolerance(const LinearCase& c, int n, int o) {
    double magnitude = std::fabs(double(c.bias[std::size_t(o)]));
    for (int k = 0; k < c.in; ++k)
        magnitude += std::fabs(double(c.x[std::size_t(n) * c.in + k]) * c.weights[std::size_t(o) * c.in + k]) *
                     c.scales[std::size_t(o)];
    return float(magnitude * 1e-6 * (c.in + 2));
}

TEST_P(Int8KernelTest, FullyConnectedS8MatchesReference) {
    SCOPED_TRACE(K().name());
    std::mt19937 engine(11);
    for (int batch : {1, 3})
        for (int in : {1, 5, 16, 17, 63, 130})
            for (int out : {1, 3, 4, 7, 33}) {
                const LinearCase c = random_linear_case(batch, in, out, engine);
                std::vector<float> expected(std::size_t(batch) * out), actual(expected.size(), -1.0f);
                Ref.fully_connected_s8(c.x.data(), batch, c.view(), expected.data());
                K().fully_connected_s8(c.x.data(), batch, c.view(), actual.data());
                for (std::size_t i = 0; i < expected.size(); ++i)
                    ASSERT_EQ(actual[i], expected[i]) << "fully_connected_s8 batch " << batch << " in " << in
                                                      << " out " << out << " at output " << i;
            }
}

TEST(Int8ReferenceKernels, FullyConnectedS8MatchesDoubleSums) {
    std::mt19937 engine(12);
    const LinearCase c = random_linear_case(2, 37, 9, engine);
    std::vector<float> y(std::size_t(2) * 9);
    Ref.fully_connected_s8(c.x.data(), 2, c.view(), y.data());
    for (int n = 0; n < 2; ++n)
        for (int o = 0; o < 9; ++o) {
            double sum = 0.0;
            for (int k = 0; k < 37; ++k) sum += double(c.x[std::size_t(n) * 37 + k]) * c.weights[std::size_t(o) * 37 + k];
            const double expected = c.bias[std::size_t(o)] + c.scales[std::size_t(o)] * sum;
            ASSERT_NEAR(y[std::size_t(n) * 9 + o], expected, linear_tolerance(c, n, o)) << "image " << n << " output " << o;
        }
}

// The reference kernels against loops written from the scheme directly: the weights unpacked,
// the image padded with the zero point, rounding with std::lrint after a clamp of the result.
int naive_requantize(std::int64_t acc, float multiplier, const OutputRange& r) {
    const long rounded = std::lrint(static_cast<float>(acc) * multiplier);
    return int(std::clamp<long>(rounded + r.zero_point, r.lo, r.hi));
}

TEST(Int8ReferenceKernels, PointwiseMatchesNaiveLoops) {
    std::mt19937 engine(4);
    for (auto [in, out] : {std::pair<int, int>{5, 3}, {96, 192}, {33, 17}}) {
        SCOPED_TRACE(pointwise_name(9, in, out, 128, false));
        const std::vector<std::uint8_t> input = random_ints<std::uint8_t>(std::size_t(9) * in, 0, 255, engine);
        const auto weights = random_ints<std::int8_t>(std::size_t(out) * in, -64, 64, engine);
        const auto bias_q = random_ints<std::int32_t>(std::size_t(out), -20000, 20000, engine);
        const auto multipliers = random_multipliers(out, in, engine);
        const int zp_in = 128;
        const OutputRange range = range_for(100, false);
        const auto bias = fold_input_zero_point(bias_q.data(), weights.data(), out, in, zp_in);
        const auto packed = pack_pointwise_u8s8(weights.data(), bias.data(), multipliers.data(), in, out, range, 64);
        std::vector<std::uint8_t> actual(std::size_t(9) * out);
        Ref.pointwise_conv_u8s8(input.data(), 9, packed.view(), actual.data());
        for (int p = 0; p < 9; ++p)
            for (int co = 0; co < out; ++co) {
                std::int64_t acc = bias_q[std::size_t(co)];
                for (int ci = 0; ci < in; ++ci)
                    acc += std::int64_t(input[std::size_t(p) * in + ci] - zp_in) * weights[std::size_t(co) * in + ci];
                ASSERT_EQ(int(actual[std::size_t(p) * out + co]), naive_requantize(acc, multipliers[co], range))
                    << "pixel " << p << " channel " << co;
            }
    }
}

TEST(Int8ReferenceKernels, Dwconv3x3MatchesNaiveLoops) {
    std::mt19937 engine(5);
    for (auto [h, w, c, stride] : {std::tuple<int, int, int, int>{5, 7, 3, 1}, {6, 5, 17, 2}, {1, 1, 4, 2}}) {
        SCOPED_TRACE(depthwise_name({h, w, c, stride}, 37, true, 0));
        const int zp_in = 37;
        const auto image = random_ints<std::uint8_t>(std::size_t(h) * w * c, 0, 255, engine);
        const auto weights = random_ints<std::int8_t>(std::size_t(c) * 9, -64, 64, engine);
        const auto bias_q = random_ints<std::int32_t>(std::size_t(c), -5000, 5000, engine);
        const auto multipliers = random_multipliers(c, 9, engine);
        const OutputRange range = range_for(20, true);
        const auto bias = fold_input_zero_point(bias_q.data(), weights.data(), c, 9, zp_in);
        const auto packed = pack_depthwise_u8s8(weights.data(), bias.data(), multipliers.data(), c, zp_in, range);
        // The image with a border of the zero point: real 0.0.
        const int ph = h + 2, pw = w + 2;
        std::vector<std::uint8_t> padded(std::size_t(ph) * pw * c, std::uint8_t(zp_in));
        for (int y = 0; y < h; ++y)
            for (int x = 0; x < w; ++x)
                for (int ch = 0; ch < c; ++ch)
                    padded[((std::size_t(y) + 1) * pw + x + 1) * c + ch] = image[(std::size_t(y) * w + x) * c + ch];
        const int oh = conv3x3_output_size(h, stride), ow = conv3x3_output_size(w, stride);
        std::vector<std::uint8_t> actual(std::size_t(oh) * ow * c);
        Ref.dwconv3x3_u8s8(image.data(), whole_image(h, w, stride), packed.view(), actual.data());
        for (int oy = 0; oy < oh; ++oy)
            for (int ox = 0; ox < ow; ++ox)
                for (int ch = 0; ch < c; ++ch) {
                    std::int64_t acc = bias_q[std::size_t(ch)];
                    for (int ky = 0; ky < 3; ++ky)
                        for (int kx = 0; kx < 3; ++kx)
                            acc += std::int64_t(padded[((std::size_t(oy) * stride + ky) * pw + ox * stride + kx) * c + ch] -
                                                zp_in) *
                                   weights[std::size_t(ch) * 9 + ky * 3 + kx];
                    ASSERT_EQ(int(actual[(std::size_t(oy) * ow + ox) * c + ch]),
                              naive_requantize(acc, multipliers[std::size_t(ch)], range))
                        << "at " << oy << "," << ox << " channel " << ch;
                }
    }
}

// Each float step of the add evaluated in double and rounded to float: a product of a 9-bit
// integer and a float, and the division of two floats, are exact or correctly rounded that
// way; the sum of these two products is exact in double for these scales.
TEST(Int8ReferenceKernels, AddPartialShortcutMatchesNaiveLoops) {
    std::mt19937 engine(6);
    for (const auto& s : {std::array<float, 3>{0.05f, 0.03f, 0.06f}, std::array<float, 3>{0.5f, 0.25f, 1.0f}}) {
        const ShortcutAddU8 q = shortcut_add_u8(s[0], 10, s[1], 200, s[2], 128);
        const int channels = 9, kept = 4;
        const auto a = random_ints<std::uint8_t>(std::size_t(40) * channels, 0, 255, engine);
        const auto b = random_ints<std::uint8_t>(a.size(), 0, 255, engine);
        std::vector<std::uint8_t> actual(a.size());
        Ref.add_partial_shortcut_u8(a.data(), b.data(), 40, channels, kept, q, actual.data());
        int ties = 0;
        for (std::size_t i = 0; i < a.size(); ++i) {
            const bool shortcut = int(i % channels) < kept;
            const float real_a = float(double(a[i] - 10) * s[0]);
            const float real_b = shortcut ? float(double(b[i] - 200) * s[1]) : 0.0f;
            const float scaled = float(double(float(double(real_a) + double(real_b))) / double(s[2]));
            ties += scaled - std::floor(scaled) == 0.5f;
            const double expected = std::nearbyint(double(scaled)) + 128;  // half to even
            ASSERT_EQ(int(actual[i]), int(std::clamp(expected, 0.0, 255.0)))
                << "element " << i << " scales " << s[0] << " " << s[1] << " " << s[2];
        }
        if (s[2] == 1.0f) {
            EXPECT_GT(ties, 10) << "the case meant to land on x.5";
        }
    }
}

TEST(Int8Packing, RefusesWeightsOutsideTheExactRange) {
    const std::vector<std::int8_t> weights{1, 65, -3};
    const std::vector<std::int32_t> bias{0};
    const std::vector<float> multipliers{0.1f};
    EXPECT_THROW(pack_pointwise_u8s8(weights.data(), bias.data(), multipliers.data(), 3, 1, OutputRange{}, 64), Error);
    const std::vector<std::int8_t> depthwise{0, 0, 0, 0, -65, 0, 0, 0, 0};
    EXPECT_THROW(pack_depthwise_u8s8(depthwise.data(), bias.data(), multipliers.data(), 1, 0, OutputRange{}), Error);
    EXPECT_THROW(shortcut_add_u8(0x1p65f, 0, 1.0f, 0, 0.01f, 0), Error);
    EXPECT_THROW(shortcut_add_u8(1.0f, 0, 1e-40f, 0, 0.01f, 0), Error);  // denormal
    EXPECT_THROW(shortcut_add_u8(1.0f, 0, 1.0f, 0, 0.0f, 0), Error);
    EXPECT_THROW(shortcut_add_u8(1.0f, 256, 1.0f, 0, 1.0f, 0), Error);
}

TEST(Int8Packing, Relu6RangeFollowsTheOutputScale) {
    const OutputRange r = output_range(0.05f, 10, Activation::relu6);
    EXPECT_EQ(r.lo, 10);
    EXPECT_EQ(r.hi, 130);
    EXPECT_EQ(output_range(0.01f, 200, Activation::relu6).hi, 255);
    EXPECT_EQ(output_range(0.01f, 0, Activation::none).lo, 0);
}

TEST(Int8KernelRegistry, OffersTheReferenceLast) {
    const auto& tables = kernels::available_int8_kernels();
    ASSERT_FALSE(tables.empty());
    EXPECT_EQ(tables.back(), &Ref);
    for (const Int8KernelTable* t : tables) EXPECT_EQ(t->pointwise_panel % 16, 0) << t->name();
}

}  // namespace
}  // namespace mobilenext
