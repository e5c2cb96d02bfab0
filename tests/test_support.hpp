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

#include <mobilenext/core/tensor.hpp>
#include <mobilenext/kernels/reference_kernels.hpp>
#include <mobilenext/model/kernel_registry.hpp>
#include <mobilenext/model/model.hpp>

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

// Every vector kernel table this program can run on this CPU (Model::available_kernels()
// without the reference): with mobilenext::dispatch every instruction set of
// kernels/instruction_sets.hpp the CPU runs, so the AVX2 and SSE2 paths are tested on an
// AVX-512 machine too.
inline std::vector<const kernels::KernelTable*> vector_kernel_tables() {
    std::vector<const kernels::KernelTable*> tables;
    for (const kernels::KernelTable* t : internal::kernel_tables())
        if (t != &kernels::kReferenceKernels) tables.push_back(t);
    return tables;
}

// Test names from table names: "simd/fma3+avx2" -> "simd_fma3_avx2".
struct KernelTableName {
    std::string operator()(const ::testing::TestParamInfo<const kernels::KernelTable*>& info) const {
        std::string name = info.param->name();
        std::replace_if(name.begin(), name.end(), [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); }, '_');
        return name;
    }
};

// The reference kernels, which every test compares the vector tables against.
inline const kernels::KernelTable& Ref = kernels::kReferenceKernels;

// Options that build a model on the reference kernels.
inline LoadOptions reference_kernels() {
    LoadOptions options;
    options.kernels = "reference";
    return options;
}

// A fixture over every vector kernel table.
class KernelTableTest : public ::testing::TestWithParam<const kernels::KernelTable*> {
protected:
    const kernels::KernelTable& K() const { return *GetParam(); }
};

}  // namespace mobilenext::testing
