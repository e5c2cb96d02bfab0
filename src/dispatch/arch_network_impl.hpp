#pragma once
// The network for one instruction set, for the translation unit compiled with its flags.
#include <utility>

#include <mobilenext/model/network.hpp>

#include "arch_network.hpp"

namespace mobilenext::internal {

template <class Arch>
class ArchNetwork final : public DispatchedNetworkImpl {
public:
    using Net = BasicNetwork<kernels::SimdKernels<Arch>>;

    explicit ArchNetwork(Net net) : net_(std::move(net)) {}

    void forward(const Tensor& input, Tensor& logits, Workspace& workspace) const override {
        net_.forward(input, logits, workspace);
    }
    std::string kernels_name() const override { return net_.kernels_name(); }
    const Topology& topology() const noexcept override { return net_.topology(); }

private:
    Net net_;
};

template <class Arch>
std::unique_ptr<DispatchedNetworkImpl> ArchNetworkFactory<Arch>::create(const NetworkConfig& config,
                                                                        const StateDict& weights,
                                                                        const std::string& source) {
    return std::make_unique<ArchNetwork<Arch>>(typename ArchNetwork<Arch>::Net(config, weights, source));
}

template <class Arch>
std::unique_ptr<DispatchedNetworkImpl> ArchNetworkFactory<Arch>::random(const NetworkConfig& config,
                                                                        std::uint64_t seed) {
    return std::make_unique<ArchNetwork<Arch>>(ArchNetwork<Arch>::Net::random(config, seed));
}

}  // namespace mobilenext::internal
