// Run-time kernel selection through mobilenext::dispatch. This file is compiled without
// -march=native (the compiler's baseline, as a user with no -m flag builds), so any wide kernel
// that runs here comes from the library's own per-instruction-set translation units: on an
// AVX-512 machine the chosen kernels must be AVX-512 ones, and every kernel set this CPU runs
// must match the reference kernels.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <xsimd/xsimd.hpp>

#include <mobilenext/mobilenext.hpp>

#include "test_support.hpp"

namespace mobilenext {
namespace {

using testing::max_abs;
using testing::random_input;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(Dispatch, ThisTestIsBuiltWithoutWideInstructionSets) {
    // Otherwise the next test could pass through the header-only path's flags.
#if defined(__x86_64__) || defined(_M_X64)
    EXPECT_FALSE(XSIMD_WITH_AVX) << "test_dispatch.cpp must be compiled for baseline x86-64";
#endif
}

TEST(Dispatch, ChoosesTheBestKernelsThisCpuRuns) {
    const auto cpu = xsimd::available_architectures();
    const std::string name = Model::random(NetworkConfig{0.35}, 1).kernels_name();
    const std::vector<std::string> available = Model::available_kernels();
    ASSERT_FALSE(available.empty());
    EXPECT_EQ(name, available.front());
#if defined(__x86_64__) || defined(_M_X64)
    if (cpu.avx512bw) EXPECT_TRUE(contains(name, "avx512")) << name;
    else if (cpu.fma3_avx2) EXPECT_TRUE(contains(name, "avx2")) << name;
    else EXPECT_EQ(name, "simd/sse2");
    EXPECT_EQ(available[available.size() - 2], "simd/sse2");
    EXPECT_EQ(available.back(), "reference");
#elif defined(__aarch64__)
    EXPECT_TRUE(cpu.neon64);
    EXPECT_EQ(name, std::string("simd/") + xsimd::neon64::name());
#endif
    std::cout << "[          ] chosen kernels: " << name << " (available:";
    for (const std::string& k : available) std::cout << ' ' << k;
    std::cout << ")\n";
}

TEST(Dispatch, EveryAvailableKernelSetMatchesTheReferenceNetwork) {
    struct Case {
        double width;
        int identity_div;
        Layout layout;
        int batch, height, width_px;
    };
    const Case cases[] = {
        {1.0, 2, Layout::official, 1, 224, 224},
        {0.5, 3, Layout::official, 2, 33, 47},
        {0.75, 1, Layout::mobilenext_pytorch, 1, 57, 40},
    };
    for (const Case& c : cases) {
        NetworkConfig config;
        config.width = c.width;
        config.identity_div = c.identity_div;
        config.layout = c.layout;
        config.num_classes = 37;
        const StateDict weights = make_random_state_dict(derive_topology(config), 7);
        const Model ref = Model::from_state_dict(config, weights, testing::reference_kernels());
        const Tensor x = random_input(c.batch, c.height, c.width_px, 3, 11);
        const Tensor expected = ref.forward(x);
        const float scale = std::max(1.0f, max_abs(expected));
        ASSERT_GT(max_abs(expected), 1e-3f) << "logits are all near zero, the test would prove nothing";
        for (const std::string& kernels : Model::available_kernels()) {
            LoadOptions options;
            options.kernels = kernels;
            const Model net = Model::from_state_dict(config, weights, options);
            EXPECT_EQ(net.kernels_name(), kernels);
            const std::string what = kernels + " width " + std::to_string(c.width) + " input " + x.shape().str();
            const Tensor actual = net.forward(x);
            ASSERT_EQ(actual.shape(), (Shape4{c.batch, 1, 1, 37})) << what;
            EXPECT_TRUE(testing::all_close(actual.data(), expected.data(), expected.size(), what, 1e-4f * scale, 0.0f));
        }
    }
}

TEST(Dispatch, RandomWeightsAreTheSameOnEveryKernelSet) {
    const NetworkConfig config{0.5};
    const Tensor x = random_input(1, 64, 64, 3, 5);
    const Tensor expected = Model::random(config, 42, testing::reference_kernels()).forward(x);
    const Tensor actual = Model::random(config, 42).forward(x);
    EXPECT_TRUE(testing::all_close(actual.data(), expected.data(), expected.size(), "random weights",
                                   1e-4f * std::max(1.0f, max_abs(expected)), 0.0f));
}

TEST(Dispatch, ForwardsFromSeveralThreadsWithIntraOpThreads) {
    const NetworkConfig config{0.35};
    const Model net = Model::random(config, 3);
    const Model copy = net;  // shares the weights
    EXPECT_EQ(&copy.topology(), &net.topology());
    const Tensor x = random_input(2, 48, 40, 3, 9);
    const Tensor expected = net.forward(x);
    std::vector<Tensor> results(3);
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < results.size(); ++i)
        threads.emplace_back([&, i] {
            Workspace ws(2);
            for (int repeat = 0; repeat < 2; ++repeat) copy.forward(x, results[i], ws);
        });
    for (std::thread& t : threads) t.join();
    for (const Tensor& r : results) EXPECT_TRUE(testing::all_close(r.data(), expected.data(), expected.size(), "thread"));
}

TEST(Dispatch, ReportsUnknownKernelSetsAndBadWeights) {
    const NetworkConfig config{0.35};
    const StateDict weights = make_random_state_dict(derive_topology(config), 1);
    try {
        LoadOptions options;
        options.kernels = "simd/mmx";
        Model::from_state_dict(config, weights, options);
        FAIL() << "no exception";
    } catch (const Error& e) {
        EXPECT_TRUE(contains(e.what(), "'simd/mmx' is not available")) << e.what();
        EXPECT_TRUE(contains(e.what(), Model::available_kernels().front())) << e.what();
    }
    StateDict missing = weights;
    missing.erase("classifier.1.bias");
    try {
        ModelInfo info;
        info.path = "model.safetensors";
        info.config = config;
        Model::from_state_dict(missing, info);
        FAIL() << "no exception";
    } catch (const LoadError& e) {
        EXPECT_EQ(e.tensor(), "classifier.1.bias");
        EXPECT_TRUE(contains(e.what(), "model.safetensors")) << e.what();
    }
    EXPECT_THROW(Model::random(config, 1).forward(Tensor(1, 32, 32, 4)), Error);
}

// The shipped model through Model::load on every kernel set: its stored test vector (PyTorch's
// logits) is checked at load by each.
TEST(Dispatch, TheShippedModelLoadsAndVerifiesOnEveryKernelSet) {
    const std::string path = std::string(MOBILENEXT_SOURCE_DIR) + "/models/fashion_mnist_mobilenext.safetensors";
    for (const std::string& kernels : Model::available_kernels()) {
        LoadOptions options;
        options.kernels = kernels;
        const Model model = Model::load(path, options);
        EXPECT_EQ(model.kernels_name(), kernels);
        EXPECT_EQ(model.info().test_vector_status, TestVectorStatus::checked) << kernels;
    }
}

}  // namespace
}  // namespace mobilenext
