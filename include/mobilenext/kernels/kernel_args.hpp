#pragma once
// What every kernel receives: views of packed weights and the fused activation. The views
// are plain pointers so a kernel never owns or allocates anything.
//
// Weight layouts (made once at load by pack_weights.hpp):
// - depthwise 3x3: 9 taps x channel_stride floats, tap-major ([ky][kx][c]), so the channels
//   of one tap are contiguous like the NHWC activations they multiply;
// - pointwise / fully connected: in_channels rows of out_stride floats ([ci][co]);
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
// The input pointer holds image rows [input_first_row, ...): only the rows the requested
// output rows need are read; rows outside [0, height) are the zero padding.
struct DepthwiseRows {
    int height = 0, width = 0;  // of the whole input image
    int stride = 1;
    int input_first_row = 0;                 // the image row `input` points at
    int out_row_begin = 0, out_row_end = 0;  // `output` points at row out_row_begin

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

struct PointwiseWeights {
    const float* weights = nullptr;  // [in_channels][out_stride]
    const float* bias = nullptr;     // [out_stride]
    int in_channels = 0;
    int out_channels = 0;
    int out_stride = 0;
};

struct StemWeights {
    const float* weights = nullptr;  // [3][3][in_channels][out_stride]
    const float* bias = nullptr;     // [out_stride]
    int in_channels = 0;
    int out_channels = 0;
    int out_stride = 0;
};

}  // namespace mobilenext
