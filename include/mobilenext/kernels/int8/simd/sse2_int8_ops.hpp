#pragma once
// The int8 kernels' vector operations on SSE2 (4 int32 lanes), the x86-64 baseline: no
// pmaddubsw (SSSE3), so the 1x1 convolution widens both operands to int16 and multiplies with
// pmaddwd (see avx512_int8_ops.hpp for the operations' contracts).
#if defined(__SSE2__)
#include <emmintrin.h>

#include <cstdint>
#include <cstring>

namespace mobilenext::kernels::simd {

struct Sse2Int8Ops {
    static constexpr const char* kName = "sse2";
    static constexpr int kLanes = 4;
    static constexpr bool kColumnQuads = false;  // no column-quad depthwise (dwconv3x3_u8s8_column_quads.hpp)
    static constexpr bool kPackedStore = false;  // no store tiles (PointwiseWeightsU8S8::store_tile)
    // 2 pixels x 2 vectors (8 output channels): 8 accumulator registers (two per vector), 4
    // of widened weights and 2 inputs, of 16.
    static constexpr int kTileVectors = 2, kTilePixels = 2;

    using I32 = __m128i;
    // Per 4 output channels, pmaddwd sums of input channel pairs (k0 + k1, k2 + k3):
    // lo = [c0 k01, c0 k23, c1 k01, c1 k23], hi the same for c2, c3; added up in finish().
    struct Acc {
        __m128i lo, hi;
    };
    struct Weights {
        __m128i lo, hi;  // int16: channels 0, 1 x 4 inputs; channels 2, 3 x 4 inputs
    };
    using Input = __m128i;  // int16 [q0 q1 q2 q3 q0 q1 q2 q3]

    static I32 set1(std::int32_t v) { return _mm_set1_epi32(v); }
    static I32 load_i32(const std::int32_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }
    static I32 load_u8(const std::uint8_t* p) {
        std::int32_t four;
        std::memcpy(&four, p, 4);
        const __m128i zero = _mm_setzero_si128();
        return _mm_unpacklo_epi16(_mm_unpacklo_epi8(_mm_cvtsi32_si128(four), zero), zero);
    }
    static I32 add(I32 a, I32 b) { return _mm_add_epi32(a, b); }
    static I32 sub(I32 a, I32 b) { return _mm_sub_epi32(a, b); }
    static I32 mul_small(I32 a, I32 b) { return _mm_madd_epi16(a, b); }

    using F32 = __m128;
    static F32 set1_f32(float v) { return _mm_set1_ps(v); }
    static F32 to_f32(I32 v) { return _mm_cvtepi32_ps(v); }
    static F32 rounded_product(F32 a, F32 b) {
        F32 p = _mm_mul_ps(a, b);
        __asm__("" : "+x"(p));
        return p;
    }
    static F32 add_f32(F32 a, F32 b) { return _mm_add_ps(a, b); }
    static F32 zero_f32() { return _mm_setzero_ps(); }
    static F32 load_f32(const float* p) { return _mm_loadu_ps(p); }
    // Each byte into the top of a dword, then an arithmetic shift down: sign extension.
    static F32 load_s8_f32(const std::int8_t* p) {
        std::int32_t four;
        std::memcpy(&four, p, 4);
        __m128i v = _mm_cvtsi32_si128(four);
        v = _mm_unpacklo_epi8(v, v);
        v = _mm_unpacklo_epi16(v, v);
        return _mm_cvtepi32_ps(_mm_srai_epi32(v, 24));
    }
    static float sum16(const F32 (&v)[4]) {
        const __m128 t4 = _mm_add_ps(_mm_add_ps(v[0], v[2]), _mm_add_ps(v[1], v[3]));
        const __m128 t2 = _mm_add_ps(t4, _mm_movehl_ps(t4, t4));
        return _mm_cvtss_f32(_mm_add_ss(t2, _mm_shuffle_ps(t2, t2, 1)));
    }
    static float rounded_scalar_product(float a, float b) {
        float p = a * b;
        __asm__("" : "+x"(p));
        return p;
    }
    static I32 quantize_f32(F32 x, F32 scale, F32 lo, F32 hi, I32 zero_point) {
        const F32 clamped = _mm_min_ps(_mm_max_ps(_mm_div_ps(x, scale), lo), hi);
        return _mm_add_epi32(_mm_cvtps_epi32(clamped), zero_point);
    }
    static void store_u8(I32 v, std::uint8_t* out) {
        const __m128i words = _mm_packs_epi32(v, v);
        const std::int32_t four = _mm_cvtsi128_si32(_mm_packus_epi16(words, words));
        std::memcpy(out, &four, 4);
    }
    static I32 requantize(I32 acc, const float* m, float lo, float hi, I32 zero_point) {
        __m128 f = _mm_mul_ps(_mm_cvtepi32_ps(acc), _mm_loadu_ps(m));
        f = _mm_min_ps(_mm_max_ps(f, _mm_set1_ps(lo)), _mm_set1_ps(hi));
        return _mm_add_epi32(_mm_cvtps_epi32(f), zero_point);
    }

    static Acc zero_acc() { return {_mm_setzero_si128(), _mm_setzero_si128()}; }
    // Sign extension: each byte into the high half of a word, then an arithmetic shift down.
    static Weights load_weights(const std::int8_t* p) {
        const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        return {_mm_srai_epi16(_mm_unpacklo_epi8(bytes, bytes), 8), _mm_srai_epi16(_mm_unpackhi_epi8(bytes, bytes), 8)};
    }
    static Input broadcast_u8x4(std::uint32_t four_bytes) {
        const __m128i words = _mm_unpacklo_epi8(_mm_cvtsi32_si128(std::int32_t(four_bytes)), _mm_setzero_si128());
        return _mm_unpacklo_epi64(words, words);
    }
    static Acc dot4(Acc acc, Input in, const Weights& w) {
        return {_mm_add_epi32(acc.lo, _mm_madd_epi16(w.lo, in)), _mm_add_epi32(acc.hi, _mm_madd_epi16(w.hi, in))};
    }
    // Even lanes plus odd lanes: [c0, c1, c2, c3].
    static I32 finish(const Acc& acc, const std::int32_t* bias, const std::int32_t*) {
        const __m128 lo = _mm_castsi128_ps(acc.lo), hi = _mm_castsi128_ps(acc.hi);
        const __m128i even = _mm_castps_si128(_mm_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0)));
        const __m128i odd = _mm_castps_si128(_mm_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1)));
        return add(_mm_add_epi32(even, odd), load_i32(bias));
    }
};

}  // namespace mobilenext::kernels::simd
#endif
