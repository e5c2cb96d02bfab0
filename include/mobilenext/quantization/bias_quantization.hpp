#pragma once
// Biases: int32 per output channel on the accumulator's scale, s_in * s_w[c]:
//   bias_q[c] = round_half_even(bias[c] / (s_in * s_w[c]))
// kept within +-2^29, so that with the input's zero point folded in (zero_point_in * sum_k w,
// at most 255 * 64 * K, below 2^29 for K < 32896 inputs) it stays within the +-2^30 the
// kernels' packing accepts.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "../core/error.hpp"

namespace mobilenext {

inline constexpr double kMaxQuantizedBias = 536870912.0;  // 2^29

// The smallest weight scale at which `bias` fits: a channel whose bias would not fit on the
// weights' own scale (a tiny input scale, or weights near zero under a large bias) takes a
// coarser weight scale instead. 1% below the limit, so that rounding the scale to float
// cannot push the bias over it.
inline float min_weight_scale_for_bias(float bias, float input_scale) {
    return float(std::fabs(double(bias)) / (double(input_scale) * kMaxQuantizedBias * 0.99));
}

inline std::vector<std::int32_t> quantize_bias(const float* bias, int channels, float input_scale,
                                               const float* weight_scales, const std::string& what = "bias") {
    std::vector<std::int32_t> q(static_cast<std::size_t>(channels));
    for (int c = 0; c < channels; ++c) {
        const double v = std::nearbyint(double(bias[c]) / (double(input_scale) * double(weight_scales[c])));
        if (!(std::fabs(v) < kMaxQuantizedBias))
            internal::fail(what + ": channel " + std::to_string(c) + " quantizes to " + std::to_string(v) +
                           "; expected a value within +-2^29 (bias " + std::to_string(bias[c]) + ", input scale " +
                           std::to_string(input_scale) + ", weight scale " + std::to_string(weight_scales[c]) + ")");
        q[std::size_t(c)] = std::int32_t(v);
    }
    return q;
}

}  // namespace mobilenext
