// A warm forward pass allocates nothing, with one thread or several: counted by replacing the
// global operator new in this test executable (its own binary, so no other test is affected).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <new>
#include <string>

#include <mobilenext/io/int8_model_writer.hpp>
#include <mobilenext/io/npy.hpp>
#include <mobilenext/io/safetensors.hpp>
#include <mobilenext/kernels/int8/int8_kernel_registry.hpp>
#include <mobilenext/mobilenext.hpp>
#include <mobilenext/model/folded_weights.hpp>
#include <mobilenext/model/int8_network.hpp>
#include <mobilenext/model/kernel_registry.hpp>
#include <mobilenext/quantization/quantize_network.hpp>

namespace {
std::atomic<long> g_allocations{0};
}  // namespace

void* operator new(std::size_t size) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(size ? size : 1)) return p;
    throw std::bad_alloc();
}
// GCC 12 inlines these into callers of operator new and then reports free() of memory "from
// operator new" as mismatched; here operator new is malloc, so the pairing is right.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

namespace mobilenext {
namespace {

// `net`: a Model or an Int8Network. After one warm-up pass per workspace, `runs` passes of each
// thread count and shape allocate nothing.
template <class Net>
void expect_warm_passes_allocate_nothing(const Net& net, std::initializer_list<int> thread_counts,
                                         std::initializer_list<Shape4> shapes, int runs) {
    for (int threads : thread_counts)
        for (const Shape4& shape : shapes) {
            Workspace ws(threads);
            Tensor x(shape), logits;
            net.forward(x, logits, ws);  // warm-up: sizes the workspace and the logits
            const long before = g_allocations.load();
            for (int i = 0; i < runs; ++i) net.forward(x, logits, ws);
            EXPECT_EQ(g_allocations.load() - before, 0)
                << net.kernels_name() << ", " << threads << " threads, input " << shape.str();
        }
}

TEST(NoAllocation, WarmForwardPassesAllocateNothing) {
    NetworkConfig config;
    config.width = 0.75;
    config.identity_div = 2;
    expect_warm_passes_allocate_nothing(Model::random(config, 1), {1, 2, 3},
                                        {Shape4{1, 224, 224, 3}, Shape4{3, 97, 131, 3}}, 3);
}

Int8NetworkWeights quantized_random_network(int identity_div, std::uint64_t seed) {
    NetworkConfig config;
    config.width = 0.5;
    config.identity_div = identity_div;
    const Tensor calibration(1, 64, 64, 3);
    return quantize_network(read_folded_weights(config, make_random_state_dict(derive_topology(config), seed)),
                            calibration.data(), calibration.shape(), {}, *internal::kernel_tables().front());
}

template <class Net>
void expect_warm_int8_passes_allocate_nothing(const Net& net) {
    expect_warm_passes_allocate_nothing(net, {1, 2}, {Shape4{1, 96, 96, 3}, Shape4{2, 37, 53, 3}}, 2);
}

TEST(NoAllocation, WarmInt8ForwardPassesAllocateNothing) {
    const Int8NetworkWeights quantized = quantized_random_network(1, 1);
    for (const kernels::Int8KernelTable* table : kernels::available_int8_kernels())
        expect_warm_int8_passes_allocate_nothing(internal::Int8Network(quantized, *internal::kernel_tables().front(), *table));
}

// The same through Model, from an int8 file.
TEST(NoAllocation, WarmInt8ModelForwardPassesAllocateNothing) {
    const Int8NetworkWeights quantized = quantized_random_network(2, 2);
    const std::string bytes = int8_model_bytes(quantized, {}, int8_test_vector(quantized));
    expect_warm_int8_passes_allocate_nothing(
        Model::from_safetensors(parse_safetensors(bytes.data(), bytes.size(), "int8"), "int8"));
}

TEST(NoAllocation, WarmDetectionsAllocateNothing) {
    const Detector detector = Detector::random(0.5, DetectorConfig::voc(), 1);
    for (int threads : {1, 2, 3})
        for (const Shape4& shape : {Shape4{1, 320, 320, 3}, Shape4{2, 256, 384, 3}}) {
            Workspace ws(threads);
            Tensor x(shape);
            for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = float(i % 17) * 0.25f - 2.0f;
            DetectorOutputs out;
            detector.detect(x, out, ws);  // warm-up: sizes the workspace and the outputs
            const long before = g_allocations.load();
            for (int i = 0; i < 3; ++i) detector.detect(x, out, ws);
            EXPECT_EQ(g_allocations.load() - before, 0) << threads << " threads, input " << shape.str();
            EXPECT_FALSE(out.detections[0].empty());
        }
}

TEST(NoAllocation, TheCounterSeesAllocations) {
    const long before = g_allocations.load();
    // A direct call of the allocation function, which (unlike a new-expression) may not be elided.
    void* p = ::operator new(64);
    ::operator delete(p);
    EXPECT_EQ(g_allocations.load() - before, 1);
}

}  // namespace
}  // namespace mobilenext
