#pragma once
// The int8 kernels' vector operations on AVX2 (8 int32 lanes), for the translation unit
// compiled with -mavx2 (see avx512_int8_ops.hpp for the operations' contracts).
#if defined(__AVX2__)
#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace mobilenext::kernels::simd {

struct Avx2Int8Ops {
    static constexpr const char* kName = "avx2";
    static constexpr int kLanes = 8;
    // 2 pixels x 4 vectors (32 output channels): 8 accumulators, 4 weight vectors, the input,
    // the constant 1s and a temporary in 16 registers.
    static constexpr int kTileVectors = 4, kTilePixels = 2;

    using I32 = __m256i;
    using Acc = __m256i;
    using Weights = __m256i;
    using Input = __m256i;

    static I32 set1(std::int32_t v) { return _mm256_set1_epi32(v); }
    static I32 load_i32(const std::int32_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
    static I32 load_u8(const std::uint8_t* p) {
        return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
    }
    static I32 add(I32 a, I32 b) { return _mm256_add_epi32(a, b); }
    static I32 sub(I32 a, I32 b) { return _mm256_sub_epi32(a, b); }
    static I32 mul_small(I32 a, I32 b) { return _mm256_madd_epi16(a, b); }

    using F32 = __m256;
    static F32 to_f32(I32 v) { return _mm256_cvtepi32_ps(v); }
    static F32 rounded_product(F32 a, F32 b) {
        F32 p = _mm256_mul_ps(a, b);
        __asm__("" : "+x"(p));
        return p;
    }
    static F32 add_f32(F32 a, F32 b) { return _mm256_add_ps(a, b); }
    static F32 zero_f32() { return _mm256_setzero_ps(); }
    static F32 load_f32(const float* p) { return _mm256_loadu_ps(p); }
    static F32 load_s8_f32(const std::int8_t* p) {
        return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
    }
    static float sum16(const F32 (&v)[2]) {
        const __m256 t8 = _mm256_add_ps(v[0], v[1]);
        const __m128 t4 = _mm_add_ps(_mm256_castps256_ps128(t8), _mm256_extractf128_ps(t8, 1));
        const __m128 t2 = _mm_add_ps(t4, _mm_movehl_ps(t4, t4));
        return _mm_cvtss_f32(_mm_add_ss(t2, _mm_shuffle_ps(t2, t2, 1)));
    }
    static float rounded_scalar_product(float a, float b) {
        float p = a * b;
        __asm__("" : "+x"(p));
        return p;
    }
    static I32 quantize_f32(F32 x, F32 scale, F32 lo, F32 hi, I32 zero_point) {
        const F32 clamped = _mm256_min_ps(_mm256_max_ps(_mm256_div_ps(x, scale), lo), hi);
        return _mm256_add_epi32(_mm256_cvtps_epi32(clamped), zero_point);
    }
    // Signed saturation to int16, then unsigned saturation to uint8: together a clamp to [0, 255].
    static void store_u8(I32 v, std::uint8_t* out) {
        const __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
        _mm_storel_epi64(reinterpret_cast<__m128i*>(out), _mm_packus_epi16(words, words));
    }
    static I32 requantize(I32 acc, const float* m, float lo, float hi, I32 zero_point) {
        __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), _mm256_loadu_ps(m));
        f = _mm256_min_ps(_mm256_max_ps(f, _mm256_set1_ps(lo)), _mm256_set1_ps(hi));
        return _mm256_add_epi32(_mm256_cvtps_epi32(f), zero_point);
    }

    static Acc zero_acc() { return _mm256_setzero_si256(); }
    static Weights load_weights(const std::int8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
    static Input broadcast_u8x4(std::uint32_t four_bytes) { return _mm256_set1_epi32(std::int32_t(four_bytes)); }
    // vpmaddubsw sums pairs into int16 (exact: |w| <= 64), vpmaddwd pairs of pairs into int32.
    static Acc dot4(Acc acc, Input in, Weights w) {
        const __m256i pairs = _mm256_maddubs_epi16(in, w);
        return _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
    }
    static I32 finish(Acc acc, const std::int32_t* bias, const std::int32_t*) { return add(acc, load_i32(bias)); }

    // The column-quad depthwise kernel's byte operations (avx512_int8_ops.hpp).
    static constexpr bool kColumnQuads = true;
    using Bytes = __m256i;
    static Bytes load_bytes(const std::uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
    static Bytes load_bytes_partial(const std::uint8_t* p, int count) {
        alignas(32) std::uint8_t bytes[32] = {};
        std::memcpy(bytes, p, std::size_t(count));
        return load_bytes(bytes);
    }
    static Bytes set1_u8(int v) { return _mm256_set1_epi8(char(v)); }
    static Bytes zero_bytes() { return _mm256_setzero_si256(); }
    static Bytes unpack_lo_u8(Bytes a, Bytes b) { return _mm256_unpacklo_epi8(a, b); }
    static Bytes unpack_hi_u8(Bytes a, Bytes b) { return _mm256_unpackhi_epi8(a, b); }
    static Bytes unpack_lo_u16(Bytes a, Bytes b) { return _mm256_unpacklo_epi16(a, b); }
    static Bytes unpack_hi_u16(Bytes a, Bytes b) { return _mm256_unpackhi_epi16(a, b); }
    static void store_bytes(Bytes v, std::uint8_t* p) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }

    // The requantization in two halves (avx512_int8_ops.hpp).
    static constexpr bool kPackedStore = true;
    static I32 requantize_to_int(I32 acc, const float* m, __m256 hi) {
        return _mm256_cvtps_epi32(_mm256_min_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(acc), _mm256_loadu_ps(m)), hi));
    }
    static __m256 set1_f32(float v) { return _mm256_set1_ps(v); }
    static Bytes set1_i16(int v) { return _mm256_set1_epi16(short(v)); }
    static Bytes pack_requantized_u8(I32 v0, I32 v1, I32 v2, I32 v3, Bytes zero_point_i16, Bytes lo_u8) {
        const __m256i a = _mm256_adds_epi16(_mm256_packs_epi32(v0, v1), zero_point_i16);
        const __m256i b = _mm256_adds_epi16(_mm256_packs_epi32(v2, v3), zero_point_i16);
        return _mm256_max_epu8(_mm256_packus_epi16(a, b), lo_u8);
    }
    // Dword 4L + i (v_i's lanes 4L .. 4L + 3) to dword 2i + L (avx512_int8_ops.hpp).
    static Bytes vector_major(Bytes packed) {
        return _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    }
    static void store_bytes_partial(Bytes v, std::uint8_t* p, int count) {
        alignas(32) std::uint8_t bytes[32];
        store_bytes(v, bytes);
        std::memcpy(p, bytes, std::size_t(count));
    }
};

}  // namespace mobilenext::kernels::simd
#endif
