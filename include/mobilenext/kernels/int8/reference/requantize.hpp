#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "../int8_args.hpp"

namespace mobilenext::kernels::reference {

// clamp(round_half_even(float(acc) * multiplier) + zero_point, lo, hi), clamped in float first
// (int8_args.hpp). std::nearbyint rounds half to even in the default rounding mode.
inline std::uint8_t requantize(std::int32_t acc, float multiplier, const Requantization& r) {
    const float scaled = static_cast<float>(acc) * multiplier;
    const float clamped =
        std::min(std::max(scaled, static_cast<float>(r.lo - r.zero_point)), static_cast<float>(r.hi - r.zero_point));
    return static_cast<std::uint8_t>(static_cast<int>(std::nearbyint(clamped)) + r.zero_point);
}

}  // namespace mobilenext::kernels::reference
