// Writing PNG files (mobilenext::image): stb_image_write, whose implementation lives in this
// one translation unit.
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO
#include <stb/stb_image_write.h>

#include <mobilenext/image/image_file.hpp>

#include <cstdio>
#include <memory>
#include <string>

namespace mobilenext {

namespace {

struct PngSink {
    std::FILE* file;
    bool ok;
};

void write_bytes(void* context, void* data, int size) {
    PngSink& sink = *static_cast<PngSink*>(context);
    if (sink.ok && std::fwrite(data, 1, std::size_t(size), sink.file) != std::size_t(size)) sink.ok = false;
}

}  // namespace

void write_png(const std::string& path, const Image& image) {
    if (image.width < 1 || image.height < 1 || image.channels < 1 || image.channels > 4 ||
        image.pixels.size() != std::size_t(image.width) * std::size_t(image.height) * std::size_t(image.channels))
        throw Error(path + ": cannot write a PNG of " + std::to_string(image.width) + " x " + std::to_string(image.height) +
                    " x " + std::to_string(image.channels) + " from " + std::to_string(image.pixels.size()) + " bytes");
    const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "wb"), std::fclose);
    if (!file) throw FileError(path, path + ": cannot open for writing");
    PngSink sink{file.get(), true};
    const int written = stbi_write_png_to_func(write_bytes, &sink, image.width, image.height, image.channels,
                                               image.pixels.data(), image.width * image.channels);
    if (written == 0 || !sink.ok) throw FileError(path, path + ": cannot write the PNG (disk full?)");
}

}  // namespace mobilenext
