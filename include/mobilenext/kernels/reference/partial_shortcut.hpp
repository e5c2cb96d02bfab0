#pragma once
#include <cstddef>

namespace mobilenext::kernels::reference {

// The sandglass block's partial identity shortcut: output[p][0:k] += input[p][0:k] for every
// pixel p, where both tensors have `channels` channels and k = shortcut_channels.
inline void add_partial_shortcut(const float* input, std::size_t pixels, int channels, int shortcut_channels,
                                 float* output) {
    for (std::size_t p = 0; p < pixels; ++p)
        for (int c = 0; c < shortcut_channels; ++c) output[p * channels + c] += input[p * channels + c];
}

}  // namespace mobilenext::kernels::reference
