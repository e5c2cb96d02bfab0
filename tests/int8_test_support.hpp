#pragma once
// What the int8 tests share: the vector int8 kernel sets this CPU runs (each test compares
// them with the reference), their names as test parameters, random integers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <random>
#include <string>
#include <vector>

#include <mobilenext/kernels/int8/int8_kernel_registry.hpp>
#include <mobilenext/kernels/int8/reference_int8_kernels.hpp>

namespace mobilenext::test {

inline std::vector<const kernels::Int8KernelTable*> vector_int8_tables() {
    std::vector<const kernels::Int8KernelTable*> tables;
    for (const kernels::Int8KernelTable* t : kernels::available_int8_kernels())
        if (t != &kernels::kReferenceInt8Kernels) tables.push_back(t);
    return tables;
}

struct Int8TableName {
    std::string operator()(const ::testing::TestParamInfo<const kernels::Int8KernelTable*>& info) const {
        std::string name = info.param->name();
        std::replace_if(name.begin(), name.end(), [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); }, '_');
        return name;
    }
};

template <class T>
std::vector<T> random_ints(std::size_t count, int lo, int hi, std::mt19937& engine) {
    std::uniform_int_distribution<int> dist(lo, hi);
    std::vector<T> v(count);
    for (T& x : v) x = T(dist(engine));
    return v;
}

}  // namespace mobilenext::test
