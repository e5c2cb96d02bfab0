#pragma once
// Bilinear resizing of 8-bit images that reproduces, byte for byte, what
// cv2.resize(image, (dst_width, dst_height), interpolation=cv2.INTER_LINEAR) returns in
// OpenCV 4.6 (Debian's build, no IPP, no custom HAL) for uint8 images of 1 to 4 channels.
// Detection models trained on OpenCV-preprocessed images see the same input pixels.
//
// Images are HWC: rows top to bottom, each row's pixels left to right with their channels
// interleaved, rows contiguous (row stride = width * channels bytes). Source and destination
// must not overlap.
//
// How the bytes come about (the three cases cv::resize takes for INTER_LINEAR on uint8):
//  1. Same size: a copy.
//  2. Source exactly twice the destination in both directions: the 2x2 box average (OpenCV
//     switches to its fast INTER_AREA code, which equals bilinear sampling at this scale but
//     rounds on its own): (a + b + c + d + 2) >> 2 for 1, 3 and 4 channels; for 2 channels the
//     vector path is not taken and the sum times 0.25f is rounded half to even.
//  3. Otherwise, separable fixed-point interpolation:
//     - scale = 1 / (dst / src) in double (not src / dst: the two can differ in the last bit);
//       the source coordinate of output d is (float)((d + 0.5) * scale - 0.5), its integer part
//       floor() and fraction f, in float.
//     - weights (1 - f) and f, in float, times 2048 (11 fractional bits), rounded half to even.
//     - horizontally, coordinates left of the first pixel or at/after the last one are moved
//       onto the border pixel with f = 0 (weights 2048 and 0); each source row becomes
//       32-bit sums p0 * w0 + p1 * w1 (22 bits at most, exact).
//     - vertically, the row indices are clamped but the fraction f is NOT reset, so border
//       outputs blend a row with itself using weights that need not be (2048, 0).
//     - the vertical blend is the 16-bit one of OpenCV's vector code, which its scalar tail
//       copies: each row sum loses 4 bits, is multiplied by its weight keeping the high
//       16 bits, and the two terms are added and rounded: ((w0 * (s0 >> 4)) >> 16) +
//       ((w1 * (s1 >> 4)) >> 16) + 2) >> 2. This truncates twice, so results are often one
//       below round((w0 * s0 + w1 * s1) / 2^22); matching OpenCV needs this exact sequence.
//
// The float steps must be evaluated as written: the product (d + 0.5) * scale is stored
// through a volatile so that compilers allowed to contract it into a fused multiply-add
// (-ffp-contract=fast, the GCC default outside ISO modes, with FMA targets) still round it
// like OpenCV's build does. Do not compile with -ffast-math.
//
// Limits: sources up to 65536 x 65536, destinations up to 4096 x 4096, 1 to 4 channels.
// With them every index and sum fits in 32-bit integers (a row sum is at most 255 * 2049,
// a row is at most 65536 * 4 bytes) and byte offsets into the source are computed in
// std::size_t. Arguments outside the limits throw std::invalid_argument.
//
//   std::vector<std::uint8_t> out(std::size_t(320) * 320 * 3);
//   mobilenext::resize_linear_u8(rgb, 480, 640, 3, out.data(), 320, 320);
//
// To resize without allocating, pass a scratch buffer of resize_linear_u8_scratch_bytes()
// bytes (any alignment; zero bytes, and a null pointer, are fine when it returns 0).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace mobilenext {

inline constexpr int resize_linear_u8_max_src_side = 65536;
inline constexpr int resize_linear_u8_max_dst_side = 4096;
inline constexpr int resize_linear_u8_max_channels = 4;

namespace internal {

inline constexpr int resize_coef_bits = 11;
inline constexpr int resize_coef_one = 1 << resize_coef_bits;

inline void resize_linear_u8_check(int src_height, int src_width, int channels, int dst_height, int dst_width) {
    const auto side = [](int v, int max, const char* what) {
        if (v < 1 || v > max)
            throw std::invalid_argument(std::string("resize_linear_u8: ") + what + " is " + std::to_string(v) +
                                        ", expected 1.." + std::to_string(max));
    };
    side(src_height, resize_linear_u8_max_src_side, "source height");
    side(src_width, resize_linear_u8_max_src_side, "source width");
    side(dst_height, resize_linear_u8_max_dst_side, "destination height");
    side(dst_width, resize_linear_u8_max_dst_side, "destination width");
    side(channels, resize_linear_u8_max_channels, "channels");
}

// The three cases of cv::resize for INTER_LINEAR and uint8.
enum class ResizeLinearMode { copy, half, generic };

inline ResizeLinearMode resize_linear_mode(int src_height, int src_width, int dst_height, int dst_width) {
    if (src_height == dst_height && src_width == dst_width) return ResizeLinearMode::copy;
    // OpenCV tests that 1 / (dst / src) is within DBL_EPSILON of 2 in both directions. For
    // sides up to 65536 that holds only when src == 2 * dst: any other ratio is at least
    // 1 / 65536 away from 2, far more than the rounding of one division and one reciprocal.
    if (src_height == 2 * dst_height && src_width == 2 * dst_width) return ResizeLinearMode::half;
    return ResizeLinearMode::generic;
}

// Round half to even, as cvRound does under the default rounding mode, for 0 <= v <= 2048.
// Done by hand so the result does not depend on the current floating-point rounding mode;
// v - floor(v) is exact for floats.
inline std::int32_t resize_round_weight(float v) {
    const float lower = std::floor(v);
    const float frac = v - lower;
    std::int32_t r = static_cast<std::int32_t>(lower);
    if (frac > 0.5f || (frac == 0.5f && (r & 1) != 0)) ++r;
    return r;
}

// Source position of output d: integer part and fraction, both as OpenCV computes them.
struct ResizeLinearTap {
    std::int32_t index;
    float fraction;
};

inline ResizeLinearTap resize_linear_tap(int d, double scale) {
    // Stored separately so that it is rounded to double before the subtraction (no FMA).
    volatile double product = (d + 0.5) * scale;
    const float position = static_cast<float>(product - 0.5);
    const float lower = std::floor(position);
    return {static_cast<std::int32_t>(lower), position - lower};
}

inline double resize_linear_scale(int src, int dst) {
    const double inverse = static_cast<double>(dst) / static_cast<double>(src);
    return 1.0 / inverse;
}

// The generic path's working memory, all 32-bit integers: per output column the offsets of
// its two source pixels and their weights, then two horizontally resized rows.
struct ResizeLinearScratch {
    std::int32_t* x0;
    std::int32_t* x1;
    std::int32_t* w0;
    std::int32_t* w1;
    std::int32_t* rows[2];
};

inline std::size_t resize_linear_scratch_ints(int channels, int dst_width) {
    return std::size_t(dst_width) * 4 + std::size_t(dst_width) * std::size_t(channels) * 2;
}

inline ResizeLinearScratch resize_linear_scratch_layout(std::int32_t* base, int channels, int dst_width) {
    const std::size_t n = std::size_t(dst_width), row = n * std::size_t(channels);
    return {base, base + n, base + 2 * n, base + 3 * n, {base + 4 * n, base + 4 * n + row}};
}

// Output column tables: source byte offsets of the two pixels blended and their weights.
inline void resize_linear_columns(int src_width, int channels, int dst_width, const ResizeLinearScratch& s) {
    const double scale = resize_linear_scale(src_width, dst_width);
    for (int dx = 0; dx < dst_width; ++dx) {
        ResizeLinearTap t = resize_linear_tap(dx, scale);
        // Positions outside [0, src_width - 1) take the border pixel alone.
        if (t.index < 0) t = {0, 0.0f};
        if (t.index >= src_width - 1) t = {src_width - 1, 0.0f};
        const std::int32_t next = t.index + 1 < src_width ? t.index + 1 : t.index;
        s.x0[dx] = t.index * channels;
        s.x1[dx] = next * channels;
        s.w0[dx] = resize_round_weight((1.0f - t.fraction) * float(resize_coef_one));
        s.w1[dx] = resize_round_weight(t.fraction * float(resize_coef_one));
    }
}

template <int C>
inline void resize_linear_row(const std::uint8_t* src, int dst_width, const ResizeLinearScratch& s, std::int32_t* out) {
    for (int dx = 0; dx < dst_width; ++dx) {
        const std::uint8_t* p0 = src + s.x0[dx];
        const std::uint8_t* p1 = src + s.x1[dx];
        const std::int32_t w0 = s.w0[dx], w1 = s.w1[dx];
        for (int c = 0; c < C; ++c) out[dx * C + c] = p0[c] * w0 + p1[c] * w1;
    }
}

inline void resize_linear_row(const std::uint8_t* src, int channels, int dst_width, const ResizeLinearScratch& s,
                              std::int32_t* out) {
    switch (channels) {
        case 1:
            resize_linear_row<1>(src, dst_width, s, out);
            break;
        case 2:
            resize_linear_row<2>(src, dst_width, s, out);
            break;
        case 3:
            resize_linear_row<3>(src, dst_width, s, out);
            break;
        default:
            resize_linear_row<4>(src, dst_width, s, out);
            break;
    }
}

inline void resize_linear_generic(const std::uint8_t* src, int src_height, int src_width, int channels,
                                  std::uint8_t* dst, int dst_height, int dst_width, std::int32_t* scratch) {
    const ResizeLinearScratch s = resize_linear_scratch_layout(scratch, channels, dst_width);
    resize_linear_columns(src_width, channels, dst_width, s);
    const std::size_t src_stride = std::size_t(src_width) * std::size_t(channels);
    const int n = dst_width * channels;
    // Source rows needed by consecutive outputs never decrease, so two cached horizontal
    // results suffice, and the one to replace is the one with the smaller row index.
    int cached[2] = {-1, -1};
    const auto ensure = [&](int row, int keep) -> const std::int32_t* {
        for (int i = 0; i < 2; ++i)
            if (cached[i] == row) return s.rows[i];
        const int slot = cached[0] == keep ? 1 : cached[1] == keep ? 0 : (cached[0] <= cached[1] ? 0 : 1);
        resize_linear_row(src + std::size_t(row) * src_stride, channels, dst_width, s, s.rows[slot]);
        cached[slot] = row;
        return s.rows[slot];
    };
    const double scale = resize_linear_scale(src_height, dst_height);
    for (int dy = 0; dy < dst_height; ++dy) {
        const ResizeLinearTap t = resize_linear_tap(dy, scale);
        // Rows are clamped; the fraction is kept even when both rows are the border row.
        const auto clamp_row = [src_height](std::int32_t r) {
            return r < 0 ? 0 : r >= src_height ? src_height - 1 : r;
        };
        const int r0 = clamp_row(t.index), r1 = clamp_row(t.index + 1);
        const std::int32_t b0 = resize_round_weight((1.0f - t.fraction) * float(resize_coef_one));
        const std::int32_t b1 = resize_round_weight(t.fraction * float(resize_coef_one));
        const std::int32_t* s0 = ensure(r0, r1);
        const std::int32_t* s1 = ensure(r1, r0);
        std::uint8_t* out = dst + std::size_t(dy) * std::size_t(n);
        // s >> 4 <= 32640 and b <= 2049, so each product fits in 31 bits; the two high halves
        // add up to at most 1020, so the result is at most 255.
        for (int x = 0; x < n; ++x)
            out[x] = static_cast<std::uint8_t>((((b0 * (s0[x] >> 4)) >> 16) + ((b1 * (s1[x] >> 4)) >> 16) + 2) >> 2);
    }
}

// src is 2 * dst_height x 2 * dst_width: the average of each 2x2 block.
inline void resize_linear_half(const std::uint8_t* src, int channels, std::uint8_t* dst, int dst_height,
                               int dst_width) {
    const std::size_t src_stride = std::size_t(dst_width) * 2 * std::size_t(channels);
    const std::size_t dst_stride = std::size_t(dst_width) * std::size_t(channels);
    for (int dy = 0; dy < dst_height; ++dy) {
        const std::uint8_t* a = src + std::size_t(dy) * 2 * src_stride;
        const std::uint8_t* b = a + src_stride;
        std::uint8_t* out = dst + std::size_t(dy) * dst_stride;
        for (int dx = 0; dx < dst_width; ++dx)
            for (int c = 0; c < channels; ++c) {
                const std::size_t i = std::size_t(dx) * 2 * std::size_t(channels) + std::size_t(c);
                const std::size_t j = i + std::size_t(channels);
                const int sum = a[i] + a[j] + b[i] + b[j];
                // Two channels: sum * 0.25 rounded half to even (an odd quotient rounds up
                // at .5); otherwise half up.
                const int bias = channels == 2 ? 1 + ((sum >> 2) & 1) : 2;
                out[std::size_t(dx) * std::size_t(channels) + std::size_t(c)] =
                    static_cast<std::uint8_t>((sum + bias) >> 2);
            }
    }
}

}  // namespace internal

// Bytes of scratch memory resize_linear_u8 needs for these sizes (0 for a copy or an exact
// 2x reduction). Throws std::invalid_argument for sizes outside the limits.
inline std::size_t resize_linear_u8_scratch_bytes(int src_height, int src_width, int channels, int dst_height,
                                                  int dst_width) {
    internal::resize_linear_u8_check(src_height, src_width, channels, dst_height, dst_width);
    if (internal::resize_linear_mode(src_height, src_width, dst_height, dst_width) !=
        internal::ResizeLinearMode::generic)
        return 0;
    // Slack for aligning the start of a caller's buffer to std::int32_t.
    return internal::resize_linear_scratch_ints(channels, dst_width) * sizeof(std::int32_t) + alignof(std::int32_t) - 1;
}

// Resizes src (src_height x src_width x channels) into dst (dst_height x dst_width x channels)
// using scratch (at least resize_linear_u8_scratch_bytes() bytes, any alignment) as working
// memory. Throws std::invalid_argument for sizes outside the limits, null image pointers or a
// scratch buffer that is too small.
inline void resize_linear_u8(const std::uint8_t* src, int src_height, int src_width, int channels, std::uint8_t* dst,
                             int dst_height, int dst_width, void* scratch, std::size_t scratch_bytes) {
    const std::size_t need = resize_linear_u8_scratch_bytes(src_height, src_width, channels, dst_height, dst_width);
    if (src == nullptr || dst == nullptr) throw std::invalid_argument("resize_linear_u8: null image pointer");
    if (need != 0 && scratch == nullptr)
        throw std::invalid_argument("resize_linear_u8: null scratch buffer, expected " + std::to_string(need) +
                                    " bytes");
    if (scratch_bytes < need)
        throw std::invalid_argument("resize_linear_u8: scratch buffer of " + std::to_string(scratch_bytes) +
                                    " bytes, expected at least " + std::to_string(need));
    switch (internal::resize_linear_mode(src_height, src_width, dst_height, dst_width)) {
        case internal::ResizeLinearMode::copy:
            std::memcpy(dst, src, std::size_t(src_height) * std::size_t(src_width) * std::size_t(channels));
            return;
        case internal::ResizeLinearMode::half:
            internal::resize_linear_half(src, channels, dst, dst_height, dst_width);
            return;
        case internal::ResizeLinearMode::generic:
            break;
    }
    const std::uintptr_t address = reinterpret_cast<std::uintptr_t>(scratch);
    const std::size_t skip = (alignof(std::int32_t) - address % alignof(std::int32_t)) % alignof(std::int32_t);
    // Start the lifetime of int32 objects in the caller's bytes (no code is generated; every
    // element is written before it is read).
    std::int32_t* ints = reinterpret_cast<std::int32_t*>(static_cast<unsigned char*>(scratch) + skip);
    std::uninitialized_default_construct_n(ints, internal::resize_linear_scratch_ints(channels, dst_width));
    internal::resize_linear_generic(src, src_height, src_width, channels, dst, dst_height, dst_width, ints);
}

// The same, with the scratch memory allocated for the call.
inline void resize_linear_u8(const std::uint8_t* src, int src_height, int src_width, int channels, std::uint8_t* dst,
                             int dst_height, int dst_width) {
    internal::resize_linear_u8_check(src_height, src_width, channels, dst_height, dst_width);
    if (src == nullptr || dst == nullptr) throw std::invalid_argument("resize_linear_u8: null image pointer");
    if (internal::resize_linear_mode(src_height, src_width, dst_height, dst_width) !=
        internal::ResizeLinearMode::generic) {
        resize_linear_u8(src, src_height, src_width, channels, dst, dst_height, dst_width, nullptr, 0);
        return;
    }
    std::vector<std::int32_t> scratch(internal::resize_linear_scratch_ints(channels, dst_width));
    internal::resize_linear_generic(src, src_height, src_width, channels, dst, dst_height, dst_width, scratch.data());
}

}  // namespace mobilenext
