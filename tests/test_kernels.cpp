// Every vector kernel against its reference twin, over the edge shapes: channel counts below,
// equal to, above and not a multiple of the vector width; odd and tiny spatial sizes; both strides.
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <mobilenext/kernels/reference_kernels.hpp>
#include <mobilenext/kernels/pack_weights.hpp>

#include "test_support.hpp"

namespace mobilenext {
namespace {

using testing::Ref;
using testing::all_close;
using testing::random_vector;

const int kChannels[] = {1, 3, 7, 8, 15, 16, 17, 31, 33, 96, 144};
const int kSizes[] = {1, 2, 3, 7, 14, 15, 28, 112};

using SimdKernelTest = testing::KernelTableTest;
INSTANTIATE_TEST_SUITE_P(EveryVectorSet, SimdKernelTest, ::testing::ValuesIn(testing::vector_kernel_tables()),
                         testing::KernelTableName{});

std::string case_name(const std::string& kernel, int batch, int h, int w, int c, int stride, Activation act) {
    return kernel + " batch " + std::to_string(batch) + " HxW " + std::to_string(h) + "x" + std::to_string(w) +
           " channels " + std::to_string(c) + " stride " + std::to_string(stride) +
           (act == Activation::relu6 ? " relu6" : "");
}

TEST_P(SimdKernelTest, Dwconv3x3MatchesReference) {
    std::vector<std::pair<int, int>> sizes;
    for (int s : kSizes) sizes.emplace_back(s, s);
    // Row widths 4 .. 10 and 16: a row pair is swept in tiles of four pixels, the first with
    // the left padding and the last (one to four pixels) with the right padding if any.
    sizes.insert(sizes.end(), {{7, 15}, {15, 2}, {1, 28}, {28, 1}, {3, 14}, {5, 4}, {4, 5}, {6, 6}, {8, 8},
                               {5, 9}, {9, 10}, {4, 16}});
    std::uint32_t seed = 1;
    for (int c : kChannels)
        for (auto [h, w] : sizes)
            for (int stride : {1, 2}) {
                const int batch = h * w <= 49 ? 2 : 1;
                const auto torch_w = random_vector(std::size_t(c) * 9, seed++);
                const auto bias = random_vector(c, seed++);
                const std::vector<float> scale(c, 1.0f);
                const PackedDepthwise packed = pack_depthwise(torch_w.data(), scale.data(), bias.data(), c);
                const auto input = random_vector(std::size_t(batch) * h * w * c, seed++, -4.0f, 4.0f);
                const int oh = conv3x3_output_size(h, stride), ow = conv3x3_output_size(w, stride);
                for (Activation act : {Activation::none, Activation::relu6}) {
                    std::vector<float> expected(std::size_t(batch) * oh * ow * c), actual(expected.size(), -99.0f);
                    const std::size_t in_image = std::size_t(h) * w * c, out_image = std::size_t(oh) * ow * c;
                    for (int n = 0; n < batch; ++n) {
                        Ref.dwconv3x3(input.data() + n * in_image, whole_image(h, w, stride), packed.view(),
                                                    act, expected.data() + n * out_image);
                        K().dwconv3x3(input.data() + n * in_image, whole_image(h, w, stride), packed.view(), act,
                                             actual.data() + n * out_image);
                    }
                    ASSERT_TRUE(all_close(actual.data(), expected.data(), expected.size(),
                                          case_name("dwconv3x3", batch, h, w, c, stride, act), 1e-4f, 1e-4f));
                    // A band of output rows from the window of input rows it needs gives the same rows.
                    if (oh >= 3) {
                        const int y0 = 1, y1 = oh - 1;
                        const int first = y0 * stride - 1, last = std::min(h, (y1 - 1) * stride + 2);
                        const DepthwiseRows band{h, w, stride, first, y0, y1};
                        std::vector<float> window(input.begin() + std::size_t(first) * w * c,
                                                  input.begin() + std::size_t(last) * w * c);
                        std::vector<float> banded(std::size_t(y1 - y0) * ow * c, -99.0f);
                        K().dwconv3x3(window.data(), band, packed.view(), act, banded.data());
                        ASSERT_TRUE(all_close(banded.data(), actual.data() + std::size_t(y0) * ow * c, banded.size(),
                                              case_name("dwconv3x3 rows 1..oh-1", 1, h, w, c, stride, act), 0.0f, 0.0f));
                    }
                }
            }
}

// The output depthwise with the shortcut fused: bit-identical to the depthwise followed by the
// separate shortcut pass (the sum rounds the same), for every count of kept channels (none,
// part of a vector, whole vectors, all) and on a band of rows starting past row 0; the same
// written over the shortcut's input, where shortcut_may_alias_output() allows it.
TEST_P(SimdKernelTest, Dwconv3x3AddShortcutIsDwconvThenShortcut) {
    std::uint32_t seed = 700;
    for (int c : {1, 7, 16, 17, 33, 40, 96, 144})
        for (auto [h, w] : {std::pair<int, int>{1, 1}, {2, 3}, {7, 7}, {14, 15}, {28, 28}})
            for (int kept : {0, 1, c / 2, c - 1, c}) {
                const auto torch_w = random_vector(std::size_t(c) * 9, seed++);
                const auto bias = random_vector(c, seed++);
                const std::vector<float> scale(c, 1.0f);
                const PackedDepthwise packed = pack_depthwise(torch_w.data(), scale.data(), bias.data(), c);
                const auto input = random_vector(std::size_t(h) * w * c, seed++, -4.0f, 4.0f);
                const auto block_input = random_vector(std::size_t(h) * w * c, seed++, -4.0f, 4.0f);
                const std::string what = case_name("dwconv3x3_add_shortcut", 1, h, w, c, 1, Activation::none) +
                                         " kept " + std::to_string(kept);
                for (int y0 : {0, h / 2}) {
                    const DepthwiseRows rows = whole_image(h, w, 1).with_rows(y0, h);
                    const std::size_t first = std::size_t(y0) * w * c, count = std::size_t(h - y0) * w * c;
                    std::vector<float> expected(count, -99.0f), actual(count, -99.0f), reference(count, -99.0f);
                    K().dwconv3x3(input.data(), rows, packed.view(), Activation::none, expected.data());
                    K().add_partial_shortcut(block_input.data() + first, std::size_t(h - y0) * w, c, kept,
                                                    expected.data());
                    K().dwconv3x3_add_shortcut(input.data(), rows, packed.view(),
                                                      {block_input.data() + first, kept}, actual.data());
                    ASSERT_TRUE(all_close(actual.data(), expected.data(), count, what + " from row " + std::to_string(y0),
                                          0.0f, 0.0f));
                    Ref.dwconv3x3_add_shortcut(input.data(), rows, packed.view(),
                                                             {block_input.data() + first, kept}, reference.data());
                    ASSERT_TRUE(all_close(actual.data(), reference.data(), count,
                                          what + " from row " + std::to_string(y0) + " against the reference", 1e-4f,
                                          1e-4f));
                    // In place (the output over the shortcut's input), where the contract allows it.
                    if (!shortcut_may_alias_output(c, kept)) continue;
                    std::vector<float> in_place(block_input.begin() + first, block_input.begin() + first + count);
                    K().dwconv3x3_add_shortcut(input.data(), rows, packed.view(), {in_place.data(), kept},
                                                      in_place.data());
                    ASSERT_TRUE(all_close(in_place.data(), actual.data(), count,
                                          what + " from row " + std::to_string(y0) + " in place", 0.0f, 0.0f));
                    std::copy(block_input.begin() + first, block_input.begin() + first + count, in_place.begin());
                    Ref.dwconv3x3_add_shortcut(input.data(), rows, packed.view(), {in_place.data(), kept},
                                                             in_place.data());
                    ASSERT_TRUE(all_close(in_place.data(), reference.data(), count,
                                          what + " from row " + std::to_string(y0) + " in place, reference", 0.0f, 0.0f));
                }
            }
}

// Every output row is the same sum in the same order however the rows are split into bands
// (thread bands, the sliding window of a block): the basis of bit-identical logits for any
// thread count.
TEST_P(SimdKernelTest, Dwconv3x3BandsAreBitIdenticalToTheWholeImage) {
    std::uint32_t seed = 900;
    for (int c : {16, 17, 40, 96})
        for (int stride : {1, 2})
            for (auto [h, w] : std::vector<std::pair<int, int>>{{5, 5}, {8, 14}, {15, 9}}) {
                const auto torch_w = random_vector(std::size_t(c) * 9, seed++), scale = random_vector(c, seed++, 0.5f, 1.5f),
                           bias = random_vector(c, seed++);
                const PackedDepthwise packed = pack_depthwise(torch_w.data(), scale.data(), bias.data(), c);
                const auto input = random_vector(std::size_t(h) * w * c, seed++);
                const int oh = conv3x3_output_size(h, stride), ow = conv3x3_output_size(w, stride);
                std::vector<float> whole(std::size_t(oh) * ow * c), banded(whole.size());
                K().dwconv3x3(input.data(), whole_image(h, w, stride), packed.view(), Activation::none, whole.data());
                for (int split = 1; split < oh; ++split) {
                    for (auto [y0, y1] : {std::pair<int, int>{0, split}, std::pair<int, int>{split, oh}})
                        K().dwconv3x3(input.data(), whole_image(h, w, stride).with_rows(y0, y1), packed.view(),
                                             Activation::none, banded.data() + std::size_t(y0) * ow * c);
                    ASSERT_EQ(banded, whole) << case_name("dwconv3x3 bands", 1, h, w, c, stride, Activation::none)
                                             << " split at output row " << split;
                }
            }
}

// A band of output rows read from a ring of input rows (a block's sliding window, the image
// row r at ring row (r - input_first_row) mod ring_rows, wrapping around the ring's end)
// gives the same bits as from the whole image, on the vector and the reference kernels.
void expect_ring_rows_match_whole_image(const kernels::KernelTable& k, std::uint32_t& seed) {
    for (int c : {16, 17, 40})
        for (int stride : {1, 2})
            for (auto [h, w] : std::vector<std::pair<int, int>>{{9, 7}, {12, 5}, {6, 16}}) {
                const auto torch_w = random_vector(std::size_t(c) * 9, seed++), scale = random_vector(c, seed++, 0.5f, 1.5f),
                           bias = random_vector(c, seed++);
                const PackedDepthwise packed = pack_depthwise(torch_w.data(), scale.data(), bias.data(), c);
                const auto input = random_vector(std::size_t(h) * w * c, seed++);
                const int oh = conv3x3_output_size(h, stride), ow = conv3x3_output_size(w, stride);
                const std::size_t row_floats = std::size_t(w) * c;
                std::vector<float> whole(std::size_t(oh) * ow * c);
                k.dwconv3x3(input.data(), whole_image(h, w, stride), packed.view(), Activation::relu6, whole.data());
                for (int y0 = 0; y0 < oh; ++y0)
                    for (int y1 = y0 + 1; y1 <= std::min(oh, y0 + 3); ++y1) {
                        const int first = std::max(0, y0 * stride - 1), end = std::min(h, (y1 - 1) * stride + 2);
                        for (int ring = end - first; ring <= end - first + 2; ++ring)
                            for (int offset : {0, 1, ring - 1}) {
                                std::vector<float> rows(std::size_t(ring) * row_floats, -99.0f);
                                DepthwiseRows r = whole_image(h, w, stride).with_rows(y0, y1);
                                r.input_first_row = -offset;
                                r.ring_rows = ring;
                                for (int y = first; y < end; ++y)
                                    std::copy_n(input.data() + std::size_t(y) * row_floats, row_floats,
                                                rows.data() + r.input_row(y) * row_floats);
                                std::vector<float> band(std::size_t(y1 - y0) * ow * c);
                                k.dwconv3x3(rows.data(), r, packed.view(), Activation::relu6, band.data());
                                ASSERT_TRUE(std::equal(band.begin(), band.end(), whole.begin() + std::size_t(y0) * ow * c))
                                    << k.name() << " " << case_name("dwconv3x3 ring", 1, h, w, c, stride, Activation::relu6)
                                    << " output rows " << y0 << ".." << y1 << " ring of " << ring << " rows, offset " << offset;
                            }
                    }
            }
}

TEST_P(SimdKernelTest, Dwconv3x3ReadsARingOfRowsAsTheImageItself) {
    std::uint32_t seed = 950;
    expect_ring_rows_match_whole_image(K(), seed);
    expect_ring_rows_match_whole_image(Ref, seed);
}

TEST_P(SimdKernelTest, PointwiseConvMatchesReference) {
    std::uint32_t seed = 100;
    // Every pixel count up to 25: every tile height from 1 to the tallest (6 to 24 pixels, by
    // output width), the balanced mixes of two heights, and counts past one full tile.
    std::vector<std::size_t> pixel_counts{49, 196};
    for (std::size_t p = 1; p <= 25; ++p) pixel_counts.push_back(p);
    // Weights in panels of 64 columns (the default, AVX-512's) and of 16 (AVX2's). The panel
    // changes the column tiles only: the one the kernel set packs its own weights with takes
    // every pixel count, the other a few (one and several tiles of each height mix).
    const std::vector<std::size_t> some_pixel_counts{1, 7, 13, 25, 49};
    for (int panel : {kPointwisePanel, 16})
    for (std::size_t pixels : panel == K().pointwise_panel ? pixel_counts : some_pixel_counts)
        for (int in : kChannels)
            // 64: four AVX-512 vectors, the widest register tile and one weight panel; 130 and
            // 200: panels after panels, the last a narrow one.
            for (int out : {1, 3, 7, 8, 15, 16, 17, 31, 33, 64, 96, 130, 144, 200}) {
                const auto torch_w = random_vector(std::size_t(out) * in, seed++);
                const auto bias = random_vector(out, seed++);
                const PackedPointwise packed = pack_pointwise(torch_w.data(), nullptr, bias.data(), in, out, panel);
                const auto input = random_vector(pixels * in, seed++, -2.0f, 2.0f);
                for (Activation act : {Activation::none, Activation::relu6}) {
                    std::vector<float> expected(pixels * out), actual(expected.size(), -99.0f);
                    Ref.pointwise_conv(input.data(), pixels, packed.view(), act, expected.data());
                    K().pointwise_conv(input.data(), pixels, packed.view(), act, actual.data());
                    const std::string what = "pointwise_conv panel " + std::to_string(panel) + " pixels " +
                                             std::to_string(pixels) + " in " + std::to_string(in) + " out " +
                                             std::to_string(out) + (act == Activation::relu6 ? " relu6" : "");
                    ASSERT_TRUE(all_close(actual.data(), expected.data(), expected.size(), what, 1e-4f, 1e-4f));
                }
            }
}

TEST_P(SimdKernelTest, StemConvMatchesReference) {
    std::uint32_t seed = 200;
    // kMaxInputChannels: the fewest pixels per gathered run of windows, several runs per row.
    for (int in : {1, 3, 4, kMaxInputChannels})
        for (int out : {8, 16, 17, 24, 32, 33, 48, 72})
            // 5x101 and 6x64: rows of interior pixels in several register tiles, odd and even widths.
            for (auto [h, w] : std::vector<std::pair<int, int>>{{1, 1}, {2, 2}, {3, 3}, {7, 7}, {15, 15}, {32, 33}, {9, 4}, {5, 101}, {6, 64}}) {
                const int batch = 2;
                const auto torch_w = random_vector(std::size_t(out) * in * 9, seed++);
                const auto bias = random_vector(out, seed++);
                const std::vector<float> scale(out, 1.0f);
                const PackedStem packed = pack_stem(torch_w.data(), scale.data(), bias.data(), in, out);
                const auto input = random_vector(std::size_t(batch) * h * w * in, seed++);
                const int oh = conv3x3_output_size(h, 2), ow = conv3x3_output_size(w, 2);
                std::vector<float> expected(std::size_t(batch) * oh * ow * out), actual(expected.size(), -99.0f);
                const std::size_t in_image = std::size_t(h) * w * in, out_image = std::size_t(oh) * ow * out;
                for (int n = 0; n < batch; ++n) {
                    Ref.stem_conv3x3_s2_relu6(input.data() + n * in_image, h, w, 0, oh, packed.view(),
                                                            expected.data() + n * out_image);
                    // Two bands of rows, as two threads compute them.
                    const int mid = oh / 2;
                    K().stem_conv3x3_s2_relu6(input.data() + n * in_image, h, w, 0, mid, packed.view(),
                                                     actual.data() + n * out_image);
                    K().stem_conv3x3_s2_relu6(input.data() + n * in_image, h, w, mid, oh, packed.view(),
                                                     actual.data() + n * out_image + std::size_t(mid) * ow * out);
                }
                ASSERT_TRUE(all_close(actual.data(), expected.data(), expected.size(),
                                      case_name("stem_conv3x3_s2_relu6 in " + std::to_string(in), batch, h, w, out, 2,
                                                Activation::relu6),
                                      1e-4f, 1e-4f));
            }
}

TEST_P(SimdKernelTest, PartialShortcutMatchesReference) {
    std::uint32_t seed = 300;
    for (int c : kChannels)
        for (int divisor : {1, 2, 3, 6})
            for (std::size_t pixels : {1, 3, 49}) {
                const int k = c / divisor;
                const auto input = random_vector(pixels * c, seed++);
                const auto start = random_vector(pixels * c, seed++);
                std::vector<float> expected = start, actual = start;
                Ref.add_partial_shortcut(input.data(), pixels, c, k, expected.data());
                K().add_partial_shortcut(input.data(), pixels, c, k, actual.data());
                ASSERT_TRUE(all_close(actual.data(), expected.data(), expected.size(),
                                      "add_partial_shortcut channels " + std::to_string(c) + " kept " +
                                          std::to_string(k) + " pixels " + std::to_string(pixels),
                                      0.0f, 0.0f));
            }
}

TEST_P(SimdKernelTest, GlobalAveragePoolMatchesReference) {
    std::uint32_t seed = 400;
    for (int c : kChannels)
        for (std::size_t pixels : {1, 2, 49, 196}) {
            const int batch = 3;
            const auto input = random_vector(batch * pixels * c, seed++);
            std::vector<float> expected(std::size_t(batch) * c), actual(expected.size(), -99.0f);
            Ref.global_average_pool(input.data(), batch, pixels, c, expected.data());
            K().global_average_pool(input.data(), batch, pixels, c, actual.data());
            ASSERT_TRUE(all_close(actual.data(), expected.data(), expected.size(),
                                  "global_average_pool channels " + std::to_string(c) + " pixels " +
                                      std::to_string(pixels),
                                  1e-5f, 1e-5f));
        }
}

TEST_P(SimdKernelTest, FullyConnectedMatchesReference) {
    std::uint32_t seed = 500;
    for (int panel : {kPointwisePanel, 16})
    for (int batch : {1, 2, 4, 5, 8})
        for (int in : {1, 17, 144, 1280})
            for (int out : {1, 10, 17, 1000}) {
                const auto torch_w = random_vector(std::size_t(out) * in, seed++);
                const auto bias = random_vector(out, seed++);
                const PackedPointwise packed = pack_pointwise(torch_w.data(), nullptr, bias.data(), in, out, panel);
                const auto input = random_vector(std::size_t(batch) * in, seed++);
                std::vector<float> expected(std::size_t(batch) * out), actual(expected.size(), -99.0f);
                Ref.fully_connected(input.data(), batch, packed.view(), expected.data());
                K().fully_connected(input.data(), batch, packed.view(), actual.data());
                ASSERT_TRUE(all_close(actual.data(), expected.data(), expected.size(),
                                      "fully_connected panel " + std::to_string(panel) + " batch " +
                                          std::to_string(batch) + " in " + std::to_string(in) + " out " +
                                          std::to_string(out),
                                      1e-4f, 1e-4f));
            }
}

// The reference kernels themselves, on cases small enough to compute by hand.
// The scan for NaN and large values: every position of short and long arrays (the vector
// loop and its scalar tail), each kind of bad value, and the limits.
TEST_P(SimdKernelTest, FirstBeyondMatchesReference) {
    const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
    for (std::size_t count : {std::size_t(0), std::size_t(1), std::size_t(7), std::size_t(16), std::size_t(63),
                              std::size_t(64), std::size_t(65), std::size_t(200)}) {
        std::vector<float> values = random_vector(count, std::uint32_t(count) + 1, -2.0f, 2.0f);
        for (float limit : {std::numeric_limits<float>::max(), 1.5f})
            ASSERT_EQ(K().first_beyond(values.data(), count, limit), Ref.first_beyond(values.data(), count, limit))
                << K().name() << " count " << count << " limit " << limit;
        for (std::size_t at = 0; at < count; ++at)
            for (float bad : {nan, inf, -inf, 3e38f}) {
                std::vector<float> v = values;
                v[at] = bad;
                if (at + 1 < count) v[count - 1] = nan;  // a later bad value must not be reported first
                const float limit = bad == 3e38f ? 1e12f : std::numeric_limits<float>::max();
                ASSERT_EQ(K().first_beyond(v.data(), count, limit), at)
                    << K().name() << " count " << count << " bad value " << bad << " at " << at;
                ASSERT_EQ(Ref.first_beyond(v.data(), count, limit), at);
            }
    }
}

// Float to uint8: the vector loop and its partial last vector, values on the rounding ties
// (x / scale = k + 0.5), beyond either end of the range, and zero points 0, 128, 255.
TEST_P(SimdKernelTest, QuantizeU8MatchesReference) {
    for (std::size_t count : {std::size_t(0), std::size_t(1), std::size_t(15), std::size_t(16), std::size_t(17),
                              std::size_t(67), std::size_t(1000)})
        for (int zero_point : {0, 128, 255}) {
            const float scale = 0.25f;
            std::vector<float> x = random_vector(count, std::uint32_t(count) * 7 + 3, -80.0f, 80.0f);
            for (std::size_t i = 0; i < count; i += 3) x[i] = scale * (float(int(i % 601) - 300) + 0.5f);
            if (count > 4) {
                x[1] = 1e30f;
                x[2] = -1e30f;
                x[4] = 0.0f;
            }
            std::vector<std::uint8_t> expected(count + 1, 0x5A), actual(count + 1, 0x5A);
            Ref.quantize_u8(x.data(), count, scale, zero_point, expected.data());
            K().quantize_u8(x.data(), count, scale, zero_point, actual.data());
            ASSERT_EQ(actual, expected) << K().name() << " count " << count << " zero point " << zero_point;
        }
}

TEST(ReferenceKernels, QuantizeU8RoundsHalfToEvenAndSaturates) {
    const float x[] = {0.25f, 0.75f, -0.25f, 1e30f, -1e30f, 0.0f};
    std::uint8_t q[6];
    Ref.quantize_u8(x, 6, 0.5f, 10, q);
    EXPECT_EQ(std::vector<int>(q, q + 6), (std::vector<int>{10, 12, 10, 255, 0, 10}));
}

TEST(ReferenceKernels, DepthwiseOnOnePixelUsesOnlyTheCentreTap) {
    std::vector<float> torch_w(9, 0.0f), bias{0.5f}, scale{1.0f};
    for (int i = 0; i < 9; ++i) torch_w[i] = float(i + 1);  // centre tap is 5
    const PackedDepthwise packed = pack_depthwise(torch_w.data(), scale.data(), bias.data(), 1);
    const float input = 2.0f;
    float output = 0.0f;
    Ref.dwconv3x3(&input, whole_image(1, 1, 1), packed.view(), Activation::none, &output);
    EXPECT_FLOAT_EQ(output, 10.5f);
    Ref.dwconv3x3(&input, whole_image(1, 1, 2), packed.view(), Activation::relu6, &output);
    EXPECT_FLOAT_EQ(output, 6.0f);
}

TEST(ReferenceKernels, DepthwiseStrideTwoSamplesEvenPositions) {
    // A 3x3 ramp with an all-ones kernel: the single stride-2 output of a 2x2 input sums the
    // four pixels; the top-left output of a 3x3 input sums its 2x2 corner.
    std::vector<float> torch_w(9, 1.0f), bias{0.0f}, scale{1.0f};
    const PackedDepthwise packed = pack_depthwise(torch_w.data(), scale.data(), bias.data(), 1);
    const float input[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    float out[4] = {};
    Ref.dwconv3x3(input, whole_image(3, 3, 2), packed.view(), Activation::none, out);
    EXPECT_FLOAT_EQ(out[0], 1 + 2 + 4 + 5);
    EXPECT_FLOAT_EQ(out[1], 2 + 3 + 5 + 6);
    EXPECT_FLOAT_EQ(out[3], 5 + 6 + 8 + 9);
}

TEST(ReferenceKernels, PointwiseIsAMatrixProduct) {
    // out = in [1 x 2] * W^T with W = [[1, 2], [3, 4], [5, 6]] (PyTorch [out][in]) + bias.
    const float torch_w[6] = {1, 2, 3, 4, 5, 6}, bias[3] = {0.5f, 0, -100};
    const PackedPointwise packed = pack_pointwise(torch_w, nullptr, bias, 2, 3);
    const float input[2] = {1, -1};
    float out[3];
    Ref.pointwise_conv(input, 1, packed.view(), Activation::relu6, out);
    EXPECT_FLOAT_EQ(out[0], 0.0f);  // -1 + 0.5, clamped
    EXPECT_FLOAT_EQ(out[1], 0.0f);  // -1
    EXPECT_FLOAT_EQ(out[2], 0.0f);  // -101
    Ref.pointwise_conv(input, 1, packed.view(), Activation::none, out);
    EXPECT_FLOAT_EQ(out[0], -0.5f);
    EXPECT_FLOAT_EQ(out[2], -101.0f);
}

TEST(PackedPointwise, ColumnPanelsHoldTheTorchWeights) {
    // 150 columns: panels of 64, 64 and 22 (padded to 32); 5 input channels.
    const int in = 5, out = 150;
    std::vector<float> torch_w(std::size_t(out) * in), bias(out);
    for (int co = 0; co < out; ++co) {
        bias[co] = float(co);
        for (int ci = 0; ci < in; ++ci) torch_w[std::size_t(co) * in + ci] = float(co * 10 + ci);
    }
    const PackedPointwise packed = pack_pointwise(torch_w.data(), nullptr, bias.data(), in, out);
    const PointwiseWeights w = packed.view();
    ASSERT_EQ(w.out_stride, 160);
    EXPECT_EQ(w.panel_width(0), 64);
    EXPECT_EQ(w.panel_width(127), 64);
    EXPECT_EQ(w.panel_width(128), 32);
    for (int co = 0; co < out; ++co)
        for (int ci = 0; ci < in; ++ci) {
            ASSERT_EQ(*w.at(ci, co), float(co * 10 + ci)) << "column " << co << " input channel " << ci;
            ASSERT_EQ(w.at(ci, co) + w.panel_width(co), w.at(ci + 1, co)) << "column " << co;
        }
    // Panel rows are contiguous, panels follow one another, the padding columns are zero.
    EXPECT_EQ(w.at(0, 64), w.weights + 64 * in);
    EXPECT_EQ(w.at(1, 0), w.weights + 64);
    for (int ci = 0; ci < in; ++ci)
        for (int co = out; co < 160; ++co) EXPECT_EQ(*w.at(ci, co), 0.0f) << "padding column " << co;
    // A panel-aligned range of columns is a layout of its own.
    const PointwiseWeights tail = w.columns(64, out);
    EXPECT_EQ(tail.out_channels, out - 64);
    EXPECT_EQ(tail.out_stride, 96);
    EXPECT_EQ(tail.bias[0], 64.0f);
    for (int co = 64; co < out; ++co)
        for (int ci = 0; ci < in; ++ci) ASSERT_EQ(*tail.at(ci, co - 64), *w.at(ci, co)) << "column " << co;
    const PointwiseWeights middle = w.columns(64, 128);
    EXPECT_EQ(middle.out_channels, 64);
    EXPECT_EQ(middle.out_stride, 64);
    EXPECT_EQ(*middle.at(4, 63), float(127 * 10 + 4));

    // Panels of 16 columns: ten of them, each [in][16], the last with 10 padding columns.
    const PackedPointwise narrow = pack_pointwise(torch_w.data(), nullptr, bias.data(), in, out, 16);
    const PointwiseWeights n = narrow.view();
    EXPECT_EQ(n.panel_width(0), 16);
    EXPECT_EQ(n.panel_width(159), 16);
    EXPECT_EQ(n.at(0, 16), n.weights + 16 * in);
    EXPECT_EQ(n.at(1, 0), n.weights + 16);
    for (int co = 0; co < out; ++co)
        for (int ci = 0; ci < in; ++ci) ASSERT_EQ(*n.at(ci, co), float(co * 10 + ci)) << "column " << co;
    const PointwiseWeights n_tail = n.columns(144, out);
    EXPECT_EQ(n_tail.out_channels, out - 144);
    EXPECT_EQ(n_tail.out_stride, 16);
    EXPECT_EQ(*n_tail.at(2, 5), float(149 * 10 + 2));
    // A panel width that is not a whole number of 16-float vectors is refused.
    EXPECT_THROW(pack_pointwise(torch_w.data(), nullptr, bias.data(), in, out, 24), Error);
}

}  // namespace
}  // namespace mobilenext
