// `mobilenext detect`: objects in images (or in a preprocessed .npy batch) with a detector
// file, as JSON, as raw scores and boxes, and drawn onto the images.
#include "command_detect.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <mobilenext/image/image_file.hpp>
#include <mobilenext/io/npy.hpp>
#include <mobilenext/io/safetensors.hpp>
#include <mobilenext/mobilenext.hpp>

#include "arg_parser.hpp"
#include "draw_detections.hpp"

namespace mnx = mobilenext;
using mobilenext::cli::ArgParser;

namespace {

nlohmann::json detections_json(const std::vector<mnx::Detection>& found) {
    nlohmann::json list = nlohmann::json::array();
    for (const mnx::Detection& d : found)
        list.push_back({{"box", {d.box[0], d.box[1], d.box[2], d.box[3]}},
                        {"label", d.label},
                        {"name", std::string(d.name)},
                        {"score", d.score}});
    return list;
}

void print_detections(const std::string& what, const std::vector<mnx::Detection>& found) {
    std::printf("%s: %zu detections\n", what.c_str(), found.size());
    for (const mnx::Detection& d : found)
        std::printf("  %-16s %.3f  [%.1f, %.1f, %.1f, %.1f]\n",
                    d.name.empty() ? std::to_string(d.label).c_str() : std::string(d.name).c_str(), double(d.score),
                    double(d.box[0]), double(d.box[1]), double(d.box[2]), double(d.box[3]));
}

// Rows of `outputs` (all images of one pass) appended to the arrays written by --scores/--boxes.
struct RawOutputs {
    std::vector<float> scores, boxes;
    int images = 0, priors = -1, classes = 0;

    void append(const mnx::DetectorOutputs& out, const std::string& what) {
        if (priors >= 0 && out.priors() != priors)
            throw mnx::Error(what + ": " + std::to_string(out.priors()) + " priors, the images before had " +
                             std::to_string(priors) + " (--scores and --boxes need inputs of one size)");
        priors = out.priors();
        classes = out.classes();
        images += out.batch();
        scores.insert(scores.end(), out.scores.data(), out.scores.data() + out.scores.size());
        boxes.insert(boxes.end(), out.boxes.data(), out.boxes.data() + out.boxes.size());
    }
};

double median_of(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// Fastest and median of `runs` warm passes of forward() (the raw outputs) and of detect()
// alternating, so that both see the same machine; the post-processing's share from the medians.
void time_passes(const mnx::Detector& detector, const mnx::Tensor& input, mnx::DetectorOutputs& outputs,
                 mnx::Workspace& workspace, const mnx::DetectionOptions& options, int runs) {
    std::vector<double> raw, full;
    const auto ms_of = [](auto&& f) {
        const auto start = std::chrono::steady_clock::now();
        f();
        return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    };
    for (int i = 0; i < runs; ++i) {
        raw.push_back(ms_of([&] { detector.forward(input, outputs, workspace); }));
        full.push_back(ms_of([&] { detector.detect(input, outputs, workspace, options); }));
    }
    const double raw_median = median_of(raw), full_median = median_of(full);
    std::printf("timing (%d passes, batch %d, %s, %d thread(s)):\n", runs, input.batch(), detector.kernels_name().c_str(),
                workspace.threads());
    std::printf("  raw outputs  fastest %.3f ms  median %.3f ms\n", *std::min_element(raw.begin(), raw.end()), raw_median);
    std::printf("  detection    fastest %.3f ms  median %.3f ms  (suppression and the top detections: %.1f%%)\n",
                *std::min_element(full.begin(), full.end()), full_median, 100.0 * (full_median - raw_median) / full_median);
}

}  // namespace

void print_detector_info(const mnx::Detector& detector) {
    const mnx::DetectorInfo& info = detector.info();
    const mnx::DetectorConfig& c = info.config;
    std::printf("kernels:  %s\n", detector.kernels_name().c_str());
    std::printf("model:    SSDLite-MobileNeXt detector, backbone width %g, %d classes (%s), %zu labels\n", info.width,
                c.num_classes, mnx::score_function_name(c.score), info.labels.size());
    std::printf("weights:  %s\n", info.path.c_str());
    std::printf("checks:   test vector %s; data checksum %s\n", mnx::test_vector_status_name(info.test_vector_status),
                info.checksum_verified ? "verified" : "none");
    const mnx::DetectionPreprocessing& p = info.preprocessing;
    std::printf("input:    RGB resized to %dx%d (bilinear as OpenCV), (pixel - [%g, %g, %g]) / [%g, %g, %g]\n", p.height,
                p.width, p.mean[0], p.mean[1], p.mean[2], p.std[0], p.std[1], p.std[2]);
    std::printf("post:     score > %g, NMS IoU %g per class, at most %d detections\n\n", double(c.threshold),
                double(c.nms_iou), c.max_detections);
    const auto maps = detector.map_sizes(p.height, p.width);
    std::printf("%-5s %-28s %8s %8s %6s %10s\n", "map", "taken at", "channels", "size", "boxes", "priors");
    const char* where[mnx::kDetectorMaps] = {"block 13 expansion (ReLU6)", "block 20 expansion (ReLU6)", "extra 0",
                                             "extra 1", "extra 2", "extra 3"};
    for (int k = 0; k < mnx::kDetectorMaps; ++k) {
        const mnx::MapSize m = maps[std::size_t(k)];
        const int boxes = c.boxes_per_location(k);
        std::printf("%-5d %-28s %8d %8s %6d %10d\n", k, where[k], detector.topology().map_channels[std::size_t(k)],
                    (std::to_string(m.height) + "x" + std::to_string(m.width)).c_str(), boxes, m.height * m.width * boxes);
    }
    const std::int64_t params = detector.parameter_count();
    const std::size_t memory = detector.working_memory_bytes(1, p.height, p.width);
    std::printf("\npriors          %14zu\n", detector.priors(p.height, p.width));
    std::printf("parameters      %14lld  (%.2f M)\n", static_cast<long long>(params), double(params) / 1e6);
    std::printf("working memory  %14zu  bytes (%.2f MiB, batch 1)\n", memory, double(memory) / (1024.0 * 1024.0));
}

int command_detect(const std::vector<std::string>& args) {
    ArgParser p("detect", "MODEL.safetensors (IMAGE... | --input X.npy) [options]",
                "Detects objects with a detector file (tools/convert.py converts the authors' SSDLite-MobileNeXt\n"
                "checkpoints). Images are resized and normalised as the file says; --input takes a batch already\n"
                "preprocessed (NCHW float32, any size). Prints the detections; boxes are in pixels of the image\n"
                "(of the input for --input).");
    p.positionals(1 << 20, "MODEL IMAGE...", "the detector file, then image files (JPEG, PNG, BMP)");
    p.option("--input", "X.npy", "a preprocessed NCHW float32 batch instead of images")
        .option("--json", "FILE", "detections as JSON: one list per image of {box, label, name, score}")
        .option("--draw", "OUT.png", "the image with its boxes (one image; OUT-<i>.png for several)")
        .option("--scores", "S.npy", "scores [N, priors, classes] after softmax/sigmoid")
        .option("--boxes", "B.npy", "decoded boxes [N, priors, 4], corners relative to the input, not clipped")
        .option("--threshold", "T", "score threshold (default: the file's)")
        .option("--nms-iou", "IOU", "suppression overlap (default: the file's)")
        .option("--max-detections", "N", "detections kept per image (default: the file's)")
        .option("--threads", "N", "threads per pass (default 1)")
        .option("--repeat", "N", "with --input: also time N passes of the raw outputs and N of detection")
        .option("--kernels", "NAME", "kernel set (default: the best this CPU runs)")
        .flag("--no-verify", "do not run the test vector stored in MODEL at load");
    if (!p.parse(args)) return 0;
    if (p.positional_args().empty()) p.fail("missing MODEL.safetensors");
    const std::string model_path = p.positional_args().front();
    const std::vector<std::string> images(p.positional_args().begin() + 1, p.positional_args().end());
    if (images.empty() == !p.has("--input")) p.fail("give either image files or --input X.npy");
    if (p.has("--draw") && images.empty()) p.fail("--draw needs image files");

    mnx::LoadOptions load;
    load.verify_test_vector = !p.has("--no-verify");
    if (const auto kernels = p.get("--kernels")) load.kernels = *kernels;
    const mnx::Detector detector = mnx::Detector::load(model_path, load);
    mnx::DetectionOptions options;
    if (p.has("--threshold")) options.threshold = float(p.get_double("--threshold", 0));
    if (p.has("--nms-iou")) options.nms_iou = float(p.get_double("--nms-iou", 0));
    if (p.has("--max-detections")) options.max_detections = int(p.get_int("--max-detections", 100, 1, 100000));
    mnx::Workspace workspace(int(p.get_int("--threads", 1, 1, 1024)));
    mnx::DetectorOutputs outputs;
    RawOutputs raw;
    nlohmann::json all = nlohmann::json::array();
    double ms = 0;
    const auto timed = [&ms](auto&& f) {
        const auto start = std::chrono::steady_clock::now();
        f();
        ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    };

    if (p.has("--input")) {
        const std::string input_path = *p.get("--input");
        const mnx::NpyArray x = mnx::read_npy(input_path);
        const mnx::Shape4 s = mnx::nhwc_shape_of_nchw(x.shape, input_path);
        if (s.c != 3) throw mnx::Error(input_path + ": expected 3 channels (NCHW), found shape " + mnx::shape_string(x.shape));
        const mnx::Tensor input = mnx::Tensor::from_nchw(x.values.data(), s.n, s.c, s.h, s.w);
        timed([&] { detector.detect(input, outputs, workspace, options); });
        raw.append(outputs, input_path);
        for (int n = 0; n < s.n; ++n) {
            print_detections(input_path + "[" + std::to_string(n) + "]", outputs.detections[std::size_t(n)]);
            all.push_back(detections_json(outputs.detections[std::size_t(n)]));
        }
        if (p.has("--repeat")) time_passes(detector, input, outputs, workspace, options, int(p.get_int("--repeat", 1, 1, 100000)));
    }
    for (std::size_t i = 0; i < images.size(); ++i) {
        mnx::Image image = mnx::read_image(images[i], 3);
        timed([&] { detector.detect(image, outputs, workspace, options); });
        raw.append(outputs, images[i]);
        print_detections(images[i], outputs.detections[0]);
        all.push_back(detections_json(outputs.detections[0]));
        if (const auto draw = p.get("--draw")) {
            std::string out = *draw;
            if (images.size() > 1) {
                const std::size_t dot = out.rfind('.');
                out = out.substr(0, dot) + "-" + std::to_string(i) + (dot == std::string::npos ? "" : out.substr(dot));
            }
            mnx::cli::draw_detections(image, outputs.detections[0]);
            mnx::write_png(out, image);
            std::printf("  drawn: %s\n", out.c_str());
        }
    }
    if (const auto path = p.get("--json")) {
        std::ofstream f(*path);
        f << all.dump() << "\n";
        if (!f) throw mnx::Error(*path + ": cannot write");
    }
    const std::vector<std::int64_t> scores_shape{raw.images, raw.priors, raw.classes}, boxes_shape{raw.images, raw.priors, 4};
    if (const auto path = p.get("--scores")) mnx::write_npy(*path, raw.scores.data(), scores_shape);
    if (const auto path = p.get("--boxes")) mnx::write_npy(*path, raw.boxes.data(), boxes_shape);
    std::printf("%d image(s) in %.2f ms (%s, %d thread(s))\n", raw.images, ms, detector.kernels_name().c_str(),
                workspace.threads());
    return 0;
}
