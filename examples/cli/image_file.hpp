#pragma once
// Reading JPEG, PNG and BMP files into 8-bit images (stb_image), for the command-line tool.
#include <cstddef>
#include <string>

#include <mobilenext/io/image_preprocess.hpp>

namespace mobilenext::cli {

// Images larger than this are refused before decoding: the decoded pixels would take more
// memory than any classifier input needs (and a crafted header can claim any size).
inline constexpr long long kMaxImagePixels = 1LL << 28;

// Decodes the encoded image `bytes` (named `name` in errors) into `channels` channels
// (1: grey, 3: RGB), converting as needed. Throws mobilenext::Error naming `name` when the
// bytes are not an image of a supported format or claim more than `max_pixels` pixels.
Image decode_image(const void* bytes, std::size_t size, const std::string& name, int channels,
                   long long max_pixels = kMaxImagePixels);

// Reads and decodes the file at `path` (see decode_image).
Image read_image(const std::string& path, int channels);

}  // namespace mobilenext::cli
