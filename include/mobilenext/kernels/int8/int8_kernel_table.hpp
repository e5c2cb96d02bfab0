#pragma once
// An int8 kernel set as a run-time value, like KernelTable for the float kernels: the leaf
// kernels of one instruction set (or the reference kernels) and the panel width its 1x1
// convolution wants its weights packed in.
#include <cstddef>
#include <cstdint>
#include <string>

#include "int8_args.hpp"

namespace mobilenext::kernels {

struct Int8KernelTable {
    // "reference", or "simd" with the instruction set ("avx512vnni", "avx2", "neon64", ...).
    const char* family = nullptr;
    const char* arch = nullptr;

    void (*pointwise_conv_u8s8)(const std::uint8_t* input, std::size_t pixels, const PointwiseWeightsU8S8& w,
                                std::uint8_t* output) = nullptr;
    void (*dwconv3x3_u8s8)(const std::uint8_t* input, const DepthwiseRows& rows, const DepthwiseWeightsU8S8& w,
                           std::uint8_t* output) = nullptr;
    void (*add_partial_shortcut_u8)(const std::uint8_t* a, const std::uint8_t* b, std::size_t pixels, int channels,
                                    int shortcut_channels, const ShortcutAddU8& q, std::uint8_t* output) = nullptr;
    // The classifier: float inputs [batch][in] -> float outputs [batch][out], int8 weights.
    void (*fully_connected_s8)(const float* x, int batch, const LinearWeightsS8& w, float* y) = nullptr;

    // Columns per panel of the 1x1 convolution's packed weights (pack_pointwise_u8s8): the
    // widest register tile of the set, a multiple of its int32 lanes.
    int pointwise_panel = 64;
    // Columns of the 1x1 convolution's store tiles (PointwiseWeightsU8S8::store_tile): 0, or
    // 4 vectors of the set's int32 lanes where it stores a whole tile with one byte vector.
    int pointwise_store_tile = 0;

    // "reference", "simd/avx512vnni", ...
    std::string name() const {
        return arch == nullptr ? std::string(family) : std::string(family) + "/" + arch;
    }
};

}  // namespace mobilenext::kernels
