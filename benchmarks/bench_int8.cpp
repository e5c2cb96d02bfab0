// The int8 1x1 convolution of every int8 kernel set this CPU runs
// (kernels::available_int8_kernels()) against the float pointwise_conv of every float set, at
// shapes of MobileNeXt-1.0 at 224x224. Counter: OP/s counts a multiply-add as two operations.
// The same for the depthwise 3x3 convolution (values/s: output values).
// Then the whole network, MobileNeXt at 224x224 (kNetworkCases: widths, batches, threads): the
// float network on the best float set against the int8 network (random weights quantized on
// random inputs) on every int8 set, its stem and classifier on the same float set. Real time,
// so that rows with two threads count the wall clock.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <mobilenext/kernels/int8/int8_kernel_registry.hpp>
#include <mobilenext/kernels/int8/pack_int8.hpp>
#include <mobilenext/kernels/pack_weights.hpp>
#include <mobilenext/mobilenext.hpp>
#include <mobilenext/model/folded_weights.hpp>
#include <mobilenext/model/int8_network.hpp>
#include <mobilenext/model/kernel_registry.hpp>
#include <mobilenext/quantization/quantize_network.hpp>

namespace {

using namespace mobilenext;

struct Shape {
    int pixels, in, out;
};
// The first two reductions of MobileNeXt-1.0 (112x112 32->16, 56x56 96->32), an expansion,
// a reduction to 16 and a 14x14 layer.
const Shape kShapes[] = {{112 * 112, 32, 16}, {56 * 56, 96, 32},   {56 * 56, 96, 192},
                         {56 * 56, 192, 96},  {56 * 56, 96, 16},   {14 * 14, 576, 576}};

std::string shape_name(const Shape& s) {
    return std::to_string(s.pixels) + "px/" + std::to_string(s.in) + "->" + std::to_string(s.out);
}

benchmark::Counter op_rate(const Shape& s) {
    return benchmark::Counter(2.0 * s.pixels * s.in * s.out, benchmark::Counter::kIsIterationInvariantRate);
}

void bench_int8_pointwise(const kernels::Int8KernelTable& k, benchmark::State& state, const Shape& s) {
    std::vector<std::int8_t> weights(std::size_t(s.in) * s.out);
    for (std::size_t i = 0; i < weights.size(); ++i) weights[i] = std::int8_t(int(i % 129) - 64);
    const std::vector<std::int32_t> bias(std::size_t(s.out), 0);
    const std::vector<float> multipliers(std::size_t(s.out), 1e-4f);
    const PackedPointwiseU8S8 packed = pack_pointwise_u8s8(weights.data(), bias.data(), multipliers.data(), s.in,
                                                           s.out, output_range(0.05f, 0, Activation::relu6),
                                                           k.pointwise_panel, k.pointwise_store_tile);
    std::vector<std::uint8_t> input(std::size_t(s.pixels) * s.in, 100), output(std::size_t(s.pixels) * s.out);
    for (auto _ : state) {
        k.pointwise_conv_u8s8(input.data(), std::size_t(s.pixels), packed.view(), output.data());
        benchmark::DoNotOptimize(output.data());
        benchmark::ClobberMemory();
    }
    state.counters["OP/s"] = op_rate(s);
}

void bench_float_pointwise(const kernels::KernelTable& k, benchmark::State& state, const Shape& s) {
    const std::vector<float> weights(std::size_t(s.in) * s.out, 0.01f), bias(std::size_t(s.out), 0.0f);
    const PackedPointwise packed = pack_pointwise(weights.data(), nullptr, bias.data(), s.in, s.out, k.pointwise_panel);
    AlignedBuffer input(std::size_t(s.pixels) * s.in), output(std::size_t(s.pixels) * s.out);
    for (auto _ : state) {
        k.pointwise_conv(input.data(), std::size_t(s.pixels), packed.view(), Activation::relu6, output.data());
        benchmark::DoNotOptimize(output.data());
        benchmark::ClobberMemory();
    }
    state.counters["OP/s"] = op_rate(s);
}

// Depthwise 3x3 layers of MobileNeXt-1.0 at 224x224: the wide tensors of the early blocks.
struct DepthwiseShape {
    int height, width, channels, stride;
};
const DepthwiseShape kDepthwiseShapes[] = {{112, 112, 96, 2}, {56, 56, 144, 1}, {28, 28, 192, 1}, {14, 14, 576, 1}};

std::string depthwise_name(const DepthwiseShape& s) {
    return std::to_string(s.height) + "x" + std::to_string(s.width) + "x" + std::to_string(s.channels) + "/s" +
           std::to_string(s.stride);
}

benchmark::Counter output_byte_rate(const DepthwiseShape& s) {
    const double pixels = double(conv3x3_output_size(s.height, s.stride)) * conv3x3_output_size(s.width, s.stride);
    return benchmark::Counter(pixels * s.channels, benchmark::Counter::kIsIterationInvariantRate);
}

void bench_int8_depthwise(const kernels::Int8KernelTable& k, benchmark::State& state, const DepthwiseShape& s) {
    std::vector<std::int8_t> weights(std::size_t(s.channels) * 9);
    for (std::size_t i = 0; i < weights.size(); ++i) weights[i] = std::int8_t(int(i % 129) - 64);
    const std::vector<std::int32_t> bias(std::size_t(s.channels), 0);
    const std::vector<float> multipliers(std::size_t(s.channels), 1e-3f);
    const PackedDepthwiseU8S8 packed = pack_depthwise_u8s8(weights.data(), bias.data(), multipliers.data(),
                                                           s.channels, 3, output_range(0.05f, 0, Activation::relu6));
    std::vector<std::uint8_t> input(std::size_t(s.height) * s.width * s.channels, 100),
        output(input.size());
    const DepthwiseRows rows = whole_image(s.height, s.width, s.stride);
    for (auto _ : state) {
        k.dwconv3x3_u8s8(input.data(), rows, packed.view(), output.data());
        benchmark::DoNotOptimize(output.data());
        benchmark::ClobberMemory();
    }
    state.counters["values/s"] = output_byte_rate(s);
}

void bench_float_depthwise(const kernels::KernelTable& k, benchmark::State& state, const DepthwiseShape& s) {
    const std::vector<float> weights(std::size_t(s.channels) * 9, 0.01f), scale(std::size_t(s.channels), 1.0f),
        bias(std::size_t(s.channels), 0.0f);
    const PackedDepthwise packed = pack_depthwise(weights.data(), scale.data(), bias.data(), s.channels);
    AlignedBuffer input(std::size_t(s.height) * s.width * s.channels), output(input.size());
    const DepthwiseRows rows = whole_image(s.height, s.width, s.stride);
    for (auto _ : state) {
        k.dwconv3x3(input.data(), rows, packed.view(), Activation::relu6, output.data());
        benchmark::DoNotOptimize(output.data());
        benchmark::ClobberMemory();
    }
    state.counters["values/s"] = output_byte_rate(s);
}

Tensor uniform_input(int n, int h, int w, std::uint32_t seed) {
    Tensor t(n, h, w, 3);
    std::uint32_t state = seed;
    for (std::size_t i = 0; i < t.size(); ++i) {
        state = state * 1664525u + 1013904223u;
        t.data()[i] = float(state >> 8) * (4.0f / 16777216.0f) - 2.0f;
    }
    return t;
}

constexpr int kImageSize = 224;

// The whole-network rows: MobileNeXt at 224x224.
struct NetworkCase {
    double width;
    int batch, threads;
};
const NetworkCase kNetworkCases[] = {{1.0, 1, 1}, {1.0, 1, 2}, {1.0, 8, 1}, {1.0, 8, 2}, {0.5, 1, 1}, {0.35, 1, 1}};

std::string network_name(const NetworkCase& c) {
    char width[16];
    std::snprintf(width, sizeof width, "%.2f", c.width);
    return std::string("width:") + width + "/" + std::to_string(kImageSize) + "x" + std::to_string(kImageSize) +
           "/batch:" + std::to_string(c.batch) + "/threads:" + std::to_string(c.threads);
}

benchmark::Counter image_rate(int batch) {
    return benchmark::Counter(double(batch), benchmark::Counter::kIsIterationInvariantRate);
}

void bench_float_network(benchmark::State& state, const NetworkCase& c) {
    const Model model = Model::random(NetworkConfig{c.width}, 1);
    const Tensor x = uniform_input(c.batch, kImageSize, kImageSize, 2);
    Workspace ws(c.threads);
    Tensor logits;
    for (auto _ : state) {
        model.forward(x, logits, ws);
        benchmark::DoNotOptimize(logits.data());
    }
    state.counters["images/s"] = image_rate(c.batch);
    state.SetLabel(model.kernels_name());
}

// Quantized once per width, on the best float set (the calibration's float evaluation is the
// slow part).
const Int8NetworkWeights& quantized_network(double width) {
    static std::map<double, Int8NetworkWeights> cache;
    const auto found = cache.find(width);
    if (found != cache.end()) return found->second;
    const NetworkConfig config{width};
    const StateDict dict = make_random_state_dict(derive_topology(config), 1);
    const Tensor calibration = uniform_input(2, kImageSize, kImageSize, 3);
    return cache
        .emplace(width, quantize_network(read_folded_weights(config, dict, "random weights"), calibration.data(),
                                         calibration.shape(), {}, *internal::kernel_tables().front()))
        .first->second;
}

void bench_int8_network(const kernels::Int8KernelTable& k, benchmark::State& state, const NetworkCase& c) {
    const internal::Int8Network network(quantized_network(c.width), *internal::kernel_tables().front(), k);
    const Tensor x = uniform_input(c.batch, kImageSize, kImageSize, 2);
    Workspace ws(c.threads);
    Tensor logits;
    for (auto _ : state) {
        network.forward(x, logits, ws);
        benchmark::DoNotOptimize(logits.data());
    }
    state.counters["images/s"] = image_rate(c.batch);
    state.SetLabel(network.kernels_name());
}

}  // namespace

int main(int argc, char** argv) {
    for (const Shape& s : kShapes) {
        for (const kernels::Int8KernelTable* k : kernels::available_int8_kernels())
            benchmark::RegisterBenchmark(("pointwise_conv_u8s8/" + k->name() + "/" + shape_name(s)).c_str(),
                                         [k, s](benchmark::State& state) { bench_int8_pointwise(*k, state, s); });
        for (const kernels::KernelTable* k : internal::kernel_tables())
            benchmark::RegisterBenchmark(("pointwise_conv_f32/" + k->name() + "/" + shape_name(s)).c_str(),
                                         [k, s](benchmark::State& state) { bench_float_pointwise(*k, state, s); });
    }
    for (const DepthwiseShape& s : kDepthwiseShapes) {
        for (const kernels::Int8KernelTable* k : kernels::available_int8_kernels())
            benchmark::RegisterBenchmark(("dwconv3x3_u8s8/" + k->name() + "/" + depthwise_name(s)).c_str(),
                                         [k, s](benchmark::State& state) { bench_int8_depthwise(*k, state, s); });
        for (const kernels::KernelTable* k : internal::kernel_tables())
            benchmark::RegisterBenchmark(("dwconv3x3_f32/" + k->name() + "/" + depthwise_name(s)).c_str(),
                                         [k, s](benchmark::State& state) { bench_float_depthwise(*k, state, s); });
    }
    for (const NetworkCase& c : kNetworkCases) {
        benchmark::RegisterBenchmark(("network_f32/" + network_name(c)).c_str(),
                                     [c](benchmark::State& state) { bench_float_network(state, c); })
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
        for (const kernels::Int8KernelTable* k : kernels::available_int8_kernels())
            benchmark::RegisterBenchmark(("network_int8/" + k->name() + "/" + network_name(c)).c_str(),
                                         [k, c](benchmark::State& state) { bench_int8_network(*k, state, c); })
                ->Unit(benchmark::kMillisecond)
                ->UseRealTime();
    }
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
