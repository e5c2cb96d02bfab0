#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include <mobilenext/core/tensor.hpp>

namespace mobilenext {
namespace {

TEST(Tensor, StorageIs64ByteAlignedAndZeroed) {
    Tensor t(2, 3, 5, 7);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(t.data()) % 64, 0u);
    EXPECT_EQ(t.size(), 2u * 3 * 5 * 7);
    for (std::size_t i = 0; i < t.size(); ++i) ASSERT_EQ(t.data()[i], 0.0f);
}

TEST(Tensor, NhwcIndexingHasChannelsContiguous) {
    Tensor t(1, 2, 3, 4);
    t.at(0, 1, 2, 3) = 5.0f;
    EXPECT_EQ(t.data()[((0 * 2 + 1) * 3 + 2) * 4 + 3], 5.0f);
}

TEST(Tensor, NchwRoundTripAndLayout) {
    const int n = 2, c = 3, h = 4, w = 5;
    std::vector<float> nchw(n * c * h * w);
    for (std::size_t i = 0; i < nchw.size(); ++i) nchw[i] = float(i);
    const Tensor t = Tensor::from_nchw(nchw.data(), n, c, h, w);
    EXPECT_EQ(t.shape(), (Shape4{n, h, w, c}));
    // element (b=1, ch=2, y=3, x=4) of NCHW
    EXPECT_EQ(t.at(1, 3, 4, 2), nchw[((1 * c + 2) * h + 3) * w + 4]);
    EXPECT_EQ(t.to_nchw(), nchw);
}

TEST(Tensor, RejectsEmptyNegativeAndOverflowingShapes) {
    EXPECT_THROW(Tensor(0, 1, 1, 1), Error);
    EXPECT_THROW(Tensor(1, -3, 1, 1), Error);
    EXPECT_THROW(Tensor(1 << 30, 1 << 30, 1 << 30, 1 << 30), Error);
}

TEST(Tensor, ReshapeToSmallerKeepsAllocation) {
    Tensor t(1, 8, 8, 8);
    const float* before = t.data();
    t.reshape({1, 4, 4, 8});
    EXPECT_EQ(t.data(), before);
}

}  // namespace
}  // namespace mobilenext
