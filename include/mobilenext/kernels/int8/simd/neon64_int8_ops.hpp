#pragma once
// The int8 kernels' vector operations on AArch64 NEON (4 int32 lanes; see avx512_int8_ops.hpp
// for the operations' contracts).
//
// The 1x1 convolution: sdot (vdotq_s32, with __ARM_FEATURE_DOTPROD) multiplies s8 by s8 only.
// The activations enter it as q - 128 (a flip of the top bit), and finish() adds back
// 128 * sum_k w[c][k] (PointwiseWeightsU8S8::weight_sums): the same exact int32 sum, with 16
// multiply-adds per instruction and one multiply-add per output to correct. (q - 128) * w
// stays within 128 * 64, so the four products of a lane add up exactly. Without the dot
// product extension, both operands are widened to int16 and multiplied with vmlal_s16.
//
// Neon64Int8Ops<true> (sdot) exists only where the compiler targets the dot product extension
// (src/dispatch/int8_kernels_neon64_dotprod.cpp: -march=armv8.2-a+dotprod; the dispatch
// library picks it when the CPU reports it); Neon64Int8Ops<false> is the AArch64 baseline.
// Every operation is a member of a template on kDot, so the two translation units share no
// function.
#if defined(__aarch64__)
#include <arm_neon.h>

#include <cstdint>
#include <cstring>

namespace mobilenext::kernels::simd {

// What both variants share.
template <bool kDot>
struct Neon64Int8Common {
    static constexpr int kLanes = 4;
    static constexpr bool kColumnQuads = false;  // no column-quad depthwise (dwconv3x3_u8s8_column_quads.hpp)
    static constexpr bool kPackedStore = false;  // no store tiles (PointwiseWeightsU8S8::store_tile)
    using I32 = int32x4_t;

    static I32 set1(std::int32_t v) { return vdupq_n_s32(v); }
    static I32 load_i32(const std::int32_t* p) { return vld1q_s32(p); }
    static I32 load_u8(const std::uint8_t* p) {
        std::uint32_t four;
        std::memcpy(&four, p, 4);
        const uint16x8_t words = vmovl_u8(vreinterpret_u8_u32(vdup_n_u32(four)));
        return vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(words)));
    }
    static I32 add(I32 a, I32 b) { return vaddq_s32(a, b); }
    static I32 sub(I32 a, I32 b) { return vsubq_s32(a, b); }
    static I32 mul_small(I32 a, I32 b) { return vmulq_s32(a, b); }

    using F32 = float32x4_t;
    static F32 set1_f32(float v) { return vdupq_n_f32(v); }
    static F32 to_f32(I32 v) { return vcvtq_f32_s32(v); }
    // The empty asm keeps the product from being fused into the addition (vfmaq).
    static F32 rounded_product(F32 a, F32 b) {
        F32 p = vmulq_f32(a, b);
        __asm__("" : "+w"(p));
        return p;
    }
    static F32 add_f32(F32 a, F32 b) { return vaddq_f32(a, b); }
    static F32 zero_f32() { return vdupq_n_f32(0.0f); }
    static F32 load_f32(const float* p) { return vld1q_f32(p); }
    static F32 load_s8_f32(const std::int8_t* p) {
        std::uint32_t four;
        std::memcpy(&four, p, 4);
        const int16x8_t words = vmovl_s8(vreinterpret_s8_u32(vdup_n_u32(four)));
        return vcvtq_f32_s32(vmovl_s16(vget_low_s16(words)));
    }
    static float sum16(const F32 (&v)[4]) {
        const float32x4_t t4 = vaddq_f32(vaddq_f32(v[0], v[2]), vaddq_f32(v[1], v[3]));
        const float32x2_t t2 = vadd_f32(vget_low_f32(t4), vget_high_f32(t4));
        return vget_lane_f32(t2, 0) + vget_lane_f32(t2, 1);
    }
    static float rounded_scalar_product(float a, float b) {
        float p = a * b;
        __asm__("" : "+w"(p));
        return p;
    }
    static I32 quantize_f32(F32 x, F32 scale, F32 lo, F32 hi, I32 zero_point) {
        const F32 clamped = vminq_f32(vmaxq_f32(vdivq_f32(x, scale), lo), hi);
        return vaddq_s32(vcvtnq_s32_f32(clamped), zero_point);
    }
    static void store_u8(I32 v, std::uint8_t* out) {
        const int16x4_t words = vqmovn_s32(v);
        const uint8x8_t bytes = vqmovun_s16(vcombine_s16(words, words));
        const std::uint32_t four = vget_lane_u32(vreinterpret_u32_u8(bytes), 0);
        std::memcpy(out, &four, 4);
    }
    static I32 requantize(I32 acc, const float* m, float lo, float hi, I32 zero_point) {
        float32x4_t f = vmulq_f32(vcvtq_f32_s32(acc), vld1q_f32(m));
        f = vminq_f32(vmaxq_f32(f, vdupq_n_f32(lo)), vdupq_n_f32(hi));
        return vaddq_s32(vcvtnq_s32_f32(f), zero_point);
    }
};

template <bool kDot>
struct Neon64Int8Ops;

// The AArch64 baseline: widening multiplies.
template <>
struct Neon64Int8Ops<false> : Neon64Int8Common<false> {
    static constexpr const char* kName = "neon64";
    // 2 pixels x 2 vectors (8 output channels): 16 accumulator registers, 4 of weights.
    static constexpr int kTileVectors = 2, kTilePixels = 2;
    // Per output channel, the products of each of the 4 input channel positions.
    struct Acc {
        int32x4_t c0, c1, c2, c3;
    };
    struct Weights {
        int16x8_t lo, hi;  // channels 0, 1 x 4 inputs; channels 2, 3 x 4 inputs
    };
    using Input = int16x4_t;

    static Acc zero_acc() { return {vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0)}; }
    static Weights load_weights(const std::int8_t* p) {
        const int8x16_t bytes = vld1q_s8(p);
        return {vmovl_s8(vget_low_s8(bytes)), vmovl_s8(vget_high_s8(bytes))};
    }
    static Input broadcast_u8x4(std::uint32_t four_bytes) {
        return vget_low_s16(vreinterpretq_s16_u16(vmovl_u8(vreinterpret_u8_u32(vdup_n_u32(four_bytes)))));
    }
    static Acc dot4(const Acc& acc, Input in, const Weights& w) {
        return {vmlal_s16(acc.c0, vget_low_s16(w.lo), in), vmlal_s16(acc.c1, vget_high_s16(w.lo), in),
                vmlal_s16(acc.c2, vget_low_s16(w.hi), in), vmlal_s16(acc.c3, vget_high_s16(w.hi), in)};
    }
    // Pairwise sums twice: [c0, c1, c2, c3].
    static I32 finish(const Acc& acc, const std::int32_t* bias, const std::int32_t*) {
        const int32x4_t sums = vpaddq_s32(vpaddq_s32(acc.c0, acc.c1), vpaddq_s32(acc.c2, acc.c3));
        return vaddq_s32(sums, vld1q_s32(bias));
    }
};

#if defined(__ARM_FEATURE_DOTPROD)
// sdot on q - 128.
template <>
struct Neon64Int8Ops<true> : Neon64Int8Common<true> {
    static constexpr const char* kName = "neon64+dotprod";
    // 4 pixels x 4 vectors (16 output channels) of accumulators, 16 of 32 registers.
    static constexpr int kTileVectors = 4, kTilePixels = 4;
    using Acc = int32x4_t;
    using Weights = int8x16_t;  // 4 output channels x 4 input channels
    using Input = int8x16_t;    // q - 128, 4 bytes repeated

    static Acc zero_acc() { return vdupq_n_s32(0); }
    static Weights load_weights(const std::int8_t* p) { return vld1q_s8(p); }
    static Input broadcast_u8x4(std::uint32_t four_bytes) {
        return vreinterpretq_s8_u32(vdupq_n_u32(four_bytes ^ 0x80808080u));
    }
    static Acc dot4(Acc acc, Input in, Weights w) { return vdotq_s32(acc, in, w); }
    static I32 finish(Acc acc, const std::int32_t* bias, const std::int32_t* weight_sums) {
        return vmlaq_n_s32(vaddq_s32(acc, vld1q_s32(bias)), vld1q_s32(weight_sums), 128);
    }
};
#endif

}  // namespace mobilenext::kernels::simd
#endif
