#pragma once
// The int8 kernels' vector operations on AVX-512 (16 int32 lanes), for the translation units
// compiled with -mavx512f -mavx512bw -mavx512vl (and -mavx512vnni for kVnni). Each
// instruction set has operations of its own type, so no function compiled for one set is
// shared with another (src/dispatch/int8_kernel_table_entry.hpp).
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace mobilenext::kernels::simd {

template <bool kVnni>
struct Avx512Int8Ops {
#if !defined(__AVX512VNNI__)
    static_assert(!kVnni, "Avx512Int8Ops<true> needs -mavx512vnni");
#endif
    static constexpr const char* kName = kVnni ? "avx512vnni" : "avx512bw";
    static constexpr int kLanes = 16;
    // The 1x1 convolution's register tile: 4 pixels x 4 vectors (64 output channels) of
    // accumulators, 16 of the 32 registers.
    static constexpr int kTileVectors = 4, kTilePixels = 4;

    using I32 = __m512i;
    using Acc = __m512i;
    using Weights = __m512i;
    using Input = __m512i;

    static I32 set1(std::int32_t v) { return _mm512_set1_epi32(v); }
    static I32 load_i32(const std::int32_t* p) { return _mm512_loadu_si512(p); }
    // kLanes bytes, zero-extended.
    static I32 load_u8(const std::uint8_t* p) {
        return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    }
    static I32 add(I32 a, I32 b) { return _mm512_add_epi32(a, b); }
    static I32 sub(I32 a, I32 b) { return _mm512_sub_epi32(a, b); }
    // a * b, exact when one operand is in [0, 32767] and the other in [-32768, 32767]: pmaddwd
    // multiplies the low int16 halves and adds the product of the high halves, one of which is 0.
    static I32 mul_small(I32 a, I32 b) { return _mm512_madd_epi16(a, b); }

    // Float lanes for the shortcut add (int8_args.hpp: each product rounded before the sum,
    // a true division, round half to even).
    using F32 = __m512;
    static F32 to_f32(I32 v) { return _mm512_cvtepi32_ps(v); }
    // a * b rounded to float: the empty asm hides the product from the compiler, which then
    // cannot contract it with the addition that follows into a fused multiply-add.
    static F32 rounded_product(F32 a, F32 b) {
        F32 p = _mm512_mul_ps(a, b);
        __asm__("" : "+v"(p));
        return p;
    }
    static F32 add_f32(F32 a, F32 b) { return _mm512_add_ps(a, b); }
    // For the classifier's int8 weights on float inputs (simd/fully_connected_s8.hpp).
    static F32 zero_f32() { return _mm512_setzero_ps(); }
    static F32 load_f32(const float* p) { return _mm512_loadu_ps(p); }
    // kLanes int8 values as floats.
    static F32 load_s8_f32(const std::int8_t* p) {
        return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
    }
    // The 16 partial sums of simd/fully_connected_s8.hpp (one vector here) added pairwise:
    // s[i] + s[i + 8], then + 4, + 2, + 1.
    static float sum16(const F32 (&v)[1]) {
        const __m256 t8 = _mm256_add_ps(_mm512_castps512_ps256(v[0]),
                                        _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v[0]), 1)));
        const __m128 t4 = _mm_add_ps(_mm256_castps256_ps128(t8), _mm256_extractf128_ps(t8, 1));
        const __m128 t2 = _mm_add_ps(t4, _mm_movehl_ps(t4, t4));
        return _mm_cvtss_f32(_mm_add_ss(t2, _mm_shuffle_ps(t2, t2, 1)));
    }
    // a * b rounded, kept from fusing into a following addition (as rounded_product).
    static float rounded_scalar_product(float a, float b) {
        float p = a * b;
        __asm__("" : "+v"(p));
        return p;
    }
    // round_half_even(clamp(x / scale, lo, hi)) + zero_point.
    static I32 quantize_f32(F32 x, F32 scale, F32 lo, F32 hi, I32 zero_point) {
        const F32 clamped = _mm512_min_ps(_mm512_max_ps(_mm512_div_ps(x, scale), lo), hi);
        return _mm512_add_epi32(_mm512_cvtps_epi32(clamped), zero_point);
    }
    // kLanes values saturated to [0, 255].
    static void store_u8(I32 v, std::uint8_t* out) {
        const __m128i bytes = _mm512_cvtusepi32_epi8(_mm512_max_epi32(v, _mm512_setzero_si512()));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out), bytes);
    }
    // round_half_even(clamp(float(acc) * m, lo, hi)) + zero_point (int8_args.hpp).
    static I32 requantize(I32 acc, const float* m, float lo, float hi, I32 zero_point) {
        __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), _mm512_loadu_ps(m));
        f = _mm512_min_ps(_mm512_max_ps(f, _mm512_set1_ps(lo)), _mm512_set1_ps(hi));
        return _mm512_add_epi32(_mm512_cvtps_epi32(f), zero_point);
    }

    static Acc zero_acc() { return _mm512_setzero_si512(); }
    // 16 output channels x 4 input channels.
    static Weights load_weights(const std::int8_t* p) { return _mm512_loadu_si512(p); }
    static Input broadcast_u8x4(std::uint32_t four_bytes) { return _mm512_set1_epi32(std::int32_t(four_bytes)); }
    // Each lane += the dot product of its 4 input bytes (u8) with its 4 weights (s8).
    static Acc dot4(Acc acc, Input in, Weights w) {
#if defined(__AVX512VNNI__)
        if constexpr (kVnni) return _mm512_dpbusd_epi32(acc, in, w);
#endif
        // Pairs summed into int16 (exact: |w| <= 64), then pairs of pairs into int32.
        const __m512i pairs = _mm512_maddubs_epi16(in, w);
        return _mm512_add_epi32(acc, _mm512_madd_epi16(pairs, _mm512_set1_epi16(1)));
    }
    static I32 finish(Acc acc, const std::int32_t* bias, const std::int32_t*) { return add(acc, load_i32(bias)); }

    // The column-quad depthwise kernel's byte operations (dwconv3x3_u8s8_column_quads.hpp), on
    // 4 * kLanes bytes. Unpacks and packs work within each 128-bit lane.
    static constexpr bool kColumnQuads = true;
    using Bytes = __m512i;
    static Bytes load_bytes(const std::uint8_t* p) { return _mm512_loadu_si512(p); }
    static Bytes load_bytes_partial(const std::uint8_t* p, int count) {
        return _mm512_maskz_loadu_epi8(byte_mask(count), p);
    }
    static Bytes set1_u8(int v) { return _mm512_set1_epi8(char(v)); }
    static Bytes zero_bytes() { return _mm512_setzero_si512(); }
    static Bytes unpack_lo_u8(Bytes a, Bytes b) { return _mm512_unpacklo_epi8(a, b); }
    static Bytes unpack_hi_u8(Bytes a, Bytes b) { return _mm512_unpackhi_epi8(a, b); }
    static Bytes unpack_lo_u16(Bytes a, Bytes b) { return _mm512_unpacklo_epi16(a, b); }
    static Bytes unpack_hi_u16(Bytes a, Bytes b) { return _mm512_unpackhi_epi16(a, b); }
    static void store_bytes(Bytes v, std::uint8_t* p) { _mm512_storeu_si512(p, v); }

    // The requantization of int8_args.hpp in two halves, for 4 vectors stored as one byte
    // vector (the 1x1 convolution's store tiles, the column-quad depthwise): first
    // round_half_even(min(float(acc) * m, hi)), hi = the range's top less the zero point; then
    // pack_requantized_u8 packs with int16 saturation, adds the zero point with int16
    // saturation, packs with uint8 saturation and raises to lo. The same bytes as requantize:
    // below the range each step keeps the value at or under lo, which the last step lifts to
    // lo; the top is clamped in float, before the conversion could overflow.
    static constexpr bool kPackedStore = true;
    static I32 requantize_to_int(I32 acc, const float* m, __m512 hi) {
        return _mm512_cvtps_epi32(_mm512_min_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(acc), _mm512_loadu_ps(m)), hi));
    }
    static __m512 set1_f32(float v) { return _mm512_set1_ps(v); }
    static Bytes set1_i16(int v) { return _mm512_set1_epi16(short(v)); }
    static Bytes pack_requantized_u8(I32 v0, I32 v1, I32 v2, I32 v3, Bytes zero_point_i16, Bytes lo_u8) {
        const __m512i a = _mm512_adds_epi16(_mm512_packs_epi32(v0, v1), zero_point_i16);
        const __m512i b = _mm512_adds_epi16(_mm512_packs_epi32(v2, v3), zero_point_i16);
        return _mm512_max_epu8(_mm512_packus_epi16(a, b), lo_u8);
    }
    // pack_requantized_u8's bytes in vector order (v0's 16, then v1's, ...): the packed vector
    // holds v_i's lanes 4L .. 4L + 3 at dword 4L + i, which goes to dword 4i + L.
    static Bytes vector_major(Bytes packed) {
        return _mm512_permutexvar_epi32(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15),
                                        packed);
    }
    static void store_bytes_partial(Bytes v, std::uint8_t* p, int count) {
        _mm512_mask_storeu_epi8(p, byte_mask(count), v);
    }

private:
    static __mmask64 byte_mask(int count) { return count >= 64 ? ~__mmask64(0) : (__mmask64(1) << count) - 1; }
};

}  // namespace mobilenext::kernels::simd
#endif
