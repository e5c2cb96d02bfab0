#pragma once

namespace mobilenext::kernels::reference {

// a * b as stored to memory: a volatile store and load keeps the compiler from contracting the
// product into the addition that follows (a fused multiply-add rounds once, the int8 scheme's
// float steps twice; kernels/int8/int8_args.hpp).
inline float rounded_product(float a, float b) {
    volatile float stored = a * b;
    return stored;
}

}  // namespace mobilenext::kernels::reference
