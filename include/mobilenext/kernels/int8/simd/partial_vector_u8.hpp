#pragma once
// The last, partial vector of a row of uint8 channels: loaded from and stored to a buffer of a
// whole vector, so that no kernel reads or writes past the row's end.
#include <cstdint>
#include <cstring>

namespace mobilenext::kernels::simd {

// The first `count` bytes at p (count < Ops::kLanes), the rest 0.
template <class Ops>
typename Ops::I32 load_u8_partial(const std::uint8_t* p, int count) {
    std::uint8_t bytes[Ops::kLanes] = {};
    std::memcpy(bytes, p, std::size_t(count));
    return Ops::load_u8(bytes);
}

template <class Ops>
void store_u8_partial(typename Ops::I32 v, std::uint8_t* out, int count) {
    std::uint8_t bytes[Ops::kLanes];
    Ops::store_u8(v, bytes);
    std::memcpy(out, bytes, std::size_t(count));
}

// 4 input bytes as one word; past the row's end (count < 4) zeros, which meet zero weights.
template <class Ops>
std::uint32_t load_u8x4(const std::uint8_t* p) {
    std::uint32_t four;
    std::memcpy(&four, p, 4);
    return four;
}

template <class Ops>
std::uint32_t load_u8x4_partial(const std::uint8_t* p, int count) {
    std::uint32_t four = 0;
    std::memcpy(&four, p, std::size_t(count));
    return four;
}

}  // namespace mobilenext::kernels::simd
