#pragma once
#include <cstddef>
#include <cstdint>

#include "../../reference/quantize_u8.hpp"
#include "../int8_args.hpp"
#include "rounded_product.hpp"

namespace mobilenext::kernels::reference {

// clamp(round_half_even((float(a - za) * s_a + float(b - zb) * s_b) / s_y) + zy, 0, 255), each
// float operation rounded as written (int8_args.hpp), with the rounding of
// reference::quantize_u8_value.
inline std::uint8_t add_dequantized(int a, int b, const ShortcutAddU8& q) {
    const float sum = rounded_product(float(a - q.a_zero_point), q.a_scale) +
                      rounded_product(float(b - q.b_zero_point), q.b_scale);
    return quantize_u8_value(sum, q.y_scale, q.y_zero_point);
}

// The sandglass block's partial identity shortcut on uint8 tensors of `channels` channels:
// output = a + b on the first shortcut_channels channels of each pixel, a requantized to the
// output's scale (or copied) on the others. `output` may be `a`.
inline void add_partial_shortcut_u8(const std::uint8_t* a, const std::uint8_t* b, std::size_t pixels, int channels,
                                    int shortcut_channels, const ShortcutAddU8& q, std::uint8_t* output) {
    for (std::size_t p = 0; p < pixels; ++p) {
        const std::size_t row = p * std::size_t(channels);
        for (int c = 0; c < channels; ++c) {
            const int av = a[row + c];
            if (c < shortcut_channels)
                output[row + c] = add_dequantized(av, b[row + c], q);
            else
                output[row + c] = q.copy_rest ? std::uint8_t(av) : add_dequantized(av, q.b_zero_point, q);
        }
    }
}

}  // namespace mobilenext::kernels::reference
