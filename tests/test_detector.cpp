// The detector: post-processing against plain implementations, priors against the authors'
// formula, the same bits for any thread count and batch split, every vector kernel table
// against the reference, and refusals of detector files that contradict themselves.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <mobilenext/io/detector_file.hpp>
#include <mobilenext/io/safetensors.hpp>
#include <mobilenext/mobilenext.hpp>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace mobilenext {
namespace {

using testing::all_close;
using testing::random_input;

// Per class: every candidate above the threshold, best first, dropped when any kept box of
// its class overlaps it more than the threshold; then all classes best first, cut.
std::vector<Detection> plain_detections(const std::vector<float>& scores, const std::vector<float>& boxes,
                                        std::size_t priors, const internal::DetectionRule& r) {
    struct Candidate {
        float score;
        std::size_t prior;
        int label;
    };
    std::vector<Candidate> kept;
    const int first = r.score == ScoreFunction::softmax ? 1 : 0;
    for (int c = first; c < r.classes; ++c) {
        std::vector<Candidate> cands;
        for (std::size_t p = 0; p < priors; ++p)
            if (scores[p * r.classes + c] > r.threshold) cands.push_back({scores[p * r.classes + c], p, c});
        std::sort(cands.begin(), cands.end(), [](const Candidate& a, const Candidate& b) {
            return a.score != b.score ? a.score > b.score : a.prior < b.prior;
        });
        std::vector<Candidate> mine;
        for (const Candidate& k : cands) {
            bool suppressed = false;
            for (const Candidate& m : mine) {
                float a[4], b[4];
                for (int i = 0; i < 4; ++i) {
                    const float scale = i % 2 == 0 ? r.input_width : r.input_height;
                    a[i] = boxes[4 * m.prior + i] * scale;
                    b[i] = boxes[4 * k.prior + i] * scale;
                }
                suppressed = suppressed || internal::box_iou(a, b) > r.nms_iou;
            }
            if (!suppressed) mine.push_back(k);
        }
        kept.insert(kept.end(), mine.begin(), mine.end());
    }
    std::stable_sort(kept.begin(), kept.end(), [](const Candidate& a, const Candidate& b) {
        return a.score != b.score ? a.score > b.score : (a.prior != b.prior ? a.prior < b.prior : a.label < b.label);
    });
    kept.resize(std::min(kept.size(), std::size_t(r.max_detections)));
    std::vector<Detection> out;
    for (const Candidate& k : kept) {
        Detection d;
        d.label = k.label + (r.score == ScoreFunction::sigmoid ? 1 : 0);
        d.score = k.score;
        out.push_back(d);
    }
    return out;
}

TEST(DetectorPostProcess, SuppressionMatchesThePlainAlgorithm) {
    // Thresholds 0 (scores below the finest bucket) and 0.05; 5 detections (within the first
    // tier of buckets) and 100 (several tiers).
    for (ScoreFunction f : {ScoreFunction::softmax, ScoreFunction::sigmoid})
        for (int max_detections : {5, 100})
            for (float threshold : {0.0f, 0.05f}) {
                const std::size_t priors = 700;
                const int classes = 6;
                const float spread = threshold == 0.0f ? 20.0f : 3.0f;  // wide logits: scores down to 1e-17
                std::vector<float> scores = testing::random_vector(priors * classes, 7, -spread, spread);
                internal::score_rows(scores.data(), priors, classes, f);
                // Boxes clustered so that many overlap: centres on a coarse grid, sizes near 0.2.
                std::vector<float> boxes(4 * priors);
                const std::vector<float> jitter = testing::random_vector(4 * priors, 8, -0.03f, 0.03f);
                for (std::size_t p = 0; p < priors; ++p) {
                    const float cx = 0.2f + 0.15f * float(p % 5) + jitter[4 * p],
                                cy = 0.3f + 0.2f * float(p / 5 % 3) + jitter[4 * p + 1];
                    const float w = 0.2f + jitter[4 * p + 2], h = 0.25f + jitter[4 * p + 3];
                    boxes[4 * p] = cx - w / 2, boxes[4 * p + 1] = cy - h / 2, boxes[4 * p + 2] = cx + w / 2,
                              boxes[4 * p + 3] = cy + h / 2;
                }
                const internal::DetectionRule rule{f,      classes, threshold, 0.45f, max_detections,
                                                   320.0f, 240.0f,  1.0f,      1.0f};
                internal::NmsScratch scratch;
                std::vector<Detection> found;
                internal::select_detections(scores.data(), boxes.data(), priors, rule, {}, scratch, found);
                const std::vector<Detection> expected = plain_detections(scores, boxes, priors, rule);
                SCOPED_TRACE(std::string(score_function_name(f)) + ", max " + std::to_string(max_detections) +
                             ", threshold " + std::to_string(threshold));
                ASSERT_EQ(found.size(), expected.size());
                for (std::size_t i = 0; i < found.size(); ++i) {
                    EXPECT_EQ(found[i].label, expected[i].label) << "detection " << i << ", " << score_function_name(f);
                    EXPECT_EQ(found[i].score, expected[i].score) << "detection " << i << ", " << score_function_name(f);
                }
            }
}

TEST(DetectorPostProcess, SoftmaxRowsSumToOneAndDecodingInvertsTheEncoding) {
    std::vector<float> rows = testing::random_vector(5 * 21, 3, -30.0f, 30.0f);
    internal::score_rows(rows.data(), 5, 21, ScoreFunction::softmax);
    for (int p = 0; p < 5; ++p) {
        float total = 0;
        for (int c = 0; c < 21; ++c) total += rows[std::size_t(p * 21 + c)];
        EXPECT_NEAR(total, 1.0f, 1e-5f) << "prior " << p;
    }
    // A box encoded against its prior with the variances decodes back to itself.
    const float prior[4] = {0.4f, 0.6f, 0.2f, 0.3f};
    const float cx = 0.45f, cy = 0.5f, w = 0.25f, h = 0.2f;
    float box[4] = {(cx - prior[0]) / prior[2] / 0.1f, (cy - prior[1]) / prior[3] / 0.1f, std::log(w / prior[2]) / 0.2f,
                    std::log(h / prior[3]) / 0.2f};
    internal::decode_boxes(box, prior, 1, 0.1f, 0.2f);
    EXPECT_NEAR(box[0], cx - w / 2, 1e-6f);
    EXPECT_NEAR(box[1], cy - h / 2, 1e-6f);
    EXPECT_NEAR(box[2], cx + w / 2, 1e-6f);
    EXPECT_NEAR(box[3], cy + h / 2, 1e-6f);
}

TEST(DetectorPriors, MatchTheAuthorsFormulaAt320) {
    const DetectorConfig c = DetectorConfig::voc();
    const DetectorTopology t = derive_detector_topology(1.0, c);
    const auto maps = detector_map_sizes(t, 320, 320);
    for (int k = 0; k < kDetectorMaps; ++k)
        EXPECT_EQ(maps[std::size_t(k)].height, c.feature_maps[std::size_t(k)]) << "map " << k;
    ASSERT_EQ(prior_count(c, maps), 3234u);
    std::vector<float> priors(4 * 3234);
    make_priors(c, maps, 320, 320, priors.data());
    // Map 0, location (0, 1): scale 320 / 16 = 20, centre ((1 + 0.5) / 20, 0.5 / 20).
    const float* p = priors.data() + 4 * 6;
    EXPECT_FLOAT_EQ(p[0], 1.5f / 20);
    EXPECT_FLOAT_EQ(p[1], 0.5f / 20);
    EXPECT_FLOAT_EQ(p[2], 45.0f / 320);
    EXPECT_FLOAT_EQ(p[7], float(std::sqrt(45.0 * 120.0) / 320));  // the large square
    EXPECT_FLOAT_EQ(p[10], float(45.0 / 320 * std::sqrt(2.0)));   // ratio 2, wide
    // The last map's large prior is clamped to 1.
    const float* last = priors.data() + 4 * (3234 - 5);
    EXPECT_FLOAT_EQ(last[2], std::min(1.0f, float(std::sqrt(270.0 * 320.0) / 320)));
}

TEST(Detector, SameBitsForAnyThreadCountAndBatch) {
    const Detector d = Detector::random(0.5, DetectorConfig::voc(), 2);
    const Tensor x = random_input(2, 160, 224, 3, 5);
    DetectorOutputs one;
    Workspace ws1(1);
    d.detect(x, one, ws1);
    for (int threads : {2, 3}) {
        DetectorOutputs out;
        Workspace ws(threads);
        d.detect(x, out, ws);
        EXPECT_TRUE(std::equal(one.scores.data(), one.scores.data() + one.scores.size(), out.scores.data())) << threads;
        EXPECT_TRUE(std::equal(one.boxes.data(), one.boxes.data() + one.boxes.size(), out.boxes.data())) << threads;
        for (int k = 0; k < kDetectorMaps; ++k)
            EXPECT_TRUE(std::equal(one.maps[k].data(), one.maps[k].data() + one.maps[k].size(), out.maps[k].data()))
                << "map " << k << ", " << threads << " threads";
        ASSERT_EQ(out.detections[1].size(), one.detections[1].size());
    }
    // The second image alone (1 image, 2 threads: cut into bands) gives the batch's bits.
    Tensor second(1, 160, 224, 3);
    std::copy(x.data() + second.size(), x.data() + 2 * second.size(), second.data());
    DetectorOutputs alone;
    Workspace ws2(2);
    d.detect(second, alone, ws2);
    EXPECT_TRUE(std::equal(alone.scores.data(), alone.scores.data() + alone.scores.size(), one.scores_of(1)));
}

class DetectorKernelTables : public testing::KernelTableTest {};

TEST_P(DetectorKernelTables, MatchTheReferenceKernels) {
    LoadOptions options;
    options.kernels = GetParam()->name();
    for (const DetectorConfig& c : {DetectorConfig::voc(), DetectorConfig::coco()}) {
        const Detector fast = Detector::random(0.35, c, 4, options);
        const Detector plain = Detector::random(0.35, c, 4, testing::reference_kernels());
        const Tensor x = random_input(1, 97, 131, 3, 6);
        DetectorOutputs a, b;
        Workspace ws;
        fast.forward(x, a, ws);
        plain.forward(x, b, ws);
        const std::string what = GetParam()->name() + ", " + score_function_name(c.score) + ", input 1x97x131";
        for (int k = 0; k < kDetectorMaps; ++k)
            EXPECT_TRUE(all_close(a.maps[k].data(), b.maps[k].data(), a.maps[k].size(),
                                  what + ", map " + std::to_string(k), 1e-3f, 1e-3f));
        EXPECT_TRUE(all_close(a.scores.data(), b.scores.data(), a.scores.size(), what + ", scores", 1e-4f, 1e-3f));
        EXPECT_TRUE(all_close(a.boxes.data(), b.boxes.data(), a.boxes.size(), what + ", boxes", 1e-4f, 1e-3f));
    }
}

INSTANTIATE_TEST_SUITE_P(VectorTables, DetectorKernelTables, ::testing::ValuesIn(testing::vector_kernel_tables()),
                         testing::KernelTableName());

// A detector state dict of random weights for `config` at width 0.35.
StateDict random_weights(const DetectorConfig& config) {
    return make_random_state_dict(detector_tensors(derive_detector_topology(0.35, config)), 9);
}

DetectorInfo info_for(const DetectorConfig& config) {
    DetectorInfo info;
    info.path = "detector.safetensors";
    info.width = 0.35;
    info.config = config;
    return info;
}

void expect_load_error(const StateDict& weights, const DetectorInfo& info, const std::string& tensor,
                       const std::string& found_part) {
    try {
        (void)Detector::from_state_dict(weights, info);
        ADD_FAILURE() << "no LoadError for " << tensor;
    } catch (const LoadError& e) {
        EXPECT_EQ(e.tensor(), tensor) << e.what();
        EXPECT_NE(std::string(e.what()).find(found_part), std::string::npos) << e.what();
    }
}

TEST(DetectorLoad, HeadShapesThatContradictTheConfigurationAreRefused) {
    // Weights of the COCO heads (4 boxes on the last map) with the VOC configuration (6).
    expect_load_error(random_weights(DetectorConfig::coco()), info_for(DetectorConfig::voc()),
                      "box_head.predictor.cls_headers.0.conv.3.weight", "boxes per location");
    DetectorConfig fewer = DetectorConfig::voc();
    fewer.aspect_ratios[5] = {2};
    expect_load_error(random_weights(DetectorConfig::voc()), info_for(fewer), "box_head.predictor.cls_headers.5.weight",
                      "shape [126, 128, 1, 1]");
}

TEST(DetectorLoad, MissingExtrasAndPriorsThatDoNotMatchTheMapsAreRefused) {
    StateDict weights = random_weights(DetectorConfig::voc());
    weights.erase("backbone.extras.2.3.weight");
    expect_load_error(weights, info_for(DetectorConfig::voc()), "backbone.extras.2.3.weight", "missing");
    DetectorConfig wrong = DetectorConfig::voc();
    wrong.feature_maps[3] = 4;
    expect_load_error(random_weights(DetectorConfig::voc()), info_for(wrong),
                      "__metadata__.mobilenext.detector.feature_maps", "4");
    StateDict extra = random_weights(DetectorConfig::voc());
    extra["box_head.predictor.cls_headers.6.weight"] = {{1}, {0.0f}};
    expect_load_error(extra, info_for(DetectorConfig::voc()), "box_head.predictor.cls_headers.6.weight", "unexpected");
}

TEST(DetectorLoad, BadMetadataIsRefusedNamingTheField) {
    SafetensorsContents contents;
    contents.tensors = random_weights(DetectorConfig::voc());
    contents.metadata = {
        {"mobilenext.task", "detection"}, {"mobilenext.width", "0.35"}, {"mobilenext.num_classes", "21"}};
    const std::string good =
        R"({"score": "softmax", "image_size": 320, "feature_maps": [20, 10, 5, 3, 2, 1], "strides": [16, 32, 64, 120, 160, 320],
            "min_sizes": [45, 90, 135, 180, 225, 270], "max_sizes": [120, 180, 220, 260, 300, 320],
            "aspect_ratios": [[2, 3], [2, 3], [2, 3], [2, 3], [2, 3], [2, 3]], "center_variance": 0.1, "size_variance": 0.2,
            "threshold": 0.01, "nms_iou": 0.45, "max_detections": 100})";
    contents.metadata["mobilenext.detector"] = good;
    EXPECT_EQ(Detector::from_safetensors(contents, "d.safetensors").priors(320, 320), 3234u);
    const auto refused = [&](const std::string& from, const std::string& to, const std::string& field) {
        SafetensorsContents bad = contents;
        std::string text = good;
        text.replace(text.find(from), from.size(), to);
        bad.metadata["mobilenext.detector"] = text;
        try {
            (void)Detector::from_safetensors(bad, "d.safetensors");
            ADD_FAILURE() << "accepted " << to;
        } catch (const LoadError& e) {
            EXPECT_EQ(e.tensor(), "__metadata__.mobilenext.detector" + field) << e.what();
        }
    };
    refused("\"softmax\"", "\"softplus\"", ".score");
    refused("\"nms_iou\": 0.45", "\"nms_iou\": 1.5", ".nms_iou");
    refused("\"center_variance\": 0.1", "\"center_variance\": -1", ".center_variance");
    refused("[16, 32, 64, 120, 160, 320]", "[16, 32, 64]", ".strides");
    refused("\"max_detections\": 100", "\"max_detections\": 0", ".max_detections");
    // A classifier loader meeting a detector file says what it is.
    try {
        (void)Model::from_safetensors(contents, "d.safetensors");
        ADD_FAILURE() << "Model accepted a detector file";
    } catch (const LoadError& e) {
        EXPECT_NE(std::string(e.what()).find("Detector::load"), std::string::npos) << e.what();
    }
}

TEST(Detector, NonFiniteInputIsRefused) {
    const Detector d = Detector::random(0.35, DetectorConfig::voc(), 1);
    Tensor x = random_input(1, 64, 64, 3, 1);
    x.at(0, 10, 20, 1) = std::nanf("");
    DetectorOutputs out;
    Workspace ws;
    EXPECT_THROW(d.forward(x, out, ws), Error);
}

}  // namespace
}  // namespace mobilenext
