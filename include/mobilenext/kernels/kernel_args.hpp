#pragma once
// What every kernel receives: views of packed weights and the fused activation. The views
// are plain pointers so a kernel never owns or allocates anything.
//
// Weight layouts (made once at load by pack_weights.hpp):
// - depthwise 3x3: 9 taps x channel_stride floats, tap-major ([ky][kx][c]), so the channels
//   of one tap are contiguous like the NHWC activations they multiply;
// - pointwise / fully connected: column panels of kPointwisePanel output channels, each
//   [ci][panel width] (see PointwiseWeights);
// - stem 3x3: [ky][kx][ci] rows of out_stride floats.
// Strides are multiples of kChannelAlign and the padding is zero, so vector code may read
// whole vectors of weights and biases without tails.
#include <algorithm>
#include <cstddef>

namespace mobilenext {

enum class Activation { none, relu6 };

// Channel padding of packed weights: one AVX-512 vector of floats.
inline constexpr int kChannelAlign = 16;

inline int round_up_channels(int c) { return (c + kChannelAlign - 1) / kChannelAlign * kChannelAlign; }

// Most channels an input image may have (the stem kernels gather a pixel's 3x3 window of
// them into a buffer of fixed size).
inline constexpr int kMaxInputChannels = 64;

// Output size of a 3x3 convolution with padding 1.
inline int conv3x3_output_size(int size, int stride) { return (size - 1) / stride + 1; }

inline float apply_activation(float v, Activation act) {
    return act == Activation::relu6 ? std::min(std::max(v, 0.0f), 6.0f) : v;
}

struct DepthwiseWeights {
    const float* weights = nullptr;  // [9][channel_stride]
    const float* bias = nullptr;     // [channel_stride]
    int channels = 0;
    int channel_stride = 0;
};

// Which rows a depthwise convolution reads and writes, so that a block can compute a band of
// output rows from a window of input rows (spatial tiling, and splitting work over threads).
// The input pointer holds image rows [input_first_row, ...), or, when ring_rows > 0, a ring
// of ring_rows rows where image row y is row (y - input_first_row) mod ring_rows (a block's
// sliding window, whose rows then never move). Only the rows the requested output rows need
// are read; rows outside [0, height) are the zero padding.
struct DepthwiseRows {
    int height = 0, width = 0;  // of the whole input image
    int stride = 1;
    int input_first_row = 0;                 // the image row at row 0 of `input`
    int out_row_begin = 0, out_row_end = 0;  // `output` points at row out_row_begin
    int ring_rows = 0;                       // > 0: `input` is a ring of this many rows

    // The row of `input` that holds image row y.
    std::size_t input_row(int y) const {
        const int row = y - input_first_row;
        return std::size_t(ring_rows > 0 ? (row % ring_rows + ring_rows) % ring_rows : row);
    }

    DepthwiseRows with_rows(int begin, int end) const {
        DepthwiseRows r = *this;
        r.out_row_begin = begin;
        r.out_row_end = end;
        return r;
    }
};

// All output rows of a whole image held in memory.
inline DepthwiseRows whole_image(int height, int width, int stride) {
    return {height, width, stride, 0, 0, conv3x3_output_size(height, stride)};
}

// Output columns per panel of packed pointwise weights, unless a kernel table asks for others
// (KernelTable::pointwise_panel: its widest register tile). A register tile reads the rows
// of one panel in order: a contiguous stream the prefetchers follow. In a plain [ci][co]
// matrix those rows lie 2-5 KB apart at 576-1280 columns, a different 4 KB page almost every
// row, where the prefetchers stop, and a layer whose weights come from L3 waits on each row.
inline constexpr int kPointwisePanel = 64;

// The partial identity shortcut, added by the output depthwise convolution of a block before
// it stores (stride 1, as many input as output channels): `input` holds the block's input
// rows from the output's first row on, in the output's layout, and its first `channels`
// channels are added to the output's.
//
// `input` may be the output itself (a block computed in place) when
// shortcut_may_alias_output(): each output value's shortcut is read just before that value is
// stored. A channel count that is not a multiple of the vector ends with a vector overlapping
// the previous one, whose channels are stored twice; the shortcut must not reach them.
struct PartialShortcut {
    const float* input = nullptr;
    int channels = 0;
};

// Vectors have at most kChannelAlign lanes.
inline bool shortcut_may_alias_output(int channels, int shortcut_channels) {
    return channels % kChannelAlign == 0 || shortcut_channels <= channels - kChannelAlign;
}

// Panel p holds the columns [p * panel, p * panel + width) for every input channel as
// [in_channels][width], width = min(panel, out_stride - its first column); the panels follow
// one another. `panel` is a multiple of kChannelAlign.
struct PointwiseWeights {
    const float* weights = nullptr;  // panels, in_channels x out_stride floats in all
    const float* bias = nullptr;     // [out_stride]
    int in_channels = 0;
    int out_channels = 0;
    int out_stride = 0;
    int panel = kPointwisePanel;  // columns per panel

    // Floats per row of the panel holding column co.
    int panel_width(int co) const { return std::min(panel, out_stride - co / panel * panel); }
    // The weight of input channel ci for output column co; the next input channel's is
    // panel_width(co) floats further.
    const float* at(int ci, int co) const {
        const int first = co / panel * panel;
        return weights + std::size_t(first) * in_channels + std::size_t(ci) * panel_width(co) + (co - first);
    }
    // The columns [begin, end) as weights of their own (begin a multiple of panel).
    PointwiseWeights columns(int begin, int end) const {
        PointwiseWeights c = *this;
        c.weights += std::size_t(begin) * in_channels;
        c.bias += begin;
        c.out_channels = std::min(end, out_channels) - begin;
        c.out_stride = std::min(out_stride, (end + panel - 1) / panel * panel) - begin;
        return c;
    }
};

struct StemWeights {
    const float* weights = nullptr;  // [3][3][in_channels][out_stride]
    const float* bias = nullptr;     // [out_stride]
    int in_channels = 0;
    int out_channels = 0;
    int out_stride = 0;
};

}  // namespace mobilenext
