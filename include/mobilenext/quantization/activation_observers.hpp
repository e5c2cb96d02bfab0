#pragma once
// Activation range observers: what calibration sees of one tensor (every value it takes over
// the calibration batch) turned into the range its uint8 quantization should cover.
// - minmax: the whole observed range; no value is clipped, rare outliers widen the scale.
// - percentile: the range between two percentiles (by default the 0.01st and 99.99th): the
//   outliers beyond are clipped, the rest gets a finer scale.
// - mse: the range, shrunk from the observed one, that minimises the mean squared error of
//   quantizing the observed values (clipping error outside, rounding error inside).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "../core/error.hpp"

namespace mobilenext {

struct ActivationRange {
    float min = 0.0f, max = 0.0f;
};

enum class ObserverKind { minmax, percentile, mse };

inline const char* observer_kind_name(ObserverKind kind) {
    switch (kind) {
        case ObserverKind::minmax: return "minmax";
        case ObserverKind::percentile: return "percentile";
        case ObserverKind::mse: return "mse";
    }
    return "?";
}

struct ObserverOptions {
    ObserverKind kind = ObserverKind::minmax;
    double percentile = 99.99;  // percentile: the upper percentile; the lower one is 100 - percentile
};

class ActivationObserver {
public:
    // `what` names the tensor in errors.
    explicit ActivationObserver(ObserverOptions options, std::string what = "activation")
        : options_(options), what_(std::move(what)) {
        internal::check(options.percentile > 50.0 && options.percentile <= 100.0,
                        what_ + ": percentile must be in (50, 100], found " + std::to_string(options.percentile));
    }

    // Refuses non-finite values: one NaN would make every range meaningless.
    void observe(const float* values, std::size_t count) {
        for (std::size_t i = 0; i < count; ++i) {
            const float v = values[i];
            if (!std::isfinite(v))
                internal::fail(what_ + ": calibration value " + std::to_string(seen_ + i) + " is " + std::to_string(v) +
                               "; calibration data must be finite");
            min_ = std::min(min_, v);
            max_ = std::max(max_, v);
        }
        seen_ += count;
        if (options_.kind != ObserverKind::minmax) values_.insert(values_.end(), values, values + count);
    }

    std::size_t count() const noexcept { return seen_; }

    ActivationRange range() const {
        internal::check(seen_ > 0, what_ + ": no calibration values observed");
        switch (options_.kind) {
            case ObserverKind::minmax: return {min_, max_};
            case ObserverKind::percentile: return percentile_range();
            case ObserverKind::mse: return mse_range();
        }
        return {min_, max_};
    }

private:
    ActivationRange percentile_range() const {
        std::vector<float> sorted = values_;
        const auto at = [&sorted](double fraction) {
            const std::size_t k = std::min(sorted.size() - 1, std::size_t(fraction * double(sorted.size() - 1) + 0.5));
            std::nth_element(sorted.begin(), sorted.begin() + std::ptrdiff_t(k), sorted.end());
            return sorted[k];
        };
        const float hi = at(options_.percentile / 100.0);
        const float lo = at(1.0 - options_.percentile / 100.0);
        return {lo, hi};
    }

    // Candidate ranges shrink the observed one (extended to hold 0, as the quantization will)
    // towards 0 in 1% steps; each is scored on a 2048-bin histogram of the values.
    ActivationRange mse_range() const {
        const double lo = std::min(0.0f, min_), hi = std::max(0.0f, max_);
        if (!(hi > lo)) return {min_, max_};
        constexpr int kBins = 2048;
        std::vector<double> histogram(kBins, 0.0);
        const double width = (hi - lo) / kBins;
        for (float v : values_) histogram[std::size_t(std::min(kBins - 1, int((double(v) - lo) / width)))] += 1.0;
        double best_error = std::numeric_limits<double>::infinity();
        double best_fraction = 1.0;
        for (int step = 100; step >= 10; --step) {
            const double fraction = step / 100.0, a = lo * fraction, b = hi * fraction;
            const double scale = (b - a) / 255.0, rounding = scale * scale / 12.0;
            double error = 0.0;
            for (int i = 0; i < kBins; ++i) {
                if (histogram[std::size_t(i)] == 0.0) continue;
                const double v = lo + (i + 0.5) * width;
                const double clipped = std::min(std::max(v, a), b);
                error += histogram[std::size_t(i)] * (v == clipped ? rounding : (v - clipped) * (v - clipped));
            }
            if (error < best_error) {
                best_error = error;
                best_fraction = fraction;
            }
        }
        return {float(std::min(0.0, lo * best_fraction)), float(hi * best_fraction)};
    }

    ObserverOptions options_;
    std::string what_;
    float min_ = std::numeric_limits<float>::infinity();
    float max_ = -std::numeric_limits<float>::infinity();
    std::size_t seen_ = 0;
    std::vector<float> values_;  // percentile and mse only
};

}  // namespace mobilenext
