#pragma once
// An int8 MobileNeXt as quantization makes it (quantization/quantize_network.hpp), before any
// kernel set packs it: the float stem, its output's uint8 quantization, the int8 blocks, the
// classifier with int8 weights on the float pooled features. What Int8Network is built from,
// and what a file would store.
#include <cstdint>
#include <vector>

#include "../blocks/int8_sandglass_block.hpp"
#include "../kernels/int8/int8_args.hpp"
#include "folded_weights.hpp"
#include "topology.hpp"

namespace mobilenext {

struct Int8NetworkWeights {
    Topology topology;
    FoldedConv stem;                          // float, BatchNorm folded; followed by ReLU6
    U8Quantization stem_output;               // the first block's input
    std::vector<Int8SandglassLayers> blocks;  // one per Topology::blocks
    std::vector<std::int8_t> classifier_weight;     // [classes][last_channels], in [-127, 127]
    std::vector<float> classifier_weight_scales;    // [classes], symmetric per class
    std::vector<float> classifier_bias;             // [classes]
};

}  // namespace mobilenext
