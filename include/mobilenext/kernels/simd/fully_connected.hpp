#pragma once
#include "../kernel_args.hpp"
#include "pointwise_conv.hpp"

namespace mobilenext::kernels::simd {

// The classifier: the same contract as reference::fully_connected, on the pointwise GEMM.
template <class Arch = xsimd::default_arch>
void fully_connected(const float* input, int batch, const PointwiseWeights& w, float* output) {
    pointwise_conv<Arch>(input, std::size_t(batch), w, Activation::none, output);
}

}  // namespace mobilenext::kernels::simd
