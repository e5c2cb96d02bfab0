#pragma once
// A state dict of random weights for any topology: for benchmarks, tests and trying the
// library before a model is trained. BatchNorm statistics are random too, so folding is
// exercised. Deterministic for a seed (std::mt19937_64 with hand-written distributions, which
// unlike std::normal_distribution give the same numbers with every standard library).
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>
#include <string>

#include "state_dict.hpp"

namespace mobilenext {

inline StateDict make_random_state_dict(const std::vector<ExpectedTensor>& tensors, std::uint64_t seed) {
    std::mt19937_64 engine(seed);
    const auto uniform = [&engine](double lo, double hi) {
        return lo + (hi - lo) * double(engine() >> 11) * (1.0 / 9007199254740992.0);
    };
    const auto normal = [&uniform](double stddev) {  // Box-Muller
        const double u1 = 1.0 - uniform(0.0, 1.0), u2 = uniform(0.0, 1.0);
        return stddev * std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
    };
    using internal::ends_with;
    StateDict dict;
    for (const ExpectedTensor& e : tensors) {
        std::size_t count = 1;
        for (std::int64_t d : e.shape) count *= std::size_t(d);
        HostTensor t{e.shape, std::vector<float>(count)};
        const bool is_classifier = e.name.rfind("classifier", 0) == 0;  // a Linear's weight and bias
        for (float& v : t.values) {
            if (e.shape.size() == 4) {  // convolution: variance-preserving for ReLU6 nets
                const double fan_in = double(e.shape[1] * e.shape[2] * e.shape[3]);
                v = float(normal(std::sqrt(2.0 / fan_in)));
            } else if (is_classifier) {
                v = e.shape.size() == 2 ? float(normal(1.0 / std::sqrt(double(e.shape[1])))) : float(normal(0.1));
            } else if (ends_with(e.name, "running_var")) {
                v = float(uniform(0.5, 2.0));
            } else if (ends_with(e.name, "running_mean") || ends_with(e.name, "bias")) {
                v = float(normal(0.2));
            } else {  // BatchNorm weight
                v = float(uniform(0.5, 1.5));
            }
        }
        dict.emplace(e.name, std::move(t));
    }
    return dict;
}

inline StateDict make_random_state_dict(const Topology& topology, std::uint64_t seed) {
    return make_random_state_dict(expected_state_dict(topology), seed);
}

}  // namespace mobilenext
