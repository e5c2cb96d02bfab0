#pragma once
#include <cmath>
#include <cstddef>

namespace mobilenext::kernels::reference {

// The index of the first NaN or infinity of values[0, count), or count when there is none.
// Inputs are checked before a forward pass: ReLU6's min and max would turn a NaN into a
// finite value, and the logits into a confident answer.
inline std::size_t first_non_finite(const float* values, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i)
        if (!std::isfinite(values[i])) return i;
    return count;
}

}  // namespace mobilenext::kernels::reference
