#pragma once
// From the heads' outputs to detections: class scores (softmax or sigmoid), boxes decoded
// against the priors, then per class the candidates above the threshold, greedy non-maximum
// suppression, and the best max_detections of all classes. Allocates nothing once the
// scratch has grown to the largest input seen.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "detector_config.hpp"

namespace mobilenext {

// One detected object. `box` is (x1, y1, x2, y2) in pixels of the image given to detect()
// (of the input tensor for forward-level calls), not clipped to it.
struct Detection {
    std::array<float, 4> box{};
    int label = 0;          // the class: a column of the scores (softmax), column + 1 (sigmoid)
    std::string_view name;  // the file's name of the label (empty without labels); lives as long as the detector
    float score = 0.0f;
};

namespace internal {

// Softmax (in float, from the largest logit, as PyTorch computes it) or sigmoid of each of
// `priors` rows of `classes` logits, in place.
inline void score_rows(float* rows, std::size_t priors, int classes, ScoreFunction f) {
    for (std::size_t p = 0; p < priors; ++p) {
        float* z = rows + p * std::size_t(classes);
        if (f == ScoreFunction::sigmoid) {
            for (int c = 0; c < classes; ++c) z[c] = 1.0f / (1.0f + std::exp(-z[c]));
            continue;
        }
        const float largest = *std::max_element(z, z + classes);
        float total = 0.0f;
        for (int c = 0; c < classes; ++c) total += z[c] = std::exp(z[c] - largest);
        for (int c = 0; c < classes; ++c) z[c] /= total;
    }
}

// Box regressions (dx, dy, dw, dh) to corners relative to the input, in place:
// centre = d.xy * center_variance * prior.wh + prior.xy, size = exp(d.wh * size_variance) * prior.wh.
inline void decode_boxes(float* boxes, const float* priors, std::size_t count, float center_variance,
                         float size_variance) {
    for (std::size_t p = 0; p < count; ++p) {
        float* b = boxes + 4 * p;
        const float* q = priors + 4 * p;
        const float cx = b[0] * center_variance * q[2] + q[0], cy = b[1] * center_variance * q[3] + q[1];
        const float w = std::exp(b[2] * size_variance) * q[2], h = std::exp(b[3] * size_variance) * q[3];
        b[0] = cx - w / 2;
        b[1] = cy - h / 2;
        b[2] = cx + w / 2;
        b[3] = cy + h / 2;
    }
}

// Intersection over union of two corner boxes, in float in the order torchvision's CPU
// non-maximum suppression computes it, so that boxes near the threshold fall the same way.
inline float box_iou(const float* a, const float* b) {
    const float w = std::max(0.0f, std::min(a[2], b[2]) - std::max(a[0], b[0]));
    const float h = std::max(0.0f, std::min(a[3], b[3]) - std::max(a[1], b[1]));
    const float inter = w * h;
    const float area_a = (a[2] - a[0]) * (a[3] - a[1]), area_b = (b[2] - b[0]) * (b[3] - b[1]);
    return inter / (area_a + area_b - inter);
}

// Candidates of one image, reused from call to call.
struct NmsScratch {
    struct Candidate {
        float score;
        std::uint32_t prior;
        int label;
        std::array<float, 4> box;  // in the input's pixels
    };
    std::vector<Candidate> candidates, kept;
    std::vector<std::uint32_t> class_start;

    // Room for every (prior, class) pair: no allocation on later calls of the same size.
    void reserve(std::size_t priors, int classes, int max_detections) {
        const std::size_t pairs = priors * std::size_t(classes);
        if (candidates.capacity() < pairs) candidates.reserve(pairs);
        const std::size_t kept_most = std::min(pairs, std::size_t(classes) * std::size_t(max_detections));
        if (kept.capacity() < kept_most) kept.reserve(kept_most);
        if (class_start.capacity() < std::size_t(classes) + 2) class_start.reserve(std::size_t(classes) + 2);
    }
};

// Higher score first; equal scores by prior, then label (a fixed order whatever the threads).
inline bool better_candidate(const NmsScratch::Candidate& a, const NmsScratch::Candidate& b) {
    if (a.score != b.score) return a.score > b.score;
    if (a.prior != b.prior) return a.prior < b.prior;
    return a.label < b.label;
}

// What select_detections needs to know about the image and the configuration.
struct DetectionRule {
    ScoreFunction score;
    int classes;
    float threshold, nms_iou;
    int max_detections;
    float input_width, input_height;  // relative boxes times these: pixels of the input
    float scale_x, scale_y;           // then times these: pixels of the image reported
};

// Candidates of one image grouped by class (counting sort), in prior order within a class.
inline void gather_candidates(const float* scores, const float* boxes, std::size_t priors, const DetectionRule& r,
                              NmsScratch& s) {
    const int first = r.score == ScoreFunction::softmax ? 1 : 0;  // the background is no class
    const int offset = r.score == ScoreFunction::softmax ? 0 : 1;  // sigmoid labels count from 1
    s.class_start.assign(std::size_t(r.classes) + 1, 0);
    for (std::size_t p = 0; p < priors; ++p)
        for (int c = first; c < r.classes; ++c)
            if (scores[p * std::size_t(r.classes) + std::size_t(c)] > r.threshold) ++s.class_start[std::size_t(c) + 1];
    for (int c = 0; c < r.classes; ++c) s.class_start[std::size_t(c) + 1] += s.class_start[std::size_t(c)];
    s.candidates.resize(s.class_start[std::size_t(r.classes)]);
    s.kept.clear();
    // class_start[c] runs ahead as class c fills and ends at the next class's start.
    std::vector<std::uint32_t>& next = s.class_start;
    for (std::size_t p = 0; p < priors; ++p) {
        const float* b = boxes + 4 * p;
        const std::array<float, 4> pixels{b[0] * r.input_width, b[1] * r.input_height, b[2] * r.input_width,
                                          b[3] * r.input_height};
        for (int c = first; c < r.classes; ++c) {
            const float score = scores[p * std::size_t(r.classes) + std::size_t(c)];
            if (score > r.threshold) s.candidates[next[std::size_t(c)]++] = {score, std::uint32_t(p), c + offset, pixels};
        }
    }
    // next[c] is now the end of class c, the start of class c + 1.
}

// One image's detections, best first: greedy suppression within each class (a candidate is
// kept unless a kept box of its class overlaps it by more than nms_iou), at most
// max_detections kept per class (no later one could enter the overall best), then the best
// max_detections of all classes. `names[label]` names each detection when not empty.
inline void select_detections(const float* scores, const float* boxes, std::size_t priors, const DetectionRule& r,
                              const std::vector<std::string>& names, NmsScratch& s, std::vector<Detection>& out) {
    gather_candidates(scores, boxes, priors, r, s);
    std::uint32_t begin = 0;
    for (int c = 0; c < r.classes; ++c) {
        const std::uint32_t end = s.class_start[std::size_t(c)];
        const std::size_t class_kept = s.kept.size();
        // Best first, sorted a chunk at a time as the walk reaches it: the walk stops after
        // max_detections kept, usually long before a class's thousands of candidates (a
        // random detector's 64,000 took 4.7 ms to sort whole; benchmarks/compare_detector_onnxruntime.sh).
        const std::uint32_t chunk = std::uint32_t(std::max(256, 4 * r.max_detections));
        std::uint32_t sorted_end = begin;
        for (std::uint32_t i = begin; i < end && int(s.kept.size() - class_kept) < r.max_detections; ++i) {
            if (i == sorted_end) {
                sorted_end = std::min(end, sorted_end + chunk);
                std::partial_sort(s.candidates.begin() + i, s.candidates.begin() + sorted_end, s.candidates.begin() + end,
                                  better_candidate);
            }
            const NmsScratch::Candidate& cand = s.candidates[i];
            bool suppressed = false;
            for (std::size_t k = class_kept; k < s.kept.size() && !suppressed; ++k)
                suppressed = box_iou(s.kept[k].box.data(), cand.box.data()) > r.nms_iou;
            if (!suppressed) s.kept.push_back(cand);
        }
        begin = end;
    }
    const std::size_t count = std::min(s.kept.size(), std::size_t(r.max_detections));
    std::partial_sort(s.kept.begin(), s.kept.begin() + std::ptrdiff_t(count), s.kept.end(), better_candidate);
    out.clear();
    for (std::size_t i = 0; i < count; ++i) {
        const NmsScratch::Candidate& k = s.kept[i];
        Detection d;
        d.box = {k.box[0] * r.scale_x, k.box[1] * r.scale_y, k.box[2] * r.scale_x, k.box[3] * r.scale_y};
        d.label = k.label;
        d.score = k.score;
        if (std::size_t(k.label) < names.size()) d.name = names[std::size_t(k.label)];
        out.push_back(d);
    }
}

}  // namespace internal

}  // namespace mobilenext
