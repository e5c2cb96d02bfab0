// The CPU's measured single-precision FMA peak, per thread count: every thread runs
// independent chains of vector FMAs (enough of them to cover the FMA latency on two ports)
// on registers only. The denominator of the "share of peak" figure in BENCHMARKS.md.
//   fma_peak [threads...]   prints "threads=N gflops=G" per count (default 1 2)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include <mobilenext/kernels/simd/vector_ops.hpp>

namespace {

using V = xsimd::batch<float>;

double run_chains(long iterations) {
    constexpr int kChains = 12;
    V acc[kChains];
    for (int i = 0; i < kChains; ++i) acc[i] = V(float(i) * 1e-3f);
    const V a(0.999999f), b(1e-7f);
    for (long it = 0; it < iterations; ++it)
        for (int i = 0; i < kChains; ++i) acc[i] = mobilenext::kernels::simd::fused_multiply_add(acc[i], a, b);
    V sum(0.0f);
    for (int i = 0; i < kChains; ++i) sum += acc[i];
    return double(xsimd::hadd(sum));  // keeps the chains observable
}

double gflops(int threads) {
    constexpr long kIterations = 40'000'000;
    std::vector<std::thread> pool;
    std::vector<double> sink(std::size_t(threads), 0.0);
    const auto start = std::chrono::steady_clock::now();
    for (int t = 0; t < threads; ++t) pool.emplace_back([&sink, t] { sink[std::size_t(t)] = run_chains(kIterations); });
    for (auto& th : pool) th.join();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    volatile double keep = sink[0];
    (void)keep;
    return 2.0 * 12 * double(V::size) * double(kIterations) * threads / seconds / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<int> counts;
    for (int i = 1; i < argc; ++i) counts.push_back(std::atoi(argv[i]));
    if (counts.empty()) counts = {1, 2};
    for (int threads : counts) {
        if (threads < 1) return 2;
        std::printf("threads=%d gflops=%.1f arch=%s\n", threads, gflops(threads), xsimd::default_arch::name());
    }
    return 0;
}
