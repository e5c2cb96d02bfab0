#pragma once
// The classifier's int8 weights on float inputs (int8_args.hpp, LinearWeightsS8) on the vector
// operations of one instruction set. Each output is a dot product along its weight row, 16
// terms per step into 16 partial sums (one to four vectors), with 4 rows in flight: their
// independent sums hide the latency of the adds, and the 4 row streams keep the hardware
// prefetcher ahead of the loads. The layer is bound by the weight bytes it reads once per
// image (1.28 MB at 1280 x 1000), a quarter of the float classifier's (benchmark:
// mobilenext_int8_benchmarks, network_int8/*). The order of the sums and the unfused products
// are reference::dot_s8's, so every set gives the reference's bits.
#include <cstddef>
#include <cstdint>

#include "../../compiler_hints.hpp"
#include "../int8_args.hpp"

MOBILENEXT_INTRINSICS_BEGIN

namespace mobilenext::kernels::simd {

namespace detail {

// Outputs first .. first + R - 1 of one image.
template <class Ops, int R>
void linear_rows_s8(const float* x, const LinearWeightsS8& w, int first, float* y) {
    constexpr int kVectors = 16 / Ops::kLanes;
    const std::size_t in = std::size_t(w.in_features);
    const std::int8_t* rows = w.weights + std::size_t(first) * in;
    typename Ops::F32 acc[R][kVectors];
    for (int r = 0; r < R; ++r)
        for (int v = 0; v < kVectors; ++v) acc[r][v] = Ops::zero_f32();
    std::size_t k = 0;
    for (; k + 16 <= in; k += 16)
        for (int v = 0; v < kVectors; ++v) {
            const std::size_t at = k + std::size_t(v) * Ops::kLanes;
            const auto xv = Ops::load_f32(x + at);
            for (int r = 0; r < R; ++r)
                acc[r][v] = Ops::add_f32(acc[r][v],
                                         Ops::rounded_product(xv, Ops::load_s8_f32(rows + std::size_t(r) * in + at)));
        }
    for (int r = 0; r < R; ++r) {
        const std::int8_t* row = rows + std::size_t(r) * in;
        float sum = Ops::sum16(acc[r]);
        for (std::size_t j = k; j < in; ++j) sum += Ops::rounded_scalar_product(x[j], float(row[j]));
        const std::size_t c = std::size_t(first + r);
        y[c] = w.bias[c] + Ops::rounded_scalar_product(w.scales[c], sum);
    }
}

}  // namespace detail

// reference::fully_connected_s8, bit for bit.
template <class Ops>
void fully_connected_s8(const float* x, int batch, const LinearWeightsS8& w, float* y) {
    constexpr int R = 4;
    const std::size_t in = std::size_t(w.in_features), out = std::size_t(w.out_features);
    for (std::size_t n = 0; n < std::size_t(batch); ++n) {
        int c = 0;
        for (; c + R <= w.out_features; c += R) detail::linear_rows_s8<Ops, R>(x + n * in, w, c, y + n * out);
        for (; c < w.out_features; ++c) detail::linear_rows_s8<Ops, 1>(x + n * in, w, c, y + n * out);
    }
}

}  // namespace mobilenext::kernels::simd

MOBILENEXT_INTRINSICS_END
