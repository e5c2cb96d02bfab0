#pragma once
// The two kernel sets the blocks and the network are templated on. Both always compile;
// ReferenceKernels is the oracle every test compares SimdKernels against.
#include <string>

#include <xsimd/xsimd.hpp>

#include "reference/dwconv3x3.hpp"
#include "reference/fully_connected.hpp"
#include "reference/global_average_pool.hpp"
#include "reference/partial_shortcut.hpp"
#include "reference/pointwise_conv.hpp"
#include "reference/stem_conv3x3.hpp"
#include "simd/dwconv3x3.hpp"
#include "simd/fully_connected.hpp"
#include "simd/global_average_pool.hpp"
#include "simd/partial_shortcut.hpp"
#include "simd/pointwise_conv.hpp"
#include "simd/stem_conv3x3.hpp"

namespace mobilenext::kernels {

struct ReferenceKernels {
    static std::string name() { return "reference"; }
    static constexpr auto dwconv3x3 = &reference::dwconv3x3;
    static constexpr auto dwconv3x3_add_shortcut = &reference::dwconv3x3_add_shortcut;
    static constexpr auto pointwise_conv = &reference::pointwise_conv;
    static constexpr auto stem_conv3x3_s2_relu6 = &reference::stem_conv3x3_s2_relu6;
    static constexpr auto add_partial_shortcut = &reference::add_partial_shortcut;
    static constexpr auto global_average_pool = &reference::global_average_pool;
    static constexpr auto fully_connected = &reference::fully_connected;
    // Columns per panel of the blocks' pointwise weights (any multiple of kChannelAlign works).
    static constexpr int pointwise_panel = kPointwisePanel;
};

// The vector kernels for one instruction set; the default is the best the compiler flags
// allow (AVX-512 with -mavx512f, AVX2 with -mavx2 -mfma, SSE2 on plain x86-64, NEON on ARM).
template <class Arch = xsimd::default_arch>
struct SimdKernels {
    using arch = Arch;
    static std::string name() { return std::string("simd/") + Arch::name(); }
    static constexpr auto dwconv3x3 = &simd::dwconv3x3<Arch>;
    static constexpr auto dwconv3x3_add_shortcut = &simd::dwconv3x3_add_shortcut<Arch>;
    static constexpr auto pointwise_conv = &simd::pointwise_conv<Arch>;
    static constexpr auto stem_conv3x3_s2_relu6 = &simd::stem_conv3x3_s2_relu6<Arch>;
    static constexpr auto add_partial_shortcut = &simd::add_partial_shortcut<Arch>;
    static constexpr auto global_average_pool = &simd::global_average_pool<Arch>;
    static constexpr auto fully_connected = &simd::fully_connected<Arch>;
    static constexpr int pointwise_panel = simd::pointwise_panel<Arch>();
};

}  // namespace mobilenext::kernels
