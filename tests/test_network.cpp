// The whole network: vector kernels against the all-reference network on the same weights,
// input sizes from 32x32 up (odd, non-square), both layouts, several identity divisors;
// weight validation; concurrent forwards from several threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <mobilenext/io/npy.hpp>
#include <mobilenext/io/safetensors.hpp>
#include <mobilenext/mobilenext.hpp>

#include "test_support.hpp"

namespace mobilenext {
namespace {

using testing::max_abs;
using testing::random_input;

struct NetworkCase {
    double width;
    int identity_div;
    Layout layout;
    int batch, height, width_px;
};

TEST(Network, SimdMatchesReferenceNetwork) {
    const NetworkCase cases[] = {
        {1.0, 1, Layout::official, 1, 224, 224},
        {1.0, 2, Layout::official, 2, 33, 47},
        {0.35, 6, Layout::official, 2, 32, 32},
        {0.5, 3, Layout::official, 1, 65, 40},
        {0.75, 2, Layout::mobilenext_pytorch, 1, 57, 57},
        {1.4, 1, Layout::official, 1, 45, 33},
    };
    for (const NetworkCase& c : cases) {
        NetworkConfig config;
        config.width = c.width;
        config.identity_div = c.identity_div;
        config.layout = c.layout;
        config.num_classes = 37;
        const StateDict weights = make_random_state_dict(derive_topology(config), 7);
        const Model ref = Model::from_state_dict(config, weights, testing::reference_kernels());
        const Tensor x = random_input(c.batch, c.height, c.width_px, 3, 11);
        const Tensor expected = ref.forward(x);
        for (const kernels::KernelTable* table : testing::vector_kernel_tables()) {
            LoadOptions options;
            options.kernels = table->name();
            const Model net = Model::from_state_dict(config, weights, options);
            const Tensor actual = net.forward(x);
            const std::string what = "width " + std::to_string(c.width) + " divisor " + std::to_string(c.identity_div) +
                                     " layout " + layout_name(c.layout) + " input " + x.shape().str() + " kernels " +
                                     net.kernels_name();
            ASSERT_EQ(actual.shape(), (Shape4{c.batch, 1, 1, 37})) << what;
            const float scale = std::max(1.0f, max_abs(expected));
            EXPECT_GT(max_abs(expected), 1e-3f) << what << ": logits are all near zero, the test would prove nothing";
            EXPECT_TRUE(testing::all_close(actual.data(), expected.data(), expected.size(), what, 1e-4f * scale, 0.0f));
        }
    }
}

TEST(Network, RunsTheBestKernelsByDefault) {
    const Model net = Model::random(NetworkConfig{0.35}, 1);
    EXPECT_EQ(net.kernels_name(), Model::available_kernels().front());
    EXPECT_EQ(Model::available_kernels().back(), "reference");
    EXPECT_EQ(Model::random(NetworkConfig{0.35}, 1, testing::reference_kernels()).kernels_name(), "reference");
    LoadOptions unknown;
    unknown.kernels = "simd/avx1024";
    try {
        Model::random(NetworkConfig{0.35}, 1, unknown);
        FAIL() << "no exception";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("available: " + Model::available_kernels().front()), std::string::npos)
            << e.what();
    }
}

TEST(Network, OneChannelInputAndFewClasses) {
    NetworkConfig config;
    config.width = 0.5;
    config.in_channels = 1;
    config.num_classes = 10;
    const StateDict weights = make_random_state_dict(derive_topology(config), 3);
    const Tensor x = random_input(3, 32, 32, 1, 5);
    const Tensor a = Model::from_state_dict(config, weights).forward(x),
                 e = Model::from_state_dict(config, weights, testing::reference_kernels()).forward(x);
    EXPECT_TRUE(testing::all_close(a.data(), e.data(), e.size(), "1 channel, 10 classes", 1e-4f, 1e-4f));
}

TEST(Network, RejectsInputOfWrongChannels) {
    const Model net = Model::random(NetworkConfig{0.35}, 1);
    try {
        net.forward(Tensor(1, 32, 32, 4));
        FAIL() << "no exception";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("expected 3 channels"), std::string::npos) << e.what();
    }
}

TEST(Network, WeightErrorsNameTheTensorAndShapes) {
    NetworkConfig config;
    config.width = 0.35;
    const StateDict good = make_random_state_dict(derive_topology(config), 1);
    const auto message = [&config](const StateDict& dict) {
        try {
            ModelInfo info;
            info.path = "model.safetensors";
            info.config = config;
            Model::from_state_dict(dict, info);
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string("no exception");
    };
    StateDict missing = good;
    missing.erase("features.5.conv.3.weight");
    EXPECT_NE(message(missing).find("'features.5.conv.3.weight': expected a tensor of shape [16, 64, 1, 1], found none (missing)"), std::string::npos) << message(missing);

    StateDict reshaped = good;
    reshaped["classifier.1.bias"].shape = {999};
    const std::string m = message(reshaped);
    EXPECT_NE(m.find("model.safetensors"), std::string::npos) << m;
    EXPECT_NE(m.find("'classifier.1.bias': expected shape [1000], found shape [999]"), std::string::npos) << m;

    StateDict extra = good;
    extra["features.21.conv.0.weight"] = HostTensor{{1}, {0.0f}};
    EXPECT_NE(message(extra).find("'features.21.conv.0.weight': expected no such tensor in this MobileNeXt, found an unexpected tensor"), std::string::npos)
        << message(extra);

    StateDict with_counter = good;  // BatchNorm's step counter is ignored
    with_counter["features.0.1.num_batches_tracked"] = HostTensor{{}, {1.0f}};
    EXPECT_EQ(message(with_counter), "no exception");
}

TEST(Network, WorkspaceIsReusedWithoutGrowing) {
    const Model net = Model::random(NetworkConfig{0.5}, 2);
    const Tensor x = random_input(2, 64, 64, 3, 9);
    Workspace ws;
    Tensor first, second;
    net.forward(x, first, ws);
    const std::size_t bytes = ws.bytes();
    const float* logits_storage = first.data();
    net.forward(x, first, ws);
    EXPECT_EQ(ws.bytes(), bytes);
    EXPECT_EQ(first.data(), logits_storage);
    EXPECT_LE(net.working_memory_bytes(2, 64, 64), bytes);
    net.forward(x, second, ws);
    EXPECT_EQ(std::vector<float>(first.data(), first.data() + first.size()),
              std::vector<float>(second.data(), second.data() + second.size()));
}

TEST(Network, ConcurrentForwardsGiveIdenticalOutputs) {
    const Model net = Model::random(NetworkConfig{0.75, 2}, 4);
    std::vector<Tensor> inputs;
    std::vector<std::vector<float>> sequential;
    for (int i = 0; i < 4; ++i) {
        inputs.push_back(random_input(1 + i % 2, 40 + 8 * i, 48, 3, 100 + i));
        const Tensor y = net.forward(inputs.back());
        sequential.emplace_back(y.data(), y.data() + y.size());
    }
    constexpr int kThreads = 4, kRepeats = 3;
    std::vector<std::vector<std::vector<float>>> results(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([&, t] {
            Workspace ws;
            Tensor y;
            for (int r = 0; r < kRepeats; ++r)
                for (std::size_t i = 0; i < inputs.size(); ++i) {
                    const Tensor& x = inputs[(i + t) % inputs.size()];
                    net.forward(x, y, ws);
                    results[t].emplace_back(y.data(), y.data() + y.size());
                }
        });
    for (auto& th : threads) th.join();
    for (int t = 0; t < kThreads; ++t)
        for (std::size_t k = 0; k < results[t].size(); ++k)
            ASSERT_EQ(results[t][k], sequential[((k % inputs.size()) + t) % inputs.size()])
                << "thread " << t << " call " << k;
}

}  // namespace
}  // namespace mobilenext

namespace mobilenext {
namespace {

TEST(Network, LogitsAreBitIdenticalForAnyThreadCount) {
    NetworkConfig config;
    config.width = 0.5;
    config.identity_div = 2;
    const Model net = Model::random(config, 5);
    for (const Shape4& shape : {Shape4{1, 64, 57, 3}, Shape4{3, 40, 33, 3}, Shape4{2, 224, 224, 3}}) {
        Tensor x(shape);
        const auto v = testing::random_vector(x.size(), 17, -2.0f, 2.0f);
        std::copy(v.begin(), v.end(), x.data());
        Workspace single;
        Tensor expected;
        net.forward(x, expected, single);
        for (int threads : {2, 3, 4}) {
            Workspace ws(threads);
            Tensor y;
            net.forward(x, y, ws);
            net.forward(x, y, ws);  // warm workspace: same again
            ASSERT_EQ(std::vector<float>(y.data(), y.data() + y.size()),
                      std::vector<float>(expected.data(), expected.data() + expected.size()))
                << threads << " threads, input " << shape.str();
        }
    }
}

// One shared model, 8 threads x 1000 forward passes each (inputs of three sizes, each thread
// with its own workspace): every result bit-identical to the sequential run.
TEST(Network, ConcurrentForwardsEightThreadsThousandEach) {
    const Model net = Model::random(NetworkConfig{0.35, 2, 10}, 8);
    std::vector<Tensor> inputs;
    std::vector<Tensor> sequential;
    for (int i = 0; i < 5; ++i) {
        inputs.push_back(random_input(1, 24 + 8 * (i % 3), 32, 3, 200 + i));
        sequential.push_back(net.forward(inputs.back()));
    }
    constexpr int kThreads = 8, kForwards = 1000;
    std::vector<int> mismatches(kThreads, 0), done(kThreads, 0);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([&, t] {
            Workspace ws;
            Tensor y;
            for (int k = 0; k < kForwards; ++k) {
                const std::size_t i = std::size_t(k + t) % inputs.size();
                net.forward(inputs[i], y, ws);
                const Tensor& e = sequential[i];
                mismatches[t] += y.shape() != e.shape() || std::memcmp(y.data(), e.data(), e.size() * sizeof(float)) != 0;
                ++done[t];
            }
        });
    for (auto& th : threads) th.join();
    EXPECT_EQ(done, std::vector<int>(kThreads, kForwards));
    EXPECT_EQ(mismatches, std::vector<int>(kThreads, 0));
}

TEST(Network, SeveralCallersEachWithIntraOpThreads) {
    const Model net = Model::random(NetworkConfig{0.35}, 6);
    Tensor x(1, 96, 96, 3);
    const auto v = testing::random_vector(x.size(), 3, -1.0f, 1.0f);
    std::copy(v.begin(), v.end(), x.data());
    const Tensor expected = net.forward(x);
    std::vector<std::thread> callers;
    std::vector<int> mismatches(3, 0);
    for (int t = 0; t < 3; ++t)
        callers.emplace_back([&, t] {
            Workspace ws(2);
            Tensor y;
            for (int i = 0; i < 5; ++i) {
                net.forward(x, y, ws);
                mismatches[t] += !std::equal(y.data(), y.data() + y.size(), expected.data());
            }
        });
    for (auto& c : callers) c.join();
    EXPECT_EQ(mismatches, std::vector<int>(3, 0));
}

}  // namespace
}  // namespace mobilenext
