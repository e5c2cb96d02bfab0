// A warm forward pass allocates nothing, with one thread or several: counted by replacing the
// global operator new in this test executable (its own binary, so no other test is affected).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

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

TEST(NoAllocation, WarmForwardPassesAllocateNothing) {
    NetworkConfig config;
    config.width = 0.75;
    config.identity_div = 2;
    const Model net = Model::random(config, 1);
    for (int threads : {1, 2, 3})
        for (const Shape4& shape : {Shape4{1, 224, 224, 3}, Shape4{3, 97, 131, 3}}) {
            Workspace ws(threads);
            Tensor x(shape), logits;
            net.forward(x, logits, ws);  // warm-up: sizes the workspace and the logits
            const long before = g_allocations.load();
            for (int i = 0; i < 3; ++i) net.forward(x, logits, ws);
            EXPECT_EQ(g_allocations.load() - before, 0) << threads << " threads, input " << shape.str();
        }
}

TEST(NoAllocation, WarmInt8ForwardPassesAllocateNothing) {
    NetworkConfig config;
    config.width = 0.5;
    const Tensor calibration(1, 64, 64, 3);
    const Int8NetworkWeights quantized =
        quantize_network(read_folded_weights(config, make_random_state_dict(derive_topology(config), 1)),
                         calibration.data(), calibration.shape(), {}, *internal::kernel_tables().front());
    for (const kernels::Int8KernelTable* table : kernels::available_int8_kernels()) {
        const internal::Int8Network net(quantized, *internal::kernel_tables().front(), *table);
        for (int threads : {1, 2})
            for (const Shape4& shape : {Shape4{1, 96, 96, 3}, Shape4{2, 37, 53, 3}}) {
                Workspace ws(threads);
                Tensor x(shape), logits;
                net.forward(x, logits, ws);  // warm-up: sizes the workspace and the logits
                const long before = g_allocations.load();
                for (int i = 0; i < 2; ++i) net.forward(x, logits, ws);
                EXPECT_EQ(g_allocations.load() - before, 0)
                    << net.kernels_name() << ", " << threads << " threads, input " << shape.str();
            }
    }
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
