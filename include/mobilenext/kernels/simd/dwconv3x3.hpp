#pragma once
#include <algorithm>
#include <cstddef>
#include <cmath>
#include <type_traits>
#include <utility>

#include "../kernel_args.hpp"
#include "vector_ops.hpp"

namespace mobilenext::kernels::simd {

namespace detail {

// Taps of one window row for four consecutive output pixels at stride 1: input columns
// c[0 .. 5], the row's three weights w[0 .. 2]; kx in order, as in the one-pixel path, so
// that every pixel gets the same rounding whichever path computes it. (Accumulators are
// separate variables: GCC kept an array of them in memory at stride 2, every FMA loading and
// storing its sum; `dwconv3x3_s2/<set>/112x112x96`.)
template <class Arch>
inline void dwconv3x3_window_row4_s1(const vfloat<Arch> (&c)[6], const vfloat<Arch>* w, vfloat<Arch>& a0,
                                     vfloat<Arch>& a1, vfloat<Arch>& a2, vfloat<Arch>& a3) {
    MOBILENEXT_UNROLL
    for (int kx = 0; kx < 3; ++kx) {
        a0 = fused_multiply_add(c[kx], w[kx], a0);
        a1 = fused_multiply_add(c[kx + 1], w[kx], a1);
        a2 = fused_multiply_add(c[kx + 2], w[kx], a2);
        a3 = fused_multiply_add(c[kx + 3], w[kx], a3);
    }
}

template <class Arch>
using lane_mask = xsimd::batch_bool<float, Arch>;

// The lanes of the channel vector at channel c that are below channel k. From a constant
// table: lanes written one by one on the stack and read back as a vector cost a
// store-forwarding stall at every row sweep.
template <class Arch>
inline lane_mask<Arch> lanes_below(int c, int k) {
    alignas(64) static constexpr float lane_index[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    static_assert(vfloat<Arch>::size <= 16, "one entry of lane_index per lane");
    return vfloat<Arch>::load_aligned(lane_index) < vfloat<Arch>(float(k - c));
}

// What every output vector of a row sweep gets before it is stored: the activation, and
// whether the shortcut is added (the shortcut pointers are then not null). Fixed at compile
// time for the whole sweep: tested at each vector, the activation switch and the shortcut
// test are two branches per stored vector, and the layers of short rows lose most
// (`dwconv3x3_s1/<set>/7x7x960` against `dwconv3x3_s1/<set>/56x56x144`).
template <Activation activation, bool adds_shortcut>
struct DepthwiseEpilogue {
    static constexpr Activation act = activation;
    static constexpr bool add_shortcut = adds_shortcut;
};

// The epilogue of every output vector: activation, then (E::add_shortcut) the shortcut's
// lanes added, then the store. The sum rounds as the separate pass over the output did, so
// fusing it changes no bit.
template <class Arch, class E>
inline void dwconv3x3_store(vfloat<Arch> acc, const float* shortcut, lane_mask<Arch> keep, float* out) {
    vfloat<Arch> v = activate<Arch>(acc, E::act);
    if constexpr (E::add_shortcut) v = xsimd::select(keep, v + vfloat<Arch>::load_unaligned(shortcut), v);
    v.store_unaligned(out);
}

template <class Arch, class E>
inline void dwconv3x3_store4(vfloat<Arch> a0, vfloat<Arch> a1, vfloat<Arch> a2, vfloat<Arch> a3, const float* shortcut,
                             lane_mask<Arch> keep, float* out, std::size_t step) {
    const auto at = [shortcut, step](int i) { return shortcut ? shortcut + i * step : nullptr; };
    dwconv3x3_store<Arch, E>(a0, at(0), keep, out);
    dwconv3x3_store<Arch, E>(a1, at(1), keep, out + step);
    dwconv3x3_store<Arch, E>(a2, at(2), keep, out + 2 * step);
    dwconv3x3_store<Arch, E>(a3, at(3), keep, out + 3 * step);
}

// Four consecutive interior output pixels of one channel vector: each input column of the
// window is loaded once and feeds every output whose 3-wide window covers it (6 loads per ky
// for 12 FMAs at stride 1, 9 for 12 at stride 2). Fully unrolled: compilers do not unroll
// the generic loop nest on their own. The tiles are inlined into the row sweeps: called once
// per tile, they took the arguments that do not fit in registers through the stack at every
// call (`dwconv3x3_s2/simd/fma3+avx2/112x112x96` for single rows, and the row pairs of
// `dwconv3x3_s1_relu6/simd/fma3+avx2/56x56x96`).
template <class Arch, class E, int stride>
MOBILENEXT_ALWAYS_INLINE inline void dwconv3x3_interior4(const float* const rows[3], std::size_t at, int C,
                                                         const vfloat<Arch>* wv, vfloat<Arch> bias,
                                                         const float* shortcut, lane_mask<Arch> keep, float* out) {
    using V = vfloat<Arch>;
    V a0 = bias, a1 = bias, a2 = bias, a3 = bias;
    MOBILENEXT_UNROLL
    for (int ky = 0; ky < 3; ++ky) {
        const float* r = rows[ky] + at;
        const auto col = [r, C](int i) { return V::load_unaligned(r + std::size_t(i) * C); };
        const V* w = wv + ky * 3;
        if (stride == 1) {
            const V c[6] = {col(0), col(1), col(2), col(3), col(4), col(5)};
            dwconv3x3_window_row4_s1<Arch>(c, w, a0, a1, a2, a3);
        } else {
            const V c0 = col(0), c1 = col(1), c2 = col(2), c3 = col(3), c4 = col(4), c5 = col(5), c6 = col(6),
                    c7 = col(7), c8 = col(8);
            a0 = fused_multiply_add(c0, w[0], a0), a1 = fused_multiply_add(c2, w[0], a1);
            a2 = fused_multiply_add(c4, w[0], a2), a3 = fused_multiply_add(c6, w[0], a3);
            a0 = fused_multiply_add(c1, w[1], a0), a1 = fused_multiply_add(c3, w[1], a1);
            a2 = fused_multiply_add(c5, w[1], a2), a3 = fused_multiply_add(c7, w[1], a3);
            a0 = fused_multiply_add(c2, w[2], a0), a1 = fused_multiply_add(c4, w[2], a1);
            a2 = fused_multiply_add(c6, w[2], a2), a3 = fused_multiply_add(c8, w[2], a3);
        }
    }
    dwconv3x3_store4<Arch, E>(a0, a1, a2, a3, shortcut, keep, out, std::size_t(C));
}

// Two output rows x `n` consecutive output pixels of one channel vector, at either stride;
// `at` is the offset of the first pixel's window column 0 (its column stride * ox - 1).
// rows[0 .. stride + 2] are the input rows of both windows: row 0's window is rows 0 .. 2,
// row 1's is rows stride .. stride + 2, so at stride 1 they share two rows and at stride 2
// one. Each input column is loaded once into a register and feeds every tap that reads it
// (at stride 1 and n = 4: 24 loads for 72 FMAs; two single rows of single pixels take one
// load per FMA), and the 2n accumulator chains hide the FMA latency. `left`: the first
// pixel's left tap is the zero padding (ox = 0); `right`: the last pixel's right tap is. So
// the rows' edges take tiles too instead of one pixel at a time: the 7- and 14-pixel rows of
// the last stages were a third single pixels.
//
// Every pixel gets its taps in the one-pixel path's order (ky, then kx): input row by input
// row, and within a row column j is tap kx of pixel (j - kx) / stride, kx rising with j.
template <class Arch, class E, int stride, int n, bool left, bool right>
MOBILENEXT_ALWAYS_INLINE inline void dwconv3x3_tile_x2(const float* const rows[stride + 3], std::ptrdiff_t at, int C,
                                                       const vfloat<Arch>* wv, vfloat<Arch> bias,
                                                       const float* shortcut0, const float* shortcut1,
                                                       lane_mask<Arch> keep, float* out0, float* out1) {
    using V = vfloat<Arch>;
    constexpr int last_column = stride * (n - 1) + 2;
    V a[n], b[n];  // output rows 0 and 1
    MOBILENEXT_UNROLL
    for (int p = 0; p < n; ++p) a[p] = b[p] = bias;
    MOBILENEXT_UNROLL
    for (int r = 0; r < stride + 3; ++r) {
        MOBILENEXT_UNROLL
        for (int j = left ? 1 : 0; j <= (right ? last_column - 1 : last_column); ++j) {
            V col = V::load_unaligned(rows[r] + (at + std::ptrdiff_t(j) * C));
            keep_in_register<Arch>(col);
            MOBILENEXT_UNROLL
            for (int kx = 0; kx < 3; ++kx) {
                if ((j - kx) % stride != 0) continue;
                const int p = (j - kx) / stride;
                if (j < kx || p >= n) continue;
                if (r < 3) a[p] = fused_multiply_add(col, wv[r * 3 + kx], a[p]);
                if (r >= stride) b[p] = fused_multiply_add(col, wv[(r - stride) * 3 + kx], b[p]);
            }
        }
    }
    const std::size_t step = std::size_t(C);
    MOBILENEXT_UNROLL
    for (int p = 0; p < n; ++p) {
        dwconv3x3_store<Arch, E>(a[p], shortcut0 ? shortcut0 + p * step : nullptr, keep, out0 + p * step);
        dwconv3x3_store<Arch, E>(b[p], shortcut1 ? shortcut1 + p * step : nullptr, keep, out1 + p * step);
    }
}

// One output pixel whose window rows [ky0, ky1) and columns [kx0, kx1) lie inside the image
// (the border: the taps outside are the zero padding and are skipped). Compile-time tap
// ranges: the generic loop with run-time bounds cost more than the interior pixels.
template <class Arch, class E, int ky0, int ky1, int kx0, int kx1>
inline void dwconv3x3_pixel(const float* const rows[3], std::ptrdiff_t at, int C, const vfloat<Arch>* wv,
                            vfloat<Arch> bias, const float* shortcut, lane_mask<Arch> keep, float* out) {
    using V = vfloat<Arch>;
    V acc = bias;
    MOBILENEXT_UNROLL
    for (int ky = ky0; ky < ky1; ++ky)
        MOBILENEXT_UNROLL
        for (int kx = kx0; kx < kx1; ++kx)
            acc = fused_multiply_add(V::load_unaligned(rows[ky] + (at + std::ptrdiff_t(kx) * C)), wv[ky * 3 + kx], acc);
    dwconv3x3_store<Arch, E>(acc, shortcut, keep, out);
}

// One output row, one channel vector (at channel c): the nine weight vectors stay in
// registers while the row is swept. Window rows [ky0, ky1) are inside the image.
template <class Arch, class E, int stride, int ky0, int ky1>
inline void dwconv3x3_row_vector(const float* const rows[3], int width, int C, int c, const vfloat<Arch>* wv,
                                 vfloat<Arch> bias, const float* shortcut_row, lane_mask<Arch> keep, float* out_row) {
    const int ow = conv3x3_output_size(width, stride);
    // Columns 1 .. inner_end - 1 have their whole 3-wide window inside the image; column 0
    // misses its left tap, the last column may miss its right one.
    const int inner_end = std::max(1, (width - 2) / stride + 1);
    const std::size_t step = std::size_t(C);
    // at: offset of window column 0 of output column ox (column ox * stride - 1; -1 for the
    // first output column, whose kx = 0 tap is never read).
    const auto at = [&](int ox) { return std::ptrdiff_t(ox * stride - 1) * C + c; };
    const auto out = [&](int ox) { return out_row + std::size_t(ox) * step + std::size_t(c); };
    const auto sc = [&](int ox) { return shortcut_row ? shortcut_row + std::size_t(ox) * step + std::size_t(c) : nullptr; };
    // Column 0: taps kx = 1, 2 (kx = 1 only when the image is one column wide), offset from
    // column -1 as if it existed; only in-image columns are read.
    if (width == 1)
        dwconv3x3_pixel<Arch, E, ky0, ky1, 1, 2>(rows, at(0), C, wv, bias, sc(0), keep, out(0));
    else
        dwconv3x3_pixel<Arch, E, ky0, ky1, 1, 3>(rows, at(0), C, wv, bias, sc(0), keep, out(0));
    int ox = 1;
    if (ky0 == 0 && ky1 == 3) {
        for (; ox + 4 <= inner_end; ox += 4)
            dwconv3x3_interior4<Arch, E, stride>(rows, std::size_t(at(ox)), C, wv, bias, sc(ox), keep, out(ox));
    }
    for (; ox < inner_end; ++ox) dwconv3x3_pixel<Arch, E, ky0, ky1, 0, 3>(rows, at(ox), C, wv, bias, sc(ox), keep, out(ox));
    // The last column when its window passes the right edge.
    for (; ox < ow; ++ox) dwconv3x3_pixel<Arch, E, ky0, ky1, 0, 2>(rows, at(ox), C, wv, bias, sc(ox), keep, out(ox));
}

// dwconv3x3_tile_x2 for a tile width known at run time (1 to 4 pixels), at output column ox.
template <class Arch, class E, int stride, bool left, bool right>
MOBILENEXT_ALWAYS_INLINE inline void dwconv3x3_tile_x2_of(int count, const float* const rows[stride + 3], int ox, int C,
                                                          int c, const vfloat<Arch>* wv, vfloat<Arch> bias,
                                                          const float* shortcut_row0, const float* shortcut_row1,
                                                          lane_mask<Arch> keep, float* out_row0, float* out_row1) {
    const std::ptrdiff_t at = std::ptrdiff_t(ox * stride - 1) * C + c;
    const std::size_t px = std::size_t(ox) * std::size_t(C) + std::size_t(c);
    const float* sc0 = shortcut_row0 ? shortcut_row0 + px : nullptr;
    const float* sc1 = shortcut_row1 ? shortcut_row1 + px : nullptr;
    float* out0 = out_row0 + px;
    float* out1 = out_row1 + px;
    switch (count) {
        case 1: return dwconv3x3_tile_x2<Arch, E, stride, 1, left, right>(rows, at, C, wv, bias, sc0, sc1, keep, out0, out1);
        case 2: return dwconv3x3_tile_x2<Arch, E, stride, 2, left, right>(rows, at, C, wv, bias, sc0, sc1, keep, out0, out1);
        case 3: return dwconv3x3_tile_x2<Arch, E, stride, 3, left, right>(rows, at, C, wv, bias, sc0, sc1, keep, out0, out1);
        default: return dwconv3x3_tile_x2<Arch, E, stride, 4, left, right>(rows, at, C, wv, bias, sc0, sc1, keep, out0, out1);
    }
}

// Two consecutive output rows whose windows lie inside the image vertically (rows[0 ..
// stride + 2] are input rows stride * oy - 1 .. stride * oy + stride + 1), one channel vector:
// the whole row in tiles of up to four pixels, the first with the left padding, the last (one
// to four pixels) with the right padding when its window passes the right edge; a row of at
// most four pixels is one tile.
template <class Arch, class E, int stride>
inline void dwconv3x3_row_pair_vector(const float* const rows[stride + 3], int width, int C, int c,
                                      const vfloat<Arch>* wv, vfloat<Arch> bias, const float* sc0,
                                      const float* sc1, lane_mask<Arch> keep, float* out0, float* out1) {
    const int ow = conv3x3_output_size(width, stride);
    // The last pixel's right tap (column stride * (ow - 1) + 1) is outside the image.
    const bool right_padding = stride * (ow - 1) + 1 >= width;
    if (ow <= 4) {
        if (right_padding)
            dwconv3x3_tile_x2_of<Arch, E, stride, true, true>(ow, rows, 0, C, c, wv, bias, sc0, sc1, keep, out0, out1);
        else
            dwconv3x3_tile_x2_of<Arch, E, stride, true, false>(ow, rows, 0, C, c, wv, bias, sc0, sc1, keep, out0, out1);
        return;
    }
    dwconv3x3_tile_x2_of<Arch, E, stride, true, false>(4, rows, 0, C, c, wv, bias, sc0, sc1, keep, out0, out1);
    int ox = 4;
    for (; ox + 4 < ow; ox += 4)
        dwconv3x3_tile_x2_of<Arch, E, stride, false, false>(4, rows, ox, C, c, wv, bias, sc0, sc1, keep, out0, out1);
    if (right_padding)
        dwconv3x3_tile_x2_of<Arch, E, stride, false, true>(ow - ox, rows, ox, C, c, wv, bias, sc0, sc1, keep, out0, out1);
    else
        dwconv3x3_tile_x2_of<Arch, E, stride, false, false>(ow - ox, rows, ox, C, c, wv, bias, sc0, sc1, keep, out0, out1);
}

// The nine tap vectors and the bias of channels [c, c + L), held in registers for a row sweep.
template <class Arch>
inline void load_depthwise_vector(const DepthwiseWeights& w, int c, vfloat<Arch> (&wv)[9], vfloat<Arch>& bias) {
    MOBILENEXT_UNROLL
    for (int tap = 0; tap < 9; ++tap) wv[tap] = vfloat<Arch>::load_unaligned(w.weights + tap * w.channel_stride + c);
    bias = vfloat<Arch>::load_unaligned(w.bias + c);
}

// Row pairs at stride 1: with 32 vector registers (AVX-512, NEON), and with 16 on FMA3 sets,
// where the weights the registers do not hold are FMA operands from L1: a four-pixel tile of a
// pair takes 24 loads for 72 FMAs where two single-row tiles take 36, and runs eight
// accumulator chains instead of four (the 28x28 to 112x112 layers,
// `dwconv3x3_s1_relu6/simd/fma3+avx2/56x56x96`).
template <class Arch>
constexpr bool dwconv_row_pairs() {
    return vector_registers<Arch>() == 32 || has_fma3<Arch>();
}

// Row pairs at stride 2: with 32 vector registers only (nine weights, eight accumulators and a
// column; with 16 they would spill).
template <class Arch>
constexpr bool dwconv_row_pairs_s2() {
    return vector_registers<Arch>() == 32;
}

// Window rows [ky_begin, ky_end) of output row oy that lie inside the image. (Templates on
// the instruction set, like every function of these headers, so that no function is shared
// between the translation units of different instruction sets.)
template <class Arch>
MOBILENEXT_ALWAYS_INLINE inline std::pair<int, int> window_rows(const DepthwiseRows& r, int oy) {
    return std::pair<int, int>(oy * r.stride == 0 ? 1 : 0, std::min(3, r.height - oy * r.stride + 1));
}

// Row ky of output row oy's window, for the rows inside the image (the others are never read
// and are left pointing at `input`).
template <class Arch>
MOBILENEXT_ALWAYS_INLINE inline void window_row_pointers(const float* input, const DepthwiseRows& r, int oy,
                                                         std::size_t row_floats, const float* (&rows)[3]) {
    const auto [ky_begin, ky_end] = window_rows<Arch>(r, oy);
    for (int ky = 0; ky < 3; ++ky)
        rows[ky] = ky >= ky_begin && ky < ky_end ? input + r.input_row(oy * r.stride + ky - 1) * row_floats : input;
}

// Fewer channels than one vector: the sums of dwconv3x3_rows one lane at a time.
template <class Arch, Activation act>
void dwconv3x3_rows_narrow(const float* input, const DepthwiseRows& r, const DepthwiseWeights& w,
                           const PartialShortcut& shortcut, float* output) {
    const int C = w.channels, cs = w.channel_stride, W = r.width, s = r.stride;
    const int ow = conv3x3_output_size(W, s);
    const std::size_t row_floats = std::size_t(W) * C;
    for (int oy = r.out_row_begin; oy < r.out_row_end; ++oy) {
        const auto [ky_begin, ky_end] = window_rows<Arch>(r, oy);
        const float* rows[3];
        window_row_pointers<Arch>(input, r, oy, row_floats, rows);
        const std::size_t row_offset = std::size_t(oy - r.out_row_begin) * ow * C;
        const float* sc = shortcut.input ? shortcut.input + row_offset : nullptr;
        float* out = output + row_offset;
        for (int ox = 0; ox < ow; ++ox) {
            const int kx_begin = ox * s == 0 ? 1 : 0, kx_end = std::min(3, W - ox * s + 1);
            for (int c = 0; c < C; ++c) {
                float acc = w.bias[c];
                for (int ky = ky_begin; ky < ky_end; ++ky)
                    for (int kx = kx_begin; kx < kx_end; ++kx)
                        acc = std::fma(rows[ky][std::size_t(ox * s + kx - 1) * C + c], w.weights[(ky * 3 + kx) * cs + c], acc);
                float value = apply_activation(acc, act);
                if (sc && c < shortcut.channels) value += sc[std::size_t(ox) * C + c];
                out[std::size_t(ox) * C + c] = value;
            }
        }
    }
}

// Depthwise 3x3, padding 1, stride 1 or 2, with the partial shortcut added when
// `with_shortcut` (and `shortcut.input` is not null). Vectorised over channels (NHWC keeps
// them contiguous). One channel vector at a time goes down all the output rows: its nine
// weight vectors stay in registers for the whole column of rows, and the input rows a row
// pair shares with the next are still in L1 when it reads them (the rows of one channel
// vector are a few KB; all the channels of a row pair are 50-250 KB). Interior pixels take
// a fully unrolled path, the border taps are clipped.
template <class Arch, Activation act, bool with_shortcut>
void dwconv3x3_rows(const float* input, const DepthwiseRows& r, const DepthwiseWeights& w,
                    const PartialShortcut& shortcut, float* output) {
    using V = vfloat<Arch>;
    constexpr int L = int(V::size);
    static_assert(L <= kChannelAlign, "shortcut_may_alias_output assumes at most kChannelAlign lanes");
    const int C = w.channels, W = r.width, s = r.stride;
    const int vector_end = C / L * L;
    const int ow = conv3x3_output_size(W, s);
    const std::size_t row_floats = std::size_t(W) * C;
    const auto out_row = [&](int y) { return output + std::size_t(y - r.out_row_begin) * ow * C; };
    // The shortcut's row that is added to output row y, if any.
    const auto shortcut_row = [&](int y) -> const float* {
        return with_shortcut && shortcut.input ? shortcut.input + std::size_t(y - r.out_row_begin) * ow * C : nullptr;
    };
    // Runs a sweep with its epilogue: the shortcut added when `add` (the vectors it covers).
    const auto with_epilogue = [](bool add, const auto& sweep) {
        if constexpr (with_shortcut) {
            if (add) return sweep(DepthwiseEpilogue<act, true>());
        }
        sweep(DepthwiseEpilogue<act, false>());
    };

    // The channel vector at channel c, every output row. Whole vectors; a channel count that is
    // not a multiple of the vector ends with one more vector aligned to the last channel,
    // overlapping the previous one (those channels are computed twice, identically), so only
    // counts below one vector need scalar code.
    const auto column = [&](int c) {
        V wv[9], bias;
        load_depthwise_vector<Arch>(w, c, wv, bias);
        const lane_mask<Arch> keep = lanes_below<Arch>(c, shortcut.channels);
        const bool adds = c < shortcut.channels;
        // Output rows y and y + 1, both windows inside the image vertically: input rows
        // stride * y - 1 .. stride * y + stride + 1 (four at stride 1, five at stride 2).
        const auto pair_rows = [&](int y, auto stride) {
            constexpr int st = decltype(stride)::value;
            const float* rows[st + 3];
            for (int k = 0; k < st + 3; ++k) rows[k] = input + r.input_row(st * y + k - 1) * row_floats;
            const float* sc0 = adds ? shortcut_row(y) : nullptr;
            const float* sc1 = sc0 ? sc0 + std::size_t(ow) * C : nullptr;
            with_epilogue(sc0 != nullptr, [&](auto epilogue) {
                dwconv3x3_row_pair_vector<Arch, decltype(epilogue), st>(rows, W, C, c, wv, bias, sc0, sc1, keep,
                                                                        out_row(y), out_row(y + 1));
            });
        };
        for (int oy = r.out_row_begin; oy < r.out_row_end; ++oy) {
            if constexpr (dwconv_row_pairs<Arch>()) {
                if (s == 1 && oy >= 1 && oy + 1 < r.out_row_end && oy + 2 < r.height) {
                    pair_rows(oy, std::integral_constant<int, 1>());
                    ++oy;
                    continue;
                }
            }
            if constexpr (dwconv_row_pairs_s2<Arch>()) {
                if (s == 2 && oy >= 1 && oy + 1 < r.out_row_end && 2 * oy + 3 < r.height) {
                    pair_rows(oy, std::integral_constant<int, 2>());
                    ++oy;
                    continue;
                }
            }
            const auto [ky_begin, ky_end] = window_rows<Arch>(r, oy);
            const float* rows[3];
            window_row_pointers<Arch>(input, r, oy, row_floats, rows);
            const float* add = adds ? shortcut_row(oy) : nullptr;
            const auto row = [&](auto ky0, auto ky1) {
                constexpr int k0 = decltype(ky0)::value, k1 = decltype(ky1)::value;
                with_epilogue(add != nullptr, [&](auto epilogue) {
                    using E = decltype(epilogue);
                    if (s == 1)
                        dwconv3x3_row_vector<Arch, E, 1, k0, k1>(rows, W, C, c, wv, bias, add, keep, out_row(oy));
                    else
                        dwconv3x3_row_vector<Arch, E, 2, k0, k1>(rows, W, C, c, wv, bias, add, keep, out_row(oy));
                });
            };
            using K0 = std::integral_constant<int, 0>;
            using K1 = std::integral_constant<int, 1>;
            using K2 = std::integral_constant<int, 2>;
            using K3 = std::integral_constant<int, 3>;
            if (ky_begin == 0)
                ky_end == 3 ? row(K0(), K3()) : row(K0(), K2());
            else
                ky_end == 3 ? row(K1(), K3()) : row(K1(), K2());
        }
    };
    if (C < L) return dwconv3x3_rows_narrow<Arch, act>(input, r, w, with_shortcut ? shortcut : PartialShortcut{}, output);
    for (int c = 0; c < vector_end; c += L) column(c);
    if (C % L != 0) column(C - L);
}

}  // namespace detail

// Depthwise 3x3, padding 1, stride 1 or 2: the same contract as reference::dwconv3x3.
template <class Arch = xsimd::default_arch>
void dwconv3x3(const float* input, const DepthwiseRows& r, const DepthwiseWeights& w, Activation act,
               float* output) {
    if (act == Activation::relu6)
        detail::dwconv3x3_rows<Arch, Activation::relu6, false>(input, r, w, PartialShortcut{}, output);
    else
        detail::dwconv3x3_rows<Arch, Activation::none, false>(input, r, w, PartialShortcut{}, output);
}

// The output depthwise of a block with a shortcut, the shortcut added as each output vector is
// stored (no second pass over the output): the same contract as
// reference::dwconv3x3_add_shortcut, in place included (see PartialShortcut).
template <class Arch = xsimd::default_arch>
void dwconv3x3_add_shortcut(const float* input, const DepthwiseRows& r, const DepthwiseWeights& w,
                            const PartialShortcut& shortcut, float* output) {
    detail::dwconv3x3_rows<Arch, Activation::none, true>(input, r, w, shortcut, output);
}

}  // namespace mobilenext::kernels::simd
