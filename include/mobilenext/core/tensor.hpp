#pragma once
// A float tensor in NHWC layout (batch, height, width, channels; channels contiguous), the
// layout every kernel of the library works in. PyTorch users hold NCHW: from_nchw / to_nchw
// convert at the boundary.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "aligned_buffer.hpp"
#include "error.hpp"

namespace mobilenext {

struct Shape4 {
    int n = 0, h = 0, w = 0, c = 0;
    std::size_t pixels() const { return std::size_t(n) * std::size_t(h) * std::size_t(w); }
    std::size_t elements() const { return pixels() * std::size_t(c); }
    bool operator==(const Shape4& o) const { return n == o.n && h == o.h && w == o.w && c == o.c; }
    bool operator!=(const Shape4& o) const { return !(*this == o); }
    std::string str() const {
        return "[" + std::to_string(n) + ", " + std::to_string(h) + ", " + std::to_string(w) + ", " +
               std::to_string(c) + "]";
    }
};

namespace internal {
// Checks that every dimension is positive and the element count fits comfortably in memory
// arithmetic (no size_t or int overflow in index computations).
// (Messages are built only on failure: this runs on every forward pass, which must not allocate.)
inline void check_shape(const Shape4& s, const char* what) {
    if (!(s.n > 0 && s.h > 0 && s.w > 0 && s.c > 0))
        fail(std::string(what) + ": every dimension must be positive, found NHWC " + s.str());
    const std::uint64_t limit = std::uint64_t(1) << 40;
    std::uint64_t count = 1;
    for (int d : {s.n, s.h, s.w, s.c}) {
        count *= std::uint64_t(d);
        if (count > limit) fail(std::string(what) + ": NHWC " + s.str() + " has too many elements");
    }
}
// Memory handed in by users: null or not aligned for float is an error, not a crash.
// (No allocation unless it fails: forward passes call it.)
inline void check_user_buffer(const float* p, const char* what) {
    if (p == nullptr) fail(std::string(what) + ": null pointer");
    if (reinterpret_cast<std::uintptr_t>(p) % alignof(float) != 0)
        fail(std::string(what) + ": the buffer is not aligned to " + std::to_string(alignof(float)) +
             " bytes (address ends in 0x" + "0123456789abcdef"[reinterpret_cast<std::uintptr_t>(p) % 16] + ")");
}
}  // namespace internal

// The NHWC shape of an image batch that NumPy or PyTorch describe as NCHW dimensions
// (`dims`, as read from a .npy file, say). Rank other than 4, non-positive or oversized
// dimensions are errors that name `what`.
inline Shape4 nhwc_shape_of_nchw(const std::vector<std::int64_t>& dims, const std::string& what) {
    std::string text = "[";
    for (std::size_t i = 0; i < dims.size(); ++i) text += (i ? ", " : "") + std::to_string(dims[i]);
    text += "]";
    if (dims.size() != 4) internal::fail(what + ": expected a rank-4 NCHW array, found shape " + text);
    for (std::int64_t d : dims)
        if (d < 1 || d > (std::int64_t(1) << 30))
            internal::fail(what + ": expected every NCHW dimension in [1, 2^30], found shape " + text);
    const Shape4 s{int(dims[0]), int(dims[2]), int(dims[3]), int(dims[1])};
    internal::check_shape(s, what.c_str());
    return s;
}

class Tensor {
public:
    Tensor() = default;
    explicit Tensor(Shape4 shape) { reshape(shape); }
    Tensor(int n, int h, int w, int c) : Tensor(Shape4{n, h, w, c}) {}

    // Changes the shape; keeps the allocation when it is large enough.
    void reshape(Shape4 shape) {
        internal::check_shape(shape, "Tensor");
        shape_ = shape;
        buffer_.resize(shape.elements());
    }

    const Shape4& shape() const noexcept { return shape_; }
    int batch() const noexcept { return shape_.n; }
    int height() const noexcept { return shape_.h; }
    int width() const noexcept { return shape_.w; }
    int channels() const noexcept { return shape_.c; }
    std::size_t size() const noexcept { return shape_.elements(); }

    float* data() noexcept { return buffer_.data(); }
    const float* data() const noexcept { return buffer_.data(); }

    float& at(int n, int y, int x, int c) noexcept { return buffer_[index(n, y, x, c)]; }
    float at(int n, int y, int x, int c) const noexcept { return buffer_[index(n, y, x, c)]; }

    // From a contiguous NCHW array of n*c*h*w floats, as PyTorch and NumPy hold images.
    static Tensor from_nchw(const float* nchw, int n, int c, int h, int w) {
        Tensor t(n, h, w, c);
        internal::check_user_buffer(nchw, "Tensor::from_nchw");
        for (int b = 0; b < n; ++b)
            for (int ch = 0; ch < c; ++ch)
                for (int y = 0; y < h; ++y)
                    for (int x = 0; x < w; ++x)
                        t.at(b, y, x, ch) = nchw[((std::size_t(b) * c + ch) * h + y) * w + x];
        return t;
    }

    std::vector<float> to_nchw() const {
        std::vector<float> out(size());
        const Shape4& s = shape_;
        for (int b = 0; b < s.n; ++b)
            for (int ch = 0; ch < s.c; ++ch)
                for (int y = 0; y < s.h; ++y)
                    for (int x = 0; x < s.w; ++x)
                        out[((std::size_t(b) * s.c + ch) * s.h + y) * s.w + x] = at(b, y, x, ch);
        return out;
    }

private:
    std::size_t index(int n, int y, int x, int c) const noexcept {
        return ((std::size_t(n) * shape_.h + y) * shape_.w + x) * shape_.c + c;
    }

    Shape4 shape_{};
    AlignedBuffer buffer_;
};

}  // namespace mobilenext
