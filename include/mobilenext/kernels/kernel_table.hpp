#pragma once
// A kernel set as a run-time value: the leaf kernels of one instruction set (or the plain
// reference kernels) and the parameters the weights are packed for. The blocks and the network
// are compiled once and call through a table chosen when a model is built, so only the leaf
// kernels exist once per instruction set. One indirect call per kernel call, and each call
// covers a band of rows or a whole layer, so a pass makes few of them
// (`network/<set>/width:1.00/batch:1/threads:1`; BENCHMARKS.md, "Kernel tables").
#include <cstddef>
#include <cstdint>
#include <string>

#include "kernel_args.hpp"

namespace mobilenext::kernels {

struct KernelTable {
    // "reference", or "simd" with the instruction set as xsimd names it ("avx512bw",
    // "fma3+avx2", "sse2", "arm64+neon"). Plain pointers, so a table needs no constructor.
    const char* family = nullptr;
    const char* arch = nullptr;

    void (*dwconv3x3)(const float* input, const DepthwiseRows& rows, const DepthwiseWeights& w, Activation act,
                      float* output) = nullptr;
    void (*dwconv3x3_add_shortcut)(const float* input, const DepthwiseRows& rows, const DepthwiseWeights& w,
                                   const PartialShortcut& shortcut, float* output) = nullptr;
    void (*pointwise_conv)(const float* input, std::size_t pixels, const PointwiseWeights& w, Activation act,
                           float* output) = nullptr;
    void (*stem_conv3x3_s2_relu6)(const float* image, int height, int width, int out_row_begin, int out_row_end,
                                  const StemWeights& w, float* output) = nullptr;
    void (*add_partial_shortcut)(const float* input, std::size_t pixels, int channels, int shortcut_channels,
                                 float* output) = nullptr;
    void (*global_average_pool)(const float* input, int batch, std::size_t pixels, int channels,
                                float* output) = nullptr;
    void (*fully_connected)(const float* input, int batch, const PointwiseWeights& w, float* output) = nullptr;
    // The first NaN or value beyond +-limit (limit FLT_MAX: the first non-finite value).
    std::size_t (*first_beyond)(const float* values, std::size_t count, float limit) = nullptr;
    // uint8 codes of floats, real = scale * (q - zero_point) (reference/quantize_u8.hpp): the
    // stem's output on its way into int8 blocks.
    void (*quantize_u8)(const float* x, std::size_t count, float scale, int zero_point, std::uint8_t* out) = nullptr;

    // Columns per panel of the blocks' pointwise weights (a multiple of kChannelAlign): the
    // widest register tile of the set's 1x1 convolution.
    int pointwise_panel = kPointwisePanel;

    // As Model::kernels_name() spells it: "reference", "simd/avx512bw", ...
    std::string name() const {
        return arch == nullptr ? std::string(family) : std::string(family) + "/" + arch;
    }
};

}  // namespace mobilenext::kernels
