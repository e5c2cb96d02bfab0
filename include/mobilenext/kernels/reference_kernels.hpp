#pragma once
// The plain reference kernels as a kernel table: the oracle every test compares the vector
// kernel sets against, and a kernel set users may pick by name ("reference").
#include "kernel_table.hpp"
#include "reference/dwconv3x3.hpp"
#include "reference/first_beyond.hpp"
#include "reference/fully_connected.hpp"
#include "reference/global_average_pool.hpp"
#include "reference/partial_shortcut.hpp"
#include "reference/pointwise_conv.hpp"
#include "reference/quantize_u8.hpp"
#include "reference/stem_conv3x3.hpp"

namespace mobilenext::kernels {

inline constexpr KernelTable kReferenceKernels{
    "reference",
    nullptr,
    &reference::dwconv3x3,
    &reference::dwconv3x3_add_shortcut,
    &reference::pointwise_conv,
    &reference::stem_conv3x3_s2_relu6,
    &reference::add_partial_shortcut,
    &reference::global_average_pool,
    &reference::fully_connected,
    &reference::first_beyond,
    &reference::quantize_u8,
    kPointwisePanel,
};

}  // namespace mobilenext::kernels
