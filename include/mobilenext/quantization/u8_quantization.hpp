#pragma once
// The uint8 quantization of an activation tensor from its observed range: asymmetric per
// tensor, real = scale * (q - zero_point), with real 0.0 exactly representable (the zero point
// is an integer in [0, 255]). Exact zeros matter: the depthwise padding reads the zero point
// as 0.0, and ReLU6 outputs are mostly zeros.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "../core/error.hpp"
#include "../kernels/int8/int8_args.hpp"
#include "../kernels/reference/quantize_u8.hpp"
#include "activation_observers.hpp"

namespace mobilenext {

// Narrowest range quantized: a tensor observed constant (a channel-less dead ReLU, say) still
// gets a positive scale, and the multipliers of the layers around it stay bounded.
inline constexpr float kMinQuantizedRange = 1e-3f;

// The range is first widened to hold 0; the zero point is then -min / scale rounded to the
// nearest integer, which shifts the covered range by less than half a step.
inline U8Quantization choose_u8_quantization(const ActivationRange& range, const std::string& what = "activation") {
    if (!std::isfinite(range.min) || !std::isfinite(range.max) || range.min > range.max)
        internal::fail(what + ": cannot quantize the range [" + std::to_string(range.min) + ", " +
                       std::to_string(range.max) + "]; expected finite bounds, min <= max");
    double lo = std::min(0.0, double(range.min)), hi = std::max(0.0, double(range.max));
    if (hi - lo < kMinQuantizedRange) {
        // Keep the side that holds the values: [0, r] for a tensor >= 0, [-r, 0] otherwise.
        if (lo < 0.0) lo = hi - kMinQuantizedRange;
        else hi = lo + kMinQuantizedRange;
    }
    U8Quantization q;
    q.scale = float((hi - lo) / 255.0);
    q.zero_point = int(std::clamp(std::nearbyint(-lo / double(q.scale)), 0.0, 255.0));
    if (!(q.scale > 0.0f) || !std::isfinite(q.scale))
        internal::fail(what + ": the range [" + std::to_string(range.min) + ", " + std::to_string(range.max) +
                       "] gives the scale " + std::to_string(q.scale) + "; expected a finite scale > 0");
    return q;
}

// q = clamp(round_half_even(x / scale) + zero_point, 0, 255) (kernels/reference/quantize_u8.hpp).
inline std::uint8_t quantize_u8(float x, const U8Quantization& q) {
    return kernels::reference::quantize_u8_value(x, q.scale, q.zero_point);
}

inline void quantize_u8(const float* x, std::size_t count, const U8Quantization& q, std::uint8_t* out) {
    kernels::reference::quantize_u8(x, count, q.scale, q.zero_point, out);
}

inline float dequantize_u8(std::uint8_t q, const U8Quantization& p) { return p.scale * float(int(q) - p.zero_point); }

}  // namespace mobilenext
