// The architecture derived from the config, against MOBILENEXT.md worked out by hand for
// width 1.0, and the parameter and multiply-add counts PyTorch reports for the same models.
#include <gtest/gtest.h>

#include <mobilenext/mobilenext.hpp>
#include <mobilenext/model/state_dict.hpp>
#include <mobilenext/model/topology.hpp>

namespace mobilenext {
namespace {

TEST(Topology, MakeDivisibleMatchesThePythonRule) {
    EXPECT_EQ(make_divisible(32 * 1.0, 8), 32);
    EXPECT_EQ(make_divisible(32 * 0.35, 8), 16);  // 8 < 0.9 * 11.2, so one more step
    EXPECT_EQ(make_divisible(96 * 0.35, 8), 32);
    EXPECT_EQ(make_divisible(24, 16), 32);
    EXPECT_EQ(make_divisible(214, 16), 208);
    EXPECT_EQ(make_divisible(3, 8), 8);
}

struct ExpectedBlock {
    BlockForm form;
    int in, hidden, out, stride, shortcut;
};

TEST(Topology, Width1MatchesTheAuthorsLayout) {
    NetworkConfig config;
    config.identity_div = 2;
    const Topology t = derive_topology(config);
    using F = BlockForm;
    const ExpectedBlock expected[] = {
        {F::head_t2, 32, 16, 96, 2, 0},          // t = 2
        {F::full, 96, 32, 144, 1, 0},            // keep_3x3: no shortcut
        {F::pointwise_dw_s2, 144, 32, 192, 2, 0},
        {F::full, 192, 32, 192, 1, 96},
        {F::full, 192, 32, 192, 1, 96},
        {F::pointwise_dw_s2, 192, 48, 288, 2, 0},
        {F::full, 288, 48, 288, 1, 144},
        {F::full, 288, 48, 288, 1, 144},
        {F::pointwise_only, 288, 64, 384, 1, 0},
        {F::full, 384, 64, 384, 1, 192},
        {F::full, 384, 64, 384, 1, 192},
        {F::full, 384, 64, 384, 1, 192},
        {F::pointwise_dw_s2, 384, 96, 576, 2, 0},
        {F::full, 576, 96, 576, 1, 288},
        {F::full, 576, 96, 576, 1, 288},
        {F::full, 576, 96, 576, 1, 288},
        {F::pointwise_only, 576, 160, 960, 1, 0},
        {F::full, 960, 160, 960, 1, 480},
        {F::full, 960, 160, 960, 1, 480},
        {F::full, 960, 208, 1280, 1, 0},  // keep_3x3; hidden make_div(ceil(1280 / 6), 16)
    };
    EXPECT_EQ(t.stem_channels, 32);
    ASSERT_EQ(t.blocks.size(), std::size(expected));
    for (std::size_t i = 0; i < t.blocks.size(); ++i) {
        const BlockSpec& b = t.blocks[i];
        const ExpectedBlock& e = expected[i];
        SCOPED_TRACE("block features." + std::to_string(b.index));
        EXPECT_EQ(b.index, int(i) + 1);
        EXPECT_EQ(b.form, e.form);
        EXPECT_EQ(b.in_channels, e.in);
        EXPECT_EQ(b.hidden, e.hidden);
        EXPECT_EQ(b.out_channels, e.out);
        EXPECT_EQ(b.stride, e.stride);
        EXPECT_EQ(b.shortcut_channels, e.shortcut);
    }
    EXPECT_EQ(t.last_channels, 1280);
}

TEST(Topology, LastRowStays1280BelowWidthOneAndGrowsAbove) {
    NetworkConfig config;
    config.width = 0.5;
    EXPECT_EQ(derive_topology(config).last_channels, 1280);
    config.width = 1.4;
    EXPECT_EQ(derive_topology(config).last_channels, make_divisible(1280 * 1.4, 8));
}

TEST(Topology, IdentityDivisorSetsShortcutChannels) {
    for (int d : {1, 2, 3, 6}) {
        NetworkConfig config;
        config.identity_div = d;
        for (const BlockSpec& b : derive_topology(config).blocks) {
            if (b.shortcut_channels > 0) {
                EXPECT_EQ(b.shortcut_channels, b.out_channels / d) << "divisor " << d;
            }
        }
    }
}

TEST(Topology, TinyWidthsKeepTheFullFormAtStrideOne) {
    // At width 0.125 the first 192-row block keeps its channels (24 -> 24) and so takes the
    // full form, which the authors build with stride 1.
    NetworkConfig config;
    config.width = 0.125;
    const Topology t = derive_topology(config);
    EXPECT_EQ(t.blocks[2].form, BlockForm::full);
    EXPECT_EQ(t.blocks[2].stride, 1);
    EXPECT_NO_THROW(Model::random(config, 1));
}

TEST(Topology, ThirdPartyLayoutIsAllFullFormWithStrideInLastDepthwise) {
    NetworkConfig config;
    config.layout = Layout::mobilenext_pytorch;
    const Topology t = derive_topology(config);
    ASSERT_EQ(t.blocks.size(), 20u);
    for (const BlockSpec& b : t.blocks) EXPECT_EQ(b.form, BlockForm::full);
    EXPECT_EQ(t.blocks[0].hidden, 16);  // 32 // 2
    EXPECT_EQ(t.blocks[0].stride, 2);
    EXPECT_EQ(t.blocks[1].hidden, 16);  // 96 // 6, no minimum
    EXPECT_EQ(t.blocks[1].shortcut_channels, 0);  // 96 -> 144
    EXPECT_EQ(t.blocks[3].shortcut_channels, 192);
    EXPECT_EQ(t.blocks[19].shortcut_channels, 0);  // 960 -> 1280
}

TEST(Topology, RejectsNonsenseConfigs) {
    NetworkConfig bad;
    bad.width = 0.0;
    EXPECT_THROW(derive_topology(bad), Error);
    bad = NetworkConfig{};
    bad.identity_div = 0;
    EXPECT_THROW(derive_topology(bad), Error);
    bad = NetworkConfig{};
    bad.num_classes = 0;
    EXPECT_THROW(derive_topology(bad), Error);
}

TEST(Topology, ExpectedStateDictUsesTheAuthorsNames) {
    const Topology t = derive_topology(NetworkConfig{});
    const auto tensors = expected_state_dict(t);
    const auto has = [&tensors](const std::string& name, std::vector<std::int64_t> shape) {
        for (const auto& e : tensors)
            if (e.name == name) return e.shape == shape;
        return false;
    };
    EXPECT_TRUE(has("features.0.0.weight", {32, 3, 3, 3}));
    EXPECT_TRUE(has("features.0.1.running_var", {32}));
    EXPECT_TRUE(has("features.1.conv.0.weight", {32, 1, 3, 3}));   // t = 2: dw first
    EXPECT_TRUE(has("features.1.conv.8.weight", {96, 1, 3, 3}));
    EXPECT_TRUE(has("features.3.conv.0.weight", {32, 144, 1, 1}));  // pw-pw-dw
    EXPECT_TRUE(has("features.3.conv.5.weight", {192, 1, 3, 3}));
    EXPECT_TRUE(has("features.9.conv.2.weight", {384, 64, 1, 1}));  // pw-pw
    EXPECT_TRUE(has("features.9.conv.3.bias", {384}));
    EXPECT_TRUE(has("classifier.1.weight", {1000, 1280}));
}

// Counted by PyTorch on the project's PyTorch model (tools/mobilenext_torch.py): parameters
// of the unfolded model, multiply-adds of convolutions and the classifier at 224x224.
struct PinnedCounts {
    double width;
    std::int64_t params, madds;
};

TEST(Topology, CountsMatchPyTorch) {
    const PinnedCounts official[] = {
        {0.35, 1913976, 75141032},
        {0.5, 2152304, 103256448},
        {0.75, 2766168, 207926720},
        {1.0, 3535416, 311342592},
        {1.4, 6126168, 588319256},
    };
    // The same five widths in the third-party layout (every block full form, last row scaled).
    const PinnedCounts third_party[] = {
        {0.35, 745780, 47715752},
        {0.5, 1202768, 81401408},
        {0.75, 2141812, 164626272},
        {1.0, 3305720, 274594944},
        {1.4, 5628896, 514199504},
    };
    for (const auto& [layout, pinned] : {std::pair{Layout::official, official}, std::pair{Layout::mobilenext_pytorch, third_party}})
        for (int i = 0; i < 5; ++i) {
        const PinnedCounts& p = pinned[i];
        NetworkConfig config;
        config.width = p.width;
        config.layout = layout;
        const Topology t = derive_topology(config);
        EXPECT_EQ(count_parameters(t), p.params) << layout_name(layout) << " width " << p.width;
        EXPECT_EQ(count_multiply_adds(t, 224, 224), p.madds) << layout_name(layout) << " width " << p.width;
    }
}

}  // namespace
}  // namespace mobilenext
