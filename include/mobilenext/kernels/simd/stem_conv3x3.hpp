#pragma once
#include <algorithm>
#include <cstddef>

#include "../kernel_args.hpp"
#include "vector_ops.hpp"

namespace mobilenext::kernels::simd {

namespace detail {

// One tap (ky, kx, ci) for every pixel and vector of a tile: `in` is the tap's input for the
// first pixel, the next pixel's is pixel_step floats further.
template <class Arch, int vectors, int pixels>
MOBILENEXT_ALWAYS_INLINE inline void stem_tap(vfloat<Arch> (&acc)[pixels][vectors], const float* wrow, const float* in,
                                              std::size_t pixel_step) {
    using V = vfloat<Arch>;
    constexpr int L = int(V::size);
    V wv[vectors];
    MOBILENEXT_UNROLL
    for (int j = 0; j < vectors; ++j) wv[j] = V::load_unaligned(wrow + j * L);
    MOBILENEXT_UNROLL
    for (int p = 0; p < pixels; ++p) {
        const V a(in[std::size_t(p) * pixel_step]);
        MOBILENEXT_UNROLL
        for (int j = 0; j < vectors; ++j) acc[p][j] = fused_multiply_add(a, wv[j], acc[p][j]);
    }
}

// `pixels` consecutive interior output pixels of one stem row, `vectors` output vectors from
// channel co (wider stems go in groups of vectors): each tap's weight vectors are loaded once
// for all the pixels (the per-pixel path reloads 27 of them per pixel), and each input value
// is broadcast once for all vectors. Taps run in the order of the per-pixel path, so every
// pixel gets the same rounding.
// `channels` is Ci when it is fixed at compile time (else 0): the taps (kx, ci) of a window row
// are then one fully unrolled run of 3 * Ci consecutive inputs and weight rows, their offsets
// constants.
template <class Arch, int vectors, int pixels, int channels>
inline void stem_interior(const float* const rows[3], int ox, int Ci, const StemWeights& w, int co, float* out,
                          int Co) {
    using V = vfloat<Arch>;
    constexpr int L = int(V::size);
    V acc[pixels][vectors];
    MOBILENEXT_UNROLL
    for (int j = 0; j < vectors; ++j) {
        const V b = V::load_unaligned(w.bias + co + j * L);
        MOBILENEXT_UNROLL
        for (int p = 0; p < pixels; ++p) acc[p][j] = b;
    }
    if constexpr (channels != 0) {
        for (int ky = 0; ky < 3; ++ky) {
            const float* in = rows[ky] + std::size_t(ox * 2 - 1) * channels;
            const float* wrow = w.weights + std::size_t(ky * 3 * channels) * w.out_stride + co;
            MOBILENEXT_UNROLL
            for (int t = 0; t < 3 * channels; ++t, wrow += w.out_stride)
                stem_tap<Arch, vectors, pixels>(acc, wrow, in + t, 2 * channels);
        }
    } else {
        for (int ky = 0; ky < 3; ++ky)
            for (int kx = 0; kx < 3; ++kx) {
                const float* in = rows[ky] + std::size_t((ox * 2 + kx - 1)) * Ci;
                const float* wrow = w.weights + std::size_t((ky * 3 + kx) * Ci) * w.out_stride + co;
                for (int ci = 0; ci < Ci; ++ci, wrow += w.out_stride)
                    stem_tap<Arch, vectors, pixels>(acc, wrow, in + ci, std::size_t(2) * Ci);
            }
    }
    MOBILENEXT_UNROLL
    for (int p = 0; p < pixels; ++p)
        MOBILENEXT_UNROLL
        for (int j = 0; j < vectors; ++j)
            if (co + j * L < Co)
                store_first<Arch>(activate<Arch>(acc[p][j], Activation::relu6), out + std::size_t(p) * Co + co + j * L,
                                  Co - co - j * L);
}

// Vectors per group and pixels per block of the interior: 3 x 8 accumulators with 32 vector
// registers, 4 x 3 with 16 (the 32 channels of the usual stem at once on AVX2; 2 x 6 and
// 1 x 12, which broadcast each input to fewer vectors, measured 1.7-2x slower).
template <class Arch>
constexpr int stem_group_vectors() {
    return vector_registers<Arch>() == 32 ? 3 : 4;
}
template <class Arch>
constexpr int stem_block_pixels() {
    return vector_registers<Arch>() == 32 ? 8 : 3;
}

template <class Arch, int pixels, int channels>
inline void stem_interior_vectors(int vectors, const float* const rows[3], int ox, int Ci, const StemWeights& w,
                                  int co, float* out, int Co) {
    constexpr int group = stem_group_vectors<Arch>();
    switch (vectors) {
        case 1: stem_interior<Arch, 1, pixels, channels>(rows, ox, Ci, w, co, out, Co); break;
        case 2: stem_interior<Arch, 2, pixels, channels>(rows, ox, Ci, w, co, out, Co); break;
        case 3:
            if constexpr (group >= 3) stem_interior<Arch, 3, pixels, channels>(rows, ox, Ci, w, co, out, Co);
            break;
        default:
            if constexpr (group >= 4) stem_interior<Arch, 4, pixels, channels>(rows, ox, Ci, w, co, out, Co);
            break;
    }
}

// `vectors` (1 .. stem_group_vectors) output vectors from channel co. With 16 registers, RGB
// and single-channel images have their channel count fixed at compile time (about 1.2x on AVX2);
// with 32, the 24 accumulators of a fully unrolled window spilled (three times slower).
template <class Arch, int pixels>
inline void stem_interior_group(int vectors, const float* const rows[3], int ox, int Ci, const StemWeights& w, int co,
                                float* out, int Co) {
    if constexpr (vector_registers<Arch>() == 32) {
        stem_interior_vectors<Arch, pixels, 0>(vectors, rows, ox, Ci, w, co, out, Co);
    } else {
        if (Ci == 3)
            stem_interior_vectors<Arch, pixels, 3>(vectors, rows, ox, Ci, w, co, out, Co);
        else if (Ci == 1)
            stem_interior_vectors<Arch, pixels, 1>(vectors, rows, ox, Ci, w, co, out, Co);
        else
            stem_interior_vectors<Arch, pixels, 0>(vectors, rows, ox, Ci, w, co, out, Co);
    }
}

// Pixels per block of the interior for stems of at most two vectors (16 channels on AVX2: the
// widths 0.35-0.5): six with 16 registers, so that 12 accumulators hide the FMA latency
// instead of 6; with 32, the usual 8.
template <class Arch>
constexpr int stem_narrow_block_pixels() {
    return vector_registers<Arch>() == 32 ? stem_block_pixels<Arch>() : 6;
}

// The blocked interior of one output row, columns [ox_begin, ox_end), in blocks of `block`
// pixels (ox_end - ox_begin >= block). The last block ends at the last column, overlapping the
// one before it: those pixels are computed twice, identically, instead of one at a time (a
// lone pixel's accumulator chains wait on the FMA latency, four times slower).
template <class Arch, int block>
inline void stem_interior_row(const float* const rows[3], int ox_begin, int ox_end, int Ci, const StemWeights& w,
                              int vectors, float* out_row, int Co) {
    constexpr int L = int(vfloat<Arch>::size), group = stem_group_vectors<Arch>();
    for (int next = ox_begin; next < ox_end; next += block) {
        const int ox = std::min(next, ox_end - block);
        float* out = out_row + std::size_t(ox) * Co;
        for (int v = 0; v < vectors; v += group)
            stem_interior_group<Arch, block>(std::min(group, vectors - v), rows, ox, Ci, w, v * L, out, Co);
    }
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
    constexpr int wide_block = detail::stem_block_pixels<Arch>(), narrow_block = detail::stem_narrow_block_pixels<Arch>();
    const bool narrow = vectors <= 2;
    const int block = narrow ? narrow_block : wide_block;
    for (int oy = out_row_begin; oy < out_row_end; ++oy) {
        const int ky_begin = oy == 0 ? 1 : 0, ky_end = std::min(3, height - oy * 2 + 1);
        int ox_fast_begin = ow, ox_fast_end = ow;  // the blocked interior, if this row has one
        if (ky_begin == 0 && ky_end == 3 && ox_inner_end - 1 >= block) {
            const float* rows[3];
            for (int ky = 0; ky < 3; ++ky) rows[ky] = image + std::size_t(oy * 2 + ky - 1) * width * Ci;
            ox_fast_begin = 1;
            ox_fast_end = ox_inner_end;
            float* out_row = output + std::size_t(oy - out_row_begin) * ow * Co;
            if (narrow)
                detail::stem_interior_row<Arch, narrow_block>(rows, ox_fast_begin, ox_fast_end, Ci, w, vectors, out_row, Co);
            else
                detail::stem_interior_row<Arch, wide_block>(rows, ox_fast_begin, ox_fast_end, Ci, w, vectors, out_row, Co);
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
