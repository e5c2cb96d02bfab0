#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace mobilenext::kernels::reference {

// q = clamp(round_half_even(x / scale) + zero_point, 0, 255), clamped in float first so that
// huge values cannot overflow the conversion. Adding and subtracting 1.5 * 2^23 rounds a float
// of magnitude below 2^22 to an integer, half to even, in the default rounding mode: the same
// result as std::nearbyint without a library call, and the same float operations a vector
// kernel does lane by lane, so both give the same bytes.
inline std::uint8_t quantize_u8_value(float x, float scale, int zero_point) {
    constexpr float kRound = 12582912.0f;
    const float scaled = std::min(std::max(x / scale, float(-zero_point)), float(255 - zero_point));
    return static_cast<std::uint8_t>(int((scaled + kRound) - kRound) + zero_point);
}

// The uint8 quantization of `count` floats (real = scale * (q - zero_point)).
inline void quantize_u8(const float* x, std::size_t count, float scale, int zero_point, std::uint8_t* out) {
    for (std::size_t i = 0; i < count; ++i) out[i] = quantize_u8_value(x[i], scale, zero_point);
}

}  // namespace mobilenext::kernels::reference
