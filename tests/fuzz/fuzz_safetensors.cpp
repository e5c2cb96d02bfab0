// Fuzz target: a model file from outside, header and data. The whole load path runs:
// container parsing, metadata, architecture inference, weight checks, and (when the bytes
// make a complete model) folding, packing and the stored test vector's forward pass.
// A mobilenext::Error is the expected answer to bad bytes; anything else (another exception,
// a crash, a sanitizer report, a leak) is a bug.
#include <cstddef>
#include <cstdint>

#include <mobilenext/io/npy.hpp>
#include <mobilenext/io/safetensors.hpp>
#include <mobilenext/mobilenext.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        const mobilenext::SafetensorsContents contents = mobilenext::parse_safetensors(data, size, "fuzz.safetensors");
        const mobilenext::Model model = mobilenext::Model::from_safetensors(contents, "fuzz.safetensors");
        (void)model;
    } catch (const mobilenext::Error&) {
    }
    return 0;
}
