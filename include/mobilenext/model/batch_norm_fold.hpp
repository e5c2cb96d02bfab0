#pragma once
// Folding an inference-mode BatchNorm into the convolution before it:
//   BN(conv(x)) = gamma * (conv(x) - mean) / sqrt(var + eps) + beta
//               = conv_scaled(x) + bias,   scale = gamma / sqrt(var + eps),
//                                          bias  = beta - mean * scale,
// where conv_scaled multiplies every weight of output channel c by scale[c].
#include <cmath>
#include <vector>

namespace mobilenext {

inline constexpr float kBatchNormEps = 1e-5f;

struct FoldedBatchNorm {
    std::vector<float> scale;  // per output channel
    std::vector<float> bias;
};

// Computed in double: var + eps and the division lose nothing visible at float precision.
inline FoldedBatchNorm fold_batch_norm(const float* gamma, const float* beta, const float* running_mean,
                                       const float* running_var, int channels, float eps = kBatchNormEps) {
    FoldedBatchNorm folded{std::vector<float>(channels), std::vector<float>(channels)};
    for (int c = 0; c < channels; ++c) {
        const double scale = double(gamma[c]) / std::sqrt(double(running_var[c]) + double(eps));
        folded.scale[c] = float(scale);
        folded.bias[c] = float(double(beta[c]) - double(running_mean[c]) * scale);
    }
    return folded;
}

}  // namespace mobilenext
