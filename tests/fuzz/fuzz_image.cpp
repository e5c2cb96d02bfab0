// Fuzz target: an image file from outside, as `mobilenext classify` reads it: decoding
// (JPEG, PNG, BMP through stb_image), then resize, centre crop and normalisation into
// the network's input. A mobilenext::Error is the expected answer to bad bytes; anything
// else is a bug.
#include <cstddef>
#include <cstdint>
#include <vector>

#include <mobilenext/io/image_preprocess.hpp>

#include <mobilenext/image/image_file.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // The channel count the model asks for comes from the input so that both paths run.
    const int channels = size % 2 == 0 ? 3 : 1;
    try {
        // The header checks (sizes the data cannot hold, the limits) see any declared size; only
        // images that pass them are decoded, and those of more than 2^16 pixels are refused
        // after the checks, before decoding (they would only cost time per input).
        const mobilenext::Image image = mobilenext::decode_image(data, size, "fuzz.image", channels, 1 << 16);
        mobilenext::Preprocessing p;
        p.resize = 20;
        p.crop = 16;
        p.interpolation = size % 3 == 0 ? "bilinear" : "bicubic";
        p.mean.assign(std::size_t(channels), 0.5f);
        p.std.assign(std::size_t(channels), 0.25f);
        const mobilenext::Tensor input = mobilenext::preprocess({image}, p, channels);
        (void)input;
    } catch (const mobilenext::Error&) {
    }
    return 0;
}
