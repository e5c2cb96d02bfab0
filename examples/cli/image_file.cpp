// Image decoding for the command-line tool: JPEG through libjpeg-turbo, PNG and BMP through
// stb_image (this is the one translation unit that holds its implementation).
//
// Only these formats are compiled in: every decoder is attack surface for a file that comes
// from outside. Debian 12's stb_image (2.27) is not used for JPEG or PNM because fuzzing
// found out-of-bounds reads and writes in both decoders (tests/fuzz/regressions/image holds
// the inputs); libjpeg-turbo is the decoder PIL uses, so JPEG pixels also match torchvision's.
#define STB_IMAGE_IMPLEMENTATION
#define STBI_FAILURE_USERMSG
#define STBI_NO_STDIO
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#include <stb/stb_image.h>
#include <turbojpeg.h>

#include "image_file.hpp"

#include <cctype>
#include <climits>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <vector>

namespace mobilenext::cli {

namespace {

void check_pixel_count(const std::string& name, int width, int height, long long max_pixels) {
    if (width <= 0 || height <= 0 || (long long)width * height > max_pixels)
        throw Error(name + ": the image claims " + std::to_string(width) + "x" + std::to_string(height) +
                    " pixels, more than the " + std::to_string(max_pixels) + " this reader accepts");
}

Image decode_jpeg(const unsigned char* data, std::size_t size, const std::string& name, int channels,
                  long long max_pixels) {
    const std::unique_ptr<void, int (*)(tjhandle)> decoder(tjInitDecompress(), tjDestroy);
    if (!decoder) throw Error(name + ": cannot start the JPEG decoder (" + tjGetErrorStr2(nullptr) + ")");
    int width = 0, height = 0, subsampling = 0, colorspace = 0;
    if (tjDecompressHeader3(decoder.get(), data, static_cast<unsigned long>(size), &width, &height, &subsampling,
                            &colorspace) != 0)
        throw Error(name + ": cannot read the image (" + tjGetErrorStr2(decoder.get()) + ")");
    check_pixel_count(name, width, height, max_pixels);
    Image image{width, height, channels, std::vector<std::uint8_t>(std::size_t(width) * height * channels)};
    // Accurate integer DCT and smooth chroma upsampling are libjpeg's defaults, as PIL decodes;
    // LIMITSCANS refuses progressive files with absurd scan counts (decoding time bombs).
    const int status = tjDecompress2(decoder.get(), data, static_cast<unsigned long>(size), image.pixels.data(), width,
                                     0, height, channels == 3 ? TJPF_RGB : TJPF_GRAY, TJFLAG_LIMITSCANS);
    // A warning (such as data ending early) still decodes the image, as PIL and stb_image do.
    if (status != 0 && tjGetErrorCode(decoder.get()) != TJERR_WARNING)
        throw Error(name + ": cannot read the image (" + tjGetErrorStr2(decoder.get()) + ")");
    return image;
}

// stb_image grows its buffer to the length a PNG chunk declares before reading the chunk,
// so a 60-byte file can make it allocate gigabytes (found by tests/fuzz). Chunks that do not
// fit in the file are refused first.
// A chunk type for messages: its four letters, or its bytes in hex when they are not letters.
std::string chunk_type(const unsigned char* type) {
    bool letters = true;
    for (int i = 0; i < 4; ++i) letters = letters && std::isalpha(type[i]);
    if (letters) return "'" + std::string(reinterpret_cast<const char*>(type), 4) + "'";
    char hex[16];
    std::snprintf(hex, sizeof hex, "0x%02x%02x%02x%02x", type[0], type[1], type[2], type[3]);
    return hex;
}

void check_png_chunks(const unsigned char* data, std::size_t size, const std::string& name) {
    static constexpr unsigned char signature[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    if (size < 8 || std::memcmp(data, signature, 8) != 0) return;
    std::size_t at = 8;
    while (size - at >= 8) {
        const std::uint64_t length = (std::uint64_t(data[at]) << 24) | (std::uint64_t(data[at + 1]) << 16) |
                                     (std::uint64_t(data[at + 2]) << 8) | data[at + 3];
        const bool last = std::memcmp(data + at + 4, "IEND", 4) == 0;
        if (length + 12 > size - at)
            throw Error(name + ": cannot read the image (corrupt PNG: chunk " + chunk_type(data + at + 4) + " at byte " +
                        std::to_string(at) +
                        " declares " + std::to_string(length) + " bytes, " + std::to_string(size - at) + " remain)");
        at += std::size_t(length) + 12;
        if (last) break;
    }
}

Image decode_with_stb(const unsigned char* data, std::size_t size, const std::string& name, int channels,
                      long long max_pixels) {
    check_png_chunks(data, size, name);
    int width = 0, height = 0, file_channels = 0;
    if (!stbi_info_from_memory(data, int(size), &width, &height, &file_channels))
        throw Error(name + ": cannot read the image (" + stbi_failure_reason() +
                    "; JPEG, PNG and BMP files are supported)");
    check_pixel_count(name, width, height, max_pixels);
    std::unique_ptr<stbi_uc, void (*)(void*)> pixels(
        stbi_load_from_memory(data, int(size), &width, &height, &file_channels, channels), stbi_image_free);
    if (!pixels) throw Error(name + ": cannot read the image (" + stbi_failure_reason() + ")");
    Image image{width, height, channels, {}};
    image.pixels.assign(pixels.get(), pixels.get() + std::size_t(width) * height * channels);
    return image;
}

}  // namespace

Image decode_image(const void* bytes, std::size_t size, const std::string& name, int channels, long long max_pixels) {
    internal::check(channels == 1 || channels == 3,
                    name + ": images can be read as 1 or 3 channels, the model takes " + std::to_string(channels));
    if (bytes == nullptr || size == 0) throw Error(name + ": cannot read the image (the file is empty)");
    if (size > std::size_t(INT_MAX)) throw Error(name + ": cannot read the image (larger than 2 GiB)");
    const auto* data = static_cast<const unsigned char*>(bytes);
    if (size >= 2 && data[0] == 0xFF && data[1] == 0xD8) return decode_jpeg(data, size, name, channels, max_pixels);
    return decode_with_stb(data, size, name, channels, max_pixels);
}

Image read_image(const std::string& path, int channels) {
    std::ifstream file(path, std::ios::binary);
    if (!file) throw Error(path + ": cannot open the image file");
    const std::vector<char> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    if (file.bad()) throw Error(path + ": cannot read the image file");
    return decode_image(bytes.data(), bytes.size(), path, channels);
}

}  // namespace mobilenext::cli
