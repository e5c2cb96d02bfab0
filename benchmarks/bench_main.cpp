// Microbenchmarks at the real layer shapes of MobileNeXt-1.0 at 224x224 (every distinct
// depthwise and pointwise shape, read off the topology rather than typed in), each on every
// kernel set this CPU runs (Model::available_kernels(): with mobilenext::dispatch every
// instruction set of kernels/instruction_sets.hpp, and the reference); one sandglass block of each form; the whole network per
// width, batch 1 and 8, 1 and 2 threads. Counters: FLOP/s counts a multiply-add as two FLOPs.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <mobilenext/kernels/pack_weights.hpp>
#include <mobilenext/mobilenext.hpp>
#include <mobilenext/model/kernel_registry.hpp>
#include <mobilenext/model/network.hpp>

namespace {

using namespace mobilenext;

std::vector<float> filled(std::size_t count, float value) { return std::vector<float>(count, value); }

void bench_dwconv(const kernels::KernelTable& k, benchmark::State& state, int h, int w, int c, int stride, Activation act) {
    const auto torch_w = filled(std::size_t(c) * 9, 0.1f), bias = filled(c, 0.0f), scale = filled(c, 1.0f);
    const PackedDepthwise packed = pack_depthwise(torch_w.data(), scale.data(), bias.data(), c);
    AlignedBuffer input(std::size_t(h) * w * c), output(std::size_t(h) * w * c);
    const int oh = conv3x3_output_size(h, stride), ow = conv3x3_output_size(w, stride);
    for (auto _ : state) {
        k.dwconv3x3(input.data(), whole_image(h, w, stride), packed.view(), act, output.data());
        benchmark::DoNotOptimize(output.data());
        benchmark::ClobberMemory();
    }
    state.counters["FLOP/s"] = benchmark::Counter(2.0 * 9 * oh * ow * c, benchmark::Counter::kIsIterationInvariantRate);
}

void bench_pointwise(const kernels::KernelTable& k, benchmark::State& state, int pixels, int in, int out, Activation act) {
    const auto torch_w = filled(std::size_t(in) * out, 0.01f), bias = filled(out, 0.0f);
    const PackedPointwise packed = pack_pointwise(torch_w.data(), nullptr, bias.data(), in, out);
    AlignedBuffer input(std::size_t(pixels) * in), output(std::size_t(pixels) * out);
    for (auto _ : state) {
        k.pointwise_conv(input.data(), pixels, packed.view(), act, output.data());
        benchmark::DoNotOptimize(output.data());
        benchmark::ClobberMemory();
    }
    state.counters["FLOP/s"] =
        benchmark::Counter(2.0 * pixels * in * out, benchmark::Counter::kIsIterationInvariantRate);
}

void bench_fully_connected(const kernels::KernelTable& k, benchmark::State& state, int batch, int in, int out) {
    const auto torch_w = filled(std::size_t(in) * out, 0.01f), bias = filled(out, 0.0f);
    const PackedPointwise packed = pack_pointwise(torch_w.data(), nullptr, bias.data(), in, out);
    AlignedBuffer input(std::size_t(batch) * in), output(std::size_t(batch) * out);
    for (auto _ : state) {
        k.fully_connected(input.data(), batch, packed.view(), output.data());
        benchmark::DoNotOptimize(output.data());
        benchmark::ClobberMemory();
    }
    state.counters["FLOP/s"] = benchmark::Counter(2.0 * batch * in * out, benchmark::Counter::kIsIterationInvariantRate);
}

void bench_network(benchmark::State& state, const std::string& kernels, double width, int batch, int threads) {
    NetworkConfig config;
    config.width = width;
    LoadOptions options;
    options.kernels = kernels;
    const Model net = Model::random(config, 1, options);
    Tensor input(batch, 224, 224, 3);
    for (std::size_t i = 0; i < input.size(); ++i) input.data()[i] = float(i % 251) / 251.0f - 0.5f;
    Tensor logits;
    Workspace ws(threads);
    net.forward(input, logits, ws);  // warm-up: sizes the workspace
    for (auto _ : state) {
        net.forward(input, logits, ws);
        benchmark::DoNotOptimize(logits.data());
    }
    state.counters["FLOP/s"] = benchmark::Counter(2.0 * double(net.multiply_adds(224, 224)) * batch,
                                                  benchmark::Counter::kIsIterationInvariantRate);
    state.counters["images/s"] = benchmark::Counter(double(batch), benchmark::Counter::kIsIterationInvariantRate);
}

void bench_stem(const kernels::KernelTable& k, benchmark::State& state, int h, int w, int in, int out) {
    const auto torch_w = filled(std::size_t(out) * in * 9, 0.1f), bias = filled(out, 0.0f), scale = filled(out, 1.0f);
    const PackedStem packed = pack_stem(torch_w.data(), scale.data(), bias.data(), in, out);
    const int oh = conv3x3_output_size(h, 2), ow = conv3x3_output_size(w, 2);
    AlignedBuffer input(std::size_t(h) * w * in), output(std::size_t(oh) * ow * out);
    for (auto _ : state) {
        k.stem_conv3x3_s2_relu6(input.data(), h, w, 0, oh, packed.view(), output.data());
        benchmark::DoNotOptimize(output.data());
        benchmark::ClobberMemory();
    }
    state.counters["FLOP/s"] =
        benchmark::Counter(2.0 * 9 * in * out * oh * ow, benchmark::Counter::kIsIterationInvariantRate);
}

// One sandglass block of each form at its real place in MobileNeXt-1.0 at 224x224 (the first
// block of that form), one image, on the calling thread.
void bench_block(benchmark::State& state, const BlockSpec& spec, int h, int w) {
    NetworkConfig config;
    const Model net = Model::random(config, 1);
    const auto& block = net.network().blocks()[std::size_t(spec.index - 1)];
    AlignedBuffer input(std::size_t(h) * w * spec.in_channels);
    for (std::size_t i = 0; i < input.size(); ++i) input[i] = float(i % 97) / 97.0f;
    AlignedBuffer output(std::size_t(block.output_height(h)) * block.output_width(w) * spec.out_channels);
    AlignedBuffer scratch(block.scratch_floats(h, w));
    for (auto _ : state) {
        block.forward(input.data(), 1, h, w, output.data(), scratch.data());
        benchmark::DoNotOptimize(output.data());
        benchmark::ClobberMemory();
    }
    const double pixels = double(h) * w, out_pixels = double(block.output_height(h)) * block.output_width(w);
    double madds = pixels * spec.in_channels * spec.hidden + pixels * spec.hidden * spec.out_channels;
    if (spec.has_input_dw()) madds += pixels * spec.in_channels * 9;
    if (spec.has_output_dw()) madds += out_pixels * spec.out_channels * 9;
    state.counters["FLOP/s"] = benchmark::Counter(2.0 * madds, benchmark::Counter::kIsIterationInvariantRate);
}

void register_block_benchmarks() {
    const Topology t = derive_topology(NetworkConfig{});
    std::set<std::pair<BlockForm, bool>> seen_shortcut;
    walk_layer_sizes(t, 224, 224, [](int, int) {}, [&](const BlockSpec& b, const BlockSizes& z) {
        const auto key = std::make_pair(b.form, b.shortcut_channels > 0);
        if (!seen_shortcut.insert(key).second) return;
        const int h = z.in_height, w = z.in_width;
        const std::string name = std::string("sandglass_block/") + block_form_name(b.form) +
                                 (b.shortcut_channels > 0 ? "+shortcut" : "") + "/features." + std::to_string(b.index) +
                                 "/" + std::to_string(h) + "x" + std::to_string(w) + "x" +
                                 std::to_string(b.in_channels) + "->" + std::to_string(b.out_channels);
        benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& s) { bench_block(s, b, h, w); });
    });
}

void register_layer_benchmarks(const kernels::KernelTable& k) {
    const std::string set_name = k.name();
    const Topology t = derive_topology(NetworkConfig{});
    benchmark::RegisterBenchmark(("stem_conv3x3_s2_relu6/" + set_name + "/224x224x3->" + std::to_string(t.stem_channels)).c_str(),
                                 [c = t.stem_channels, &k](benchmark::State& s) { bench_stem(k, s, 224, 224, 3, c); });
    std::set<std::tuple<int, int, int, int, int>> dw_shapes;  // h, w, c, stride, relu6
    std::set<std::tuple<int, int, int, int>> pw_shapes;       // pixels, in, out, relu6
    walk_layer_sizes(t, 224, 224, [](int, int) {}, [&](const BlockSpec& b, const BlockSizes& z) {
        const int h = z.in_height, w = z.in_width;
        if (b.has_input_dw()) dw_shapes.insert({h, w, b.in_channels, 1, 1});
        pw_shapes.insert({h * w, b.in_channels, b.hidden, 0});
        pw_shapes.insert({h * w, b.hidden, b.out_channels, 1});
        if (b.has_output_dw()) dw_shapes.insert({h, w, b.out_channels, b.stride, 0});
    });
    // The lambdas copy the bindings by init-capture: C++17 cannot capture structured bindings.
    for (const auto& [dh, dw, c, stride, relu] : dw_shapes) {
        const std::string name = "dwconv3x3" + std::string(stride == 2 ? "_s2" : "_s1") + (relu ? "_relu6" : "") +
                                 "/" + set_name + "/" + std::to_string(dh) + "x" + std::to_string(dw) + "x" +
                                 std::to_string(c);
        const Activation act = relu ? Activation::relu6 : Activation::none;
        benchmark::RegisterBenchmark(name.c_str(), [=, dh = dh, dw = dw, c = c, stride = stride, &k](benchmark::State& s) { bench_dwconv(k, s, dh, dw, c, stride, act); });
    }
    for (const auto& [pixels, in, out, relu] : pw_shapes) {
        const std::string name = "pointwise_conv" + std::string(relu ? "_relu6" : "") + "/" + set_name + "/" +
                                 std::to_string(pixels) + "px/" + std::to_string(in) + "->" + std::to_string(out);
        const Activation act = relu ? Activation::relu6 : Activation::none;
        benchmark::RegisterBenchmark(name.c_str(), [=, pixels = pixels, in = in, out = out, &k](benchmark::State& s) { bench_pointwise(k, s, pixels, in, out, act); });
    }
    // The classifier (its 5 MB of weights are read from memory on every pass).
    for (int batch : {1, 8}) {
        const std::string name = "fully_connected/" + set_name + "/batch:" + std::to_string(batch) + "/" +
                                 std::to_string(t.last_channels) + "->" + std::to_string(t.config.num_classes);
        benchmark::RegisterBenchmark(name.c_str(), [=, &k, in = t.last_channels, out = t.config.num_classes](benchmark::State& s) {
            bench_fully_connected(k, s, batch, in, out);
        });
    }
}

}  // namespace

int main(int argc, char** argv) {
    for (const kernels::KernelTable* table : internal::kernel_tables()) register_layer_benchmarks(*table);
    register_block_benchmarks();
    const std::vector<std::string> sets = Model::available_kernels();
    for (double width : {0.35, 0.5, 0.75, 1.0, 1.4})
        for (int batch : {1, 8})
            for (int threads : {1, 2}) {
                const std::string suffix = "/width:" + std::to_string(width).substr(0, 4) +
                                           "/batch:" + std::to_string(batch) + "/threads:" + std::to_string(threads);
                // Every width on the best set; the other sets at width 1.0, batch 1, one thread.
                for (const std::string& set : sets) {
                    if (set != sets.front() && !(width == 1.0 && batch == 1 && threads == 1)) continue;
                    benchmark::RegisterBenchmark(("network/" + set + suffix).c_str(),
                                                 [=](benchmark::State& s) { bench_network(s, set, width, batch, threads); })
                        ->Unit(benchmark::kMillisecond)
                        ->UseRealTime();
                }
            }
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
