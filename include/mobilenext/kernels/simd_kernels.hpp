#pragma once
// The vector kernels of one instruction set as a kernel table. Instantiated for the compiler's
// own instruction set by header-only use (xsimd::default_arch), and once per instruction set by
// the dispatch library, each in a translation unit compiled with that set's flags
// (src/dispatch/kernels_*.cpp, the list in instruction_sets.hpp).
#include <xsimd/xsimd.hpp>

#include "kernel_table.hpp"
#include "simd/dwconv3x3.hpp"
#include "simd/first_beyond.hpp"
#include "simd/fully_connected.hpp"
#include "simd/global_average_pool.hpp"
#include "simd/partial_shortcut.hpp"
#include "simd/pointwise_conv.hpp"
#include "simd/quantize_u8.hpp"
#include "simd/stem_conv3x3.hpp"

namespace mobilenext::kernels {

template <class Arch>
inline constexpr KernelTable kSimdKernels{
    "simd",
    Arch::name(),
    &simd::dwconv3x3<Arch>,
    &simd::dwconv3x3_add_shortcut<Arch>,
    &simd::pointwise_conv<Arch>,
    &simd::stem_conv3x3_s2_relu6<Arch>,
    &simd::add_partial_shortcut<Arch>,
    &simd::global_average_pool<Arch>,
    &simd::fully_connected<Arch>,
    &simd::first_beyond<Arch>,
    &simd::quantize_u8<Arch>,
    simd::pointwise_panel<Arch>(),
};

}  // namespace mobilenext::kernels
