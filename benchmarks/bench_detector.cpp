// The SSDLite-MobileNeXt detector at 320x320 on the best kernel set this CPU runs, random
// weights: the backbone with and without the two feature-map taps (blocks 13 and 20 in two
// parts, their expansions written out, against fused like every other block), the raw outputs
// (backbone, extras, heads, scores and decoded boxes), and detection (raw outputs, then the
// suppression and the top detections). Per width, 1 and 2 threads, batch 1.
#include <benchmark/benchmark.h>

#include <mobilenext/detection/detector_network.hpp>
#include <mobilenext/mobilenext.hpp>
#include <string>

namespace {

using namespace mobilenext;

enum class DetectorStage { backbone_fused, backbone_with_taps, raw_outputs, detection };

const char* stage_name(DetectorStage s) {
    switch (s) {
        case DetectorStage::backbone_fused:
            return "backbone_fused";
        case DetectorStage::backbone_with_taps:
            return "backbone_with_taps";
        case DetectorStage::raw_outputs:
            return "raw_outputs";
        case DetectorStage::detection:
            return "detection";
    }
    return "?";
}

void bench_detector(benchmark::State& state, DetectorStage stage, double width, int threads) {
    const Detector detector = Detector::random(width, DetectorConfig::voc(), 11);
    Tensor input(1, 320, 320, 3);
    for (std::size_t i = 0; i < input.size(); ++i) input.data()[i] = float(i % 251) / 125.0f - 1.0f;
    DetectorOutputs outputs;
    Workspace ws(threads);
    const auto run = [&] {
        switch (stage) {
            case DetectorStage::backbone_fused:
            case DetectorStage::backbone_with_taps:
                detector.network().forward_backbone(input.data(), input.shape(),
                                                    stage == DetectorStage::backbone_with_taps, outputs, ws);
                break;
            case DetectorStage::raw_outputs:
                detector.forward(input, outputs, ws);
                break;
            case DetectorStage::detection:
                detector.detect(input, outputs, ws);
                break;
        }
    };
    run();  // warm-up: sizes the workspace and the outputs
    for (auto _ : state) {
        run();
        benchmark::DoNotOptimize(outputs.maps[1].data());
        benchmark::ClobberMemory();
    }
    if (stage == DetectorStage::detection) state.counters["detections"] = double(outputs.detections.front().size());
}

}  // namespace

int main(int argc, char** argv) {
    for (double width : {1.0, 0.5})
        for (int threads : {1, 2})
            for (DetectorStage stage : {DetectorStage::backbone_fused, DetectorStage::backbone_with_taps,
                                        DetectorStage::raw_outputs, DetectorStage::detection}) {
                const std::string name = std::string("detector/") + stage_name(stage) +
                                         "/width:" + std::to_string(width).substr(0, 4) +
                                         "/320x320/threads:" + std::to_string(threads);
                benchmark::RegisterBenchmark(name.c_str(),
                                             [=](benchmark::State& s) { bench_detector(s, stage, width, threads); })
                    ->Unit(benchmark::kMillisecond)
                    ->UseRealTime();
            }
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
