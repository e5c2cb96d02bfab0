#pragma once
#include <algorithm>
#include <cstddef>

#include "../kernel_args.hpp"
#include "vector_ops.hpp"

namespace mobilenext::kernels::simd {

namespace detail {

// `pixels` consecutive interior output pixels of one stem row, all `vectors` output vectors at
// once: each tap's weight vectors are loaded once for all the pixels (the per-pixel path
// reloads 27 of them per pixel), and each input value is broadcast once for all vectors.
// Taps run in the order of the per-pixel path, so every pixel gets the same rounding.
template <class Arch, int vectors, int pixels>
inline void stem_interior(const float* const rows[3], int ox, int Ci, const StemWeights& w, float* out, int Co) {
    using V = vfloat<Arch>;
    constexpr int L = int(V::size);
    V acc[pixels][vectors];
    MOBILENEXT_UNROLL
    for (int j = 0; j < vectors; ++j) {
        const V b = V::load_unaligned(w.bias + j * L);
        MOBILENEXT_UNROLL
        for (int p = 0; p < pixels; ++p) acc[p][j] = b;
    }
    for (int ky = 0; ky < 3; ++ky)
        for (int kx = 0; kx < 3; ++kx) {
            const float* in = rows[ky] + std::size_t((ox * 2 + kx - 1)) * Ci;
            const float* wrow = w.weights + std::size_t((ky * 3 + kx) * Ci) * w.out_stride;
            for (int ci = 0; ci < Ci; ++ci, wrow += w.out_stride) {
                V wv[vectors];
                MOBILENEXT_UNROLL
                for (int j = 0; j < vectors; ++j) wv[j] = V::load_unaligned(wrow + j * L);
                MOBILENEXT_UNROLL
                for (int p = 0; p < pixels; ++p) {
                    const V a(in[std::size_t(2 * p) * Ci + ci]);
                    MOBILENEXT_UNROLL
                    for (int j = 0; j < vectors; ++j) acc[p][j] = fused_multiply_add(a, wv[j], acc[p][j]);
                }
            }
        }
    MOBILENEXT_UNROLL
    for (int p = 0; p < pixels; ++p)
        MOBILENEXT_UNROLL
        for (int j = 0; j < vectors; ++j)
            if (j * L < Co)
                store_first<Arch>(activate<Arch>(acc[p][j], Activation::relu6), out + std::size_t(p) * Co + j * L,
                                  Co - j * L);
}

}  // namespace detail

// The stem (dense 3x3, stride 2, padding 1, ReLU6): the same contract as
// reference::stem_conv3x3_s2_relu6. Vectorised over output channels; each input value of
// the window is broadcast against a row of packed weights.
template <class Arch = xsimd::default_arch>
void stem_conv3x3_s2_relu6(const float* image, int height, int width, int out_row_begin, int out_row_end,
                           const StemWeights& w, float* output) {
    using V = vfloat<Arch>;
    constexpr int L = int(V::size);
    const int Ci = w.in_channels, Co = w.out_channels;
    const int ow = conv3x3_output_size(width, 2);
    const int vectors = (Co + L - 1) / L;
    // Output columns whose 3-wide window lies inside the image.
    const int ox_inner_end = std::max(1, (width - 2) / 2 + 1);
    constexpr int block = 8;
    for (int oy = out_row_begin; oy < out_row_end; ++oy) {
        const int ky_begin = oy == 0 ? 1 : 0, ky_end = std::min(3, height - oy * 2 + 1);
        int ox_fast_begin = ow, ox_fast_end = ow;  // the blocked interior, if this row has one
        if (ky_begin == 0 && ky_end == 3 && vectors <= 3 && ox_inner_end - 1 >= block) {
            const float* rows[3];
            for (int ky = 0; ky < 3; ++ky) rows[ky] = image + std::size_t(oy * 2 + ky - 1) * width * Ci;
            // The last block ends at the last interior column, overlapping the one before it:
            // those pixels are computed twice, identically, instead of one at a time (a lone
            // pixel's two accumulator chains wait on the FMA latency, four times slower).
            ox_fast_begin = 1;
            ox_fast_end = ox_inner_end;
            for (int next = ox_fast_begin; next < ox_fast_end; next += block) {
                const int ox = std::min(next, ox_fast_end - block);
                float* out = output + (std::size_t(oy - out_row_begin) * ow + ox) * Co;
                if (vectors == 1)
                    detail::stem_interior<Arch, 1, block>(rows, ox, Ci, w, out, Co);
                else if (vectors == 2)
                    detail::stem_interior<Arch, 2, block>(rows, ox, Ci, w, out, Co);
                else
                    detail::stem_interior<Arch, 3, block>(rows, ox, Ci, w, out, Co);
            }
        }
        for (int ox = 0; ox < ow; ++ox) {
            if (ox == ox_fast_begin) ox = ox_fast_end;
            if (ox >= ow) break;
            const int kx_begin = ox == 0 ? 1 : 0, kx_end = std::min(3, width - ox * 2 + 1);
            float* out = output + (std::size_t(oy - out_row_begin) * ow + ox) * Co;
            for (int co = 0; co < Co; co += 2 * L) {
                const bool two = co + L < w.out_stride;
                V acc0 = V::load_unaligned(w.bias + co);
                V acc1 = two ? V::load_unaligned(w.bias + co + L) : V(0.0f);
                for (int ky = ky_begin; ky < ky_end; ++ky)
                    for (int kx = kx_begin; kx < kx_end; ++kx) {
                        const int y = oy * 2 + ky - 1, x = ox * 2 + kx - 1;
                        const float* in = image + (std::size_t(y) * width + x) * Ci;
                        const float* wrow = w.weights + std::size_t((ky * 3 + kx) * Ci) * w.out_stride + co;
                        for (int ci = 0; ci < Ci; ++ci, wrow += w.out_stride) {
                            const V a(in[ci]);
                            acc0 = fused_multiply_add(a, V::load_unaligned(wrow), acc0);
                            if (two) acc1 = fused_multiply_add(a, V::load_unaligned(wrow + L), acc1);
                        }
                    }
                store_first<Arch>(activate<Arch>(acc0, Activation::relu6), out + co, Co - co);
                if (two && co + L < Co)
                    store_first<Arch>(activate<Arch>(acc1, Activation::relu6), out + co + L, Co - co - L);
            }
        }
    }
}

}  // namespace mobilenext::kernels::simd
