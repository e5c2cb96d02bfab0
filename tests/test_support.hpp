#pragma once
// Comparison helpers shared by the tests: an absolute-or-relative tolerance, and a failure
// message that says which case (shape, stride, kernel set) and which element differed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <random>
#include <string>
#include <vector>

#include <xsimd/xsimd.hpp>

#include <mobilenext/core/tensor.hpp>
#include <mobilenext/kernels/kernel_sets.hpp>

namespace mobilenext::testing {

// Passes when |a - e| <= abs_tol or |a - e| <= rel_tol * |e| for every element.
inline ::testing::AssertionResult all_close(const float* actual, const float* expected, std::size_t count,
                                            const std::string& what, float abs_tol = 1e-5f, float rel_tol = 1e-5f) {
    for (std::size_t i = 0; i < count; ++i) {
        const float a = actual[i], e = expected[i];
        const float diff = std::fabs(a - e);
        if (!(diff <= abs_tol || diff <= rel_tol * std::fabs(e)))
            return ::testing::AssertionFailure() << what << ": element " << i << " is " << a << ", expected " << e
                                                 << " (diff " << diff << ")";
    }
    return ::testing::AssertionSuccess();
}

inline std::vector<float> random_vector(std::size_t count, std::uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
    std::mt19937 engine(seed);
    std::uniform_real_distribution<float> dist(lo, hi);
    std::vector<float> v(count);
    for (float& x : v) x = dist(engine);
    return v;
}

// A tensor of uniform values in [-2, 2].
inline Tensor random_input(int n, int h, int w, int c, std::uint32_t seed) {
    Tensor t(n, h, w, c);
    const auto v = random_vector(t.size(), seed, -2.0f, 2.0f);
    std::copy(v.begin(), v.end(), t.data());
    return t;
}

inline float max_abs(const Tensor& t) {
    float m = 0.0f;
    for (std::size_t i = 0; i < t.size(); ++i) m = std::max(m, std::fabs(t.data()[i]));
    return m;
}

// Every vector kernel set this build can run on this CPU: the compiler's default first, then
// the narrower x86 sets it also enables, so AVX2 and SSE2 paths are tested on an AVX-512 machine.
using SimdKernelSets = ::testing::Types<kernels::SimdKernels<xsimd::default_arch>
#if XSIMD_WITH_AVX512BW
                                        , kernels::SimdKernels<xsimd::fma3<xsimd::avx2>>
#endif
#if XSIMD_WITH_AVX2
                                        , kernels::SimdKernels<xsimd::sse2>
#endif
                                        >;

struct KernelSetName {
    template <class T>
    static std::string GetName(int) {
        std::string name = T::name();
        std::replace_if(name.begin(), name.end(), [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); }, '_');
        return name;
    }
};

}  // namespace mobilenext::testing
