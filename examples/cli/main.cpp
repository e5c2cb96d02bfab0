// The `mobilenext` command: inspect a network (info), run a .npy batch (run), time forward
// passes (bench), classify image files (classify), show the network input of an image
// (preprocess).
//
// Exit codes: 0 success, 1 a library error (bad file, wrong shape, ...), 2 a usage error.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <new>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

#include <mobilenext/image/image_file.hpp>
#include <mobilenext/io/detector_file.hpp>
#include <mobilenext/io/npy.hpp>
#include <mobilenext/io/safetensors.hpp>
#include <mobilenext/mobilenext.hpp>

#include "arg_parser.hpp"
#include "command_detect.hpp"
#include "command_evaluate.hpp"
#include "command_quantize.hpp"
#include "imagenet_classes.hpp"

namespace {

namespace mnx = mobilenext;
using mobilenext::cli::ArgParser;
using mobilenext::cli::UsageError;

constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

// ---------------------------------------------------------------------------------------------
// The model: a converted file (MODEL.safetensors), or random weights for a given architecture.
// Every command builds it through make_model, so both sources behave the same everywhere.

std::string kernel_set_names();
std::string int8_kernel_set_names();

void add_model_options(ArgParser& p) {
    p.option("--width", "W", "without MODEL: width multiplier (default 1.0)")
        .option("--random-weights", "SEED", "without MODEL: random weights from this seed")
        .option("--identity-div", "D", "the shortcut keeps the first C/D channels (default: the file's, else 1)")
        .option("--classes", "N", "without MODEL: classifier outputs (default 1000)")
        .option("--in-channels", "C", "without MODEL: input image channels (default 3)")
        .option("--layout", "L", "without MODEL: official | mobilenext.pytorch (default official)")
        .option("--kernels", "NAME",
                "kernel set: " + kernel_set_names() + "; for int8 models " + int8_kernel_set_names() +
                    " (default: the first, the best this CPU runs)")
        .flag("--no-verify", "do not run the test vector stored in MODEL at load");
}

std::string kernel_set_names() {
    std::string names;
    for (const std::string& name : mnx::Model::available_kernels()) names += (names.empty() ? "" : ", ") + name;
    return names;
}

std::string int8_kernel_set_names() {
    std::string names;
    for (const std::string& name : mnx::Model::available_int8_kernels()) names += (names.empty() ? "" : ", ") + name;
    return names;
}

mnx::LoadOptions load_options(const ArgParser& p) {
    mnx::LoadOptions options;
    options.verify_test_vector = !p.has("--no-verify");
    if (p.has("--identity-div")) options.identity_div = int(p.get_int("--identity-div", 1, 1, 4096));
    if (const auto kernels = p.get("--kernels")) options.kernels = *kernels;
    return options;
}

// `model_path` empty: random weights (required unless `allow_default_weights`, for commands
// such as info whose output does not depend on the weights).
mnx::Model make_model(const ArgParser& p, const std::string& model_path, bool allow_default_weights = false) {
    if (!model_path.empty()) {
        for (const char* name : {"--width", "--random-weights", "--classes", "--in-channels", "--layout"})
            if (p.has(name)) p.fail(std::string(name) + " describes random weights; MODEL already has its architecture");
        mnx::Model model = mnx::Model::load(model_path, load_options(p));
        if (!model.info().identity_div_stated)
            std::fprintf(stderr,
                         "warning: %s does not state the identity divisor; 1 is assumed, which the weights cannot "
                         "confirm (convert it with tools/convert.py, or give --identity-div D)\n",
                         model_path.c_str());
        return model;
    }
    if (!allow_default_weights && !p.has("--random-weights"))
        p.fail("no weights: give MODEL.safetensors, or --width W --random-weights SEED");
    mnx::NetworkConfig c;
    c.width = p.get_double("--width", 1.0);
    c.identity_div = int(p.get_int("--identity-div", 1, 1, 4096));
    c.num_classes = int(p.get_int("--classes", 1000, 1, 1 << 20));
    c.in_channels = int(p.get_int("--in-channels", 3, 1, 64));
    if (const auto layout = p.get("--layout")) {
        if (*layout == mnx::layout_name(mnx::Layout::official))
            c.layout = mnx::Layout::official;
        else if (*layout == mnx::layout_name(mnx::Layout::mobilenext_pytorch))
            c.layout = mnx::Layout::mobilenext_pytorch;
        else
            p.fail("invalid value '" + *layout + "' for --layout: expected official or mobilenext.pytorch");
    }
    const std::uint64_t seed = p.has("--random-weights") ? p.get_u64("--random-weights") : 0;
    mnx::LoadOptions options = load_options(p);
    options.identity_div.reset();  // already in the config
    return mnx::Model::random(c, seed, options);
}

// The MODEL argument: the first positional argument, if any.
std::string model_argument(const ArgParser& p) {
    return p.positional_args().empty() ? std::string() : p.positional_args().front();
}

// ---------------------------------------------------------------------------------------------
// Formatting helpers.

std::string format(const char* fmt, double v) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, fmt, v);
    return buffer;
}

// Resident set size of this process (Linux), 0 where unknown.
std::size_t resident_bytes() {
    std::FILE* f = std::fopen("/proc/self/statm", "r");
    if (f == nullptr) return 0;
    unsigned long pages_total = 0, pages_resident = 0;
    const int read = std::fscanf(f, "%lu %lu", &pages_total, &pages_resident);
    std::fclose(f);
    const long page = sysconf(_SC_PAGESIZE);
    return read == 2 && page > 0 ? std::size_t(pages_resident) * std::size_t(page) : 0;
}

std::string size_text(int h, int w) { return std::to_string(h) + "x" + std::to_string(w); }

std::string describe(const mnx::NetworkConfig& c) {
    // Keeps one decimal for whole widths ("1.0"), as the option is usually written.
    const std::string width = format(c.width == std::floor(c.width) ? "%.1f" : "%g", c.width);
    return "MobileNeXt width " + width + ", identity divisor " + std::to_string(c.identity_div) + ", " +
           std::to_string(c.num_classes) + " classes, " + std::to_string(c.in_channels) + " input channels, layout " +
           mnx::layout_name(c.layout);
}

// ---------------------------------------------------------------------------------------------
// info

int command_info(const std::vector<std::string>& args) {
    ArgParser p("info", "[MODEL.safetensors] [options]",
                "Prints the kernel set, the topology of the network (one row per layer group), its parameters,\n"
                "multiply-adds and working memory. Without MODEL, the architecture comes from the options.");
    p.positionals(1, "MODEL", "a converted model (tools/convert.py)");
    add_model_options(p);
    p.option("--size", "HxW", "input size for output sizes and costs (default 224x224)");
    if (!p.parse(args)) return 0;
    const auto [height, width] = p.get_size("--size", {224, 224});
    if (const std::string path = model_argument(p); !path.empty()) {
        const mnx::SafetensorsContents contents = mnx::read_safetensors(path);
        if (mnx::internal::is_detector_file(contents)) {
            print_detector_info(mnx::Detector::from_safetensors(contents, path, load_options(p)));
            return 0;
        }
    }
    // The table needs no particular weights: without a file, any weights do.
    const mnx::Model model = make_model(p, model_argument(p), true);
    const mnx::Model& net = model;
    const mnx::Topology& t = net.topology();

    std::printf("kernels: %s\n", model.kernels_name().c_str());
    std::printf("model:   %s\n", describe(t.config).c_str());
    const mnx::ModelInfo& info = model.info();
    std::printf("weights: %s%s\n", info.path.c_str(),
                info.test_vector_status == mnx::TestVectorStatus::checked ? " (stored test vector checked at load)" : "");
    std::printf("checks:  test vector %s; data checksum %s; identity divisor %s\n",
                mnx::test_vector_status_name(info.test_vector_status), info.checksum_verified ? "verified" : "none",
                info.identity_div_stated ? "stated" : "not stated (1 assumed: give --identity-div D)");
    if (info.quantization)
        std::printf("int8:    %s (%s), calibrated with the %s observer on %lld images\n",
                    info.quantization->scheme.c_str(), info.quantization->description.c_str(),
                    info.quantization->observer.c_str(), static_cast<long long>(info.quantization->calibration_images));
    std::printf("input:   %s\n\n", size_text(height, width).c_str());

    const char* row = "%-12s %-16s %6s %7s %6s %7s %9s %10s\n";
    const auto num = [](int v) { return std::to_string(v); };
    std::printf(row, "layer", "form", "in", "hidden", "out", "stride", "shortcut", "output");
    mnx::walk_layer_sizes(
        t, height, width,
        [&](int h, int w) {
            std::printf(row, "features.0", "conv3x3", num(t.config.in_channels).c_str(), "-",
                        num(t.stem_channels).c_str(), "2", "-", size_text(h, w).c_str());
        },
        [&](const mnx::BlockSpec& b, const mnx::BlockSizes& s) {
            std::printf(row, ("features." + num(b.index)).c_str(), mnx::block_form_name(b.form),
                        num(b.in_channels).c_str(), num(b.hidden).c_str(), num(b.out_channels).c_str(),
                        num(b.stride).c_str(), b.shortcut_channels > 0 ? num(b.shortcut_channels).c_str() : "-",
                        size_text(s.out_height, s.out_width).c_str());
        });
    std::printf(row, "classifier", "avgpool+linear", num(t.last_channels).c_str(), "-", num(t.config.num_classes).c_str(),
                "-", "-", "1x1");

    const std::int64_t params = mnx::count_parameters(t);
    const std::int64_t madds = mnx::count_multiply_adds(t, height, width);
    const std::size_t memory = net.working_memory_bytes(1, height, width);
    std::printf("\nparameters      %14lld  (%.2f M)\n", static_cast<long long>(params), double(params) / 1e6);
    std::printf("multiply-adds   %14lld  (%.1f M per image at %s)\n", static_cast<long long>(madds),
                double(madds) / 1e6, size_text(height, width).c_str());
    std::printf("working memory  %14zu  bytes (%.2f MiB, batch 1)\n", memory, double(memory) / (1024.0 * 1024.0));
    return 0;
}

// ---------------------------------------------------------------------------------------------
// run

int command_run(const std::vector<std::string>& args) {
    ArgParser p("run", "MODEL.safetensors --input X.npy --output Y.npy [options]",
                "Classifies a batch: reads float32 images as a rank-4 NCHW .npy array and writes the\n"
                "logits as a float32 .npy array of shape [N, classes]. Without MODEL, give\n"
                "--width W --random-weights SEED.");
    p.positionals(1, "MODEL", "a converted model (tools/convert.py)");
    add_model_options(p);
    p.option("--input", "X.npy", "input images, NCHW (required)")
        .option("--output", "Y.npy", "logits (required)")
        .option("--threads", "N", "threads per forward pass (default 1)");
    if (!p.parse(args)) return 0;
    const mnx::Model model = make_model(p, model_argument(p));
    const mnx::Model& net = model;
    const mnx::NetworkConfig& config = net.config();
    if (!p.has("--input")) p.fail("missing required option --input X.npy");
    if (!p.has("--output")) p.fail("missing required option --output Y.npy");
    const std::string input_path = *p.get("--input"), output_path = *p.get("--output");

    const mnx::NpyArray x = mnx::read_npy(input_path);
    const mnx::Shape4 input_shape = mnx::nhwc_shape_of_nchw(x.shape, input_path);
    mnx::internal::check(input_shape.c == config.in_channels,
                         input_path + ": expected " + std::to_string(config.in_channels) +
                             " channels (dimension 1 of NCHW), found " + std::to_string(input_shape.c) + " in shape " +
                             mnx::shape_string(x.shape));

    const mnx::Tensor input = mnx::Tensor::from_nchw(x.values.data(), input_shape.n, input_shape.c, input_shape.h, input_shape.w);
    const auto start = std::chrono::steady_clock::now();
    mnx::Workspace workspace(int(p.get_int("--threads", 1, 1, 1024)));
    mnx::Tensor logits;
    net.forward(input, logits, workspace);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();

    // Logits are [N][1][1][classes]: already the [N, classes] C-order array.
    const std::vector<std::int64_t> shape{logits.batch(), logits.channels()};
    mnx::write_npy(output_path, logits.data(), shape);
    std::printf("%s: logits %s from input %s in %.2f ms (%s)\n", output_path.c_str(), mnx::shape_string(shape).c_str(),
                mnx::shape_string(x.shape).c_str(), ms, model.kernels_name().c_str());
    return 0;
}

// ---------------------------------------------------------------------------------------------
// bench

int command_bench(const std::vector<std::string>& args) {
    ArgParser p("bench", "MODEL.safetensors [options]",
                "Times forward passes on random images with one reused workspace.\n"
                "Without MODEL, give --width W --random-weights SEED.");
    p.positionals(1, "MODEL", "a converted model (tools/convert.py)");
    add_model_options(p);
    p.option("--batch", "B", "images per forward pass (default 1)")
        .option("--size", "HxW", "image size (default 224x224)")
        .option("--runs", "N", "timed forward passes (default 50)")
        .option("--warmup", "K", "untimed forward passes first (default 5)")
        .option("--threads", "N", "threads per forward pass (default 1)");
    if (!p.parse(args)) return 0;
    const int batch = int(p.get_int("--batch", 1, 1, 65536));
    const auto [height, width] = p.get_size("--size", {224, 224});
    const int runs = int(p.get_int("--runs", 50, 1, 1000000));
    const int warmup = int(p.get_int("--warmup", 5, 0, 1000000));
    const int threads = int(p.get_int("--threads", 1, 1, 1024));

    // "File to first result" and the memory a model adds: measured around loading it.
    const std::size_t rss_before = resident_bytes();
    const auto load_start = std::chrono::steady_clock::now();
    const mnx::Model model = make_model(p, model_argument(p));
    const mnx::Model& net = model;
    mnx::Tensor input(batch, height, width, net.config().in_channels);
    std::mt19937 engine(12345);
    std::uniform_real_distribution<float> pixel(0.0f, 1.0f);
    for (std::size_t i = 0; i < input.size(); ++i) input.data()[i] = pixel(engine);

    mnx::Workspace workspace(threads);
    mnx::Tensor logits;
    net.forward(input, logits, workspace);
    const double first_result_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - load_start).count();
    for (int i = 0; i < warmup; ++i) net.forward(input, logits, workspace);
    std::vector<double> seconds;
    seconds.reserve(std::size_t(runs));
    for (int i = 0; i < runs; ++i) {
        const auto start = std::chrono::steady_clock::now();
        net.forward(input, logits, workspace);
        seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    // Keeps the result observable, so no pass can be optimised away.
    volatile float sink = logits.data()[0];
    (void)sink;

    std::sort(seconds.begin(), seconds.end());
    const double median = runs % 2 ? seconds[runs / 2] : 0.5 * (seconds[runs / 2 - 1] + seconds[runs / 2]);
    const double fastest = seconds.front();
    const std::int64_t madds = net.multiply_adds(height, width);
    std::printf("kernels:     %s\n", model.kernels_name().c_str());
    std::printf("model:       %s\n", describe(net.config()).c_str());
    std::printf("input:       batch %d, %s, %d channels\n", batch, size_text(height, width).c_str(),
                net.config().in_channels);
    std::printf("runs:        %d timed after %d warm-up, %d thread%s\n", runs, warmup, threads, threads > 1 ? "s" : "");
    std::printf("latency:     median %.3f ms, min %.3f ms\n", median * 1e3, fastest * 1e3);
    std::printf("throughput:  %.1f images/s (median)\n", batch / median);
    std::printf("compute:     %.2f GFLOP/s (median; 2 x %.1f M multiply-adds per image)\n",
                2.0 * double(madds) * batch / median / 1e9, double(madds) / 1e6);
    std::printf("workspace:   %.2f MiB\n", double(workspace.bytes()) / (1024.0 * 1024.0));
    std::printf("first result: %.1f ms from the start of loading (load, fold, pack, first forward)\n",
                first_result_ms);
    std::printf("memory:      %.1f MiB resident added by the model and its workspace, after the runs\n",
                (double(resident_bytes()) - double(rss_before)) / (1024.0 * 1024.0));
    return 0;
}

// ---------------------------------------------------------------------------------------------
// classify

// Class names: --labels FILE (one per line), else the file's, else ImageNet's for 1000 classes.
std::vector<std::string> class_names(const ArgParser& p, const mnx::Model& model) {
    const int classes = model.config().num_classes;
    std::vector<std::string> names;
    if (const auto path = p.get("--labels")) {
        std::FILE* f = std::fopen(path->c_str(), "r");
        if (f == nullptr) throw mnx::Error(*path + ": cannot open the labels file");
        char line[4096];
        while (std::fgets(line, sizeof line, f) != nullptr) {
            std::string name(line);
            while (!name.empty() && (name.back() == '\n' || name.back() == '\r')) name.pop_back();
            names.push_back(name);
        }
        std::fclose(f);
        mnx::internal::check(names.size() == std::size_t(classes), *path + ": expected " + std::to_string(classes) +
                                                                       " labels (one per line), found " +
                                                                       std::to_string(names.size()));
    } else if (!model.info().labels.empty()) {
        names = model.info().labels;
    } else if (classes == 1000) {
        names.assign(std::begin(kImageNetClasses), std::end(kImageNetClasses));
    } else {
        for (int i = 0; i < classes; ++i) names.push_back("class " + std::to_string(i));
    }
    return names;
}

int command_classify(const std::vector<std::string>& args) {
    ArgParser p("classify", "MODEL.safetensors IMAGE... [--top K] [--labels FILE]",
                "Classifies image files (JPEG, PNG or BMP): resize, centre crop and normalise as the\n"
                "file's metadata says (default: shorter side 256 bicubic, crop 224, ImageNet mean/std),\n"
                "then prints the top classes with their softmax probabilities.");
    p.positionals(1 << 20, "MODEL IMAGE...", "a converted model, then one or more images");
    add_model_options(p);
    p.option("--top", "K", "classes to print per image (default 5)")
        .option("--labels", "FILE", "class names, one per line (default: the model's, or ImageNet's)")
        .option("--threads", "N", "threads per forward pass (default 1)");
    if (!p.parse(args)) return 0;
    if (p.positional_args().size() < 2) p.fail("expected MODEL.safetensors and at least one image");
    const mnx::Model model = make_model(p, model_argument(p));
    const mnx::Model& net = model;
    const int classes = net.config().num_classes;
    const int top = int(std::min<long long>(p.get_int("--top", 5, 1, 1 << 20), classes));
    const std::vector<std::string> names = class_names(p, model);

    mnx::Workspace workspace(int(p.get_int("--threads", 1, 1, 1024)));
    for (std::size_t i = 1; i < p.positional_args().size(); ++i) {
        const std::string& path = p.positional_args()[i];
        const mnx::Image image = mnx::read_image(path, net.config().in_channels);
        std::printf("%s (%dx%d)\n", path.c_str(), image.width, image.height);
        int rank = 0;
        for (const mnx::Classification& c : net.classify(image, top, workspace))
            std::printf("  %2d. %6.2f%%  %4d  %s\n", ++rank, 100.0 * c.probability, c.index,
                        names[std::size_t(c.index)].c_str());
    }
    return 0;
}

// ---------------------------------------------------------------------------------------------
// preprocess

int command_preprocess(const std::vector<std::string>& args) {
    ArgParser p("preprocess", "[MODEL.safetensors] IMAGE --output X.npy [options]",
                "Writes the network input made from an image (after resize, crop and normalisation) as a\n"
                "[1, C, crop, crop] float32 .npy array: what classify feeds the network.");
    p.positionals(2, "[MODEL] IMAGE", "optionally a converted model (its preprocessing), then the image");
    p.option("--output", "X.npy", "where to write the tensor (required)")
        .option("--channels", "C", "without MODEL: 1 or 3 (default 3)")
        .flag("--no-verify", "do not run the test vector stored in MODEL at load");
    if (!p.parse(args)) return 0;
    if (p.positional_args().empty()) p.fail("expected an image");
    if (!p.has("--output")) p.fail("missing required option --output X.npy");
    mnx::Preprocessing prep;
    int channels = int(p.get_int("--channels", 3, 1, 3));
    if (p.positional_args().size() == 2) {
        mnx::LoadOptions options;
        options.verify_test_vector = !p.has("--no-verify");
        const mnx::Model model = mnx::Model::load(p.positional_args()[0], options);
        prep = model.info().preprocessing;
        channels = model.config().in_channels;
    } else if (channels == 1) {
        prep.mean.resize(1);
        prep.std.resize(1);
    }
    const mnx::Image image = mnx::read_image(p.positional_args().back(), channels);
    const mnx::Tensor input = mnx::preprocess({image}, prep, channels);
    const std::vector<float> nchw = input.to_nchw();
    mnx::write_npy(*p.get("--output"), nchw.data(), {1, channels, prep.crop, prep.crop});
    return 0;
}

// ---------------------------------------------------------------------------------------------

const char* kMainUsage =
    "usage: mobilenext <command> [options]\n"
    "\n"
    "MobileNeXt image classifier and SSDLite-MobileNeXt detector inference on the CPU.\n"
    "\n"
    "commands:\n"
    "  info        print the kernel set, the topology and the cost of a network\n"
    "  run         compute the logits of a batch of NCHW images stored in a .npy file\n"
    "  bench       time forward passes\n"
    "  classify    classify image files (JPEG, PNG, ...) and print the top classes\n"
    "  preprocess  write the network input made from an image, as .npy\n"
    "  evaluate    accuracy over the Fashion-MNIST test set (IDX files)\n"
    "  quantize    write an int8 model file from a float one, calibrated on images\n"
    "  detect      find objects in images with a detector file (SSDLite-MobileNeXt)\n"
    "\n"
    "Run 'mobilenext <command> --help' for the options of a command.\n";

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fputs(kMainUsage, stderr);
        return kExitUsage;
    }
    const std::string command = argv[1];
    if (command == "-h" || command == "--help" || command == "help") {
        std::fputs(kMainUsage, stdout);
        return 0;
    }
    const std::vector<std::string> args(argv + 2, argv + argc);
    int (*run)(const std::vector<std::string>&) = nullptr;
    if (command == "info")
        run = command_info;
    else if (command == "run")
        run = command_run;
    else if (command == "bench")
        run = command_bench;
    else if (command == "classify")
        run = command_classify;
    else if (command == "preprocess")
        run = command_preprocess;
    else if (command == "evaluate")
        run = command_evaluate;
    else if (command == "quantize")
        run = command_quantize;
    else if (command == "detect")
        run = command_detect;
    if (run == nullptr) {
        std::fprintf(stderr, "mobilenext: unknown command '%s'\n\n%s", command.c_str(), kMainUsage);
        return kExitUsage;
    }
    try {
        return run(args);
    } catch (const UsageError& e) {
        std::fprintf(stderr, "%smobilenext %s: %s\nRun 'mobilenext %s --help' for the options.\n", e.usage.c_str(),
                     command.c_str(), e.what(), command.c_str());
        return kExitUsage;
    } catch (const mnx::Error& e) {
        std::fprintf(stderr, "mobilenext: error: %s\n", e.what());
        return kExitError;
    } catch (const std::bad_alloc&) {
        std::fputs("mobilenext: error: out of memory\n", stderr);
        return kExitError;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "mobilenext: error: %s\n", e.what());
        return kExitError;
    }
}
