// The dispatcher: compiled with no -m flag (it must run on any CPU of the target), it asks
// the CPU what it supports and only then calls into a translation unit built for more.
#include <string>
#include <utility>
#include <vector>

#include <xsimd/xsimd.hpp>

#include <mobilenext/core/error.hpp>
#include <mobilenext/dispatch.hpp>

#include "arch_network.hpp"

#if MOBILENEXT_DISPATCH_X86_64 && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#endif

namespace mobilenext {

namespace {

using internal::DispatchedNetworkImpl;

#if MOBILENEXT_DISPATCH_X86_64
// The CPUID feature bits say what the CPU implements; whether the operating system saves the
// wider registers on a context switch is in XCR0 (xsimd 8 does not check it).
bool os_saves_register_state(unsigned mask) {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & bit_OSXSAVE)) return false;
    unsigned xcr0_low = 0, xcr0_high = 0;
    __asm__("xgetbv" : "=a"(xcr0_low), "=d"(xcr0_high) : "c"(0));
    return (xcr0_low & mask) == mask;
}

constexpr unsigned kXmmYmm = 0x06;             // SSE and AVX state
constexpr unsigned kXmmYmmZmm = 0x06 | 0xE0;  // plus the opmask and both halves of the ZMM state
#endif

struct KernelSet {
    std::string name;
    bool runs_here;
    std::unique_ptr<DispatchedNetworkImpl> (*create)(const NetworkConfig&, const StateDict&, const std::string&);
    std::unique_ptr<DispatchedNetworkImpl> (*random)(const NetworkConfig&, std::uint64_t);
};

template <class Arch>
KernelSet kernel_set(bool runs_here) {
    using Factory = internal::ArchNetworkFactory<Arch>;
    // Spelled as kernels::SimdKernels<Arch>::name() spells it, without including the kernels.
    return {std::string("simd/") + Arch::name(), runs_here, &Factory::create, &Factory::random};
}

// Every kernel set compiled into the library, best first.
std::vector<KernelSet> compiled_kernel_sets() {
    std::vector<KernelSet> sets;
#if MOBILENEXT_DISPATCH_X86_64
    const auto cpu = xsimd::available_architectures();
    sets.push_back(kernel_set<xsimd::avx512bw>(cpu.avx512f && cpu.avx512cd && cpu.avx512dq && cpu.avx512bw &&
                                               cpu.fma3_avx2 && os_saves_register_state(kXmmYmmZmm)));
    sets.push_back(kernel_set<xsimd::fma3<xsimd::avx2>>(cpu.fma3_avx2 && os_saves_register_state(kXmmYmm)));
    sets.push_back(kernel_set<xsimd::sse2>(true));  // part of x86-64 itself
#elif MOBILENEXT_DISPATCH_NEON64
    sets.push_back(kernel_set<xsimd::neon64>(true));  // part of AArch64 itself
#else
#error "the dispatch library is built for x86-64 or AArch64 only (see src/dispatch/CMakeLists.txt)"
#endif
    return sets;
}

const KernelSet& best_kernel_set() {
    static const KernelSet best = [] {
        for (KernelSet& set : compiled_kernel_sets())
            if (set.runs_here) return std::move(set);
        throw Error("DispatchedNetwork: none of the compiled kernel sets runs on this CPU");
    }();
    return best;
}

KernelSet named_kernel_set(const std::string& name) {
    std::string available;
    for (KernelSet& set : compiled_kernel_sets()) {
        if (!set.runs_here) continue;
        if (set.name == name) return std::move(set);
        available += (available.empty() ? "" : ", ") + set.name;
    }
    throw Error("DispatchedNetwork: kernel set '" + name + "' is not available here; available: " + available);
}

}  // namespace

DispatchedNetwork::DispatchedNetwork(std::shared_ptr<const internal::DispatchedNetworkImpl> impl)
    : impl_(std::move(impl)) {}

DispatchedNetwork DispatchedNetwork::create(const NetworkConfig& config, const StateDict& weights,
                                            const std::string& source) {
    return DispatchedNetwork(best_kernel_set().create(config, weights, source));
}

DispatchedNetwork DispatchedNetwork::create_with_kernels(const std::string& kernels, const NetworkConfig& config,
                                                         const StateDict& weights, const std::string& source) {
    return DispatchedNetwork(named_kernel_set(kernels).create(config, weights, source));
}

DispatchedNetwork DispatchedNetwork::random(const NetworkConfig& config, std::uint64_t seed) {
    return DispatchedNetwork(best_kernel_set().random(config, seed));
}

std::vector<std::string> DispatchedNetwork::available_kernels() {
    std::vector<std::string> names;
    for (const KernelSet& set : compiled_kernel_sets())
        if (set.runs_here) names.push_back(set.name);
    return names;
}

std::string DispatchedNetwork::kernels_name() const { return impl_->kernels_name(); }

const Topology& DispatchedNetwork::topology() const noexcept { return impl_->topology(); }

const NetworkConfig& DispatchedNetwork::config() const noexcept { return impl_->topology().config; }

void DispatchedNetwork::forward(const Tensor& input, Tensor& logits, Workspace& workspace) const {
    impl_->forward(input, logits, workspace);
}

Tensor DispatchedNetwork::forward(const Tensor& input) const {
    Workspace workspace;
    Tensor logits;
    forward(input, logits, workspace);
    return logits;
}

}  // namespace mobilenext
