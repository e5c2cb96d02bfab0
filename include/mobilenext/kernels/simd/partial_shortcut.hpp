#pragma once
#include <cstddef>

#include "vector_ops.hpp"

namespace mobilenext::kernels::simd {

// The partial identity shortcut: the same contract as reference::add_partial_shortcut.
template <class Arch = xsimd::default_arch>
void add_partial_shortcut(const float* input, std::size_t pixels, int channels, int shortcut_channels,
                          float* output) {
    using V = vfloat<Arch>;
    constexpr int L = int(V::size);
    const int vector_end = shortcut_channels / L * L;
    for (std::size_t p = 0; p < pixels; ++p) {
        const float* in = input + p * channels;
        float* out = output + p * channels;
        int c = 0;
        for (; c < vector_end; c += L) (V::load_unaligned(out + c) + V::load_unaligned(in + c)).store_unaligned(out + c);
        for (; c < shortcut_channels; ++c) out[c] += in[c];
    }
}

}  // namespace mobilenext::kernels::simd
