#pragma once
#include <cstddef>

#include "vector_ops.hpp"

namespace mobilenext::kernels::simd {

// Mean over the pixels of each image: the same contract as reference::global_average_pool.
template <class Arch = xsimd::default_arch>
void global_average_pool(const float* input, int batch, std::size_t pixels, int channels, float* output) {
    using V = vfloat<Arch>;
    constexpr int L = int(V::size);
    const int vector_end = channels / L * L;
    const float scale = 1.0f / float(pixels);
    for (int n = 0; n < batch; ++n) {
        const float* image = input + std::size_t(n) * pixels * channels;
        float* out = output + std::size_t(n) * channels;
        int c = 0;
        for (; c < vector_end; c += L) {
            V sum(0.0f);
            for (std::size_t p = 0; p < pixels; ++p) sum += V::load_unaligned(image + p * channels + c);
            (sum * V(scale)).store_unaligned(out + c);
        }
        for (; c < channels; ++c) {
            float sum = 0.0f;
            for (std::size_t p = 0; p < pixels; ++p) sum += image[p * channels + c];
            out[c] = sum * scale;
        }
    }
}

}  // namespace mobilenext::kernels::simd
