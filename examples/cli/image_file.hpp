#pragma once
// Reading JPEG, PNG, BMP, ... files into 8-bit images (stb_image), for the command-line tool.
#include <string>

#include <mobilenext/io/image_preprocess.hpp>

namespace mobilenext::cli {

// Decodes `path` into `channels` channels (1: grey, 3: RGB), converting as needed.
// Throws mobilenext::Error naming the file when it cannot be read or decoded.
Image read_image(const std::string& path, int channels);

}  // namespace mobilenext::cli
