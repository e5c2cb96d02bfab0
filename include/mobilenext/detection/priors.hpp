#pragma once
// The priors (anchor boxes) of an SSDLite detector, in the order of its heads' outputs: map
// after map, each map's locations row by row, at each location the small square, the large
// square, then for each aspect ratio r a wide and a tall box. Centre form, relative to the
// input and clamped to [0, 1].
//
// At an input of image_size x image_size this is the authors' formula (centre (j + 0.5) /
// (image_size / stride)); at another input of H x W the boxes keep their size in pixels and
// the centres their spacing in pixels: centre ((j + 0.5) * stride / W, (i + 0.5) * stride /
// H), sizes min_size / W by min_size / H. Computed in double and rounded to float once, as
// the PyTorch reference does (tools/ssdlite_torch.py, priors).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>

#include "detector_config.hpp"

namespace mobilenext {

struct MapSize {
    int height = 0, width = 0;
};

inline std::size_t prior_count(const DetectorConfig& c, const std::array<MapSize, kDetectorMaps>& maps) {
    std::size_t total = 0;
    for (int k = 0; k < kDetectorMaps; ++k)
        total += std::size_t(maps[std::size_t(k)].height) * maps[std::size_t(k)].width * c.boxes_per_location(k);
    return total;
}

// Writes prior_count() x 4 floats (cx, cy, w, h) for an input of height x width.
inline void make_priors(const DetectorConfig& c, const std::array<MapSize, kDetectorMaps>& maps, int height, int width,
                        float* out) {
    const auto put = [&out](double cx, double cy, double w, double h) {
        for (double v : {cx, cy, w, h}) *out++ = std::min(1.0f, std::max(0.0f, float(v)));
    };
    for (int k = 0; k < kDetectorMaps; ++k) {
        const std::size_t m = std::size_t(k);
        const double stride = c.strides[m], small = c.min_sizes[m], large = std::sqrt(c.min_sizes[m] * c.max_sizes[m]);
        for (int i = 0; i < maps[m].height; ++i)
            for (int j = 0; j < maps[m].width; ++j) {
                const double cx = (j + 0.5) * stride / width, cy = (i + 0.5) * stride / height;
                put(cx, cy, small / width, small / height);
                put(cx, cy, large / width, large / height);
                for (double r : c.aspect_ratios[m]) {
                    const double q = std::sqrt(r);
                    put(cx, cy, small / width * q, small / height / q);
                    put(cx, cy, small / width / q, small / height * q);
                }
            }
    }
}

}  // namespace mobilenext
