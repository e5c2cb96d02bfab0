#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "../int8_args.hpp"

namespace mobilenext::kernels::reference {

// clamp((((a - za) * A + (b - zb) * B + 2^(S-1)) >> S) + zy, 0, 255): round half up, since
// >> of a negative int32 is an arithmetic shift (rounds toward -inf) with GCC and Clang.
inline std::uint8_t add_fixed_point(int a, int b, const ShortcutAddU8& q) {
    const std::int32_t sum = (a - q.a_zero_point) * q.a_multiplier + (b - q.b_zero_point) * q.b_multiplier +
                             (std::int32_t(1) << (q.shift - 1));
    return static_cast<std::uint8_t>(std::clamp((sum >> q.shift) + q.y_zero_point, 0, 255));
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
                output[row + c] = add_fixed_point(av, b[row + c], q);
            else
                output[row + c] = q.copy_rest ? std::uint8_t(av) : add_fixed_point(av, q.b_zero_point, q);
        }
    }
}

}  // namespace mobilenext::kernels::reference
