#pragma once
// What one sandglass block is: its form (which of the four layer sequences of MOBILENEXT.md),
// channels, stride and shortcut. Derived for a whole network by model/topology.hpp.
#include "../kernels/kernel_args.hpp"

namespace mobilenext {

// The four forms of the sandglass block (names as in `mobilenext info`).
enum class BlockForm {
    head_t2,          // t == 2: dw, pw, pw, dw(stride); no shortcut
    pointwise_only,   // pw, pw; no shortcut
    pointwise_dw_s2,  // pw, pw, dw(stride 2); no shortcut
    full              // dw, pw, pw, dw; shortcut unless keep_3x3
};

inline const char* block_form_name(BlockForm form) {
    switch (form) {
        case BlockForm::head_t2: return "dw-pw-pw-dw(t2)";
        case BlockForm::pointwise_only: return "pw-pw";
        case BlockForm::pointwise_dw_s2: return "pw-pw-dw";
        case BlockForm::full: return "dw-pw-pw-dw";
    }
    return "?";
}

struct BlockSpec {
    int index = 0;  // position in `features` (the stem is 0)
    BlockForm form = BlockForm::full;
    int in_channels = 0, hidden = 0, out_channels = 0;
    int stride = 1;             // of the last depthwise convolution
    int shortcut_channels = 0;  // 0: no shortcut

    bool has_input_dw() const { return form == BlockForm::head_t2 || form == BlockForm::full; }
    bool has_output_dw() const { return form != BlockForm::pointwise_only; }
};


// A block's output rows (or columns) for an input of `size`: only the output depthwise
// layer changes the size.
inline int block_output_size(const BlockSpec& b, int size) {
    return b.has_output_dw() ? conv3x3_output_size(size, b.stride) : size;
}

}  // namespace mobilenext
