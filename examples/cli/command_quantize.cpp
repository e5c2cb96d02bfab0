// `mobilenext quantize FLOAT_MODEL -o INT8_MODEL --calibration SRC`: post-training
// quantization in C++ (quantization/quantize_network.hpp) of a converted float file into an
// int8 file (io/int8_model_format.hpp) that Model::load reads like any other. SRC is a folder
// of images, decoded and preprocessed as `classify` does with the file's preprocessing, or an
// .npy NCHW float32 batch already preprocessed.
#include "command_quantize.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include <mobilenext/image/image_file.hpp>
#include <mobilenext/io/int8_model_writer.hpp>
#include <mobilenext/io/npy.hpp>
#include <mobilenext/io/safetensors.hpp>
#include <mobilenext/mobilenext.hpp>
#include <mobilenext/model/folded_weights.hpp>
#include <mobilenext/quantization/quantize_network.hpp>

#include "arg_parser.hpp"

namespace {

namespace mnx = mobilenext;

mnx::ObserverKind observer_kind(const mobilenext::cli::ArgParser& p) {
    const std::string name = p.get("--method").value_or("minmax");
    for (mnx::ObserverKind kind : {mnx::ObserverKind::minmax, mnx::ObserverKind::percentile, mnx::ObserverKind::mse})
        if (name == mnx::observer_kind_name(kind)) return kind;
    p.fail("invalid value '" + name + "' for --method: expected minmax, percentile or mse");
}

// The regular files of `dir`, sorted by name: the same images in the same order on every system.
std::vector<std::string> image_files(const std::string& dir) {
    std::vector<std::string> files;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec))
        if (entry.is_regular_file()) files.push_back(entry.path().string());
    if (ec) throw mnx::Error(dir + ": cannot list the folder (" + ec.message() + ")");
    std::sort(files.begin(), files.end());
    return files;
}

// The first `limit` images of `dir` (all when 0), each decoded and preprocessed as `classify`
// does: the preprocessing crops every image to one size.
mnx::Tensor calibration_from_images(const std::string& dir, std::size_t limit, const mnx::Model& model) {
    std::vector<std::string> files = image_files(dir);
    if (limit != 0 && files.size() > limit) files.resize(limit);
    if (files.empty()) throw mnx::Error(dir + ": no image files to calibrate on");
    const int channels = model.config().in_channels;
    std::vector<mnx::Image> images;
    for (const std::string& f : files) images.push_back(mnx::read_image(f, channels));
    return mnx::preprocess(images, model.info().preprocessing, channels);
}

// The first `limit` images (all when 0) of an NCHW float32 batch, already preprocessed.
mnx::Tensor calibration_from_npy(const std::string& path, std::size_t limit) {
    const mnx::NpyArray x = mnx::read_npy(path);
    mnx::Shape4 s = mnx::nhwc_shape_of_nchw(x.shape, path);
    if (limit != 0) s.n = int(std::min<std::size_t>(std::size_t(s.n), limit));
    return mnx::Tensor::from_nchw(x.values.data(), s.n, s.c, s.h, s.w);
}

bool is_npy(const std::string& path) { return path.size() >= 4 && path.compare(path.size() - 4, 4, ".npy") == 0; }

}  // namespace

int command_quantize(const std::vector<std::string>& args) {
    mobilenext::cli::ArgParser p(
        "quantize", "FLOAT_MODEL.safetensors -o INT8_MODEL.safetensors --calibration SRC [options]",
        "Quantizes a converted float model to int8 (uint8 activations per tensor, int8 weights per\n"
        "channel in [-64, 64], int32 biases), calibrating the activation ranges on SRC: a folder of\n"
        "images (decoded and preprocessed as the model file says, as `classify` does) or an .npy\n"
        "NCHW float32 batch already preprocessed. The result loads like any model file.");
    p.positionals(1, "FLOAT_MODEL", "a converted float model (tools/convert.py)");
    p.option("-o", "INT8_MODEL", "the int8 model file to write (required)")
        .option("--calibration", "SRC", "folder of images, or NCHW float32 .npy (required)")
        .option("--method", "M", "how ranges are chosen: minmax, percentile or mse (default minmax)")
        .option("--samples", "N", "calibrate on the first N images of SRC (default: all)");
    if (!p.parse(args)) return 0;
    if (p.positional_args().empty()) p.fail("expected FLOAT_MODEL.safetensors");
    if (!p.has("-o")) p.fail("missing required option -o INT8_MODEL.safetensors");
    if (!p.has("--calibration")) p.fail("missing required option --calibration SRC");
    const std::string float_path = p.positional_args().front(), int8_path = *p.get("-o");
    const std::string source = *p.get("--calibration");
    mnx::QuantizationOptions options;
    options.observer.kind = observer_kind(p);
    const std::size_t samples = p.has("--samples") ? std::size_t(p.get_int("--samples", 0, 1, 1 << 24)) : 0;

    const mnx::SafetensorsContents contents = mnx::read_safetensors(float_path);
    const mnx::Model model = mnx::Model::from_safetensors(contents, float_path);
    if (model.info().quantization)
        throw mnx::Error(float_path + ": already an int8 model; quantize its float original");
    if (!model.info().identity_div_stated)
        std::fprintf(stderr,
                     "warning: %s does not state the identity divisor; the int8 file records the assumed 1 (convert "
                     "the checkpoint with tools/convert.py --identity-div D first)\n",
                     float_path.c_str());
    const mnx::Tensor batch = is_npy(source) ? calibration_from_npy(source, samples)
                                             : calibration_from_images(source, samples, model);
    if (batch.channels() != model.config().in_channels)
        throw mnx::Error(source + ": " + std::to_string(batch.channels()) + " channels; the model takes " +
                         std::to_string(model.config().in_channels));
    const mnx::FoldedNetworkWeights folded = mnx::read_folded_weights(model.config(), contents.tensors, float_path);
    const mnx::Int8NetworkWeights weights =
        mnx::quantize_network(folded, batch.data(), batch.shape(), options, model.network().kernels());

    mnx::Int8ModelDescription description;
    description.float_metadata = contents.metadata;
    description.observer = mnx::observer_kind_name(options.observer.kind);
    description.calibration_images = batch.batch();
    const std::size_t bytes = mnx::write_int8_model(int8_path, weights, description);
    const std::uintmax_t float_bytes = std::filesystem::file_size(float_path);

    std::printf("calibration: %d images of %dx%d from %s, observer %s\n", batch.batch(), batch.height(), batch.width(),
                source.c_str(), description.observer.c_str());
    std::printf("wrote:       %s, %zu bytes (the float file: %ju bytes, %.2fx)\n", int8_path.c_str(), bytes,
                float_bytes, double(bytes) / double(float_bytes));
    // The file as users will load it: every check, and the test vector on this CPU's kernels.
    const mnx::Model int8 = mnx::Model::load(int8_path);
    std::printf("loaded:      %s, test vector %s\n", int8.kernels_name().c_str(),
                mnx::test_vector_status_name(int8.info().test_vector_status));
    return 0;
}
