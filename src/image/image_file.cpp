// Image decoding (mobilenext::image): JPEG through libjpeg-turbo, PNG and BMP through stb_image
// (this is the one translation unit that holds its implementation).
//
// Only these formats are compiled in: every decoder is attack surface for a file that comes
// from outside. Debian 12's stb_image (2.27) is not used for JPEG or PNM because fuzzing
// found out-of-bounds reads and writes in both decoders (tests/fuzz/regressions/image holds
// the inputs); libjpeg-turbo is the decoder PIL uses, so JPEG pixels also match torchvision's.
//
// Before any decoder allocates, the file's own header is read here and checked: the pixel
// count and the decoded bytes against the limits, and the declared size against what the data
// could hold (a 600-byte JPEG cannot hold 16383 x 16383 pixels; a BMP's rows must all be in
// the file), so that a fabricated header never becomes gigabytes of made-up pixels.
#define STB_IMAGE_IMPLEMENTATION
#define STBI_FAILURE_USERMSG
#define STBI_NO_STDIO
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#include <stb/stb_image.h>
#include <turbojpeg.h>

#include <mobilenext/image/image_file.hpp>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <vector>

namespace mobilenext {

namespace {

[[noreturn]] void refuse(const std::string& name, const std::string& why) {
    throw FileError(name, name + ": cannot read the image (" + why + ")");
}

// Decoders report failures through strings that may be null (stb_image's when an allocation
// size overflows): never build a message from a null pointer.
std::string reason(const char* text) { return text != nullptr ? std::string(text) : std::string("unknown error"); }

std::uint32_t be32(const unsigned char* p) {
    return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | p[3];
}
std::uint32_t le32(const unsigned char* p) {
    return std::uint32_t(p[0]) | (std::uint32_t(p[1]) << 8) | (std::uint32_t(p[2]) << 16) | (std::uint32_t(p[3]) << 24);
}
std::uint16_t le16(const unsigned char* p) { return std::uint16_t(p[0] | (p[1] << 8)); }

// The pixel count, and the bytes the decoder holds at `bytes_per_pixel`, within the limits.
// Headers declare up to 2^32 a side: each side is bounded first, so that the products fit.
void check_size(const std::string& name, long long width, long long height, long long max_pixels,
                int bytes_per_pixel) {
    const std::string claim = name + ": the image claims " + std::to_string(width) + "x" + std::to_string(height) + " pixels";
    if (width <= 0 || height <= 0) throw FileError(name, claim);
    if (width > max_pixels || height > max_pixels || width * height > max_pixels)
        throw FileError(name, claim + ", more than the " + std::to_string(max_pixels) + " this reader accepts");
    if (width * height * bytes_per_pixel > kMaxDecodedImageBytes)
        throw FileError(name, claim + " of " + std::to_string(bytes_per_pixel) + " bytes, more than the " +
                                  std::to_string(kMaxDecodedImageBytes >> 20) + " MiB this reader decodes");
}

// ------------------------------------------------------------------------------------- JPEG

// Whether the file has an Adobe (APP14) segment before its first scan: CMYK values are then
// stored inverted, as Photoshop writes them and as PIL reads them ("CMYK;I").
bool has_adobe_marker(const unsigned char* data, std::size_t size) {
    std::size_t at = 2;
    while (at + 4 <= size && data[at] == 0xFF) {
        const unsigned marker = data[at + 1];
        if (marker == 0xDA || marker == 0xD9) break;  // start of scan, end of image
        const std::size_t length = std::size_t(data[at + 2]) << 8 | data[at + 3];
        if (marker == 0xEE && length >= 7 && at + 9 <= size && std::memcmp(data + at + 4, "Adobe", 5) == 0) return true;
        at += 2 + length;
    }
    return false;
}

// CMYK samples to RGB as PIL converts them (Convert.c, cmyk2rgb): with K' = 255 - K,
// R = K' - C K' / 255, rounded as PIL's MULDIV255.
void cmyk_to_rgb(const std::uint8_t* cmyk, std::size_t pixels, bool inverted, std::uint8_t* rgb) {
    const auto muldiv255 = [](int a, int b) {
        const int t = a * b + 128;
        return ((t >> 8) + t) >> 8;
    };
    for (std::size_t i = 0; i < pixels; ++i) {
        const std::uint8_t* p = cmyk + 4 * i;
        const int k = inverted ? 255 - p[3] : p[3], nk = 255 - k;
        for (int c = 0; c < 3; ++c) {
            const int ink = inverted ? 255 - p[c] : p[c];
            rgb[3 * i + c] = std::uint8_t(std::clamp(nk - muldiv255(ink, nk), 0, 255));
        }
    }
}

// RGB to grey as PIL's convert("L") does: ITU-R 601-2 luma in 16-bit fixed point.
void rgb_to_grey(const std::uint8_t* rgb, std::size_t pixels, std::uint8_t* grey) {
    for (std::size_t i = 0; i < pixels; ++i)
        grey[i] = std::uint8_t((rgb[3 * i] * 19595 + rgb[3 * i + 1] * 38470 + rgb[3 * i + 2] * 7471 + 0x8000) >> 16);
}

Image decode_jpeg(const unsigned char* data, std::size_t size, const std::string& name, int channels,
                  long long max_pixels) {
    const std::unique_ptr<void, int (*)(tjhandle)> decoder(tjInitDecompress(), tjDestroy);
    if (!decoder) refuse(name, "cannot start the JPEG decoder: " + reason(tjGetErrorStr2(nullptr)));
    int width = 0, height = 0, subsampling = 0, colorspace = 0;
    if (tjDecompressHeader3(decoder.get(), data, static_cast<unsigned long>(size), &width, &height, &subsampling,
                            &colorspace) != 0)
        refuse(name, reason(tjGetErrorStr2(decoder.get())));
    // Every 8x8 block of the first component codes its DC value in at least one bit.
    const long long blocks = (static_cast<long long>(width) + 7) / 8 * ((static_cast<long long>(height) + 7) / 8);
    if (width > 0 && height > 0 && (long long)size * 8 < blocks)
        refuse(name, "a JPEG of " + std::to_string(size) + " bytes cannot hold the " + std::to_string(width) + "x" +
                         std::to_string(height) + " pixels it declares");
    const bool cmyk = colorspace == TJCS_CMYK || colorspace == TJCS_YCCK;
    check_size(name, width, height, max_pixels, cmyk ? 4 : channels);
    // Accurate integer DCT and smooth chroma upsampling are libjpeg's defaults, as PIL decodes;
    // LIMITSCANS refuses progressive files with absurd scan counts (decoding time bombs);
    // STOPONWARNING makes data that ends early or is corrupt an error instead of grey pixels.
    const int flags = TJFLAG_LIMITSCANS | TJFLAG_STOPONWARNING;
    const std::size_t pixels = std::size_t(width) * std::size_t(height);
    Image image{width, height, channels, std::vector<std::uint8_t>(pixels * std::size_t(channels))};
    if (!cmyk) {
        if (tjDecompress2(decoder.get(), data, static_cast<unsigned long>(size), image.pixels.data(), width, 0, height,
                          channels == 3 ? TJPF_RGB : TJPF_GRAY, flags) != 0)
            refuse(name, reason(tjGetErrorStr2(decoder.get())));
        return image;
    }
    // libjpeg converts CMYK to nothing else: decode the samples, convert as PIL does.
    std::vector<std::uint8_t> samples(pixels * 4);
    if (tjDecompress2(decoder.get(), data, static_cast<unsigned long>(size), samples.data(), width, 0, height,
                      TJPF_CMYK, flags) != 0)
        refuse(name, reason(tjGetErrorStr2(decoder.get())));
    const bool inverted = has_adobe_marker(data, size);
    if (channels == 3) {
        cmyk_to_rgb(samples.data(), pixels, inverted, image.pixels.data());
    } else {
        std::vector<std::uint8_t> rgb(pixels * 3);
        cmyk_to_rgb(samples.data(), pixels, inverted, rgb.data());
        rgb_to_grey(rgb.data(), pixels, image.pixels.data());
    }
    return image;
}

// -------------------------------------------------------------------------------------- PNG

// A chunk type for messages: its four letters, or its bytes in hex when they are not letters.
std::string chunk_type(const unsigned char* type) {
    bool letters = true;
    for (int i = 0; i < 4; ++i) letters = letters && std::isalpha(type[i]);
    if (letters) return "'" + std::string(reinterpret_cast<const char*>(type), 4) + "'";
    char hex[16];
    std::snprintf(hex, sizeof hex, "0x%02x%02x%02x%02x", type[0], type[1], type[2], type[3]);
    return hex;
}

// stb_image grows its buffer to the length a PNG chunk declares before reading the chunk, so
// a 60-byte file could make it allocate gigabytes (found by tests/fuzz): chunks that do not fit
// in the file are refused first. The header's size must fit the limits, and the compressed
// data must be able to hold it: deflate expands at most about 1032 times.
void check_png(const unsigned char* data, std::size_t size, const std::string& name, long long max_pixels) {
    if (size < 33 || std::memcmp(data + 12, "IHDR", 4) != 0) refuse(name, "a PNG file without its IHDR header");
    const long long width = be32(data + 16), height = be32(data + 20);
    const int depth = data[24], colour = data[25];
    const int samples = colour == 0 ? 1 : colour == 2 ? 3 : colour == 3 ? 1 : colour == 4 ? 2 : colour == 6 ? 4 : 0;
    if (samples == 0 || (depth != 1 && depth != 2 && depth != 4 && depth != 8 && depth != 16))
        refuse(name, "a PNG of colour type " + std::to_string(colour) + " and bit depth " + std::to_string(depth));
    // stb_image holds 16-bit samples as 16 bits, and expands palettes to RGBA.
    check_size(name, width, height, max_pixels, 4 * (depth == 16 ? 2 : 1));
    std::uint64_t compressed = 0;
    std::size_t at = 8;
    while (size - at >= 8) {
        const std::uint64_t length = be32(data + at);
        const bool last = std::memcmp(data + at + 4, "IEND", 4) == 0;
        if (length + 12 > size - at)
            refuse(name, "corrupt PNG: chunk " + chunk_type(data + at + 4) + " at byte " + std::to_string(at) +
                             " declares " + std::to_string(length) + " bytes, " + std::to_string(size - at) + " remain");
        if (std::memcmp(data + at + 4, "IDAT", 4) == 0) compressed += length;
        at += std::size_t(length) + 12;
        if (last) break;
    }
    const std::uint64_t raw = (std::uint64_t(width) * std::uint64_t(samples * depth) + 7) / 8 * std::uint64_t(height) +
                              std::uint64_t(height);
    if (compressed * 1032 + 1032 < raw)
        refuse(name, "a PNG with " + std::to_string(compressed) + " bytes of image data cannot hold the " +
                         std::to_string(width) + "x" + std::to_string(height) + " pixels it declares");
}

// -------------------------------------------------------------------------------------- BMP

// The BMP header's size (negative heights are top-down images), and rows that are all in the
// file for the uncompressed encodings (stb_image would fill missing rows in).
void check_bmp(const unsigned char* data, std::size_t size, const std::string& name, long long max_pixels) {
    if (size < 26) refuse(name, "a BMP file shorter than its header");
    const std::uint32_t offset = le32(data + 10), header = le32(data + 14);
    long long width = 0, height = 0;
    int bits = 0;
    std::uint32_t compression = 0;
    if (header == 12) {  // OS/2 core header: 16-bit sizes
        width = le16(data + 18);
        height = le16(data + 20);
        bits = le16(data + 24);
    } else {
        if (size < 34) refuse(name, "a BMP file shorter than its header");
        width = std::int32_t(le32(data + 18));
        height = std::int32_t(le32(data + 22));
        bits = le16(data + 28);
        compression = le32(data + 30);
    }
    if (height < 0) height = -height;  // rows stored top to bottom
    check_size(name, width, height, max_pixels, 4);
    if (compression == 0 || compression == 3) {
        const std::uint64_t row = (std::uint64_t(width) * std::uint64_t(bits) + 31) / 32 * 4;
        const std::uint64_t needed = std::uint64_t(offset) + row * std::uint64_t(height);
        if (needed > size)
            refuse(name, "a BMP of " + std::to_string(width) + "x" + std::to_string(height) + " pixels needs " +
                             std::to_string(needed) + " bytes, the file has " + std::to_string(size) +
                             " (truncated?)");
    }
}

Image decode_with_stb(const unsigned char* data, std::size_t size, const std::string& name, int channels,
                      long long max_pixels) {
    static constexpr unsigned char png_signature[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    if (size >= 8 && std::memcmp(data, png_signature, 8) == 0)
        check_png(data, size, name, max_pixels);
    else if (size >= 2 && data[0] == 'B' && data[1] == 'M')
        check_bmp(data, size, name, max_pixels);
    else
        refuse(name, "not a JPEG, PNG or BMP file");
    int width = 0, height = 0, file_channels = 0;
    std::unique_ptr<stbi_uc, void (*)(void*)> pixels(
        stbi_load_from_memory(data, int(size), &width, &height, &file_channels, channels), stbi_image_free);
    if (!pixels) refuse(name, reason(stbi_failure_reason()));
    Image image{width, height, channels, {}};
    image.pixels.assign(pixels.get(), pixels.get() + std::size_t(width) * height * channels);
    return image;
}

}  // namespace

Image decode_image(const void* bytes, std::size_t size, const std::string& name, int channels, long long max_pixels) {
    internal::check(channels == 1 || channels == 3,
                    name + ": images can be read as 1 or 3 channels, the model takes " + std::to_string(channels));
    if (bytes == nullptr || size == 0) refuse(name, "the file is empty");
    if (size > std::size_t(INT_MAX)) refuse(name, "larger than 2 GiB");
    const auto* data = static_cast<const unsigned char*>(bytes);
    if (size >= 2 && data[0] == 0xFF && data[1] == 0xD8) return decode_jpeg(data, size, name, channels, max_pixels);
    return decode_with_stb(data, size, name, channels, max_pixels);
}

Image read_image(const std::string& path, int channels) {
    std::ifstream file(path, std::ios::binary);
    if (!file) throw FileError(path, path + ": cannot open the image file");
    const std::vector<char> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    if (file.bad()) throw FileError(path, path + ": cannot read the image file");
    return decode_image(bytes.data(), bytes.size(), path, channels);
}

}  // namespace mobilenext
