#pragma once
// Four vectors of int32 sums requantized and stored as one vector of bytes, for the kernels
// whose outputs come in that order (the 1x1 convolution's store tiles, the column-quad
// depthwise): Ops::requantize_to_int, then Ops::pack_requantized_u8 (avx512_int8_ops.hpp).
// Against requantizing and narrowing each vector alone, the zero point is added once per two
// vectors in int16 and the bottom of the range once per four in bytes, and one store replaces
// four narrowing stores. Benchmark: mobilenext_int8_benchmarks, pointwise_conv_u8s8/*.
#include <cstddef>

#include "../../compiler_hints.hpp"
#include "../int8_args.hpp"

namespace mobilenext::kernels::simd {

template <class Ops>
struct PackedRequantization {
    decltype(Ops::set1_f32(0.0f)) hi;  // the range's top less the zero point
    typename Ops::Bytes zero_point_i16, lo_u8;

    explicit PackedRequantization(const Requantization& r)
        : hi(Ops::set1_f32(float(r.hi - r.zero_point))),
          zero_point_i16(Ops::set1_i16(r.zero_point)),
          lo_u8(Ops::set1_u8(r.lo)) {}
};

// acc[v]'s multipliers at m + v * step.
template <class Ops>
MOBILENEXT_ALWAYS_INLINE inline typename Ops::Bytes requantize_pack(const typename Ops::I32 (&acc)[4], const float* m,
                                                                    std::size_t step,
                                                                    const PackedRequantization<Ops>& k) {
    return Ops::pack_requantized_u8(Ops::requantize_to_int(acc[0], m, k.hi), Ops::requantize_to_int(acc[1], m + step, k.hi),
                                    Ops::requantize_to_int(acc[2], m + 2 * step, k.hi),
                                    Ops::requantize_to_int(acc[3], m + 3 * step, k.hi), k.zero_point_i16, k.lo_u8);
}

}  // namespace mobilenext::kernels::simd
