// Inference inputs a caller gets wrong or an attacker crafts: every one is a mobilenext::Error
// whose message says what was wrong, raised before any work or allocation; never a crash.
// Also the edges that are legal but unusual (1x1 images, one row, float-aligned but not
// vector-aligned buffers), which must compute the same as the reference network.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include <mobilenext/io/npy.hpp>
#include <mobilenext/io/safetensors.hpp>
#include <mobilenext/mobilenext.hpp>

#include "test_support.hpp"

namespace mobilenext {
namespace {

using testing::random_input;

// Runs `f`, expects an Error whose message contains every one of `parts`.
template <class F>
void expect_error(F&& f, const std::vector<std::string>& parts) {
    try {
        f();
        ADD_FAILURE() << "no error; expected one mentioning '" << parts.front() << "'";
    } catch (const Error& e) {
        for (const std::string& part : parts)
            EXPECT_NE(std::string(e.what()).find(part), std::string::npos)
                << "message '" << e.what() << "' does not mention '" << part << "'";
    }
}

const Model& small_network() {
    static const Model net = Model::random(NetworkConfig{0.35, 2, 7}, 11);
    return net;
}

TEST(HostileInputs, WrongChannelCountIsAnError) {
    Workspace ws;
    Tensor logits;
    expect_error([&] { small_network().forward(Tensor(1, 32, 32, 1), logits, ws); },
                 {"expected 3 channels", "[1, 32, 32, 1]"});
    expect_error([&] { small_network().forward(Tensor(1, 32, 32, 4), logits, ws); }, {"expected 3 channels"});
}

TEST(HostileInputs, ZeroNegativeAndOverflowingSizesAreErrors) {
    Workspace ws;
    std::vector<float> input(64), logits(64);
    for (const Shape4& s : {Shape4{0, 8, 8, 3}, Shape4{1, 0, 8, 3}, Shape4{1, 8, -8, 3}, Shape4{-1, 8, 8, 3},
                            Shape4{1, 8, 8, 0}})
        expect_error([&] { small_network().forward(input.data(), s, logits.data(), logits.size(), ws); },
                     {"must be positive", s.str()});
    // Element counts whose products overflow 64 bits, and sizes that fit 64 bits but not memory.
    const int big = std::numeric_limits<int>::max();
    expect_error([&] { small_network().forward(input.data(), Shape4{big, big, big, 3}, logits.data(), logits.size(), ws); },
                 {"too many elements"});
    expect_error([&] { small_network().forward(input.data(), Shape4{1, 1 << 18, 1 << 18, 3}, logits.data(),
                                               logits.size(), ws); },
                 {"too large", "[1, 262144, 262144, 3]"});
    expect_error([&] { small_network().plan(1, 1 << 18, 1 << 18); }, {"too large"});
    // Nothing was allocated for any of them.
    EXPECT_EQ(ws.bytes(), 0u);
}

TEST(HostileInputs, NullAndMisalignedUserBuffersAreErrors) {
    Workspace ws;
    const Shape4 s{1, 16, 16, 3};
    std::vector<float> input(s.elements() + 1), logits(8);
    expect_error([&] { small_network().forward(nullptr, s, logits.data(), logits.size(), ws); },
                 {"input", "null pointer"});
    expect_error([&] { small_network().forward(input.data(), s, nullptr, 7, ws); }, {"logits", "null pointer"});
    // A float pointer one byte into a float array: not aligned for float.
    const float* shifted_input = reinterpret_cast<const float*>(reinterpret_cast<const char*>(input.data()) + 1);
    float* shifted_logits = reinterpret_cast<float*>(reinterpret_cast<char*>(logits.data()) + 2);
    expect_error([&] { small_network().forward(shifted_input, s, logits.data(), logits.size(), ws); },
                 {"input", "not aligned"});
    expect_error([&] { small_network().forward(input.data(), s, shifted_logits, 6, ws); }, {"logits", "not aligned"});
    expect_error([&] { (void)Tensor::from_nchw(nullptr, 1, 3, 4, 4); }, {"from_nchw", "null pointer"});
}

TEST(HostileInputs, TooSmallLogitsBufferIsAnError) {
    Workspace ws;
    const Shape4 s{2, 16, 16, 3};
    std::vector<float> input(s.elements()), logits(13);
    expect_error([&] { small_network().forward(input.data(), s, logits.data(), logits.size(), ws); },
                 {"holds 13 floats", "14 needed"});
}

TEST(HostileInputs, NchwShapesOfWrongRankOrRangeAreErrors) {
    using Dims = std::vector<std::int64_t>;
    expect_error([] { nhwc_shape_of_nchw(Dims{3, 32, 32}, "x.npy"); }, {"x.npy", "rank-4", "[3, 32, 32]"});
    expect_error([] { nhwc_shape_of_nchw(Dims{1, 1, 3, 32, 32}, "x.npy"); }, {"rank-4"});
    expect_error([] { nhwc_shape_of_nchw(Dims{}, "x.npy"); }, {"rank-4", "[]"});
    expect_error([] { nhwc_shape_of_nchw(Dims{1, 3, 0, 32}, "x.npy"); }, {"[1, 2^30]"});
    expect_error([] { nhwc_shape_of_nchw(Dims{1, 3, -5, 32}, "x.npy"); }, {"[1, 2^30]"});
    expect_error([] { nhwc_shape_of_nchw(Dims{1, 3, std::int64_t(1) << 31, 1}, "x.npy"); }, {"[1, 2^30]"});
    expect_error([] { nhwc_shape_of_nchw(Dims{1 << 30, 3, 1 << 30, 1 << 30}, "x.npy"); }, {"too many elements"});
    const Shape4 s = nhwc_shape_of_nchw(Dims{2, 3, 5, 7}, "x.npy");
    EXPECT_EQ(s, (Shape4{2, 5, 7, 3}));
}

TEST(HostileInputs, InconsistentImagesAreErrors) {
    Preprocessing p;
    p.resize = 8;
    p.crop = 8;
    const Image short_pixels{4, 4, 3, std::vector<std::uint8_t>(4 * 4 * 3 - 1)};
    expect_error([&] { preprocess({short_pixels}, p, 3); }, {"4x4x3", "47 bytes"});
    const Image zero_width{0, 4, 3, {}};
    expect_error([&] { preprocess({zero_width}, p, 3); }, {"0x4x3"});
    const Image negative{-4, -4, 3, std::vector<std::uint8_t>(48)};
    expect_error([&] { preprocess({negative}, p, 3); }, {"-4x-4x3"});
    const Image ok{4, 4, 3, std::vector<std::uint8_t>(48, 100)};
    p.crop = 9;
    expect_error([&] { preprocess({ok}, p, 3); }, {"crop 9 is larger than resize 8"});
    p.crop = 8;
    Tensor batch(1, 8, 8, 3);
    expect_error([&] { preprocess_into(ok, p, batch, -1); }, {"at index -1"});
    expect_error([&] { preprocess_into(ok, p, batch, 1); }, {"at index 1"});
    expect_error([&] { (void)center_crop(ok, 0); }, {"size must be positive"});
    expect_error([&] { (void)resize_shorter_side(ok, -3, "bilinear"); }, {"size must be positive"});
    expect_error([&] { (void)resize_image(ok, 4, 4, "lanczos"); }, {"'lanczos'"});
}

// Legal but unusual: tiny and thin images, and user buffers aligned for float but not for
// vectors. Vector kernels must agree with the reference network there too.
TEST(HostileInputs, TinyThinAndUnalignedInputsMatchTheReference) {
    NetworkConfig config{0.35, 2, 7};
    const Model net = Model::random(config, 11);
    const Model reference = Model::random(config, 11, testing::reference_kernels());
    for (const Shape4& s : {Shape4{1, 1, 1, 3}, Shape4{1, 1, 57, 3}, Shape4{2, 33, 1, 3}, Shape4{1, 2, 3, 3},
                            Shape4{3, 5, 5, 3}}) {
        const Tensor x = random_input(s.n, s.h, s.w, s.c, 5);
        const Tensor expected = reference.forward(x);
        // One float past a 64-byte boundary: aligned for float, not for any vector.
        std::vector<float> input(x.size() + 1), logits(std::size_t(s.n) * 7 + 1);
        std::memcpy(input.data() + 1, x.data(), x.size() * sizeof(float));
        Workspace ws(2);
        net.forward(input.data() + 1, s, logits.data() + 1, logits.size() - 1, ws);
        EXPECT_TRUE(testing::all_close(logits.data() + 1, expected.data(), expected.size(), "input " + s.str(), 1e-4f,
                                       1e-4f));
    }
}

// ReLU6's min and max drop NaN: without the check an all-NaN input gave confident logits.
TEST(HostileInputs, NonFiniteInputsAreRefusedNamingTheElement) {
    for (const kernels::KernelTable* table : internal::kernel_tables()) {
        LoadOptions options;
        options.kernels = table->name();
        const Model net = Model::random(NetworkConfig{0.35, 2, 7}, 11, options);
        for (const float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                                -std::numeric_limits<float>::infinity()}) {
            Tensor x = random_input(2, 9, 11, 3, 4);
            x.data()[((1 * 9 + 4) * 11 + 7) * 3 + 2] = bad;  // image 1, row 4, column 7, channel 2
            Tensor logits;
            Workspace ws;
            expect_error([&] { net.forward(x, logits, ws); }, {"element [1][4][7][2]", "must be finite"});
        }
        Tensor all_nan(1, 32, 32, 3);
        for (std::size_t i = 0; i < all_nan.size(); ++i) all_nan.data()[i] = std::numeric_limits<float>::quiet_NaN();
        expect_error([&] { net.forward(all_nan); }, {"element [0][0][0][0]"});
    }
}

// Two threads on one Workspace corrupted the heap; the second now gets an Error at once.
TEST(HostileInputs, AWorkspaceInUseIsDetected) {
    const Model& net = small_network();
    Workspace ws;
    ws.in_use = true;  // as while another thread's pass runs
    Tensor logits;
    expect_error([&] { net.forward(Tensor(1, 32, 32, 3), logits, ws); }, {"already in use", "its own"});
    ws.in_use = false;
    EXPECT_NO_THROW(net.forward(Tensor(1, 32, 32, 3), logits, ws));
    EXPECT_FALSE(ws.in_use.load());
}

}  // namespace
}  // namespace mobilenext
