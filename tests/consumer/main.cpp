// A program using mobilenext as a user would: random weights, one forward pass, the kernel set
// printed. Built twice by tests/consumer/CMakeLists.txt: header-only (mobilenext::mobilenext,
// the compiler's own kernels) and with mobilenext::dispatch (MOBILENEXT_DISPATCH: the model's
// code from the compiled library, the best kernels this CPU runs, no -m flag).
#include <cmath>
#include <cstdio>

#include <mobilenext/mobilenext.hpp>

int main() {
    mobilenext::NetworkConfig config;
    config.width = 0.35;
    config.num_classes = 10;
    const mobilenext::Model model = mobilenext::Model::random(config, 1);

    mobilenext::Tensor input(1, 64, 64, 3);
    for (std::size_t i = 0; i < input.size(); ++i) input.data()[i] = std::sin(0.01f * float(i));
    mobilenext::Workspace workspace;
    mobilenext::Tensor logits;
    model.forward(input, logits, workspace);
#ifdef MOBILENEXT_DISPATCH
    const char* mode = "dispatched";
#else
    const char* mode = "header-only";
#endif
    std::printf("%s kernels: %s, logit[0] %.5f\n", mode, model.kernels_name().c_str(), logits.data()[0]);
    if (model.kernels_name() != mobilenext::Model::available_kernels().front()) return 1;
    // The reference kernels agree.
    mobilenext::LoadOptions reference;
    reference.kernels = "reference";
    const mobilenext::Tensor expected = mobilenext::Model::random(config, 1, reference).forward(input);
    for (std::size_t i = 0; i < logits.size(); ++i)
        if (!(std::fabs(expected.data()[i] - logits.data()[i]) <= 1e-3f * (1.0f + std::fabs(logits.data()[i])))) {
            std::printf("logits differ at %zu: %f vs %f\n", i, logits.data()[i], expected.data()[i]);
            return 1;
        }
    return 0;
}
