// `mobilenext evaluate MODEL --fashion-mnist DIR`: runs the network over the Fashion-MNIST
// test set (IDX files, gzipped or not), each 28x28 image preprocessed as the model file's
// metadata says, and prints the accuracy, the accuracy of each class and the throughput.
//
// The IDX files are untrusted input: magic numbers, dimensions and the exact file length are
// checked before anything is indexed, decompression is bounded, and every failure is a
// mobilenext::Error naming the file.
#include "command_evaluate.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>
#include <zlib.h>

#include <mobilenext/io/npy.hpp>
#include <mobilenext/mobilenext.hpp>

#include "arg_parser.hpp"

namespace {

namespace mnx = mobilenext;

// Far above the largest Fashion-MNIST file (47 MB of training images), far below harm.
constexpr std::size_t kMaxFileBytes = std::size_t(1) << 30;

struct Options {
    std::string model, dir, predictions, kernels;
    std::optional<long long> limit;
    long long batch = 100, threads = 1;
    bool verify = true;
};

// ---------------------------------------------------------------------------------------------
// Files

bool is_file(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) return false;
    std::fclose(f);
    return true;
}

std::vector<unsigned char> read_whole_file(const std::string& path) {
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), std::fclose);
    if (!file) throw mnx::Error(path + ": cannot open: " + std::strerror(errno));
    std::vector<unsigned char> bytes;
    unsigned char chunk[1 << 16];
    std::size_t got = 0;
    while ((got = std::fread(chunk, 1, sizeof chunk, file.get())) > 0) {
        if (bytes.size() + got > kMaxFileBytes)
            throw mnx::Error(path + ": larger than " + std::to_string(kMaxFileBytes >> 20) + " MiB");
        bytes.insert(bytes.end(), chunk, chunk + got);
    }
    if (std::ferror(file.get())) throw mnx::Error(path + ": read error: " + std::strerror(errno));
    return bytes;
}

// Inflates every gzip member of `in`; output bounded by kMaxFileBytes (no decompression bomb).
std::vector<unsigned char> gunzip(const std::vector<unsigned char>& in, const std::string& path) {
    std::vector<unsigned char> out;
    z_stream zs{};
    // 16 + MAX_WBITS: gzip wrapper only.
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) throw mnx::Error(path + ": cannot start gzip decompression");
    std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&zs, inflateEnd);
    zs.next_in = const_cast<Bytef*>(in.data());  // zlib's API is not const-correct
    zs.avail_in = uInt(in.size());               // in.size() <= kMaxFileBytes < 2^32
    unsigned char chunk[1 << 16];
    for (;;) {
        zs.next_out = chunk;
        zs.avail_out = sizeof chunk;
        const int rc = inflate(&zs, Z_NO_FLUSH);
        const std::size_t produced = sizeof chunk - zs.avail_out;
        if (out.size() + produced > kMaxFileBytes)
            throw mnx::Error(path + ": decompresses to more than " + std::to_string(kMaxFileBytes >> 20) + " MiB");
        out.insert(out.end(), chunk, chunk + produced);
        if (rc == Z_STREAM_END) {
            if (zs.avail_in == 0) break;
            // Another member follows (gzip allows concatenation); anything else is garbage.
            if (zs.avail_in < 2 || zs.next_in[0] != 0x1f || zs.next_in[1] != 0x8b)
                throw mnx::Error(path + ": " + std::to_string(zs.avail_in) + " bytes of trailing data after the gzip stream");
            if (inflateReset(&zs) != Z_OK) throw mnx::Error(path + ": cannot restart gzip decompression");
            continue;
        }
        if (rc == Z_BUF_ERROR && zs.avail_in == 0)
            throw mnx::Error(path + ": truncated gzip data (decompressed " + std::to_string(out.size()) + " bytes)");
        if (rc != Z_OK && rc != Z_BUF_ERROR)
            throw mnx::Error(path + ": corrupt gzip data (" + std::string(zs.msg ? zs.msg : "zlib error " + std::to_string(rc)) +
                             ")");
    }
    return out;
}

// An IDX array of unsigned bytes: big-endian header 0x00 0x00 0x08 RANK, RANK u32 dimensions,
// then exactly the product of the dimensions in bytes.
struct IdxArray {
    std::string path;
    std::vector<std::size_t> dims;
    std::vector<unsigned char> bytes;  // the whole (decompressed) file
    std::size_t offset = 0;            // where the values start
    const unsigned char* values() const { return bytes.data() + offset; }
};

IdxArray read_idx(const std::string& path, unsigned rank, const char* what) {
    IdxArray a;
    a.path = path;
    a.bytes = read_whole_file(path);
    if (a.bytes.size() >= 2 && a.bytes[0] == 0x1f && a.bytes[1] == 0x8b) a.bytes = gunzip(a.bytes, path);
    const std::vector<unsigned char>& b = a.bytes;
    const auto fail = [&](const std::string& message) -> void { throw mnx::Error(path + ": " + message); };
    if (b.size() < 4) fail("too short for an IDX header (" + std::to_string(b.size()) + " bytes)");
    const std::uint32_t magic = std::uint32_t(b[0]) << 24 | std::uint32_t(b[1]) << 16 | std::uint32_t(b[2]) << 8 | b[3];
    const std::uint32_t expected_magic = 0x0800u | rank;
    if (magic != expected_magic) {
        char text[128];
        std::snprintf(text, sizeof text, "not an IDX file of %s: magic number 0x%08x, expected 0x%08x", what,
                      unsigned(magic), unsigned(expected_magic));
        fail(text);
    }
    const std::size_t header = 4 + 4 * std::size_t(rank);
    if (b.size() < header)
        fail("truncated IDX header: " + std::to_string(b.size()) + " bytes, expected at least " + std::to_string(header));
    std::uint64_t count = 1;
    for (unsigned d = 0; d < rank; ++d) {
        const unsigned char* p = &b[4 + 4 * d];
        const std::uint64_t n = std::uint64_t(p[0]) << 24 | std::uint64_t(p[1]) << 16 | std::uint64_t(p[2]) << 8 | p[3];
        if (n == 0) fail("dimension " + std::to_string(d) + " is 0");
        count *= n;  // count <= 2^30 before, n < 2^32: no wrap-around
        if (count > kMaxFileBytes) fail("dimensions need more than " + std::to_string(kMaxFileBytes >> 20) + " MiB");
        a.dims.push_back(std::size_t(n));
    }
    if (b.size() != header + count) {
        std::string shape;
        for (std::size_t d : a.dims) shape += (shape.empty() ? "" : " x ") + std::to_string(d);
        fail("expected " + std::to_string(header + count) + " bytes (" + std::to_string(header) + "-byte header + " +
             shape + " values), found " + std::to_string(b.size()));
    }
    a.offset = header;
    return a;
}

// DIR/stem, else DIR/stem.gz.
std::string find_idx(const std::string& dir, const std::string& stem) {
    const std::string base = dir + (dir.empty() || dir.back() == '/' ? "" : "/") + stem;
    if (is_file(base)) return base;
    if (is_file(base + ".gz")) return base + ".gz";
    throw mnx::Error(dir + ": no " + stem + " or " + stem + ".gz (the Fashion-MNIST test set in IDX format)");
}

// ---------------------------------------------------------------------------------------------
// Progress on stderr: a bar redrawn in place on a terminal, else a line every quarter.

class Progress {
public:
    explicit Progress(std::size_t total) : total_(total), tty_(isatty(STDERR_FILENO) != 0) {}

    void update(std::size_t done, double seconds) {
        const double rate = seconds > 0 ? done / seconds : 0.0;
        if (tty_) {
            // At most ~10 redraws a second, and always the last one.
            if (done != total_ && seconds - last_draw_ < 0.1) return;
            last_draw_ = seconds;
            constexpr int width = 30;
            const int filled = int(double(width) * done / total_);
            std::string bar(std::size_t(filled), '=');
            if (filled < width) bar += '>' + std::string(std::size_t(width - filled - 1), ' ');
            std::fprintf(stderr, "\r  [%s] %zu/%zu %3d%%  %.0f images/s ", bar.c_str(), done, total_,
                         int(100.0 * done / total_), rate);
            if (done == total_) std::fputc('\n', stderr);
        } else {
            if (next_quarter_ > 4 || done * 4 < total_ * next_quarter_) return;
            while (next_quarter_ <= 4 && done * 4 >= total_ * next_quarter_) ++next_quarter_;
            std::fprintf(stderr, "evaluate: %zu/%zu images (%d%%), %.0f images/s\n", done, total_,
                         int(100.0 * done / total_), rate);
        }
        std::fflush(stderr);
    }

private:
    std::size_t total_;
    bool tty_;
    double last_draw_ = -1.0;
    int next_quarter_ = 1;
};

// The test set, checked against the model: sizes, label range.
struct TestSet {
    IdxArray images, labels;
    std::size_t count = 0, rows = 0, cols = 0;
};

TestSet read_test_set(const std::string& dir, int classes) {
    TestSet t;
    t.images = read_idx(find_idx(dir, "t10k-images-idx3-ubyte"), 3, "images");
    t.labels = read_idx(find_idx(dir, "t10k-labels-idx1-ubyte"), 1, "labels");
    t.count = t.images.dims[0];
    t.rows = t.images.dims[1];
    t.cols = t.images.dims[2];
    if (t.rows > 65536 || t.cols > 65536)
        throw mnx::Error(t.images.path + ": images of " + std::to_string(t.rows) + "x" + std::to_string(t.cols) +
                         " pixels, expected at most 65536 a side");
    if (t.labels.dims[0] != t.count)
        throw mnx::Error(t.labels.path + ": " + std::to_string(t.labels.dims[0]) + " labels, but " + t.images.path +
                         " holds " + std::to_string(t.count) + " images");
    for (std::size_t i = 0; i < t.count; ++i)
        if (t.labels.values()[i] >= classes)
            throw mnx::Error(t.labels.path + ": label " + std::to_string(t.labels.values()[i]) + " of image " +
                             std::to_string(i) + " is not a class of the model (0.." + std::to_string(classes - 1) + ")");
    return t;
}

// Images [first, first + count) as 8-bit images of `channels` channels.
std::vector<mnx::Image> images_of(const TestSet& t, std::size_t first, std::size_t count, int channels) {
    const std::size_t pixels = t.rows * t.cols;
    std::vector<mnx::Image> batch(count);
    for (std::size_t i = 0; i < count; ++i) {
        mnx::Image& image = batch[i];
        image.width = int(t.cols);
        image.height = int(t.rows);
        image.channels = channels;
        const unsigned char* src = t.images.values() + (first + i) * pixels;
        if (channels == 1) {
            image.pixels.assign(src, src + pixels);
        } else {
            // Grey repeated in R, G and B, as an image viewer shows it.
            image.pixels.resize(pixels * 3);
            for (std::size_t k = 0; k < pixels; ++k) std::fill_n(&image.pixels[3 * k], 3, src[k]);
        }
    }
    return batch;
}

// What a pass over the test set counted.
struct Tally {
    std::vector<std::size_t> correct, total;  // per class
    std::size_t right = 0;
    std::vector<float> logits;  // all of them, when asked for
    double seconds = 0.0, forward_seconds = 0.0;
};

Tally run_test_set(const mnx::Model& model, const TestSet& t, std::size_t n, const Options& o) {
    const int channels = model.config().in_channels, classes = model.config().num_classes;
    Tally tally;
    tally.correct.assign(std::size_t(classes), 0);
    tally.total.assign(std::size_t(classes), 0);
    if (!o.predictions.empty()) tally.logits.reserve(n * std::size_t(classes));
    mnx::Workspace workspace(int(o.threads));
    mnx::Tensor logits;
    Progress progress(n);
    const auto start = std::chrono::steady_clock::now();
    for (std::size_t first = 0; first < n; first += std::size_t(o.batch)) {
        const std::size_t b = std::min(n - first, std::size_t(o.batch));
        const mnx::Tensor input = mnx::preprocess(images_of(t, first, b, channels), model.info().preprocessing, channels);
        const auto forward_start = std::chrono::steady_clock::now();
        model.forward(input, logits, workspace);
        tally.forward_seconds +=
            std::chrono::duration<double>(std::chrono::steady_clock::now() - forward_start).count();
        for (std::size_t i = 0; i < b; ++i) {
            const float* z = logits.data() + i * std::size_t(classes);
            const int predicted = int(std::max_element(z, z + classes) - z);
            const int label = t.labels.values()[first + i];
            ++tally.total[std::size_t(label)];
            if (predicted == label) {
                ++tally.correct[std::size_t(label)];
                ++tally.right;
            }
            if (!o.predictions.empty()) tally.logits.insert(tally.logits.end(), z, z + classes);
        }
        progress.update(first + b, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    tally.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return tally;
}

void print_tally(const Tally& tally, const std::vector<std::string>& names, std::size_t n, const Options& o) {
    std::printf("accuracy: %.2f%% (%zu of %zu)\n", 100.0 * tally.right / n, tally.right, n);
    std::printf("per class:\n");
    std::size_t name_width = 0;
    for (const std::string& s : names) name_width = std::max(name_width, s.size());
    for (std::size_t c = 0; c < names.size(); ++c) {
        const std::size_t t = tally.total[c], k = tally.correct[c];
        if (t == 0) continue;  // a class absent from the first --limit images
        std::printf("  %2zu  %-*s  %6.2f%%  (%zu of %zu)\n", c, int(name_width), names[c].c_str(), 100.0 * k / t, k, t);
    }
    std::printf("speed:    %.0f images/s (preprocessing and forward), %.0f images/s forward alone; batch %lld, "
                "%lld thread%s\n",
                n / tally.seconds, n / tally.forward_seconds, o.batch, o.threads, o.threads > 1 ? "s" : "");
}

int evaluate(const Options& o) {
    mnx::LoadOptions load;
    load.verify_test_vector = o.verify;
    load.kernels = o.kernels;
    const mnx::Model model = mnx::Model::load(o.model, load);
    const mnx::NetworkConfig& config = model.config();
    const mnx::Preprocessing& prep = model.info().preprocessing;
    const int channels = config.in_channels, classes = config.num_classes;
    if (channels != 1 && channels != 3)
        throw mnx::Error(o.model + ": the model takes " + std::to_string(channels) +
                         "-channel images; Fashion-MNIST images can be given as 1 or 3 channels");
    const TestSet t = read_test_set(o.dir, classes);
    const std::size_t n = o.limit ? std::min<std::size_t>(t.count, std::size_t(*o.limit)) : t.count;
    std::vector<std::string> names = model.info().labels;
    if (names.empty())
        for (int c = 0; c < classes; ++c) names.push_back("class " + std::to_string(c));

    std::printf("model:    %s (width %g, identity divisor %d, %d classes, %s)\n", o.model.c_str(), config.width,
                config.identity_div, classes, model.kernels_name().c_str());
    std::printf("data:     %s: %zu of %zu images, %zux%zu\n", t.images.path.c_str(), n, t.count, t.cols, t.rows);
    std::printf("input:    shorter side %d (%s), centre crop %d, %d channel%s\n", prep.resize,
                prep.interpolation.c_str(), prep.crop, channels, channels > 1 ? "s" : "");
    std::fflush(stdout);

    const Tally tally = run_test_set(model, t, n, o);
    print_tally(tally, names, n, o);
    if (!o.predictions.empty()) {
        mnx::write_npy(o.predictions, tally.logits.data(), {std::int64_t(n), std::int64_t(classes)});
        std::printf("logits:   %s [%zu, %d]\n", o.predictions.c_str(), n, classes);
    }
    return 0;
}

}  // namespace

int command_evaluate(const std::vector<std::string>& args) {
    mobilenext::cli::ArgParser p(
        "evaluate", "MODEL.safetensors --fashion-mnist DIR [options]",
        "Runs the model over the Fashion-MNIST test set (DIR/t10k-images-idx3-ubyte and\n"
        "DIR/t10k-labels-idx1-ubyte, each optionally gzipped), preprocessing each image as the\n"
        "model file's metadata says, and prints the accuracy, the accuracy of each class (named\n"
        "by the file's labels) and images per second.");
    p.positionals(1, "MODEL", "a converted model (tools/convert.py) taking 1- or 3-channel images");
    p.option("--fashion-mnist", "DIR", "folder of the IDX files (required)")
        .option("--limit", "N", "only the first N test images")
        .option("--batch", "B", "images per forward pass (default 100)")
        .option("--threads", "N", "threads per forward pass (default 1)")
        .option("--predictions", "OUT.npy", "write the logits, float32 [images, classes] in test-set order")
        .option("--kernels", "NAME", "kernel set (default: the best this CPU runs; see `mobilenext info`)")
        .flag("--no-verify", "do not run the test vector stored in MODEL at load");
    if (!p.parse(args)) return 0;
    Options o;
    o.kernels = p.get("--kernels").value_or("");
    if (!p.positional_args().empty()) o.model = p.positional_args().front();
    // An empty value would look for the IDX files in the current folder: refused as missing.
    o.dir = p.get("--fashion-mnist").value_or("");
    if (o.model.empty()) p.fail("expected MODEL.safetensors");
    if (o.dir.empty()) p.fail("missing required option --fashion-mnist DIR");
    if (p.has("--limit")) o.limit = p.get_int("--limit", 0, 1, 1LL << 31);
    o.batch = p.get_int("--batch", o.batch, 1, 65536);
    o.threads = p.get_int("--threads", o.threads, 1, 1024);
    o.predictions = p.get("--predictions").value_or("");
    o.verify = !p.has("--no-verify");
    return evaluate(o);
}
