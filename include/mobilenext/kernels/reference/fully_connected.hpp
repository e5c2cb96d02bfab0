#pragma once
#include "../kernel_args.hpp"
#include "pointwise_conv.hpp"

namespace mobilenext::kernels::reference {

// The classifier: [batch][in_channels] x [in_channels][out_channels] + bias. The same GEMM as
// a pointwise convolution over `batch` pixels, without activation.
inline void fully_connected(const float* input, int batch, const PointwiseWeights& w, float* output) {
    pointwise_conv(input, std::size_t(batch), w, Activation::none, output);
}

}  // namespace mobilenext::kernels::reference
