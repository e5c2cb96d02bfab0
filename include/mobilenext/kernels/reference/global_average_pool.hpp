#pragma once
#include <cstddef>

namespace mobilenext::kernels::reference {

// Mean over the pixels of each image: [batch][pixels][channels] -> [batch][channels].
inline void global_average_pool(const float* input, int batch, std::size_t pixels, int channels, float* output) {
    for (int n = 0; n < batch; ++n)
        for (int c = 0; c < channels; ++c) {
            float sum = 0.0f;
            for (std::size_t p = 0; p < pixels; ++p) sum += input[(n * pixels + p) * channels + c];
            output[std::size_t(n) * channels + c] = sum * (1.0f / float(pixels));
        }
}

}  // namespace mobilenext::kernels::reference
