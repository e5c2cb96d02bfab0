#pragma once
// The evaluation transform of image classifiers, as torchvision applies it to PIL images:
// resize the shorter side (antialiased bicubic or bilinear resampling, PIL's algorithm:
// separable, kernel widened by the downscale factor, 8-bit rounding after each pass), centre
// crop, scale to [0, 1], normalise per channel. Decoding files is in mobilenext::image
// (image/image_file.hpp: read_image, decode_image), so this header has no image-format code.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../core/tensor.hpp"

namespace mobilenext {

// How images are turned into the network's input (the evaluation transform of training).
struct Preprocessing {
    int resize = 256;  // shorter side, before the centre crop
    int crop = 224;
    std::string interpolation = "bicubic";  // or "bilinear"
    std::vector<float> mean{0.485f, 0.456f, 0.406f};
    std::vector<float> std{0.229f, 0.224f, 0.225f};
};

// 8-bit pixels, rows top to bottom, channels interleaved (HWC).
struct Image {
    int width = 0, height = 0, channels = 0;
    std::vector<std::uint8_t> pixels;
};

namespace internal {

inline double resample_filter(double x, bool bicubic) {
    x = std::fabs(x);
    if (!bicubic) return x < 1.0 ? 1.0 - x : 0.0;
    constexpr double a = -0.5;  // PIL's bicubic
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
    if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
    return 0.0;
}

struct ResampleTaps {
    std::vector<int> first;         // first input index of each output
    std::vector<int> count;         // taps of each output
    std::vector<double> weights;    // max_taps per output
    int max_taps = 0;
};

// Weights of a 1-D resampling of in_size samples to out_size.
inline ResampleTaps resample_taps(int in_size, int out_size, bool bicubic) {
    const double scale = double(in_size) / out_size;
    const double filter_scale = std::max(scale, 1.0);
    const double support = (bicubic ? 2.0 : 1.0) * filter_scale;
    ResampleTaps t;
    t.max_taps = int(std::ceil(support)) * 2 + 1;
    t.first.resize(out_size);
    t.count.resize(out_size);
    t.weights.assign(std::size_t(out_size) * t.max_taps, 0.0);
    for (int o = 0; o < out_size; ++o) {
        const double center = (o + 0.5) * scale;
        const int lo = std::max(int(center - support + 0.5), 0);
        const int hi = std::min(int(center + support + 0.5), in_size);
        const int n = std::min(hi - lo, t.max_taps);
        double total = 0.0;
        double* w = &t.weights[std::size_t(o) * t.max_taps];
        for (int i = 0; i < n; ++i) total += w[i] = resample_filter((i + lo - center + 0.5) / filter_scale, bicubic);
        if (total != 0.0)
            for (int i = 0; i < n; ++i) w[i] /= total;
        t.first[o] = lo;
        t.count[o] = n;
    }
    return t;
}

inline std::uint8_t round_to_u8(double v) { return std::uint8_t(std::clamp(std::lround(v), 0l, 255l)); }

// Images come from decoders and from users: sizes must be positive and match the pixels.
inline void check_image(const Image& image, const char* what) {
    const bool positive = image.width > 0 && image.height > 0 && image.channels > 0;
    if (!positive || image.pixels.size() / std::size_t(image.width) / std::size_t(image.height) !=
                         std::size_t(image.channels) ||
        image.pixels.size() % (std::size_t(image.width) * std::size_t(image.height)) != 0)
        fail(std::string(what) + ": the image is " + std::to_string(image.width) + "x" + std::to_string(image.height) +
             "x" + std::to_string(image.channels) + " but holds " + std::to_string(image.pixels.size()) + " bytes");
}

}  // namespace internal

// Resamples to width x height (horizontal pass, then vertical, like PIL).
inline Image resize_image(const Image& in, int width, int height, const std::string& interpolation) {
    internal::check_image(in, "resize_image");
    internal::check(width > 0 && height > 0 && width <= 65536 && height <= 65536,
                    "resize_image: target size " + std::to_string(width) + "x" + std::to_string(height) +
                        " is out of range");
    internal::check(interpolation == "bicubic" || interpolation == "bilinear",
                    "resize_image: interpolation must be 'bicubic' or 'bilinear', found '" + interpolation + "'");
    const bool bicubic = interpolation == "bicubic";
    const int C = in.channels;
    // Horizontal pass: in.height rows of `width` pixels.
    const internal::ResampleTaps h = internal::resample_taps(in.width, width, bicubic);
    Image mid{width, in.height, C, std::vector<std::uint8_t>(std::size_t(width) * in.height * C)};
    for (int y = 0; y < in.height; ++y)
        for (int x = 0; x < width; ++x)
            for (int c = 0; c < C; ++c) {
                double sum = 0.0;
                const double* w = &h.weights[std::size_t(x) * h.max_taps];
                for (int i = 0; i < h.count[x]; ++i)
                    sum += w[i] * in.pixels[(std::size_t(y) * in.width + h.first[x] + i) * C + c];
                mid.pixels[(std::size_t(y) * width + x) * C + c] = internal::round_to_u8(sum);
            }
    const internal::ResampleTaps v = internal::resample_taps(in.height, height, bicubic);
    Image out{width, height, C, std::vector<std::uint8_t>(std::size_t(width) * height * C)};
    for (int y = 0; y < height; ++y)
        for (int x = 0; x < width; ++x)
            for (int c = 0; c < C; ++c) {
                double sum = 0.0;
                const double* w = &v.weights[std::size_t(y) * v.max_taps];
                for (int i = 0; i < v.count[y]; ++i)
                    sum += w[i] * mid.pixels[(std::size_t(v.first[y] + i) * width + x) * C + c];
                out.pixels[(std::size_t(y) * width + x) * C + c] = internal::round_to_u8(sum);
            }
    return out;
}

// The shorter side becomes `size`; the longer one keeps the aspect ratio (truncated, as
// torchvision computes it).
inline Image resize_shorter_side(const Image& in, int size, const std::string& interpolation) {
    internal::check_image(in, "resize_shorter_side");
    internal::check(size > 0, "resize_shorter_side: size must be positive, found " + std::to_string(size));
    const bool wide = in.width >= in.height;
    const int short_side = wide ? in.height : in.width, long_side = wide ? in.width : in.height;
    const int new_long = int(std::int64_t(size) * long_side / short_side);
    if (short_side == size) return in;
    return wide ? resize_image(in, new_long, size, interpolation) : resize_image(in, size, new_long, interpolation);
}

// The centred size x size window (offsets rounded half to even, as Python's round()).
inline Image center_crop(const Image& in, int size) {
    internal::check_image(in, "center_crop");
    internal::check(size > 0, "center_crop: size must be positive, found " + std::to_string(size));
    internal::check(size <= in.width && size <= in.height,
                    "center_crop: a " + std::to_string(size) + "x" + std::to_string(size) + " crop needs a larger image than " +
                        std::to_string(in.width) + "x" + std::to_string(in.height));
    const auto offset = [](int excess) { return excess % 2 == 0 ? excess / 2 : (excess / 2) + ((excess / 2) % 2); };
    const int top = offset(in.height - size), left = offset(in.width - size);
    Image out{size, size, in.channels, std::vector<std::uint8_t>(std::size_t(size) * size * in.channels)};
    for (int y = 0; y < size; ++y)
        std::copy_n(&in.pixels[((std::size_t(top) + y) * in.width + left) * in.channels], std::size_t(size) * in.channels,
                    &out.pixels[std::size_t(y) * size * in.channels]);
    return out;
}

// Resize, crop, normalise: one image into image `index` of an NHWC batch tensor whose
// height and width equal p.crop and whose channels equal the image's.
inline void preprocess_into(const Image& image, const Preprocessing& p, Tensor& batch, int index) {
    internal::check_image(image, "preprocess");
    internal::check(image.channels == batch.channels(),
                    "preprocess: the model takes " + std::to_string(batch.channels()) + "-channel images, found " +
                        std::to_string(image.channels) + " channels");
    internal::check(p.mean.size() == std::size_t(image.channels) && p.std.size() == std::size_t(image.channels),
                    "preprocess: mean and std need one value per channel");
    internal::check(p.crop <= p.resize, "preprocess: crop " + std::to_string(p.crop) + " is larger than resize " +
                                            std::to_string(p.resize));
    const Image cropped = center_crop(resize_shorter_side(image, p.resize, p.interpolation), p.crop);
    internal::check(batch.height() == p.crop && batch.width() == p.crop && index >= 0 && index < batch.batch(),
                    "preprocess: the batch tensor " + batch.shape().str() + " does not take a " + std::to_string(p.crop) +
                        "x" + std::to_string(p.crop) + " image at index " + std::to_string(index));
    const int C = image.channels;
    float* out = batch.data() + std::size_t(index) * p.crop * p.crop * C;
    for (std::size_t i = 0; i < cropped.pixels.size(); ++i) {
        const int c = int(i % C);
        out[i] = (cropped.pixels[i] / 255.0f - p.mean[c]) / p.std[c];
    }
}

inline Tensor preprocess(const std::vector<Image>& images, const Preprocessing& p, int channels) {
    internal::check(!images.empty(), "preprocess: no images");
    Tensor batch(int(images.size()), p.crop, p.crop, channels);
    for (std::size_t i = 0; i < images.size(); ++i) preprocess_into(images[i], p, batch, int(i));
    return batch;
}

}  // namespace mobilenext
