// Each form of the sandglass block (on every vector kernel set) against the same layers
// composed by hand from reference kernels, for several identity divisors.
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include <mobilenext/blocks/sandglass_block.hpp>
#include <mobilenext/kernels/reference_kernels.hpp>

#include "test_support.hpp"

namespace mobilenext {
namespace {

using testing::Ref;

PackedDepthwise random_depthwise(int c, std::uint32_t seed) {
    const auto w = testing::random_vector(std::size_t(c) * 9, seed, -0.5f, 0.5f);
    const auto scale = testing::random_vector(c, seed + 1, 0.5f, 1.5f);
    const auto bias = testing::random_vector(c, seed + 2);
    return pack_depthwise(w.data(), scale.data(), bias.data(), c);
}

PackedPointwise random_pointwise(int in, int out, std::uint32_t seed) {
    const auto w = testing::random_vector(std::size_t(in) * out, seed, -0.3f, 0.3f);
    const auto scale = testing::random_vector(out, seed + 1, 0.5f, 1.5f);
    const auto bias = testing::random_vector(out, seed + 2);
    return pack_pointwise(w.data(), scale.data(), bias.data(), in, out);
}

struct BlockCase {
    BlockForm form;
    int in, hidden, out, stride, divisor;
    int batch, height, width;
};

std::string describe(const BlockCase& c) {
    return std::string(block_form_name(c.form)) + " in " + std::to_string(c.in) + " hidden " +
           std::to_string(c.hidden) + " out " + std::to_string(c.out) + " stride " + std::to_string(c.stride) +
           " divisor " + std::to_string(c.divisor) + " batch " + std::to_string(c.batch) + " HxW " +
           std::to_string(c.height) + "x" + std::to_string(c.width);
}

using SandglassBlockTest = testing::KernelTableTest;
INSTANTIATE_TEST_SUITE_P(EveryVectorSet, SandglassBlockTest, ::testing::ValuesIn(testing::vector_kernel_tables()),
                         testing::KernelTableName{});

TEST_P(SandglassBlockTest, EveryFormMatchesComposedReferenceKernels) {
    using F = BlockForm;
    std::vector<BlockCase> cases = {
        {F::head_t2, 16, 8, 48, 2, 1, 2, 15, 15},
        {F::head_t2, 17, 8, 33, 2, 1, 1, 7, 9},
        {F::pointwise_only, 33, 16, 57, 1, 1, 2, 7, 7},
        {F::pointwise_only, 96, 32, 144, 1, 1, 1, 14, 15},
        {F::pointwise_dw_s2, 24, 16, 40, 2, 1, 2, 15, 14},
        {F::pointwise_dw_s2, 17, 16, 31, 2, 1, 1, 1, 1},
        {F::full, 31, 16, 45, 1, 1, 1, 7, 7},  // keep_3x3 style: channels change, no shortcut
    };
    for (int divisor : {1, 2, 3, 6})
        for (int c : {33, 96, 144}) cases.push_back({F::full, c, 16, c, 1, divisor, 2, 7, 9});
    cases.push_back({F::full, 40, 16, 40, 2, 1, 1, 15, 15});  // third-party layout: stride in the last dw
    // Several steps of the block (64 pixels each), in place with a channel count that is not
    // a multiple of the vector.
    cases.push_back({F::full, 40, 16, 40, 1, 2, 1, 23, 9});
    cases.push_back({F::full, 96, 16, 96, 1, 2, 2, 11, 30});

    std::uint32_t seed = 1;
    int in_place_cases = 0;
    for (const BlockCase& c : cases) {
        BlockSpec spec;
        spec.index = 1;
        spec.form = c.form;
        spec.in_channels = c.in;
        spec.hidden = c.hidden;
        spec.out_channels = c.out;
        spec.stride = c.stride;
        spec.shortcut_channels = (c.in == c.out && c.stride == 1) ? c.out / c.divisor : 0;
        SandglassWeights w;
        if (spec.has_input_dw()) w.input_dw = random_depthwise(c.in, seed += 3);
        w.reduce = random_pointwise(c.in, c.hidden, seed += 3);
        w.expand = random_pointwise(c.hidden, c.out, seed += 3);
        if (spec.has_output_dw()) w.output_dw = random_depthwise(c.out, seed += 3);

        // The expected output, layer by layer from reference kernels.
        const std::size_t pixels = std::size_t(c.batch) * c.height * c.width;
        const auto input = testing::random_vector(pixels * c.in, seed += 3, -3.0f, 3.0f);
        std::vector<float> a(pixels * c.in), hidden(pixels * c.hidden), wide(pixels * c.out);
        const float* x = input.data();
        const std::size_t in_image = std::size_t(c.height) * c.width * c.in;
        if (spec.has_input_dw()) {
            for (int n = 0; n < c.batch; ++n)
                Ref.dwconv3x3(x + n * in_image, whole_image(c.height, c.width, 1), w.input_dw.view(), Activation::relu6,
                               a.data() + n * in_image);
            x = a.data();
        }
        Ref.pointwise_conv(x, pixels, w.reduce.view(), Activation::none, hidden.data());
        Ref.pointwise_conv(hidden.data(), pixels, w.expand.view(), Activation::relu6, wide.data());
        std::vector<float> expected = wide;
        int oh = c.height, ow = c.width;
        if (spec.has_output_dw()) {
            oh = conv3x3_output_size(c.height, c.stride);
            ow = conv3x3_output_size(c.width, c.stride);
            expected.assign(std::size_t(c.batch) * oh * ow * c.out, 0.0f);
            const std::size_t wide_image = std::size_t(c.height) * c.width * c.out;
            for (int n = 0; n < c.batch; ++n)
                Ref.dwconv3x3(wide.data() + n * wide_image, whole_image(c.height, c.width, c.stride),
                               w.output_dw.view(), Activation::none, expected.data() + std::size_t(n) * oh * ow * c.out);
        }
        if (spec.shortcut_channels > 0)
            for (std::size_t p = 0; p < pixels; ++p)
                for (int ch = 0; ch < spec.shortcut_channels; ++ch) expected[p * c.out + ch] += input[p * c.in + ch];

        const SandglassBlock block(spec, std::move(w), K());
        EXPECT_EQ(block.output_height(c.height), oh);
        EXPECT_EQ(block.output_width(c.width), ow);
        std::vector<float> actual(expected.size(), -99.0f);
        std::vector<float> scratch(block.scratch_floats(c.height, c.width));
        block.forward(input.data(), c.batch, c.height, c.width, actual.data(), scratch.data());
        ASSERT_TRUE(testing::all_close(actual.data(), expected.data(), expected.size(), describe(c), 1e-4f, 1e-4f));

        // Bands of output rows, as threads compute them, give the same values bit for bit.
        if (oh >= 3) {
            std::vector<float> banded(expected.size(), -99.0f);
            const std::size_t out_image = std::size_t(oh) * ow * c.out;
            for (int n = 0; n < c.batch; ++n)
                for (auto [y0, y1] : {std::pair{0, 1}, std::pair{1, oh - 1}, std::pair{oh - 1, oh}})
                    block.forward_rows(input.data() + n * in_image, c.height, c.width, y0, y1,
                                       banded.data() + n * out_image, scratch.data());
            ASSERT_TRUE(testing::all_close(banded.data(), actual.data(), actual.size(), describe(c) + " in bands", 0.0f, 0.0f));
        }

        // The input produced as the block asks for it: rows not yet ready are NaN, so reading
        // one early would show in the output.
        const std::size_t out_image = std::size_t(oh) * ow * c.out, row_floats = std::size_t(c.width) * c.in;
        for (int n = 0; n < c.batch; ++n) {
            std::vector<float> lazy(in_image, std::numeric_limits<float>::quiet_NaN()), out(out_image, -99.0f);
            const float* image = input.data() + n * in_image;
            int ready = 0;
            block.forward_rows(lazy.data(), c.height, c.width, 0, oh, out.data(), scratch.data(), [&](int end) {
                EXPECT_GE(end, ready) << describe(c);
                EXPECT_LE(end, c.height) << describe(c);
                std::copy(image + ready * row_floats, image + end * row_floats, lazy.begin() + ready * row_floats);
                ready = std::max(ready, end);
            });
            ASSERT_TRUE(testing::all_close(out.data(), actual.data() + n * out_image, out_image,
                                           describe(c) + " input on demand", 0.0f, 0.0f));
        }

        // In place, the output over the input: the same bits.
        if (block.runs_in_place()) {
            ++in_place_cases;
            for (int n = 0; n < c.batch; ++n) {
                std::vector<float> buffer(input.begin() + n * in_image, input.begin() + (n + 1) * in_image);
                block.forward_rows(buffer.data(), c.height, c.width, 0, oh, buffer.data(), scratch.data());
                ASSERT_TRUE(testing::all_close(buffer.data(), actual.data() + n * out_image, out_image,
                                               describe(c) + " in place", 0.0f, 0.0f));
            }
        }
    }
    EXPECT_GE(in_place_cases, 10);
}

TEST(SandglassBlock, RejectsInconsistentSpecs) {
    BlockSpec spec;
    spec.form = BlockForm::pointwise_only;
    spec.in_channels = 8;
    spec.hidden = 4;
    spec.out_channels = 8;
    spec.stride = 2;  // no depthwise to carry the stride
    SandglassWeights w;
    w.reduce = random_pointwise(8, 4, 1);
    w.expand = random_pointwise(4, 8, 2);
    EXPECT_THROW((SandglassBlock(spec, w, Ref)), Error);
    spec.stride = 1;
    spec.hidden = 5;  // weights have 4
    EXPECT_THROW((SandglassBlock(spec, w, Ref)), Error);
}

}  // namespace
}  // namespace mobilenext
