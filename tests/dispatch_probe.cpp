// A program that uses the network only through mobilenext::dispatch, built with no -m flag: its
// link map shows which translation unit each shared inline function was taken from
// (check_dispatch_isolation.sh), and under an emulated older CPU it must still run.
#include <cstdio>

#include <mobilenext/dispatch.hpp>

int main() {
    const auto net = mobilenext::DispatchedNetwork::random(mobilenext::NetworkConfig{0.35}, 1);
    const mobilenext::Tensor logits = net.forward(mobilenext::Tensor(1, 32, 32, 3));
    double sum = 0.0;
    for (std::size_t i = 0; i < logits.size(); ++i) sum += logits.data()[i];
    std::printf("kernels %s, sum of logits %.4f\n", net.kernels_name().c_str(), sum);
}
