// A program using mobilenext as a user would: random weights, one forward pass, the kernel
// set printed; with the dispatch library also the run-time choice, whose logits must agree.
#include <cmath>
#include <cstdio>

#include <mobilenext/mobilenext.hpp>
#ifdef MOBILENEXT_CONSUMER_DISPATCH
#include <mobilenext/dispatch.hpp>
#endif

int main() {
    mobilenext::NetworkConfig config;
    config.width = 0.35;
    config.num_classes = 10;
    const mobilenext::Network net = mobilenext::Network::random(config, 1);

    mobilenext::Tensor input(1, 64, 64, 3);
    for (std::size_t i = 0; i < input.size(); ++i) input.data()[i] = std::sin(0.01f * float(i));
    mobilenext::Workspace workspace;
    mobilenext::Tensor logits;
    net.forward(input, logits, workspace);
    std::printf("header-only kernels: %s, logit[0] %.5f\n", net.kernels_name().c_str(), logits.data()[0]);

#ifdef MOBILENEXT_CONSUMER_DISPATCH
    const auto dispatched = mobilenext::DispatchedNetwork::random(config, 1);
    const mobilenext::Tensor other = dispatched.forward(input);
    std::printf("dispatched kernels: %s, logit[0] %.5f\n", dispatched.kernels_name().c_str(), other.data()[0]);
    for (std::size_t i = 0; i < logits.size(); ++i)
        if (!(std::fabs(other.data()[i] - logits.data()[i]) <= 1e-3f * (1.0f + std::fabs(logits.data()[i])))) {
            std::printf("logits differ at %zu: %f vs %f\n", i, other.data()[i], logits.data()[i]);
            return 1;
        }
#endif
    return 0;
}
