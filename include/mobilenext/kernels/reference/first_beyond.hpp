#pragma once
#include <cmath>
#include <cstddef>

namespace mobilenext::kernels::reference {

// The index of the first value of values[0, count) that is NaN or larger than `limit` in
// magnitude, or count when there is none. With limit FLT_MAX: the first non-finite value.
// Inputs are checked before a forward pass (ReLU6's min and max would turn a NaN into a
// finite value, and the logits into a confident answer), weights once packed.
inline std::size_t first_beyond(const float* values, std::size_t count, float limit) {
    for (std::size_t i = 0; i < count; ++i)
        if (!(std::fabs(values[i]) <= limit)) return i;
    return count;
}

}  // namespace mobilenext::kernels::reference
