#pragma once
#include <algorithm>
#include <cstddef>

#include "../kernel_args.hpp"
#include "vector_ops.hpp"

namespace mobilenext::kernels::simd {

namespace detail {

// Four consecutive interior output pixels of one channel vector: each input column of the
// window is loaded once and feeds every output whose 3-wide window covers it (6 loads per ky
// for 12 FMAs at stride 1, 9 for 12 at stride 2). Written out by hand: compilers do not
// unroll the generic loop nest, and the taps must run in the order of the one-pixel path so
// that every pixel gets the same rounding.
template <class Arch, int stride>
inline void dwconv3x3_interior4(const float* const rows[3], std::size_t at, int C, const vfloat<Arch>* wv,
                                vfloat<Arch> bias, Activation act, float* out) {
    using V = vfloat<Arch>;
    V a0 = bias, a1 = bias, a2 = bias, a3 = bias;
    MOBILENEXT_UNROLL
    for (int ky = 0; ky < 3; ++ky) {
        const float* r = rows[ky] + at;
        const V w0 = wv[ky * 3], w1 = wv[ky * 3 + 1], w2 = wv[ky * 3 + 2];
        const auto col = [r, C](int i) { return V::load_unaligned(r + std::size_t(i) * C); };
        if (stride == 1) {
            const V c0 = col(0), c1 = col(1), c2 = col(2), c3 = col(3), c4 = col(4), c5 = col(5);
            a0 = xsimd::fma(c0, w0, a0), a1 = xsimd::fma(c1, w0, a1), a2 = xsimd::fma(c2, w0, a2), a3 = xsimd::fma(c3, w0, a3);
            a0 = xsimd::fma(c1, w1, a0), a1 = xsimd::fma(c2, w1, a1), a2 = xsimd::fma(c3, w1, a2), a3 = xsimd::fma(c4, w1, a3);
            a0 = xsimd::fma(c2, w2, a0), a1 = xsimd::fma(c3, w2, a1), a2 = xsimd::fma(c4, w2, a2), a3 = xsimd::fma(c5, w2, a3);
        } else {
            const V c0 = col(0), c1 = col(1), c2 = col(2), c3 = col(3), c4 = col(4), c5 = col(5), c6 = col(6),
                    c7 = col(7), c8 = col(8);
            a0 = xsimd::fma(c0, w0, a0), a1 = xsimd::fma(c2, w0, a1), a2 = xsimd::fma(c4, w0, a2), a3 = xsimd::fma(c6, w0, a3);
            a0 = xsimd::fma(c1, w1, a0), a1 = xsimd::fma(c3, w1, a1), a2 = xsimd::fma(c5, w1, a2), a3 = xsimd::fma(c7, w1, a3);
            a0 = xsimd::fma(c2, w2, a0), a1 = xsimd::fma(c4, w2, a1), a2 = xsimd::fma(c6, w2, a2), a3 = xsimd::fma(c8, w2, a3);
        }
    }
    const std::size_t step = std::size_t(C);
    activate<Arch>(a0, act).store_unaligned(out);
    activate<Arch>(a1, act).store_unaligned(out + step);
    activate<Arch>(a2, act).store_unaligned(out + 2 * step);
    activate<Arch>(a3, act).store_unaligned(out + 3 * step);
}

}  // namespace detail

// Depthwise 3x3, padding 1, stride 1 or 2: the same contract as reference::dwconv3x3.
// Vectorised over channels (NHWC keeps them contiguous). For each output row and channel
// vector the nine weight vectors stay in registers while the row is swept; interior pixels
// take a fully unrolled path, the border taps are clipped.
template <class Arch = xsimd::default_arch>
void dwconv3x3(const float* input, const DepthwiseRows& r, const DepthwiseWeights& w, Activation act,
               float* output) {
    using V = vfloat<Arch>;
    constexpr int L = int(V::size);
    const int C = w.channels, cs = w.channel_stride, W = r.width, s = r.stride;
    const int vector_end = C / L * L;
    const int ow = conv3x3_output_size(W, s);
    const std::size_t row_floats = std::size_t(W) * C;
    // Output columns whose whole 3-wide window lies inside the image.
    const int ox_inner_begin = 1, ox_inner_end = std::max(1, (W - 2) / s + 1);
    for (int oy = r.out_row_begin; oy < r.out_row_end; ++oy) {
        const int ky_begin = oy * s == 0 ? 1 : 0;
        const int ky_end = std::min(3, r.height - oy * s + 1);
        const bool full_rows = ky_begin == 0 && ky_end == 3;
        // Row ky of the window; rows outside the image are never read.
        const float* rows[3] = {input, input, input};
        for (int ky = ky_begin; ky < ky_end; ++ky)
            rows[ky] = input + std::size_t(oy * s + ky - 1 - r.input_first_row) * row_floats;
        float* out_row = output + std::size_t(oy - r.out_row_begin) * ow * C;

        const auto border_pixel = [&](int ox, int c, const V* wv, V bias) {
            const int kx_begin = ox * s == 0 ? 1 : 0, kx_end = std::min(3, W - ox * s + 1);
            V acc = bias;
            for (int ky = ky_begin; ky < ky_end; ++ky)
                for (int kx = kx_begin; kx < kx_end; ++kx)
                    acc = xsimd::fma(V::load_unaligned(rows[ky] + std::size_t(ox * s + kx - 1) * C + c), wv[ky * 3 + kx], acc);
            activate<Arch>(acc, act).store_unaligned(out_row + std::size_t(ox) * C + c);
        };

        // Whole vectors; a channel count that is not a multiple of the vector ends with one more
        // vector aligned to the last channel, overlapping the previous one (those channels are
        // computed twice, identically), so only counts below one vector need scalar code.
        const auto sweep = [&](int c) {
            V wv[9];
            MOBILENEXT_UNROLL
            for (int tap = 0; tap < 9; ++tap) wv[tap] = V::load_unaligned(w.weights + tap * cs + c);
            const V bias = V::load_unaligned(w.bias + c);
            int ox = 0;
            for (; ox < std::min(ox_inner_begin, ow); ++ox) border_pixel(ox, c, wv, bias);
            if (full_rows) {
                constexpr int block = 4;
                for (; ox + block <= ox_inner_end; ox += block) {
                    const std::size_t at = std::size_t(ox * s - 1) * C + c;
                    float* out = out_row + std::size_t(ox) * C + c;
                    if (s == 1)
                        detail::dwconv3x3_interior4<Arch, 1>(rows, at, C, wv, bias, act, out);
                    else
                        detail::dwconv3x3_interior4<Arch, 2>(rows, at, C, wv, bias, act, out);
                }
                for (; ox < ox_inner_end; ++ox) {
                    const std::size_t at = std::size_t(ox * s - 1) * C + c;
                    V acc = bias;
                    acc = xsimd::fma(V::load_unaligned(rows[0] + at), wv[0], acc);
                    acc = xsimd::fma(V::load_unaligned(rows[0] + at + C), wv[1], acc);
                    acc = xsimd::fma(V::load_unaligned(rows[0] + at + 2 * C), wv[2], acc);
                    acc = xsimd::fma(V::load_unaligned(rows[1] + at), wv[3], acc);
                    acc = xsimd::fma(V::load_unaligned(rows[1] + at + C), wv[4], acc);
                    acc = xsimd::fma(V::load_unaligned(rows[1] + at + 2 * C), wv[5], acc);
                    acc = xsimd::fma(V::load_unaligned(rows[2] + at), wv[6], acc);
                    acc = xsimd::fma(V::load_unaligned(rows[2] + at + C), wv[7], acc);
                    acc = xsimd::fma(V::load_unaligned(rows[2] + at + 2 * C), wv[8], acc);
                    activate<Arch>(acc, act).store_unaligned(out_row + std::size_t(ox) * C + c);
                }
            }
            for (; ox < ow; ++ox) border_pixel(ox, c, wv, bias);
        };
        for (int c = 0; c < vector_end; c += L) sweep(c);
        if (C >= L && C % L != 0) sweep(C - L);
        // Fewer channels than one vector: the same sums, one lane at a time.
        if (C >= L) continue;
        for (int ox = 0; ox < ow; ++ox) {
            const int kx_begin = ox * s == 0 ? 1 : 0, kx_end = std::min(3, W - ox * s + 1);
            for (int c = vector_end; c < C; ++c) {
                float acc = w.bias[c];
                for (int ky = ky_begin; ky < ky_end; ++ky)
                    for (int kx = kx_begin; kx < kx_end; ++kx)
                        acc += rows[ky][std::size_t(ox * s + kx - 1) * C + c] * w.weights[(ky * 3 + kx) * cs + c];
                out_row[std::size_t(ox) * C + c] = apply_activation(acc, act);
            }
        }
    }
}

}  // namespace mobilenext::kernels::simd
