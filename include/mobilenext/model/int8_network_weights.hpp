#pragma once
// An int8 MobileNeXt as quantization makes it (quantization/quantize_network.hpp), before any
// kernel set packs it: the float stem, its output's uint8 quantization, the int8 blocks, the
// float classifier. What Int8Network is built from, and what a file would store.
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
    std::vector<float> classifier_weight;     // [classes][last_channels]
    std::vector<float> classifier_bias;       // [classes]
};

}  // namespace mobilenext
