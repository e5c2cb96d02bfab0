// Fuzz target: a .npy array from outside, as `mobilenext run --input` reads it: parsing,
// the NCHW shape checks, and (for small arrays) the conversion to NHWC and a forward pass of
// a small network, so that hostile image sizes (1x1, one row, odd sizes) reach the kernels.
// A mobilenext::Error is the expected answer to bad bytes; anything else is a bug.
#include <cstddef>
#include <cstdint>

#include <mobilenext/io/npy.hpp>
#include <mobilenext/io/safetensors.hpp>
#include <mobilenext/mobilenext.hpp>

namespace {

const mobilenext::Model& small_network() {
    // Three input channels, like the CLI's default models; width 0.35 keeps a pass cheap.
    static const mobilenext::Model network = mobilenext::Model::random(mobilenext::NetworkConfig{0.35, 2, 5}, 1);
    return network;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        const mobilenext::NpyArray array = mobilenext::parse_npy(data, size, "fuzz.npy");
        const mobilenext::Shape4 shape = mobilenext::nhwc_shape_of_nchw(array.shape, "fuzz.npy");
        if (shape.elements() > 3 * 48 * 48) return 0;  // larger inputs only cost time
        const mobilenext::Tensor input =
            mobilenext::Tensor::from_nchw(array.values.data(), shape.n, shape.c, shape.h, shape.w);
        mobilenext::Workspace workspace;
        mobilenext::Tensor logits;
        small_network().forward(input, logits, workspace);
    } catch (const mobilenext::Error&) {
    }
    return 0;
}
