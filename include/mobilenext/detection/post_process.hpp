#pragma once
// From the heads' outputs to detections: class scores (softmax or sigmoid), boxes decoded
// against the priors, then the candidates above the threshold, greedy non-maximum suppression
// within each class, and the best max_detections of all classes. Allocates nothing once the
// scratch has grown to the largest input seen.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <utility>
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

// Scores in buckets by their bits: for positive floats the bit pattern grows with the value,
// so its top bits are a key in score order (1024 buckets per octave). Scores at or below
// kLowestBinned share bucket 0; scores are at most 1 (softmax, sigmoid).
struct ScoreBuckets {
    static constexpr int kShift = 13;
    static constexpr float kLowestBinned = 1e-6f;

    static std::uint32_t key(float score) {
        std::uint32_t bits;
        std::memcpy(&bits, &score, sizeof bits);
        return bits >> kShift;
    }
    static std::size_t most() { return std::size_t(key(1.0f) - key(kLowestBinned)) + 1; }

    explicit ScoreBuckets(float threshold)
        : lowest(key(std::clamp(threshold, kLowestBinned, 1.0f))), count(key(1.0f) - lowest + 1) {}
    std::uint32_t operator()(float score) const {
        const std::uint32_t k = key(score);
        return k <= lowest ? 0 : std::min(k - lowest, count - 1);
    }

    std::uint32_t lowest, count;
};

// Candidates of one image, reused from call to call.
struct NmsScratch {
    struct Candidate {
        float score;
        std::uint32_t prior;
        int label;
    };
    struct Kept {
        Candidate candidate;
        std::array<float, 4> box;  // in the input's pixels
        int previous_of_label;     // the kept box of the same label before this one, or -1
    };
    std::vector<std::uint32_t> bucket;  // candidates per score bucket, then where each bucket ends
    std::vector<Candidate> candidates;
    std::vector<Kept> kept;
    std::vector<int> last_of_label;  // per label, its last kept box, or -1

    // Room for every (prior, class) pair: no allocation on later calls of the same size.
    void reserve(std::size_t priors, int classes, int max_detections) {
        const std::size_t pairs = priors * std::size_t(classes);
        if (candidates.capacity() < pairs) candidates.reserve(pairs);
        if (kept.capacity() < std::size_t(max_detections)) kept.reserve(std::size_t(max_detections));
        if (bucket.capacity() < ScoreBuckets::most()) bucket.reserve(ScoreBuckets::most());
        if (last_of_label.capacity() < std::size_t(classes) + 1) last_of_label.reserve(std::size_t(classes) + 1);
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

// Calls f(score, prior, label) for every (prior, class) pair above the threshold, in prior
// order. The background (column 0 under softmax) is no class; sigmoid labels count from 1.
template <typename F>
void for_each_candidate(const float* scores, std::size_t priors, const DetectionRule& r, F&& f) {
    const int first = r.score == ScoreFunction::softmax ? 1 : 0;
    const int offset = r.score == ScoreFunction::softmax ? 0 : 1;
    for (std::size_t p = 0; p < priors; ++p) {
        const float* row = scores + p * std::size_t(r.classes);
        for (int c = first; c < r.classes; ++c)
            if (row[c] > r.threshold) f(row[c], std::uint32_t(p), c + offset);
    }
}

// The candidates of buckets [low, high) into s.candidates, grouped by bucket (counting sort),
// in prior order within one; s.bucket[b] is then where bucket b ends.
inline void gather_buckets(const float* scores, std::size_t priors, const DetectionRule& r, const ScoreBuckets& buckets,
                           std::uint32_t low, std::uint32_t high, NmsScratch& s) {
    std::uint32_t total = 0;
    for (std::uint32_t b = low; b < high; ++b) total += std::exchange(s.bucket[b], total);
    s.candidates.resize(total);
    for_each_candidate(scores, priors, r, [&](float score, std::uint32_t prior, int label) {
        const std::uint32_t b = buckets(score);
        if (b >= low && b < high) s.candidates[s.bucket[b]++] = {score, prior, label};
    });
}

// Whether a kept box of the candidate's label overlaps it more than the threshold: only
// that label's boxes, chained, so a candidate meets a few boxes instead of all classes' kept.
inline bool suppressed_by_kept(const NmsScratch& s, int label, const std::array<float, 4>& box, float nms_iou) {
    for (int k = s.last_of_label[std::size_t(label)]; k >= 0; k = s.kept[std::size_t(k)].previous_of_label)
        if (box_iou(s.kept[std::size_t(k)].box.data(), box.data()) > nms_iou) return true;
    return false;
}

// One image's detections, best first. Per-class greedy suppression followed by the best
// max_detections of all classes keeps exactly the candidates that one walk over all classes
// in score order keeps (whether a candidate survives depends only on the better ones of its
// class), so the walk stops at the max_detections-th kept box: on a random detector, where
// nearly all of 64,000 pairs pass the threshold, a few hundred candidates in. The walk takes
// the candidates a tier of score buckets at a time, best first, with no comparison sort but
// of one bucket (about ten candidates) as it reaches it: a comparison sort or selection over
// all pairs spent most of its time in mispredicted branches
// (benchmarks/bench_detector.cpp, detector/detection/...). `names[label]` names each detection.
inline void select_detections(const float* scores, const float* boxes, std::size_t priors, const DetectionRule& r,
                              const std::vector<std::string>& names, NmsScratch& s, std::vector<Detection>& out) {
    const ScoreBuckets buckets(r.threshold);
    s.bucket.assign(buckets.count, 0);
    for_each_candidate(scores, priors, r, [&](float score, std::uint32_t, int) { ++s.bucket[buckets(score)]; });
    s.kept.clear();
    s.last_of_label.assign(std::size_t(r.classes) + 1, -1);  // sigmoid labels run to classes
    const std::uint32_t tier = std::uint32_t(std::max(256, 4 * r.max_detections));
    for (std::uint32_t high = buckets.count; high > 0 && int(s.kept.size()) < r.max_detections;) {
        std::uint32_t low = high, count = 0;
        while (low > 0 && count < tier) count += s.bucket[--low];
        gather_buckets(scores, priors, r, buckets, low, high, s);
        for (std::uint32_t b = high; b-- > low && int(s.kept.size()) < r.max_detections;) {
            const auto first = s.candidates.begin() + (b == low ? 0 : s.bucket[b - 1]);
            const auto last = s.candidates.begin() + s.bucket[b];
            std::sort(first, last, better_candidate);
            for (auto it = first; it != last && int(s.kept.size()) < r.max_detections; ++it) {
                const float* q = boxes + 4 * std::size_t(it->prior);
                const std::array<float, 4> box{q[0] * r.input_width, q[1] * r.input_height, q[2] * r.input_width,
                                               q[3] * r.input_height};
                if (suppressed_by_kept(s, it->label, box, r.nms_iou)) continue;
                int& last_of_label = s.last_of_label[std::size_t(it->label)];
                s.kept.push_back({*it, box, std::exchange(last_of_label, int(s.kept.size()))});
            }
        }
        high = low;
    }
    out.clear();
    for (const NmsScratch::Kept& k : s.kept) {
        Detection d;
        d.box = {k.box[0] * r.scale_x, k.box[1] * r.scale_y, k.box[2] * r.scale_x, k.box[3] * r.scale_y};
        d.label = k.candidate.label;
        d.score = k.candidate.score;
        if (std::size_t(k.candidate.label) < names.size()) d.name = names[std::size_t(k.candidate.label)];
        out.push_back(d);
    }
}

}  // namespace internal

}  // namespace mobilenext
