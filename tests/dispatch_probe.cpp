// A program that uses the model only through mobilenext::dispatch, built with no -m flag:
// under an emulated older CPU it must still run, on the kernels that CPU has.
#include <cstdio>

#include <mobilenext/mobilenext.hpp>

int main() {
    const auto net = mobilenext::Model::random(mobilenext::NetworkConfig{0.35}, 1);
    const mobilenext::Tensor logits = net.forward(mobilenext::Tensor(1, 32, 32, 3));
    double sum = 0.0;
    for (std::size_t i = 0; i < logits.size(); ++i) sum += logits.data()[i];
    std::printf("kernels %s, sum of logits %.4f\n", net.kernels_name().c_str(), sum);
}
