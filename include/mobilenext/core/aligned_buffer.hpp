#pragma once
// 64-byte aligned float storage: one cache line, and the widest vector (AVX-512) loads from
// an aligned address. Sizes are rounded up so kernels may read a little past the end.
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <utility>

#include "error.hpp"

namespace mobilenext {

inline constexpr std::size_t kAlignment = 64;
// Floats of over-read room after every buffer: one AVX-512 vector.
inline constexpr std::size_t kOverreadFloats = 16;

class AlignedBuffer {
public:
    AlignedBuffer() = default;
    explicit AlignedBuffer(std::size_t count) { resize(count); }
    AlignedBuffer(const AlignedBuffer& other) : AlignedBuffer(other.size_) {
        if (size_ != 0) std::memcpy(data_, other.data_, size_ * sizeof(float));
    }
    AlignedBuffer(AlignedBuffer&& other) noexcept { swap(other); }
    AlignedBuffer& operator=(AlignedBuffer other) noexcept {
        swap(other);
        return *this;
    }
    ~AlignedBuffer() { std::free(data_); }

    void swap(AlignedBuffer& other) noexcept {
        std::swap(data_, other.data_);
        std::swap(size_, other.size_);
        std::swap(capacity_, other.capacity_);
    }

    // A new allocation is zero-filled; a smaller or equal size keeps the allocation and its
    // contents, so a workspace reused across calls never allocates after warm-up.
    void resize(std::size_t count) {
        if (count > capacity_) {
            constexpr std::size_t max_count =
                (std::numeric_limits<std::size_t>::max() - kAlignment) / sizeof(float) - kOverreadFloats;
            internal::check(count <= max_count, "AlignedBuffer: size overflows");
            std::size_t bytes = (count + kOverreadFloats) * sizeof(float);
            bytes = (bytes + kAlignment - 1) / kAlignment * kAlignment;
            void* memory = std::aligned_alloc(kAlignment, bytes);
            if (memory == nullptr) throw std::bad_alloc();
            std::free(data_);
            data_ = static_cast<float*>(memory);
            capacity_ = bytes / sizeof(float) - kOverreadFloats;
            std::memset(data_, 0, bytes);
        }
        size_ = count;
    }

    float* data() noexcept { return data_; }
    const float* data() const noexcept { return data_; }
    std::size_t size() const noexcept { return size_; }
    std::size_t capacity() const noexcept { return capacity_; }
    float& operator[](std::size_t i) noexcept { return data_[i]; }
    float operator[](std::size_t i) const noexcept { return data_[i]; }

private:
    float* data_ = nullptr;
    std::size_t size_ = 0;
    std::size_t capacity_ = 0;
};

}  // namespace mobilenext
