// The shipped Fashion-MNIST classifier quantized to int8 by the library (quantize_network,
// calibration on training images) against the float model on the 10,000 test images:
//   fashion_mnist_int8 MODEL.safetensors DATA_DIR [minmax|percentile|mse] [CALIBRATION_IMAGES]
// Prints both accuracies and their agreement; exits 1 when int8 is below 92.2% or agrees
// with float on fewer than 99% of the images.
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <mobilenext/io/safetensors.hpp>
#include <mobilenext/kernels/int8/int8_kernel_registry.hpp>
#include <mobilenext/mobilenext.hpp>
#include <mobilenext/model/folded_weights.hpp>
#include <mobilenext/model/int8_network.hpp>
#include <mobilenext/quantization/quantize_network.hpp>

namespace mnx = mobilenext;

namespace {

// An IDX file (gzipped): `dims` dimensions after the magic number, every item one byte.
std::vector<std::uint8_t> read_idx(const std::string& path, int dims, std::size_t item_bytes) {
    std::unique_ptr<gzFile_s, int (*)(gzFile)> f(gzopen(path.c_str(), "rb"), gzclose);
    if (!f) throw mnx::Error(path + ": cannot open");
    unsigned char header[16];
    const int header_bytes = 4 + 4 * dims;
    if (gzread(f.get(), header, unsigned(header_bytes)) != header_bytes || header[2] != 8 || header[3] != dims)
        throw mnx::Error(path + ": not an IDX file of " + std::to_string(dims) + " dimensions of bytes");
    const std::size_t count = std::size_t(header[4]) << 24 | std::size_t(header[5]) << 16 |
                              std::size_t(header[6]) << 8 | header[7];
    std::vector<std::uint8_t> data(count * item_bytes);
    if (gzread(f.get(), data.data(), unsigned(data.size())) != int(data.size()))
        throw mnx::Error(path + ": truncated");
    return data;
}

mnx::Tensor preprocess(const std::vector<std::uint8_t>& images, const std::vector<std::size_t>& which,
                       const mnx::Preprocessing& p) {
    std::vector<mnx::Image> batch;
    for (std::size_t i : which) {
        mnx::Image im;
        im.width = im.height = 28;
        im.channels = 1;
        im.pixels.assign(images.begin() + std::ptrdiff_t(i * 784), images.begin() + std::ptrdiff_t((i + 1) * 784));
        batch.push_back(std::move(im));
    }
    return mnx::preprocess(batch, p, 1);
}

int top1(const float* logits, int classes) {
    int best = 0;
    for (int c = 1; c < classes; ++c)
        if (logits[c] > logits[best]) best = c;
    return best;
}

mnx::ObserverKind observer_kind(const std::string& name) {
    if (name == "minmax") return mnx::ObserverKind::minmax;
    if (name == "percentile") return mnx::ObserverKind::percentile;
    if (name == "mse") return mnx::ObserverKind::mse;
    throw mnx::Error("unknown observer '" + name + "' (minmax, percentile, mse)");
}

}  // namespace

int main(int argc, char** argv) try {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s MODEL.safetensors DATA_DIR [minmax|percentile|mse] [CALIBRATION_IMAGES]\n", argv[0]);
        return 2;
    }
    const std::string path = argv[1], dir = argv[2];
    mnx::QuantizationOptions options;
    options.observer.kind = observer_kind(argc > 3 ? argv[3] : "minmax");
    const std::size_t calibration_count = argc > 4 ? std::size_t(std::atoi(argv[4])) : 256;

    const mnx::Model model = mnx::Model::load(path);
    const mnx::FoldedNetworkWeights folded =
        mnx::read_folded_weights(model.config(), mnx::read_safetensors(path).tensors, path);
    const mnx::Preprocessing& prep = model.info().preprocessing;
    const std::vector<std::uint8_t> train = read_idx(dir + "/train-images-idx3-ubyte.gz", 3, 784);
    const std::vector<std::uint8_t> test = read_idx(dir + "/t10k-images-idx3-ubyte.gz", 3, 784);
    const std::vector<std::uint8_t> labels = read_idx(dir + "/t10k-labels-idx1-ubyte.gz", 1, 1);

    // Calibration: training images drawn with a fixed seed, never test images.
    std::mt19937 engine(2020);
    std::vector<std::size_t> calibration(calibration_count);
    for (std::size_t& i : calibration) i = engine() % (train.size() / 784);
    const mnx::Tensor calibration_batch = preprocess(train, calibration, prep);
    const mnx::kernels::KernelTable& float_kernels = model.network().kernels();
    const mnx::Int8NetworkWeights weights =
        mnx::quantize_network(folded, calibration_batch.data(), calibration_batch.shape(), options, float_kernels);
    const mnx::internal::Int8Network int8(weights, float_kernels, *mnx::kernels::available_int8_kernels().front());

    const int classes = model.config().num_classes;
    std::size_t right_float = 0, right_int8 = 0, agree = 0;
    mnx::Workspace workspace;
    mnx::Tensor logits_float, logits_int8;
    for (std::size_t first = 0; first < labels.size(); first += 100) {
        std::vector<std::size_t> batch;
        for (std::size_t i = first; i < std::min(labels.size(), first + 100); ++i) batch.push_back(i);
        const mnx::Tensor input = preprocess(test, batch, prep);
        model.forward(input, logits_float, workspace);
        int8.forward(input, logits_int8, workspace);
        for (std::size_t k = 0; k < batch.size(); ++k) {
            const int f = top1(logits_float.data() + k * std::size_t(classes), classes);
            const int q = top1(logits_int8.data() + k * std::size_t(classes), classes);
            right_float += f == labels[first + k];
            right_int8 += q == labels[first + k];
            agree += f == q;
        }
    }
    const double n = double(labels.size());
    std::printf("observer %s, %zu calibration images, kernels: %s\n", mnx::observer_kind_name(options.observer.kind),
                calibration_count, int8.kernels_name().c_str());
    std::printf("accuracy: float %.4f, int8 %.4f; the same top-1 on %.4f of %zu test images\n", right_float / n,
                right_int8 / n, agree / n, labels.size());
    const bool ok = right_int8 / n >= 0.922 && agree / n >= 0.99;
    if (!ok) std::printf("FAILED: int8 must reach 0.922 and agree with float on 0.99\n");
    return ok ? 0 : 1;
} catch (const std::exception& e) {
    std::fprintf(stderr, "fashion_mnist_int8: %s\n", e.what());
    return 2;
}
