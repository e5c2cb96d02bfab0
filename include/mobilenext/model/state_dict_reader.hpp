#pragma once
// Reading a state dict in the authors' naming into packed weights: every tensor fetched with
// its expected shape, BatchNorm folded, the packed values checked, and the tensors nothing
// read reported. Shared by the classifier and the detector, whose backbone is the same
// network under another prefix.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "../blocks/sandglass_block.hpp"
#include "../core/error.hpp"
#include "../kernels/kernel_table.hpp"
#include "../kernels/pack_weights.hpp"
#include "batch_norm_fold.hpp"
#include "state_dict.hpp"
#include "topology.hpp"

namespace mobilenext {

namespace internal {

// Fetches tensors by name with their expected shapes and remembers which were used, so that
// tensors the topology does not have are reported instead of ignored.
class StateDictReader {
public:
    StateDictReader(const StateDict& dict, std::string source, const kernels::KernelTable& kernels)
        : dict_(dict), source_(std::move(source)), kernels_(&kernels) {}

    const HostTensor& get(const std::string& name, const std::vector<std::int64_t>& shape) {
        const auto it = dict_.find(name);
        if (it == dict_.end()) throw LoadError(source_, name, "a tensor of shape " + shape_string(shape), "none (missing)");
        if (it->second.shape != shape)
            throw LoadError(source_, name, "shape " + shape_string(shape), "shape " + shape_string(it->second.shape));
        std::size_t count = 1;
        for (std::int64_t d : shape) count *= std::size_t(d);
        if (it->second.values.size() != count)
            throw LoadError(source_, name, std::to_string(count) + " values",
                            std::to_string(it->second.values.size()) + " values");
        used_.insert(name);
        return it->second;
    }

    FoldedBatchNorm batch_norm(const std::string& prefix, int channels) {
        // Fetched one by one, so a file missing several is always reported by the first.
        const std::vector<std::int64_t> shape{channels};
        const float* gamma = get(prefix + ".weight", shape).values.data();
        const float* beta = get(prefix + ".bias", shape).values.data();
        const float* mean = get(prefix + ".running_mean", shape).values.data();
        const float* var = get(prefix + ".running_var", shape).values.data();
        for (int c = 0; c < channels; ++c)
            if (!(var[c] >= 0.0f))
                throw LoadError(source_, prefix + ".running_var", "variances >= 0",
                                "running_var[" + std::to_string(c) + "] = " + std::to_string(var[c]));
        FoldedBatchNorm folded = fold_batch_norm(gamma, beta, mean, var, channels);
        // Finite inputs can still fold to infinities (a huge gamma over a zero variance).
        for (int c = 0; c < channels; ++c)
            if (!std::isfinite(folded.scale[c]) || !std::isfinite(folded.bias[c]))
                throw LoadError(source_, prefix + ".weight",
                                "a BatchNorm whose folded scale and bias fit in float",
                                "channel " + std::to_string(c) + " folds to scale " + std::to_string(folded.scale[c]) +
                                    ", bias " + std::to_string(folded.bias[c]));
        return folded;
    }

    // Every tensor was used, except BatchNorm's step counter (irrelevant at inference).
    void check_all_used() const {
        for (const auto& [name, tensor] : dict_) {
            if (!ends_with(name, "num_batches_tracked") && used_.count(name) == 0)
                throw LoadError(source_, name, "no such tensor in this MobileNeXt",
                                "an unexpected tensor of shape " + shape_string(tensor.shape));
        }
    }

    const std::string& source() const noexcept { return source_; }
    const kernels::KernelTable& kernels() const noexcept { return *kernels_; }

private:
    const StateDict& dict_;
    std::string source_;
    const kernels::KernelTable* kernels_;
    std::set<std::string> used_;
};

// Largest magnitude of a folded weight or bias. Trained networks stay many orders below it (a
// BatchNorm with a tiny variance scales by a few hundred); above it, finite weights overflow to
// infinity within the first layers (a stem weight of 3e38 times a pixel of 2), and ReLU6 then
// turns the infinities into confident, wrong answers.
inline constexpr float kMaxFoldedWeight = 1e12f;

// Finite weights can still multiply to infinities with their folded BatchNorm scale: the
// values the kernels will use are checked once they are packed, with the model's own kernel
// set (a scalar loop over the packed weights took as long as the rest of the load; see
// "file to first result" in BENCHMARKS.md).
template <class Packed>
void check_packed_finite(const Packed& p, const std::string& source, const std::string& conv,
                         const kernels::KernelTable& k) {
    for (const AlignedBuffer* buffer : {&p.weights, &p.bias}) {
        const std::size_t bad = k.first_beyond(buffer->data(), buffer->size(), kMaxFoldedWeight);
        if (bad != buffer->size())
            throw LoadError(source, conv + ".weight",
                            "weights that stay finite, within 1e12, once BatchNorm is folded into them",
                            std::to_string((*buffer)[bad]) + (buffer == &p.weights ? " in the folded weights"
                                                                                    : " in the folded bias"));
    }
}

// One convolution and its BatchNorm: the BatchNorm folded (read first, so that a file missing
// several tensors is reported by the first of them), the weights fetched with their shape and
// packed by pack(weights, scale, bias), the result checked.
template <class Pack>
auto read_conv_bn(StateDictReader& r, const ConvBnLayer& layer, const Pack& pack) {
    const FoldedBatchNorm f = r.batch_norm(layer.bn, int(layer.weight_shape[0]));
    auto packed = pack(r.get(layer.conv + ".weight", layer.weight_shape).values.data(), f.scale.data(), f.bias.data());
    check_packed_finite(packed, r.source(), layer.conv, r.kernels());
    return packed;
}

// The stem and the blocks of a MobileNeXt, its tensors named `prefix` + the classifier's names.
struct BackboneWeights {
    PackedStem stem;
    std::vector<SandglassBlock> blocks;
};

inline BackboneWeights read_backbone(StateDictReader& r, const Topology& t, const std::string& prefix = "") {
    const kernels::KernelTable& kernels = r.kernels();
    std::vector<SandglassWeights> block_weights(t.blocks.size());
    BackboneWeights out;
    for (const ConvBnLayer& layer : conv_bn_layers(t, prefix)) {
        const int conv_out = int(layer.weight_shape[0]), conv_in = int(layer.weight_shape[1]);
        const auto stem = [&](const float* w, const float* scale, const float* bias) {
            return pack_stem(w, scale, bias, t.config.in_channels, conv_out);
        };
        const auto depthwise = [&](const float* w, const float* scale, const float* bias) {
            return pack_depthwise(w, scale, bias, conv_out);
        };
        const auto pointwise = [&](const float* w, const float* scale, const float* bias) {
            return pack_pointwise(w, scale, bias, conv_in, conv_out, kernels.pointwise_panel);
        };
        SandglassWeights* w = layer.block >= 0 ? &block_weights[std::size_t(layer.block)] : nullptr;
        switch (layer.role) {
            case LayerRole::stem: out.stem = read_conv_bn(r, layer, stem); break;
            case LayerRole::input_dw: w->input_dw = read_conv_bn(r, layer, depthwise); break;
            case LayerRole::reduce: w->reduce = read_conv_bn(r, layer, pointwise); break;
            case LayerRole::expand: w->expand = read_conv_bn(r, layer, pointwise); break;
            case LayerRole::output_dw: w->output_dw = read_conv_bn(r, layer, depthwise); break;
        }
    }
    out.blocks.reserve(t.blocks.size());
    for (std::size_t i = 0; i < t.blocks.size(); ++i)
        out.blocks.emplace_back(t.blocks[i], std::move(block_weights[i]), kernels);
    return out;
}

}  // namespace internal

}  // namespace mobilenext
