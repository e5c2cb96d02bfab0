#pragma once
// What the dispatcher sees of one instruction set: a network behind a virtual interface, and
// the factory functions of the translation unit compiled for that instruction set. Only
// declarations here, so that the dispatcher (compiled with no -m flag) never instantiates code
// for an instruction set the CPU may lack.
#include <cstdint>
#include <memory>
#include <string>

#include <mobilenext/dispatch.hpp>

namespace mobilenext::internal {

class DispatchedNetworkImpl {
public:
    virtual ~DispatchedNetworkImpl() = default;
    virtual void forward(const Tensor& input, Tensor& logits, Workspace& workspace) const = 0;
    virtual std::string kernels_name() const = 0;
    virtual const Topology& topology() const noexcept = 0;
};

// Defined in arch_network_impl.hpp and explicitly instantiated, for one Arch, only by the
// translation unit compiled with that instruction set's flags.
template <class Arch>
struct ArchNetworkFactory {
    static std::unique_ptr<DispatchedNetworkImpl> create(const NetworkConfig& config, const StateDict& weights,
                                                         const std::string& source);
    static std::unique_ptr<DispatchedNetworkImpl> random(const NetworkConfig& config, std::uint64_t seed);
};

}  // namespace mobilenext::internal
