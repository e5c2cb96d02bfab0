// Header-only use: mobilenext::mobilenext alone, the model's code compiled into this program
// (built with -march=native when MOBILENEXT_NATIVE_ARCH is on). Model offers the kernels of
// the compiler's instruction set and the reference, which must agree, and loads the shipped
// model with its test vector checked.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include <xsimd/xsimd.hpp>

#include <mobilenext/mobilenext.hpp>

namespace mobilenext {
namespace {

TEST(HeaderOnly, OffersTheCompilersInstructionSetAndTheReference) {
    const std::vector<std::string> available = Model::available_kernels();
    ASSERT_EQ(available.size(), 2u);
    EXPECT_EQ(available[0], std::string("simd/") + xsimd::default_arch::name());
    EXPECT_EQ(available[1], "reference");
}

TEST(HeaderOnly, LoadsTheShippedModelOnBothKernelSets) {
    const std::string path = std::string(MOBILENEXT_SOURCE_DIR) + "/models/fashion_mnist_mobilenext.safetensors";
    Tensor input(2, 28, 28, 1);
    for (std::size_t i = 0; i < input.size(); ++i) input.data()[i] = std::sin(0.37f * float(i));
    std::vector<Tensor> logits;
    for (const std::string& kernels : Model::available_kernels()) {
        LoadOptions options;
        options.kernels = kernels;
        const Model model = Model::load(path, options);
        EXPECT_EQ(model.kernels_name(), kernels);
        EXPECT_EQ(model.info().test_vector_status, TestVectorStatus::checked);
        logits.push_back(model.forward(input));
    }
    for (std::size_t i = 0; i < logits[0].size(); ++i)
        EXPECT_NEAR(logits[0].data()[i], logits[1].data()[i], 1e-4f * std::max(1.0f, std::fabs(logits[1].data()[i])))
            << "logit " << i;
}

}  // namespace
}  // namespace mobilenext
