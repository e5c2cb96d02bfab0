// The vector helpers the kernels are written with, on every instruction set the compiler
// enables for this file (compiled with -march=native when MOBILENEXT_NATIVE_ARCH is on): the
// narrower x86 sets are tested on a wider machine too.
#include <gtest/gtest.h>

#include <string>
#include <type_traits>
#include <vector>

#include <xsimd/xsimd.hpp>

#include <mobilenext/kernels/simd/vector_ops.hpp>

namespace mobilenext {
namespace {

using Archs = ::testing::Types<xsimd::default_arch
#if XSIMD_WITH_AVX512BW
                               , xsimd::fma3<xsimd::avx2>
#endif
#if XSIMD_WITH_AVX2
                               , xsimd::sse2
#endif
                               >;

struct ArchName {
    template <class Arch>
    static std::string GetName(int) {
        std::string name = Arch::name();
        for (char& c : name)
            if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
        return name;
    }
};

template <class Arch>
class VectorOpsTest : public ::testing::Test {};
TYPED_TEST_SUITE(VectorOpsTest, Archs, ArchName);

// x * y + z with one rounding on every set with FMA hardware: 1 + 2^-11 + 2^-24 is not a float,
// so a separate multiply loses the 2^-24 that a fused one keeps.
TYPED_TEST(VectorOpsTest, FusedMultiplyAddRoundsOnce) {
    using Arch = TypeParam;
    if (std::is_same<Arch, xsimd::sse2>::value) GTEST_SKIP() << "SSE2 has no FMA instruction";
    using V = xsimd::batch<float, Arch>;
    volatile float x = 1.0f + 0x1p-12f, z = -(1.0f + 0x1p-11f);
    const V r = kernels::simd::fused_multiply_add(V(x), V(x), V(z));
    alignas(64) float lanes[V::size];
    r.store_aligned(lanes);
    for (std::size_t i = 0; i < V::size; ++i) EXPECT_EQ(lanes[i], 0x1p-24f) << Arch::name() << " lane " << i;
}

// A partial store writes exactly the first `count` lanes (the masked stores of AVX-512 and
// AVX2, the copy elsewhere): nothing before, nothing after.
TYPED_TEST(VectorOpsTest, StoreFirstWritesOnlyTheFirstLanes) {
    using Arch = TypeParam;
    using V = xsimd::batch<float, Arch>;
    constexpr int lanes = int(V::size);
    alignas(64) float values[lanes];
    for (int i = 0; i < lanes; ++i) values[i] = float(i + 1);
    const V v = V::load_aligned(values);
    for (int count = 1; count <= lanes; ++count) {
        std::vector<float> buffer(3 * lanes, -1.0f);
        kernels::simd::store_first<Arch>(v, buffer.data() + lanes + 1, count);  // unaligned on purpose
        for (int i = 0; i < 3 * lanes; ++i) {
            const int lane = i - (lanes + 1);
            const float expected = lane >= 0 && lane < count ? float(lane + 1) : -1.0f;
            ASSERT_EQ(buffer[i], expected) << Arch::name() << " count " << count << " index " << i;
        }
    }
}

}  // namespace
}  // namespace mobilenext
