#pragma once
// What one forward pass of one input shape needs: the sizes of the workspace's buffers.
#include <cstddef>

namespace mobilenext {

// Buffer sizes (in floats) of a forward pass of one input shape.
struct ForwardPlan {
    std::size_t activation = 0;  // each of the two alternating activation buffers
    std::size_t image = 0;       // the largest activation of one image
    std::size_t scratch = 0;     // per thread
    std::size_t layer = 0;       // each of three whole-image buffers of layer-parallel blocks
    std::size_t pooled = 0;
    int threads = 1;
    std::size_t bytes() const { return (2 * activation + scratch * threads + 3 * layer + pooled) * sizeof(float); }
};

}  // namespace mobilenext
