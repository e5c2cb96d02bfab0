#pragma once
// The plain int8 reference kernels as a kernel table: the oracle the vector sets are compared
// against, bit for bit.
#include "int8_kernel_table.hpp"
#include "reference/add_partial_shortcut_u8.hpp"
#include "reference/dwconv3x3_u8s8.hpp"
#include "reference/fully_connected_s8.hpp"
#include "reference/pointwise_conv_u8s8.hpp"

namespace mobilenext::kernels {

inline constexpr Int8KernelTable kReferenceInt8Kernels{
    "reference",
    nullptr,
    &reference::pointwise_conv_u8s8,
    &reference::dwconv3x3_u8s8,
    &reference::add_partial_shortcut_u8,
    &reference::fully_connected_s8,
    64,
};

}  // namespace mobilenext::kernels
