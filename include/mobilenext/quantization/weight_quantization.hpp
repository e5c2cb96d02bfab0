#pragma once
// Weights: symmetric per output channel (zero point 0), every value in [-M, M], M = 64 for the
// convolutions (kernels/int8/int8_args.hpp: the range every instruction set sums exactly) and
// 127 for the classifier (max_weight):
//   scale[c] = max(max_k |w[c][k]| / M, floor[c]),  q = clamp(round_half_even(w / scale[c]), -M, M)
// The optional floor lets a channel's bias fit its int32 range (bias_quantization.hpp).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "../core/error.hpp"

namespace mobilenext {

inline constexpr int kMaxInt8Weight = 64;
// The classifier's weights (int8_args.hpp, LinearWeightsS8) are multiplied in float, so they
// take the whole symmetric int8 range.
inline constexpr int kMaxLinearWeight = 127;

struct QuantizedWeights {
    std::vector<std::int8_t> values;  // [channels][weights_per_channel]
    std::vector<float> scales;        // [channels], each > 0 and finite
};

// weights: [channels][weights_per_channel]; min_scales: [channels] or null. A channel of
// zeros gets the scale 1 (any positive scale represents it).
inline QuantizedWeights quantize_weights_per_channel(const float* weights, int channels, int weights_per_channel,
                                                     const float* min_scales = nullptr,
                                                     const std::string& what = "weights",
                                                     int max_weight = kMaxInt8Weight) {
    QuantizedWeights q;
    q.values.resize(std::size_t(channels) * std::size_t(weights_per_channel));
    q.scales.resize(std::size_t(channels));
    for (int c = 0; c < channels; ++c) {
        const float* w = weights + std::size_t(c) * std::size_t(weights_per_channel);
        float largest = 0.0f;
        for (int k = 0; k < weights_per_channel; ++k) {
            if (!std::isfinite(w[k]))
                internal::fail(what + ": weight " + std::to_string(k) + " of channel " + std::to_string(c) + " is " +
                               std::to_string(w[k]) + "; expected finite weights");
            largest = std::max(largest, std::fabs(w[k]));
        }
        float scale = largest / float(max_weight);
        if (min_scales != nullptr) scale = std::max(scale, min_scales[c]);
        if (!(scale > 0.0f)) scale = 1.0f;
        if (!std::isfinite(scale))
            internal::fail(what + ": channel " + std::to_string(c) + " gets the scale " + std::to_string(scale) +
                           "; expected a finite scale");
        q.scales[std::size_t(c)] = scale;
        for (int k = 0; k < weights_per_channel; ++k) {
            const float v = std::nearbyint(w[k] / scale);
            q.values[std::size_t(c) * std::size_t(weights_per_channel) + std::size_t(k)] =
                std::int8_t(std::clamp(v, float(-max_weight), float(max_weight)));
        }
    }
    return q;
}

}  // namespace mobilenext
