#pragma once
// The definitions of Model's members (model.hpp) and its one validating builder. Included by
// mobilenext.hpp in header-only use (the functions are then inline) and compiled once into
// mobilenext::dispatch (src/dispatch/model.cpp), whose users do not include it.
#if defined(MOBILENEXT_DISPATCH) && !defined(MOBILENEXT_BUILDING_DISPATCH)
#error "model_definitions.hpp is compiled into mobilenext::dispatch; its users include mobilenext.hpp or model.hpp"
#endif

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "../core/error.hpp"
#include "../io/int8_model_file.hpp"
#include "../io/model_file.hpp"
#include "../io/safetensors.hpp"
#include "../kernels/int8/int8_kernel_registry.hpp"
#include "../kernels/int8/reference_int8_kernels.hpp"
#include "../kernels/reference_kernels.hpp"
#include "int8_network.hpp"
#include "kernel_registry.hpp"
#include "model.hpp"
#include "network.hpp"
#include "random_weights.hpp"

#ifndef MOBILENEXT_BUILDING_DISPATCH
#include <xsimd/xsimd.hpp>

#include "../kernels/simd_kernels.hpp"
#endif

namespace mobilenext {

// Exactly one of the two networks: the float one, or for a file written by `mobilenext
// quantize` the int8 one.
struct Model::State {
    ModelInfo info;
    std::optional<internal::Network> network;
    std::optional<internal::Int8Network> int8_network;
};

namespace internal {

#ifndef MOBILENEXT_BUILDING_DISPATCH
// Header-only use: the vector kernels of the instruction set the compiler targets, then the
// reference. (mobilenext::dispatch defines this function for its users instead.)
MOBILENEXT_MODEL_INLINE const std::vector<const kernels::KernelTable*>& kernel_tables() {
    static const std::vector<const kernels::KernelTable*> tables{&kernels::kSimdKernels<xsimd::default_arch>,
                                                                 &kernels::kReferenceKernels};
    return tables;
}
#endif

// Runs the stored test vector; throws LoadError when the logits differ from the stored ones by
// more than 1e-4 x max(1, max |logit|). The stored values were checked finite when read.
// `computed_by` names who computed the stored logits.
template <class AnyNetwork>
void verify_test_vector(const AnyNetwork& network, const TestVector& tv, const std::string& path,
                        const std::string& computed_by = "PyTorch's") {
    const auto& s = tv.input_shape;
    const Tensor input = Tensor::from_nchw(tv.input.data(), int(s[0]), int(s[1]), int(s[2]), int(s[3]));
    const Tensor logits = network.forward(input);
    float max_expected = 0.0f, max_diff = 0.0f;
    std::size_t worst = 0;
    for (std::size_t i = 0; i < tv.output.size(); ++i) {
        max_expected = std::max(max_expected, std::fabs(tv.output[i]));
        const float diff = std::fabs(logits.data()[i] - tv.output[i]);
        if (!(diff <= max_diff)) {
            max_diff = diff;
            worst = i;
        }
    }
    const float tolerance = 1e-4f * std::max(1.0f, max_expected);
    if (!(max_diff <= tolerance))
        throw LoadError(path, "__metadata__.mobilenext.test_vector",
                        "logits within " + std::to_string(tolerance) + " of " + computed_by,
                        "a difference of " + std::to_string(max_diff) + " at logit " + std::to_string(worst) +
                            " (" + std::to_string(logits.data()[worst]) + " vs " + std::to_string(tv.output[worst]) +
                            "): the file does not compute what it was converted from");
}

// The one way a Model is made: every entry point (file, parsed file, state dict, random
// weights) comes here, so that every model gets the same checks: the configuration, integer
// tensors the network does not have, non-finite values, the shapes and the unexpected tensors,
// BatchNorm folded into finite values (Network), and the stored test vector.
inline std::shared_ptr<const Model::State> build_model(const StateDict& weights, const std::set<std::string>& skipped,
                                                       ModelInfo info, const LoadOptions& options) {
    const std::string& source = info.path;
    if (options.identity_div) {
        info.config.identity_div = *options.identity_div;
        info.identity_div_stated = true;
    }
    try {
        validate_config(info.config);
    } catch (const Error& e) {
        throw LoadError(source, "__metadata__", "a valid MobileNeXt architecture", e.what());
    }
    const kernels::KernelTable& table = kernel_table(options.kernels);
    // Integer tensors are BatchNorm step counters or something this model does not have.
    for (const std::string& name : skipped)
        if (!ends_with(name, "num_batches_tracked"))
            throw LoadError(source, name, "no such tensor in this MobileNeXt", "an unexpected integer tensor");
    check_finite(weights, source, table);
    Network network(info.config, weights, table, source);
    if (info.test_vector) {
        if (options.verify_test_vector) verify_test_vector(network, *info.test_vector, source);
        info.test_vector_status = options.verify_test_vector ? TestVectorStatus::checked : TestVectorStatus::skipped;
    } else {
        info.test_vector_status = TestVectorStatus::absent;
    }
    return std::make_shared<const Model::State>(Model::State{std::move(info), std::move(network), std::nullopt});
}

struct Int8KernelChoice {
    const kernels::KernelTable* float_kernels;
    const kernels::Int8KernelTable* int8_kernels;
};

// The int8 table named `name` (the best when empty) and the float table for the stem and
// classifier: the one of the same name if any, else the best (LoadOptions::kernels).
inline Int8KernelChoice int8_kernel_choice(const std::string& name) {
    const std::vector<const kernels::Int8KernelTable*>& tables = kernels::available_int8_kernels();
    if (name.empty()) return {&kernel_table(""), tables.front()};
    std::string available;
    for (const kernels::Int8KernelTable* table : tables) {
        if (table->name() == name) {
            for (const kernels::KernelTable* f : kernel_tables())
                if (f->name() == name) return {f, table};
            return {&kernel_table(""), table};
        }
        available += (available.empty() ? "" : ", ") + table->name();
    }
    throw Error("int8 kernel set '" + name + "' is not available in this program on this CPU; available: " + available);
}

inline ForwardPlan as_forward_plan(const Int8ForwardPlan& p) {
    ForwardPlan f;
    f.threads = p.threads;
    f.image = p.activation_share();
    f.activation = std::size_t(p.threads) * p.activation_share();
    f.scratch = p.stem_share() + Int8ForwardPlan::aligned_floats(p.scratch_bytes);
    f.pooled = p.pooled_floats;
    return f;
}

// An int8 file (io/int8_model_file.hpp) into a model: every tensor checked, the network built
// on the chosen tables, the stored test vector run. The identity divisor cannot be overridden:
// the quantization was calibrated with the file's. The test vector was computed on the
// reference tables and is checked on them too: on other float tables the stem's rounding
// differs, and a stem output within that rounding of a quantization step's boundary would move
// by a whole step and could fail a valid file. The int8 blocks compute the same integers on
// every table (the kernel tests), so the check of the file's contents loses nothing.
inline std::shared_ptr<const Model::State> build_int8_model(const SafetensorsContents& contents,
                                                            const std::string& path, const LoadOptions& options) {
    Int8ModelFile file = read_int8_model(contents, path);
    if (options.identity_div && *options.identity_div != file.info.config.identity_div)
        throw LoadError(path, "__metadata__.mobilenext.identity_div",
                        "no other identity divisor than the file's " + std::to_string(file.info.config.identity_div) +
                            " (its quantization was calibrated with it)",
                        "LoadOptions::identity_div " + std::to_string(*options.identity_div));
    const Int8KernelChoice k = int8_kernel_choice(options.kernels);
    std::optional<Int8Network> network;
    try {
        network.emplace(file.weights, *k.float_kernels, *k.int8_kernels);
    } catch (const LoadError&) {
        throw;
    } catch (const Error& e) {
        throw LoadError(path, "", "an int8 network its kernels accept", e.what());
    }
    ModelInfo& info = file.info;
    if (info.test_vector) {
        if (options.verify_test_vector) {
            const Int8Network reference(file.weights, kernels::kReferenceKernels, kernels::kReferenceInt8Kernels);
            verify_test_vector(reference, *info.test_vector, path, "the reference int8 network's");
        }
        info.test_vector_status = options.verify_test_vector ? TestVectorStatus::checked : TestVectorStatus::skipped;
    }
    return std::make_shared<const Model::State>(Model::State{std::move(info), std::nullopt, std::move(network)});
}

}  // namespace internal

MOBILENEXT_MODEL_INLINE Model::Model(std::shared_ptr<const State> state) : state_(std::move(state)) {}

MOBILENEXT_MODEL_INLINE Model Model::load(const std::string& path, const LoadOptions& options) {
    return from_safetensors(read_safetensors(path), path, options);
}

MOBILENEXT_MODEL_INLINE Model Model::from_safetensors(const SafetensorsContents& contents, const std::string& path,
                                                      const LoadOptions& options) {
    if (is_int8_model_file(contents)) return Model(internal::build_int8_model(contents, path, options));
    return Model(internal::build_model(contents.tensors, contents.skipped, internal::read_model_info(contents, path),
                                       options));
}

MOBILENEXT_MODEL_INLINE Model Model::from_state_dict(const StateDict& weights, ModelInfo info,
                                                     const LoadOptions& options) {
    if (info.path.empty()) info.path = "state dict";
    return Model(internal::build_model(weights, {}, std::move(info), options));
}

MOBILENEXT_MODEL_INLINE Model Model::from_state_dict(const NetworkConfig& config, const StateDict& weights,
                                                     const LoadOptions& options) {
    ModelInfo info;
    info.config = config;
    info.architecture_from_metadata = true;
    info.identity_div_stated = true;
    return from_state_dict(weights, std::move(info), options);
}

MOBILENEXT_MODEL_INLINE Model Model::random(const NetworkConfig& config, std::uint64_t seed,
                                            const LoadOptions& options) {
    ModelInfo info;
    info.path = "random weights (seed " + std::to_string(seed) + ")";
    info.config = config;
    info.architecture_from_metadata = true;
    info.identity_div_stated = true;
    // The tensors' shapes do not depend on the identity divisor: build_model applies the option.
    const StateDict weights = make_random_state_dict(derive_topology(config), seed);
    return Model(internal::build_model(weights, {}, std::move(info), options));
}

MOBILENEXT_MODEL_INLINE std::vector<std::string> Model::available_kernels() {
    std::vector<std::string> names;
    for (const kernels::KernelTable* table : internal::kernel_tables()) names.push_back(table->name());
    return names;
}

MOBILENEXT_MODEL_INLINE std::vector<std::string> Model::available_int8_kernels() {
    std::vector<std::string> names;
    for (const kernels::Int8KernelTable* table : kernels::available_int8_kernels()) names.push_back(table->name());
    return names;
}

MOBILENEXT_MODEL_INLINE std::string Model::kernels_name() const {
    return state_->int8_network ? state_->int8_network->kernels_name() : state_->network->kernels_name();
}
MOBILENEXT_MODEL_INLINE const ModelInfo& Model::info() const noexcept { return state_->info; }
MOBILENEXT_MODEL_INLINE const NetworkConfig& Model::config() const noexcept { return topology().config; }
MOBILENEXT_MODEL_INLINE const Topology& Model::topology() const noexcept {
    return state_->int8_network ? state_->int8_network->topology() : state_->network->topology();
}
MOBILENEXT_MODEL_INLINE const internal::Network& Model::network() const {
    if (!state_->network)
        internal::fail(state_->info.path + ": an int8 model has no float network (Model::int8_network())");
    return *state_->network;
}
MOBILENEXT_MODEL_INLINE const internal::Int8Network* Model::int8_network() const noexcept {
    return state_->int8_network ? &*state_->int8_network : nullptr;
}

MOBILENEXT_MODEL_INLINE void Model::forward(const Tensor& input, Tensor& logits, Workspace& workspace) const {
    if (state_->int8_network)
        state_->int8_network->forward(input, logits, workspace);
    else
        state_->network->forward(input, logits, workspace);
}

MOBILENEXT_MODEL_INLINE void Model::forward(const float* input, const Shape4& shape, float* logits,
                                            std::size_t logits_capacity, Workspace& workspace) const {
    if (state_->int8_network)
        state_->int8_network->forward(input, shape, logits, logits_capacity, workspace);
    else
        state_->network->forward(input, shape, logits, logits_capacity, workspace);
}

MOBILENEXT_MODEL_INLINE Tensor Model::forward(const Tensor& input) const {
    return state_->int8_network ? state_->int8_network->forward(input) : state_->network->forward(input);
}

MOBILENEXT_MODEL_INLINE std::vector<Classification> Model::classify(const Image& image, int k) const {
    Workspace workspace;
    return classify(image, k, workspace);
}

MOBILENEXT_MODEL_INLINE std::vector<Classification> Model::classify(const Image& image, int k,
                                                                     Workspace& workspace) const {
    const int channels = config().in_channels, classes = config().num_classes;
    if (image.channels != channels)
        internal::fail("Model::classify: the model takes images of " + std::to_string(channels) + " channels, found " +
                       std::to_string(image.channels) + " (decode the image with channels = config().in_channels)");
    if (k < 1) internal::fail("Model::classify: k must be at least 1, found " + std::to_string(k));
    Tensor logits;
    forward(preprocess({image}, info().preprocessing, channels), logits, workspace);
    const float* z = logits.data();
    // Softmax in double from the largest logit: no overflow for any finite logits.
    const double largest = *std::max_element(z, z + classes);
    double total = 0.0;
    for (int c = 0; c < classes; ++c) total += std::exp(double(z[c]) - largest);
    std::vector<int> order(std::size_t(classes), 0);
    for (int c = 0; c < classes; ++c) order[std::size_t(c)] = c;
    const int count = std::min(k, classes);
    std::partial_sort(order.begin(), order.begin() + count, order.end(),
                      [z](int a, int b) { return z[a] > z[b] || (z[a] == z[b] && a < b); });
    std::vector<Classification> top;
    for (int i = 0; i < count; ++i) {
        const int c = order[std::size_t(i)];
        top.push_back({c, info().labels.empty() ? std::string() : info().labels[std::size_t(c)],
                       float(std::exp(double(z[c]) - largest) / total)});
    }
    return top;
}

MOBILENEXT_MODEL_INLINE void Model::check_input_shape(const Shape4& shape) const {
    if (state_->int8_network)
        state_->int8_network->check_input_shape(shape);
    else
        state_->network->check_input_shape(shape);
}

MOBILENEXT_MODEL_INLINE ForwardPlan Model::plan(int batch, int height, int width, int threads) const {
    if (state_->int8_network)
        return internal::as_forward_plan(state_->int8_network->plan(batch, height, width, threads));
    return state_->network->plan(batch, height, width, threads);
}

MOBILENEXT_MODEL_INLINE std::size_t Model::working_memory_bytes(int batch, int height, int width, int threads) const {
    return plan(batch, height, width, threads).bytes();
}

// The same counts for both precisions: the int8 network has the float one's weights and
// multiply-adds, each at a quarter of the bytes in its blocks.
MOBILENEXT_MODEL_INLINE std::int64_t Model::parameter_count() const { return count_parameters(topology()); }

MOBILENEXT_MODEL_INLINE std::int64_t Model::multiply_adds(int height, int width) const {
    return count_multiply_adds(topology(), height, width);
}

}  // namespace mobilenext
