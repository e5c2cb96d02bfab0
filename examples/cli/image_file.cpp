// The one translation unit that holds stb_image's implementation.
#define STB_IMAGE_IMPLEMENTATION
#define STBI_FAILURE_USERMSG
#include <stb/stb_image.h>

#include "image_file.hpp"

#include <memory>

namespace mobilenext::cli {

Image read_image(const std::string& path, int channels) {
    internal::check(channels == 1 || channels == 3,
                    path + ": images can be read as 1 or 3 channels, the model takes " + std::to_string(channels));
    int width = 0, height = 0, file_channels = 0;
    std::unique_ptr<stbi_uc, void (*)(void*)> pixels(stbi_load(path.c_str(), &width, &height, &file_channels, channels),
                                                     stbi_image_free);
    if (!pixels) throw Error(path + ": cannot read the image (" + stbi_failure_reason() + ")");
    Image image{width, height, channels, {}};
    image.pixels.assign(pixels.get(), pixels.get() + std::size_t(width) * height * channels);
    return image;
}

}  // namespace mobilenext::cli
