#pragma once
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstring>
#include <utility>

#include "../kernel_args.hpp"
#include "pointwise_conv.hpp"

namespace mobilenext::kernels::simd {

namespace detail {

// Floats of gathered windows per GEMM call: 16 KB, which stay in L1 while every column tile
// passes over them; at least 7 pixels at kMaxInputChannels.
inline constexpr int kStemPatchFloats = 4096;
static_assert(kStemPatchFloats >= 9 * kMaxInputChannels, "room for one window of the widest input");

// The 3x3 windows of output pixels (oy, ox0 .. ox0 + n - 1) at stride 2, each as one row of
// 9 * Ci values in the order of the packed weights' rows (ky, kx, ci); zeros where a window
// passes the image's border. `channels` is Ci when fixed at compile time (else 0): the copies
// of the RGB and one-channel windows are then a few vector moves, not loops with run-time
// bounds around copies of 9 or 3 floats (`stem_conv3x3_s2_relu6/<set>/224x224x3->32`).
template <int channels>
inline void gather_stem_windows(const float* image, int height, int width, int Ci, int oy, int ox0, int n,
                                float* patches) {
    if constexpr (channels != 0) Ci = channels;
    const int K = 9 * Ci, row = 3 * Ci;
    for (int p = 0; p < n; ++p) {
        float* patch = patches + std::size_t(p) * K;
        const int x0 = (ox0 + p) * 2 - 1;
        const int kx_begin = x0 < 0 ? 1 : 0, kx_end = std::min(3, width - x0);
        for (int ky = 0; ky < 3; ++ky, patch += row) {
            const int y = oy * 2 + ky - 1;
            if (y < 0 || y >= height) {
                std::fill_n(patch, row, 0.0f);
                continue;
            }
            // The window's columns inside the image, contiguous in NHWC.
            const float* in = image + (std::size_t(y) * width + std::size_t(x0 + kx_begin)) * Ci;
            if (kx_begin == 0 && kx_end == 3) {
                // A fixed-size copy is a few vector moves; std::copy_n became a call to memmove per
                // window row (`stem_conv3x3_s2_relu6/<set>/224x224x3->32`).
                if constexpr (channels != 0)
                    std::memcpy(patch, in, sizeof(float) * 3 * channels);
                else
                    std::copy_n(in, row, patch);
            } else {
                std::fill_n(patch, row, 0.0f);
                std::copy_n(in, (kx_end - kx_begin) * Ci, patch + kx_begin * Ci);
            }
        }
    }
}

// One register tile of the stem read straight from the image: `rows` output pixels whose
// windows lie inside the image x `vectors` vectors of output channels. Window row ky of pixel
// i is the 3 * channels floats at window_rows[ky] + i * 2 * channels (stride 2): with the
// channel count fixed the offsets are constants, and three pointers address the whole tile.
// The taps go in the packed weights' row order (ky, kx, ci), as in the gathered GEMM.
template <class Arch, int channels, int rows, int vectors>
void stem_direct_tile(const float* const window_rows[3], const ColumnTile& t, float* output) {
    using V = vfloat<Arch>;
    constexpr int L = int(V::size), row_taps = 3 * channels;
    const std::size_t step = t.weight_step;
    V acc[rows][vectors];
    start_tile<Arch, rows, vectors>(acc, t.bias);
    const float* wrow = t.weights;
    for (int ky = 0; ky < 3; ++ky) {
        const float* in = window_rows[ky];
        for (int k = 0; k < row_taps; ++k, wrow += step) {
            V wv[vectors];
            MOBILENEXT_UNROLL
            for (int j = 0; j < vectors; ++j) wv[j] = V::load_unaligned(wrow + j * L);
            // Offsets fixed at compile time: one pointer per window row for the whole tile.
            MOBILENEXT_UNROLL
            for (int i = 0; i < rows; ++i) {
                const V a(in[i * 2 * channels + k]);
                MOBILENEXT_UNROLL
                for (int j = 0; j < vectors; ++j) acc[i][j] = fused_multiply_add(a, wv[j], acc[i][j]);
            }
        }
    }
    store_tile<Arch, rows, vectors>(acc, t.act, t.columns, output, std::size_t(t.out_channels));
}

template <class Arch>
using StemTileFn = void (*)(const float* const[3], const ColumnTile&, float*);

template <class Arch, int channels, int vectors, int... heights>
constexpr std::array<StemTileFn<Arch>, sizeof...(heights)> stem_direct_tiles(std::integer_sequence<int, heights...>) {
    return {&stem_direct_tile<Arch, channels, heights + 1, vectors>...};
}

// Output pixels (oy, ox0 .. ox0 + n - 1), all with their windows inside the image, for the
// output columns of one column tile: tiles of balanced heights, as in pointwise_columns.
template <class Arch, int channels, int vectors>
void stem_direct_columns(const float* image, int width, int oy, int ox0, int n, const PointwiseWeights& w, int co,
                         float* out_row) {
    constexpr int L = int(vfloat<Arch>::size);
    constexpr int tallest = tile_rows<Arch>(vectors);
    static constexpr auto tiles = stem_direct_tiles<Arch, channels, vectors>(std::make_integer_sequence<int, tallest>());
    const int count = (n + tallest - 1) / tallest;
    const int base = n / count, taller = n % count;
    const ColumnTile t{w.at(0, co), std::size_t(w.panel_width(co)), w.bias + co, w.in_channels, w.out_channels,
                       std::min(vectors * L, w.out_channels - co), Activation::relu6, 0, nullptr, 0};
    const std::size_t row_floats = std::size_t(width) * channels;
    int ox = ox0;
    for (int k = 0; k < count; ++k) {
        const int rows = base + (k < taller ? 1 : 0);
        const float* first = image + (std::size_t(2 * ox - 1)) * channels;  // window column 0 of pixel ox
        const float* window_rows[3] = {first + std::size_t(2 * oy - 1) * row_floats, first + std::size_t(2 * oy) * row_floats,
                                       first + std::size_t(2 * oy + 1) * row_floats};
        tiles[rows - 1](window_rows, t, out_row + std::size_t(ox) * w.out_channels + co);
        ox += rows;
    }
}

// The interior pixels of one output row, every column tile.
template <class Arch, int channels>
void stem_direct_row(const float* image, int width, int oy, int ox0, int n, const PointwiseWeights& w, float* out_row) {
    constexpr int L = int(vfloat<Arch>::size);
    for (int co = 0; co < w.out_channels;) {
        const int count = column_tile_vectors<Arch>(w, co);
        with_column_tile_vectors<Arch>(count, [&](auto vectors) {
            stem_direct_columns<Arch, channels, decltype(vectors)::value>(image, width, oy, ox0, n, w, co, out_row);
        });
        co += count * L;
    }
}

}  // namespace detail

// The stem (dense 3x3, stride 2, padding 1, ReLU6): the same contract as
// reference::stem_conv3x3_s2_relu6, for in_channels <= kMaxInputChannels.
//
// Output rows [out_row_begin, out_row_end) only: the network splits the stem into bands over
// its threads or, a whole image per thread, computes its rows as the first block comes to need
// them, still in L2 when the block reads them (network.hpp).
//
// A GEMM on register tiles of pixels x output channels, as in the 1x1 convolution, the packed
// stem being a pointwise weight matrix of 9 * Ci inputs in one panel. For RGB images the
// interior pixels of the rows whose windows lie inside the image are read straight from it
// (stem_direct_row): window row ky of consecutive pixels lies 6 floats apart, so three row
// pointers inside the image address a whole tile at constant offsets. The pixels whose
// windows pass the border (row 0 and column 0, the last row or column of an odd size), and
// every pixel of other channel counts, have their windows gathered into rows of 9 * Ci values
// that go through pointwise_conv. Every sum runs from the bias through the taps in the
// weights' row order, as in the reference; the gathered taps beyond the border add products
// with zero, which change no sum. The tiles are sized to the registers: blocks of pixels
// sharing each tap's weight vectors would need 12 accumulators and 4 weight vectors, which do
// not fit the 16 AVX2 registers beside the broadcast input
// (`stem_conv3x3_s2_relu6/simd/fma3+avx2/224x224x3->32`).
template <class Arch = xsimd::default_arch>
void stem_conv3x3_s2_relu6(const float* image, int height, int width, int out_row_begin, int out_row_end,
                           const StemWeights& w, float* output) {
    const int Ci = w.in_channels, Co = w.out_channels, K = 9 * Ci;
    const int ow = conv3x3_output_size(width, 2);
    const PointwiseWeights gemm{w.weights, w.bias, K, Co, w.out_stride, w.out_stride};
    alignas(64) float patches[detail::kStemPatchFloats];
    const int run = detail::kStemPatchFloats / K;
    // Pixels [begin, end) of output row oy through gathered windows.
    const auto gathered = [&](int oy, int begin, int end, float* out_row) {
        for (int ox0 = begin; ox0 < end; ox0 += run) {
            const int n = std::min(run, end - ox0);
            if (Ci == 3)
                detail::gather_stem_windows<3>(image, height, width, Ci, oy, ox0, n, patches);
            else if (Ci == 1)
                detail::gather_stem_windows<1>(image, height, width, Ci, oy, ox0, n, patches);
            else
                detail::gather_stem_windows<0>(image, height, width, Ci, oy, ox0, n, patches);
            pointwise_conv<Arch>(patches, std::size_t(n), gemm, Activation::relu6, out_row + std::size_t(ox0) * Co);
        }
    };
    // Output columns 1 .. inner_end - 1 have their windows inside the image horizontally.
    const int inner_end = std::max(1, (width - 2) / 2 + 1);
    for (int oy = out_row_begin; oy < out_row_end; ++oy) {
        float* out_row = output + std::size_t(oy - out_row_begin) * ow * Co;
        if (Ci == 3 && oy >= 1 && 2 * oy + 1 < height && inner_end > 1) {
            // RGB rows inside the image: the interior straight from the image (gathering copies
            // every window, 27 floats a pixel, before the GEMM reads them again;
            // `stem_conv3x3_s2_relu6/<set>/224x224x3->32`), the border columns gathered.
            gathered(oy, 0, 1, out_row);
            detail::stem_direct_row<Arch, 3>(image, width, oy, 1, inner_end - 1, gemm, out_row);
            gathered(oy, inner_end, ow, out_row);
        } else {
            gathered(oy, 0, ow, out_row);
        }
    }
}

}  // namespace mobilenext::kernels::simd
