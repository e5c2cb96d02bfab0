#pragma once
// The int8 partial shortcut add on the vector operations of one instruction set (Ops: see
// avx512_int8_ops.hpp), in float lanes as int8_args.hpp defines it: the same float
// operations, in the same order, as the reference, lane by lane, so the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "../int8_args.hpp"
#include "partial_vector_u8.hpp"

namespace mobilenext::kernels::simd {

namespace detail {

template <class Ops>
struct ShortcutConstantsU8 {
    typename Ops::I32 a_zero_point, b_zero_point, y_zero_point;
    typename Ops::F32 a_scale, b_scale, y_scale, lo, hi;  // lo, hi: [0, 255] less y's zero point

    explicit ShortcutConstantsU8(const ShortcutAddU8& q)
        : a_zero_point(Ops::set1(q.a_zero_point)),
          b_zero_point(Ops::set1(q.b_zero_point)),
          y_zero_point(Ops::set1(q.y_zero_point)),
          a_scale(Ops::set1_f32(q.a_scale)),
          b_scale(Ops::set1_f32(q.b_scale)),
          y_scale(Ops::set1_f32(q.y_scale)),
          lo(Ops::set1_f32(float(-q.y_zero_point))),
          hi(Ops::set1_f32(float(255 - q.y_zero_point))) {}
};

template <class Ops>
typename Ops::I32 add_dequantized(typename Ops::I32 a, typename Ops::I32 b, const ShortcutConstantsU8<Ops>& k) {
    const auto real_a = Ops::rounded_product(Ops::to_f32(Ops::sub(a, k.a_zero_point)), k.a_scale);
    const auto real_b = Ops::rounded_product(Ops::to_f32(Ops::sub(b, k.b_zero_point)), k.b_scale);
    return Ops::quantize_f32(Ops::add_f32(real_a, real_b), k.y_scale, k.lo, k.hi, k.y_zero_point);
}

// `count` channels of one pixel; b null: b's zero point (a requantized alone). Each vector of
// a is loaded before its output is stored, so `out` may be `a`.
template <class Ops>
void add_channels(const std::uint8_t* a, const std::uint8_t* b, int count, const ShortcutConstantsU8<Ops>& k,
                  std::uint8_t* out) {
    int c = 0;
    for (; c + Ops::kLanes <= count; c += Ops::kLanes) {
        const auto bv = b != nullptr ? Ops::load_u8(b + c) : k.b_zero_point;
        Ops::store_u8(add_dequantized<Ops>(Ops::load_u8(a + c), bv, k), out + c);
    }
    if (c < count) {
        const int rest = count - c;
        const auto bv = b != nullptr ? load_u8_partial<Ops>(b + c, rest) : k.b_zero_point;
        store_u8_partial<Ops>(add_dequantized<Ops>(load_u8_partial<Ops>(a + c, rest), bv, k), out + c, rest);
    }
}

}  // namespace detail

// reference::add_partial_shortcut_u8, bit for bit; `output` may be `a`.
template <class Ops>
void add_partial_shortcut_u8(const std::uint8_t* a, const std::uint8_t* b, std::size_t pixels, int channels,
                             int shortcut_channels, const ShortcutAddU8& q, std::uint8_t* output) {
    const detail::ShortcutConstantsU8<Ops> k(q);
    const int rest = channels - shortcut_channels;
    for (std::size_t p = 0; p < pixels; ++p) {
        const std::size_t row = p * std::size_t(channels), tail = row + std::size_t(shortcut_channels);
        detail::add_channels<Ops>(a + row, b + row, shortcut_channels, k, output + row);
        if (rest <= 0) continue;
        if (!q.copy_rest)
            detail::add_channels<Ops>(a + tail, nullptr, rest, k, output + tail);
        else if (output != a)
            std::memcpy(output + tail, a + tail, std::size_t(rest));
    }
}

}  // namespace mobilenext::kernels::simd
