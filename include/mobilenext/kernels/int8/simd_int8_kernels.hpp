#pragma once
// The int8 vector kernels of one instruction set as a kernel table, on the operations type of
// that set (simd/*_int8_ops.hpp; each is defined only when the compiler targets its set).
// Instantiated once per instruction set by the dispatch library, each in a translation unit
// compiled with that set's flags (src/dispatch/int8_kernels_<id>.cpp), and for the compiler's
// own instruction set in header-only use (NativeInt8Ops).
#include "int8_kernel_table.hpp"
#include "simd/add_partial_shortcut_u8.hpp"
#include "simd/avx2_int8_ops.hpp"
#include "simd/avx512_int8_ops.hpp"
#include "simd/dwconv3x3_u8s8.hpp"
#include "simd/dwconv3x3_u8s8_column_quads.hpp"
#include "simd/fully_connected_s8.hpp"
#include "simd/neon64_int8_ops.hpp"
#include "simd/pointwise_conv_u8s8.hpp"
#include "simd/sse2_int8_ops.hpp"

namespace mobilenext::kernels {

// The depthwise kernel of a set: in column quads where its operations have the byte shuffles
// for them (Ops::kColumnQuads), else widening every tap.
template <class Ops>
constexpr auto simd_dwconv3x3_u8s8() {
    if constexpr (Ops::kColumnQuads)
        return &simd::dwconv3x3_u8s8_column_quads<Ops>;
    else
        return &simd::dwconv3x3_u8s8<Ops>;
}

template <class Ops>
inline constexpr Int8KernelTable kSimdInt8Kernels{
    "simd",
    Ops::kName,
    &simd::pointwise_conv_u8s8<Ops>,
    simd_dwconv3x3_u8s8<Ops>(),
    &simd::add_partial_shortcut_u8<Ops>,
    &simd::fully_connected_s8<Ops>,
    Ops::kTileVectors * Ops::kLanes < 16 ? 16 : Ops::kTileVectors * Ops::kLanes,
    Ops::kPackedStore ? 4 * Ops::kLanes : 0,
};

namespace simd {
// The widest operations the compiler's flags enable, if any.
#if defined(__AVX512VNNI__) && defined(__AVX512BW__) && defined(__AVX512VL__)
#define MOBILENEXT_INT8_NATIVE_OPS 1
using NativeInt8Ops = Avx512Int8Ops<true>;
#elif defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
#define MOBILENEXT_INT8_NATIVE_OPS 1
using NativeInt8Ops = Avx512Int8Ops<false>;
#elif defined(__AVX2__)
#define MOBILENEXT_INT8_NATIVE_OPS 1
using NativeInt8Ops = Avx2Int8Ops;
#elif defined(__SSE2__) && defined(__x86_64__)
#define MOBILENEXT_INT8_NATIVE_OPS 1
using NativeInt8Ops = Sse2Int8Ops;
#elif defined(__aarch64__)
#define MOBILENEXT_INT8_NATIVE_OPS 1
#if defined(__ARM_FEATURE_DOTPROD)
using NativeInt8Ops = Neon64Int8Ops<true>;
#else
using NativeInt8Ops = Neon64Int8Ops<false>;
#endif
#endif
}  // namespace simd

}  // namespace mobilenext::kernels
