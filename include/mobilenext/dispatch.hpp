#pragma once
// Runtime instruction-set dispatch (the compiled companion library mobilenext::dispatch; not
// part of the header-only umbrella mobilenext.hpp).
//
// `Network` runs the kernels of the instruction set the *user's* compiler flags enable, so a
// program built for plain x86-64 gets SSE2. The dispatch library holds the network compiled
// once per instruction set (x86-64: AVX-512BW, AVX2+FMA, SSE2; AArch64: NEON) and picks, when a
// network is created, the best one this CPU supports; the program itself needs no -m flag.
//
//   #include <mobilenext/dispatch.hpp>
//   const auto net = mobilenext::DispatchedNetwork::create(config, state_dict);
//   net.forward(input, logits, workspace);  // e.g. "simd/avx512bw" on an AVX-512 machine
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.hpp"
#include "model/state_dict.hpp"
#include "model/topology.hpp"
#include "model/workspace.hpp"

#if defined(__GNUC__)
#define MOBILENEXT_DISPATCH_API __attribute__((visibility("default")))
#else
#define MOBILENEXT_DISPATCH_API
#endif

namespace mobilenext {

namespace internal {
class DispatchedNetworkImpl;
}

// A MobileNeXt network on the best vector kernels this CPU runs, chosen at run time. Same
// semantics as Network: immutable once built; forward() is const and may run on many threads
// at once, each with its own Workspace. Copies are cheap and share the (immutable) weights.
class MOBILENEXT_DISPATCH_API DispatchedNetwork {
public:
    // Builds the network from a state dict in the authors' naming (as Network's constructor
    // does) on the best kernel set of available_kernels(). `source` names where the weights
    // came from, for error messages. Throws LoadError on missing or misshapen tensors.
    static DispatchedNetwork create(const NetworkConfig& config, const StateDict& weights,
                                    const std::string& source = "state dict");

    // As create(), on the named kernel set, which must be one of available_kernels(); throws
    // mobilenext::Error otherwise. For tests and comparisons.
    static DispatchedNetwork create_with_kernels(const std::string& kernels, const NetworkConfig& config,
                                                 const StateDict& weights, const std::string& source = "state dict");

    // A network with random weights, the same as Network::random(config, seed) gives.
    static DispatchedNetwork random(const NetworkConfig& config, std::uint64_t seed);

    // The kernel sets compiled into this library that this CPU (and operating system) can run,
    // best first, named as kernels_name() names them, e.g. {"simd/avx512bw",
    // "simd/fma3+avx2", "simd/sse2"}.
    static std::vector<std::string> available_kernels();

    // Name of the kernel set this network runs, e.g. "simd/avx512bw".
    std::string kernels_name() const;

    const Topology& topology() const noexcept;
    const NetworkConfig& config() const noexcept;

    // input: NHWC [batch][height][width][in_channels]; logits: reshaped to
    // [batch][1][1][classes]. Allocates only when `workspace` or `logits` are smaller than this
    // input needs, as Network::forward.
    void forward(const Tensor& input, Tensor& logits, Workspace& workspace) const;

    // Convenience form with its own workspace (allocates on every call).
    Tensor forward(const Tensor& input) const;

private:
    explicit DispatchedNetwork(std::shared_ptr<const internal::DispatchedNetworkImpl> impl);

    std::shared_ptr<const internal::DispatchedNetworkImpl> impl_;
};

}  // namespace mobilenext
