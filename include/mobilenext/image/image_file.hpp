#pragma once
// Reading JPEG, PNG and BMP files into 8-bit images: the compiled component mobilenext::image
// (find_package(mobilenext COMPONENTS image); libjpeg-turbo decodes JPEG, stb_image PNG and
// BMP). Files come from outside, so every decoder is guarded: sizes the data cannot hold,
// truncated or corrupt data (libjpeg's warnings included) and images above the limits below
// are errors, raised before the pixels are allocated.
#include <cstddef>
#include <string>

#include "../io/image_preprocess.hpp"

#if defined(__GNUC__)
#define MOBILENEXT_IMAGE_API __attribute__((visibility("default")))
#else
#define MOBILENEXT_IMAGE_API
#endif

namespace mobilenext {

// At most this many pixels (8192 x 8192; PIL refuses above about 179M), and this many bytes
// of decoded samples in the decoder's own format (16-bit RGBA PNGs take 8 bytes a pixel).
inline constexpr long long kMaxImagePixels = 1LL << 26;
inline constexpr long long kMaxDecodedImageBytes = 1LL << 28;

// Decodes the encoded image `bytes` (named `name` in errors) into `channels` channels
// (1: grey, 3: RGB), converting as needed (CMYK JPEGs as PIL converts them). Throws
// mobilenext::Error naming `name` for anything that is not a whole image of a supported format
// within the limits (`max_pixels` may lower the pixel limit).
MOBILENEXT_IMAGE_API Image decode_image(const void* bytes, std::size_t size, const std::string& name, int channels,
                                        long long max_pixels = kMaxImagePixels);

// Reads and decodes the file at `path` (see decode_image).
MOBILENEXT_IMAGE_API Image read_image(const std::string& path, int channels);

// Writes `image` (1-4 channels) as a PNG file; throws FileError when it cannot.
MOBILENEXT_IMAGE_API void write_png(const std::string& path, const Image& image);

}  // namespace mobilenext
