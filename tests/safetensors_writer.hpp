#pragma once
// Writing safetensors files in memory for the tests: well-formed files from a StateDict (F32,
// F16 or BF16), files from hand-made tensor entries, and files from a raw header string for
// hostile cases. Bytes are held in a std::string (any byte value, size known).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <initializer_list>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <mobilenext/core/error.hpp>

#include <mobilenext/model/state_dict.hpp>

namespace mobilenext::testing {

inline std::uint32_t float_bits(float f) {
    std::uint32_t b;
    std::memcpy(&b, &f, 4);
    return b;
}

inline float bits_float(std::uint32_t b) {
    float f;
    std::memcpy(&f, &b, 4);
    return f;
}

// float -> IEEE half, rounding to nearest even (the rounding PyTorch's .half() uses).
inline std::uint16_t float_to_half(float f) {
    const std::uint32_t x = float_bits(f);
    const std::uint16_t sign = std::uint16_t((x >> 16) & 0x8000u);
    const std::uint32_t magnitude = x & 0x7fffffffu;
    if (magnitude > 0x7f800000u) return std::uint16_t(sign | 0x7e00u);  // NaN
    if (magnitude >= 0x477ff000u) return std::uint16_t(sign | 0x7c00u);  // >= 65520 rounds to infinity
    if (magnitude < 0x38800000u) {  // below 2^-14: a half subnormal (or the smallest normal after rounding)
        // Scaling by 2^24 is exact, and nearbyint rounds half to even in the default mode.
        const float scaled = std::fabs(f) * 16777216.0f;
        return std::uint16_t(sign | std::uint16_t(std::nearbyint(scaled)));
    }
    std::uint32_t h = (((magnitude >> 23) - 112u) << 10) | ((magnitude >> 13) & 0x3ffu);
    const std::uint32_t rest = magnitude & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // a carry into the exponent is correct
    return std::uint16_t(sign | h);
}

// float -> bfloat16, rounding to nearest even.
inline std::uint16_t float_to_bfloat16(float f) {
    const std::uint32_t x = float_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return std::uint16_t((x >> 16) | 0x40u);  // keep NaN a NaN
    return std::uint16_t((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

inline void append_le(std::string& out, std::uint64_t value, int bytes) {
    for (int i = 0; i < bytes; ++i) out.push_back(char((value >> (8 * i)) & 0xffu));
}

// A whole file: 8-byte little-endian header length, the header text as given, the data.
inline std::string safetensors_bytes(const std::string& header, const std::string& data = "") {
    std::string out;
    append_le(out, header.size(), 8);
    return out + header + data;
}

// The same with any header length field, for files that lie about it.
inline std::string safetensors_bytes_with_length(std::uint64_t header_length, const std::string& rest) {
    std::string out;
    append_le(out, header_length, 8);
    return out + rest;
}

enum class FloatFormat { f32, f16, bf16 };

inline const char* dtype_name(FloatFormat format) {
    return format == FloatFormat::f32 ? "F32" : format == FloatFormat::f16 ? "F16" : "BF16";
}

inline std::string encode_floats(const std::vector<float>& values, FloatFormat format) {
    std::string out;
    for (float v : values) {
        if (format == FloatFormat::f32)
            append_le(out, float_bits(v), 4);
        else
            append_le(out, format == FloatFormat::f16 ? float_to_half(v) : float_to_bfloat16(v), 2);
    }
    return out;
}

// Tensors in the order added, data contiguous from offset 0, as the reference writer lays them out.
class SafetensorsWriter {
public:
    // Raw entry: any dtype and shape, `data` appended as given (its size need not match).
    SafetensorsWriter& add_raw(const std::string& name, const std::string& dtype, const std::vector<std::int64_t>& shape,
                               const std::string& data) {
        const std::uint64_t begin = data_.size();
        data_ += data;
        header_[name] = {{"dtype", dtype}, {"shape", shape}, {"data_offsets", {begin, std::uint64_t(data_.size())}}};
        return *this;
    }

    SafetensorsWriter& add(const std::string& name, const HostTensor& t, FloatFormat format = FloatFormat::f32) {
        return add_raw(name, dtype_name(format), t.shape, encode_floats(t.values, format));
    }

    // Integer tensor (I64), such as BatchNorm's num_batches_tracked.
    SafetensorsWriter& add_i64(const std::string& name, const std::vector<std::int64_t>& shape,
                               const std::vector<std::int64_t>& values) {
        std::string data;
        for (std::int64_t v : values) append_le(data, std::uint64_t(v), 8);
        return add_raw(name, "I64", shape, data);
    }

    SafetensorsWriter& metadata(const std::string& key, const std::string& value) {
        header_["__metadata__"][key] = value;
        return *this;
    }

    // Header fields can be edited before writing, to make a file wrong in one place.
    nlohmann::json& header() { return header_; }
    std::string& data() { return data_; }

    // `pad_to` aligns the data start as the reference writer does (spaces after the JSON).
    std::string bytes(std::size_t pad_to = 8) const {
        std::string text = header_.dump();
        while (pad_to > 1 && (8 + text.size()) % pad_to != 0) text.push_back(' ');
        return safetensors_bytes(text, data_);
    }

private:
    nlohmann::json header_ = nlohmann::json::object();
    std::string data_;
};

inline std::string safetensors_from_state_dict(const StateDict& dict,
                                               const std::map<std::string, std::string>& metadata = {},
                                               FloatFormat format = FloatFormat::f32) {
    SafetensorsWriter w;
    for (const auto& [name, tensor] : dict) w.add(name, tensor, format);
    for (const auto& [key, value] : metadata) w.metadata(key, value);
    return w.bytes();
}

// `bytes` written under the test temporary directory, removed again on destruction. Names
// carry the running test's name, so tests run as separate processes never share a file.
class TempFile {
public:
    explicit TempFile(const std::string& bytes, const std::string& suffix = "model.safetensors") {
        const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
        std::string name = test ? std::string(test->test_suite_name()) + "." + test->name() + "." : std::string();
        for (char& c : name)
            if (c == '/') c = '_';
        static int counter = 0;
        path_ = ::testing::TempDir() + "mobilenext_" + name + std::to_string(counter++) + "." + suffix;
        std::ofstream out(path_, std::ios::binary | std::ios::trunc);
        out.write(bytes.data(), std::streamsize(bytes.size()));
        out.close();
        EXPECT_TRUE(out.good()) << "cannot write " << path_;
    }
    ~TempFile() { std::remove(path_.c_str()); }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;

    const std::string& path() const { return path_; }

private:
    std::string path_;
};

// The loader's error names `file` and `tensor` (quoted in the message), and its message
// contains every one of `parts`.
inline void expect_error(const std::optional<LoadError>& error, const std::string& tensor,
                  std::initializer_list<std::string> parts, const std::string& file) {
    if (!error) {
        ADD_FAILURE() << "no LoadError (expected one about '" << tensor << "')";
        return;
    }
    const LoadError& e = *error;
    const std::string what = e.what();
    EXPECT_EQ(e.file(), file) << what;
    EXPECT_EQ(e.tensor(), tensor) << what;
    EXPECT_EQ(what.rfind(file + ": ", 0), 0u) << what;
    if (!tensor.empty()) {
        EXPECT_NE(what.find("'" + tensor + "'"), std::string::npos) << what;
    }
    for (const std::string& part : parts) EXPECT_NE(what.find(part), std::string::npos) << "'" << part << "' in: " << what;
}

}  // namespace mobilenext::testing
