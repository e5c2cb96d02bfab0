#pragma once
// What one detector pass produces, in buffers the caller keeps from call to call (like a
// Workspace, one pass at a time uses it): once they have grown to an input's size, later
// passes of that size allocate nothing.
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "../core/tensor.hpp"
#include "detector_config.hpp"
#include "post_process.hpp"

namespace mobilenext {

struct DetectorOutputs {
    // [N][1][priors][classes]: softmax or sigmoid scores, the background column kept.
    Tensor scores;
    // [N][1][priors][4]: decoded corners (x1, y1, x2, y2) relative to the input, not clipped.
    Tensor boxes;
    // The six feature maps the heads read, NHWC: blocks 13 and 20's expansions, the extras.
    std::array<Tensor, kDetectorMaps> maps;
    // Per image, best first (Detector::detect; empty after forward alone).
    std::vector<std::vector<Detection>> detections;

    int batch() const noexcept { return scores.shape().n; }
    int priors() const noexcept { return scores.shape().w; }
    int classes() const noexcept { return scores.shape().c; }
    const float* scores_of(int n) const { return scores.data() + std::size_t(n) * priors() * classes(); }
    const float* boxes_of(int n) const { return boxes.data() + std::size_t(n) * priors() * 4; }

    // Candidate lists of the suppression, one per image; the resized image and the
    // preprocessed input of Detector::detect(image, ...).
    std::vector<internal::NmsScratch> nms;
    std::vector<std::uint8_t> resized;
    Tensor input;
};

}  // namespace mobilenext
