// BatchNorm folding: conv followed by BN (computed directly, in double) equals the folded conv.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include <mobilenext/kernels/reference_kernels.hpp>
#include <mobilenext/kernels/pack_weights.hpp>
#include <mobilenext/model/batch_norm_fold.hpp>

#include "test_support.hpp"

namespace mobilenext {
namespace {

TEST(BatchNormFold, ScaleAndBiasFormula) {
    const float gamma[2] = {2.0f, 0.5f}, beta[2] = {1.0f, -1.0f}, mean[2] = {3.0f, 0.0f}, var[2] = {4.0f, 1.0f};
    const FoldedBatchNorm f = fold_batch_norm(gamma, beta, mean, var, 2);
    EXPECT_NEAR(f.scale[0], 2.0 / std::sqrt(4.0 + 1e-5), 1e-7);
    EXPECT_NEAR(f.bias[0], 1.0 - 3.0 * 2.0 / std::sqrt(4.0 + 1e-5), 1e-6);
    EXPECT_NEAR(f.scale[1], 0.5 / std::sqrt(1.0 + 1e-5), 1e-7);
    EXPECT_NEAR(f.bias[1], -1.0f, 1e-7);
}

TEST(BatchNormFold, EpsilonMattersForTinyVariance) {
    const float gamma = 1.0f, beta = 0.0f, mean = 0.0f, var = 0.0f;
    const FoldedBatchNorm f = fold_batch_norm(&gamma, &beta, &mean, &var, 1);
    EXPECT_NEAR(f.scale[0], 1.0 / std::sqrt(1e-5), 1e-2);
}

TEST(BatchNormFold, FoldedPointwiseEqualsConvThenBatchNorm) {
    const int in = 13, out = 21, pixels = 5;
    const auto w = testing::random_vector(std::size_t(in) * out, 1);
    const auto x = testing::random_vector(std::size_t(in) * pixels, 2);
    const auto gamma = testing::random_vector(out, 3, 0.5f, 1.5f);
    const auto beta = testing::random_vector(out, 4);
    const auto mean = testing::random_vector(out, 5);
    const auto var = testing::random_vector(out, 6, 0.1f, 2.0f);
    const FoldedBatchNorm f = fold_batch_norm(gamma.data(), beta.data(), mean.data(), var.data(), out);
    const PackedPointwise packed = pack_pointwise(w.data(), f.scale.data(), f.bias.data(), in, out);
    std::vector<float> folded(std::size_t(pixels) * out), direct(folded.size());
    kernels::kReferenceKernels.pointwise_conv(x.data(), pixels, packed.view(), Activation::none, folded.data());
    for (int p = 0; p < pixels; ++p)
        for (int co = 0; co < out; ++co) {
            double conv = 0.0;
            for (int ci = 0; ci < in; ++ci) conv += double(x[p * in + ci]) * w[co * in + ci];
            direct[p * out + co] =
                float(gamma[co] * (conv - mean[co]) / std::sqrt(double(var[co]) + 1e-5) + beta[co]);
        }
    EXPECT_TRUE(testing::all_close(folded.data(), direct.data(), direct.size(), "folded pointwise", 1e-5f, 1e-5f));
}

}  // namespace
}  // namespace mobilenext
