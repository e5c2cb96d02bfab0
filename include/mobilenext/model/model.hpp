#pragma once
// mobilenext::Model, the library's one network type: loaded from a converted file, built from a
// state dict and a config, or with random weights, always through one validating builder, on a
// kernel set chosen at run time.
//
// Header-only use (mobilenext::mobilenext) compiles the model's code into the program and
// offers the kernels of the compiler's own instruction set and the reference kernels. Linking
// mobilenext::dispatch (which defines MOBILENEXT_DISPATCH for its users) takes the same code
// from the compiled library instead, with every instruction set of the target (AVX-512, AVX2,
// SSE2 on x86-64, NEON on AArch64) chosen by what the CPU runs; the program needs no -m flag.
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../core/tensor.hpp"
#include "../io/image_preprocess.hpp"
#include "forward_plan.hpp"
#include "state_dict.hpp"
#include "topology.hpp"
#include "workspace.hpp"

#if defined(__GNUC__)
#define MOBILENEXT_API __attribute__((visibility("default")))
#else
#define MOBILENEXT_API
#endif

// Model's member functions (and the kernel registry) are inline in header-only use, and
// compiled once into mobilenext::dispatch (src/dispatch/model.cpp) for its users.
#if defined(MOBILENEXT_DISPATCH) || defined(MOBILENEXT_BUILDING_DISPATCH)
#define MOBILENEXT_MODEL_INLINE
#else
#define MOBILENEXT_MODEL_INLINE inline
#endif

namespace mobilenext {

struct SafetensorsContents;

// One input and the logits PyTorch computed for it, stored by the converter.
struct TestVector {
    std::vector<std::int64_t> input_shape;  // NCHW
    std::vector<float> input;               // NCHW
    std::vector<float> output;              // [N][classes]
};

// What the builder found out about the stored test vector.
enum class TestVectorStatus {
    checked,  // run at load; the logits matched the stored ones
    skipped,  // the file has one, LoadOptions::verify_test_vector was off
    absent    // the file (or state dict) has none: nothing proves the weights compute what was trained
};

inline const char* test_vector_status_name(TestVectorStatus s) {
    switch (s) {
        case TestVectorStatus::checked: return "checked";
        case TestVectorStatus::skipped: return "present, not checked";
        case TestVectorStatus::absent: return "none";
    }
    return "?";
}

// How an int8 model was quantized (the file's mobilenext.quantization).
struct QuantizationInfo {
    std::string scheme;       // the scheme's name (io/int8_model_format.hpp)
    std::string description;  // activations, weights, bias, requantization, shortcut add, in words
    std::string observer;     // how calibration chose the activation ranges: minmax, percentile, mse
    std::int64_t calibration_images = 0;
};

struct ModelInfo {
    std::string path;  // the file, or what the weights came from ("random weights", ...)
    NetworkConfig config;
    bool architecture_from_metadata = false;  // false: inferred from the tensor shapes
    Preprocessing preprocessing;
    std::vector<std::string> labels;  // empty when the file has none
    std::optional<TestVector> test_vector;
    TestVectorStatus test_vector_status = TestVectorStatus::absent;
    // The file stores a checksum of its tensor data (tools/convert.py writes one), verified at
    // load: a changed byte of a weight is refused even where the test vector would not see it.
    bool checksum_verified = false;
    // The identity divisor was stated (file metadata, LoadOptions or a config); when not, 1 is
    // assumed and nothing in the weights can show whether that is right.
    bool identity_div_stated = false;
    std::map<std::string, std::string> metadata;
    // Set for an int8 model (a file written by `mobilenext quantize`), which runs
    // internal::Int8Network: int8 blocks between a float stem and a classifier with int8 weights.
    std::optional<QuantizationInfo> quantization;
};

struct LoadOptions {
    bool verify_test_vector = true;
    std::optional<int> identity_div;  // overrides the file (weights do not show it)
    // The kernel set: empty for the best of Model::available_kernels(), or one of its names
    // ("simd/avx512bw", "simd/fma3+avx2", "simd/sse2", "reference", ...). For an int8 model,
    // one of Model::available_int8_kernels() ("simd/avx512vnni", "simd/avx2", "reference",
    // ...); its float stem and classifier then run on the float set of that name when there is
    // one, on the reference for "reference", else on the best.
    std::string kernels;
};

// One answer of Model::classify.
struct Classification {
    int index = 0;          // the class, a row of the classifier
    std::string label;      // its name from the file's labels; empty when the file has none
    float probability = 0;  // softmax over the logits
};

namespace internal {
class Network;
class Int8Network;
}  // namespace internal

// A MobileNeXt classifier. Immutable once built: forward() is const and may run on many
// threads at once, each with its own Workspace. Copies are cheap and share the weights.
// Every error is a mobilenext::Error (LoadError for files and state dicts, naming the file,
// the tensor, what was expected and what was found); nothing is ever half-built.
class MOBILENEXT_API Model {
public:
    // A converted safetensors file (tools/convert.py), or a state dict saved as safetensors.
    static Model load(const std::string& path, const LoadOptions& options = {});
    // A safetensors file already parsed (io/safetensors.hpp); `path` names it in errors.
    static Model from_safetensors(const SafetensorsContents& contents, const std::string& path,
                                  const LoadOptions& options = {});
    // A state dict in the authors' naming with its configuration; `info` carries the rest
    // (path for messages, labels, preprocessing, a test vector to check).
    static Model from_state_dict(const StateDict& weights, ModelInfo info, const LoadOptions& options = {});
    static Model from_state_dict(const NetworkConfig& config, const StateDict& weights,
                                 const LoadOptions& options = {});
    // Random weights (random BatchNorm statistics included), the same for the same seed.
    static Model random(const NetworkConfig& config, std::uint64_t seed, const LoadOptions& options = {});

    // The kernel sets this program can run on this CPU, best first; "reference" last.
    static std::vector<std::string> available_kernels();
    // The same for the int8 blocks of int8 models.
    static std::vector<std::string> available_int8_kernels();

    // The float set; for an int8 model both: "int8 simd/avx2, float simd/fma3+avx2".
    std::string kernels_name() const;
    const ModelInfo& info() const noexcept;
    const NetworkConfig& config() const noexcept;
    const Topology& topology() const noexcept;

    // input: NHWC [batch][height][width][in_channels]; logits: reshaped to
    // [batch][1][1][classes]. Runs on workspace.threads() threads; allocates only when
    // `workspace` or `logits` are smaller than this input needs.
    void forward(const Tensor& input, Tensor& logits, Workspace& workspace) const;
    // The same on memory the caller owns: `input` holds shape.n x h x w x c floats (NHWC),
    // `logits` room for `logits_capacity` floats of which shape.n x classes are written.
    void forward(const float* input, const Shape4& shape, float* logits, std::size_t logits_capacity,
                 Workspace& workspace) const;
    // With its own single-threaded workspace (allocates on every call).
    Tensor forward(const Tensor& input) const;

    // Applies info().preprocessing to an 8-bit image (of config().in_channels channels: decode
    // it so, e.g. with mobilenext::read_image), runs the network and returns the k most
    // probable classes, best first. The second form reuses a workspace (no allocation for the
    // network once warm; the preprocessing allocates its resized copies).
    std::vector<Classification> classify(const Image& image, int k = 5) const;
    std::vector<Classification> classify(const Image& image, int k, Workspace& workspace) const;

    // Throws what forward() would for an input of this shape, before any work.
    void check_input_shape(const Shape4& shape) const;
    // Buffer sizes of a batch of `batch` images of height x width on `threads` threads.
    ForwardPlan plan(int batch, int height, int width, int threads = 1) const;
    std::size_t working_memory_bytes(int batch, int height, int width, int threads = 1) const;

    std::int64_t parameter_count() const;
    std::int64_t multiply_adds(int height, int width) const;

    // The network itself (blocks, kernel table), for tests and benchmarks of its parts. A float
    // model has a Network (network() throws mobilenext::Error for an int8 model), an int8 model
    // an Int8Network (int8_network() is null for a float model).
    const internal::Network& network() const;
    const internal::Int8Network* int8_network() const noexcept;

    // What a model holds (model_definitions.hpp): made only by the validating builder.
    struct State;

private:
    explicit Model(std::shared_ptr<const State> state);
    std::shared_ptr<const State> state_;
};

}  // namespace mobilenext
