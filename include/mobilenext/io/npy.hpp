#pragma once
// NumPy .npy files of float arrays: what `np.save` writes and `np.load` reads, for the
// command-line tool's inputs and outputs and for test data.
//
// Reading accepts format versions 1.0, 2.0 and 3.0, C-order (or layout-equivalent Fortran
// order) arrays of little-endian float32, float64 or float16; the values come back as
// float32. The file is untrusted: every length and count is checked against the bytes that
// are really there before anything is read or allocated, and any mismatch is an Error that
// names the file, what was expected and what was found.
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../core/float16.hpp"

namespace mobilenext {

struct NpyArray {
    std::vector<std::int64_t> shape;  // empty for a 0-d array (one value)
    std::vector<float> values;        // C order
};

namespace internal::npy {

inline constexpr unsigned char kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
// NumPy (since 2.0) allows up to 64 dimensions.
inline constexpr std::size_t kMaxRank = 64;

inline std::string shape_text(const std::vector<std::int64_t>& shape) {
    std::string s = "(";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + (shape.size() == 1 ? ",)" : ")");
}

// Element count of a shape to write; refuses negative dimensions and counts whose bytes
// would not fit in memory arithmetic.
inline std::uint64_t writable_count(const std::vector<std::int64_t>& shape, const std::string& name) {
    check(shape.size() <= kMaxRank, name + ": cannot write " + std::to_string(shape.size()) + " dimensions (at most " +
                                        std::to_string(kMaxRank) + ")");
    for (std::int64_t d : shape)
        check(d >= 0, name + ": cannot write shape " + shape_text(shape) + ": negative dimension");
    std::uint64_t count = 1;
    for (std::int64_t d : shape) {
        if (d == 0) return 0;
        check(count <= (std::numeric_limits<std::size_t>::max() / 8) / std::uint64_t(d),
              name + ": cannot write shape " + shape_text(shape) + ": too many elements");
        count *= std::uint64_t(d);
    }
    return count;
}

// A printable excerpt of untrusted header text for error messages.
inline std::string excerpt(const char* text, std::size_t size, std::size_t limit = 40) {
    std::string s;
    for (std::size_t i = 0; i < size && i < limit; ++i) {
        const unsigned char c = static_cast<unsigned char>(text[i]);
        if (c >= 0x20 && c < 0x7f) {
            s += char(c);
        } else {
            char hex[8];
            std::snprintf(hex, sizeof hex, "\\x%02x", unsigned(c));
            s += hex;
        }
    }
    if (size > limit) s += "...";
    return s;
}

inline bool host_is_little_endian() {
    const std::uint16_t probe = 1;
    unsigned char first;
    std::memcpy(&first, &probe, 1);
    return first == 1;
}

inline std::uint64_t load_le(const unsigned char* p, int bytes) {
    std::uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}

// The header dict: a Python literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// Only the subset np.save produces is accepted (string keys; string, bool and
// tuple-of-int values), which is all a float array needs.
class HeaderParser {
public:
    HeaderParser(const char* text, std::size_t size, const std::string& name)
        : text_(text), size_(size), name_(name) {}

    struct Result {
        std::string descr;
        bool fortran_order = false;
        std::vector<std::int64_t> shape;
    };

    Result parse() {
        Result r;
        bool have_descr = false, have_order = false, have_shape = false;
        skip_space();
        expect('{', "'{' opening the header dict");
        skip_space();
        while (peek() != '}') {
            const std::string key = string_literal("a quoted key");
            skip_space();
            expect(':', "':' after key '" + key + "'");
            skip_space();
            if (key == "descr") {
                refuse_duplicate(have_descr, key);
                if (peek() == '[') fail_here("a plain dtype string for 'descr' (structured arrays are not supported)");
                r.descr = string_literal("a dtype string for 'descr'");
            } else if (key == "fortran_order") {
                refuse_duplicate(have_order, key);
                r.fortran_order = boolean();
            } else if (key == "shape") {
                refuse_duplicate(have_shape, key);
                r.shape = tuple_of_ints();
            } else {
                fail("header dict keys 'descr', 'fortran_order' and 'shape', found key '" + excerpt(key.data(), key.size()) + "'");
            }
            skip_space();
            if (peek() == ',') {
                ++pos_;
                skip_space();
            } else if (peek() != '}') {
                fail_here("',' or '}' after the value of '" + key + "'");
            }
        }
        ++pos_;
        skip_space();
        if (pos_ != size_) fail_here("only padding after the header dict");
        if (!have_descr || !have_order || !have_shape)
            fail(std::string("header dict with 'descr', 'fortran_order' and 'shape', missing ") +
                 (!have_descr ? "'descr'" : !have_order ? "'fortran_order'" : "'shape'"));
        return r;
    }

private:
    [[noreturn]] void fail(const std::string& expected) const {
        internal::fail_file(name_, name_ + ": invalid .npy header: expected " + expected);
    }
    [[noreturn]] void fail_here(const std::string& expected) const {
        const std::string found = pos_ < size_ ? "'" + excerpt(text_ + pos_, size_ - pos_) + "'" : "the end of the header";
        fail(expected + ", found " + found + " at header offset " + std::to_string(pos_));
    }

    char peek() const { return pos_ < size_ ? text_[pos_] : '\0'; }

    // Spaces pad the header and '\n' ends it; both count as blanks.
    void skip_space() {
        while (pos_ < size_ && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r'))
            ++pos_;
    }

    void expect(char c, const std::string& what) {
        if (pos_ >= size_ || text_[pos_] != c) fail_here(what);
        ++pos_;
    }

    void refuse_duplicate(bool& seen, const std::string& key) {
        if (seen) fail("each key once, found '" + key + "' twice");
        seen = true;
    }

    std::string string_literal(const std::string& what) {
        const char quote = peek();
        if (quote != '\'' && quote != '"') fail_here(what);
        const std::size_t start = ++pos_;
        while (pos_ < size_ && text_[pos_] != quote) {
            // Escapes never occur in the keys and dtypes accepted here.
            if (text_[pos_] == '\\' || text_[pos_] == '\n') fail_here("a simple string without escapes");
            ++pos_;
        }
        if (pos_ >= size_) fail("a closing quote for the string starting at header offset " + std::to_string(start - 1));
        return std::string(text_ + start, text_ + pos_++);
    }

    bool boolean() {
        const auto word = [this](const char* w) {
            const std::size_t n = std::strlen(w);
            return size_ - pos_ >= n && std::memcmp(text_ + pos_, w, n) == 0;
        };
        if (word("True")) {
            pos_ += 4;
            return true;
        }
        if (word("False")) {
            pos_ += 5;
            return false;
        }
        fail_here("True or False for 'fortran_order'");
    }

    std::int64_t integer() {
        if (peek() < '0' || peek() > '9') fail_here("a non-negative integer dimension in 'shape'");
        const std::size_t start = pos_;
        std::int64_t v = 0;
        while (peek() >= '0' && peek() <= '9') {
            const int digit = peek() - '0';
            if (v > (std::numeric_limits<std::int64_t>::max() - digit) / 10)
                fail("a dimension that fits in 64 bits, found '" + excerpt(text_ + start, size_ - start) + "'");
            v = v * 10 + digit;
            ++pos_;
        }
        if (peek() == 'L') ++pos_;  // Python 2 long suffix, found in old files
        return v;
    }

    std::vector<std::int64_t> tuple_of_ints() {
        expect('(', "'(' opening the 'shape' tuple");
        std::vector<std::int64_t> shape;
        skip_space();
        while (peek() != ')') {
            if (shape.size() == kMaxRank) fail("at most " + std::to_string(kMaxRank) + " dimensions in 'shape'");
            shape.push_back(integer());
            skip_space();
            if (peek() == ',') {
                ++pos_;
                skip_space();
            } else if (peek() != ')') {
                fail_here("',' or ')' in the 'shape' tuple");
            } else if (shape.size() == 1) {
                fail_here("',' after the single dimension of 'shape'");  // (5) is not a tuple
            }
        }
        ++pos_;
        return shape;
    }

    const char* text_;
    std::size_t size_;
    std::size_t pos_ = 0;
    const std::string& name_;
};

}  // namespace internal::npy

// Parses the bytes of a whole .npy file. `name` (usually the path) starts every error message.
namespace internal::npy {

// The preamble (magic, version, header length), checked against the file: where the header
// starts and how long it is.
struct Preamble {
    std::size_t header_start = 0;
    std::uint64_t header_length = 0;
};

inline Preamble read_preamble(const unsigned char* p, std::size_t size, const std::string& name) {
    const std::size_t prefix = sizeof kMagic + 2;
    if (size < prefix || std::memcmp(p, kMagic, sizeof kMagic) != 0)
        internal::fail_file(name, name + ": not a NumPy .npy file: expected the magic string '\\x93NUMPY', found '" +
                       excerpt(reinterpret_cast<const char*>(p), size < sizeof kMagic ? size : sizeof kMagic) +
                       "' (file size " + std::to_string(size) + " bytes)");
    const int major = p[6], minor = p[7];
    if ((major < 1 || major > 3) || minor != 0)
        internal::fail_file(name, name + ": unsupported .npy format version " + std::to_string(major) + "." +
                       std::to_string(minor) + " (expected 1.0, 2.0 or 3.0)");
    const std::size_t length_bytes = major == 1 ? 2 : 4;
    if (size < prefix + length_bytes)
        internal::fail_file(name, name + ": truncated .npy file: expected at least " + std::to_string(prefix + length_bytes) +
                       " bytes of preamble, found " + std::to_string(size));
    const std::uint64_t header_length = load_le(p + prefix, int(length_bytes));
    const std::size_t header_start = prefix + length_bytes;
    if (header_length > size - header_start)
        internal::fail_file(name, name + ": truncated .npy file: the header declares " + std::to_string(header_length) +
                       " bytes but only " + std::to_string(size - header_start) + " follow the preamble");

    return {header_start, header_length};
}

// Bytes per element of a supported dtype (little-endian float32, float64, float16).
inline std::size_t item_size_of(const std::string& descr, const std::string& name) {
    if (descr == "<f4") return 4;
    if (descr == "<f8") return 8;
    if (descr == "<f2") return 2;
    internal::fail_file(name, name + ": unsupported dtype '" + excerpt(descr.data(), descr.size()) +
                                  "': expected little-endian floats '<f4' (float32), '<f8' or '<f2'" +
                                  (descr.size() > 1 && descr[0] == '>' ? " (this file is big-endian)" : ""));
}

// Elements of `shape`: zero when any dimension is, otherwise a product that must not overflow.
// Fortran order is refused where it changes the layout (two or more dimensions above 1).
inline std::uint64_t element_count(const HeaderParser::Result& h, const std::string& name) {
    // Zero dimensions make an empty array whatever the others are; otherwise the product must
    // not overflow. Either way it is bounded by the bytes present below.
    std::uint64_t count = 1;
    bool empty = false;
    for (std::int64_t d : h.shape) empty = empty || d == 0;
    if (empty) {
        count = 0;
    } else {
        for (std::int64_t d : h.shape) {
            if (count > std::numeric_limits<std::uint64_t>::max() / std::uint64_t(d))
                internal::fail_file(name, name + ": shape " + shape_text(h.shape) + " has more elements than 2^64");
            count *= std::uint64_t(d);
        }
    }

    // Fortran order only changes the layout when two or more dimensions exceed 1.
    if (h.fortran_order) {
        int significant = 0;
        for (std::int64_t d : h.shape) significant += d > 1;
        if (significant > 1)
            internal::fail_file(name, name + ": expected a C-order array, found fortran_order True with shape " +
                           shape_text(h.shape) + " (save np.ascontiguousarray(a) instead)");
    }

    return count;
}

// Little-endian floats of `item_size` bytes to float32.
inline void convert_values(const unsigned char* data, std::size_t n, std::size_t item_size, float* values) {
    if (item_size == 4) {
        if (host_is_little_endian()) {
            if (n != 0) std::memcpy(values, data, n * 4);
        } else {
            for (std::size_t i = 0; i < n; ++i) {
                const std::uint32_t bits = std::uint32_t(load_le(data + 4 * i, 4));
                std::memcpy(&values[i], &bits, 4);
            }
        }
    } else if (item_size == 8) {
        for (std::size_t i = 0; i < n; ++i) {
            const std::uint64_t bits = load_le(data + 8 * i, 8);
            double d;
            std::memcpy(&d, &bits, 8);
            values[i] = float(d);
        }
    } else {
        for (std::size_t i = 0; i < n; ++i) values[i] = internal::half_to_float(std::uint16_t(load_le(data + 2 * i, 2)));
    }
}

}  // namespace internal::npy

inline NpyArray parse_npy(const void* bytes, std::size_t size, const std::string& name) {
    using namespace internal::npy;
    const auto* p = static_cast<const unsigned char*>(bytes);
    if (size > 0 && p == nullptr) internal::fail_file(name, name + ": no data (null pointer with size " + std::to_string(size) + ")");
    const auto [header_start, header_length] = read_preamble(p, size, name);
    const char* header = reinterpret_cast<const char*>(p + header_start);
    const HeaderParser::Result h = HeaderParser(header, std::size_t(header_length), name).parse();
    const std::size_t item_size = item_size_of(h.descr, name);
    const std::uint64_t count = element_count(h, name);

    const std::size_t data_start = header_start + std::size_t(header_length);
    const std::size_t available = size - data_start;
    if (count > available / item_size)
        internal::fail_file(name, name + ": truncated .npy data: shape " + shape_text(h.shape) + " of '" + h.descr + "' needs " +
                       (count > std::numeric_limits<std::uint64_t>::max() / item_size
                            ? std::string("more than 2^64")
                            : std::to_string(count * item_size)) +
                       " bytes, found " + std::to_string(available));
    const std::size_t data_bytes = std::size_t(count) * item_size;
    if (data_bytes != available)
        internal::fail_file(name, name + ": expected " + std::to_string(data_bytes) + " bytes of data for shape " +
                       shape_text(h.shape) + " of '" + h.descr + "', found " + std::to_string(available) +
                       " (" + std::to_string(available - data_bytes) + " bytes of trailing garbage)");

    NpyArray out;
    out.shape = h.shape;
    out.values.resize(std::size_t(count));
    convert_values(p + data_start, std::size_t(count), item_size, out.values.data());
    return out;
}

// Reads a whole .npy file; errors name `path`.
inline NpyArray read_npy(const std::string& path) {
    // Read to the end rather than trusting a size from seeking: works for pipes and reports
    // directories and unreadable files through the read error.
    struct Closer {
        void operator()(std::FILE* f) const { std::fclose(f); }
    };
    const std::unique_ptr<std::FILE, Closer> file(std::fopen(path.c_str(), "rb"));
    if (!file) internal::fail_file(path, path + ": cannot open for reading: " + std::strerror(errno));
    std::vector<unsigned char> bytes;
    std::size_t used = 0;
    for (;;) {
        if (bytes.size() - used < 65536) bytes.resize(bytes.size() < 65536 ? 131072 : bytes.size() * 2);
        const std::size_t got = std::fread(bytes.data() + used, 1, bytes.size() - used, file.get());
        used += got;
        if (got == 0) break;
    }
    if (std::ferror(file.get())) internal::fail_file(path, path + ": read error: " + std::strerror(errno));
    return parse_npy(bytes.data(), used, path);
}

// The bytes of a .npy file (version 1.0, or 2.0 when the header needs it) holding `data`
// (C order, the product of `shape` floats) as little-endian float32.
inline std::vector<unsigned char> serialize_npy(const float* data, const std::vector<std::int64_t>& shape,
                                                const std::string& name = "npy") {
    using namespace internal::npy;
    const std::uint64_t count = writable_count(shape, name);
    internal::check(count == 0 || data != nullptr, name + ": no data to write for shape " + shape_text(shape));

    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape_text(shape) + ", }";
    // Pad with spaces and end with '\n' so the data starts on a 64-byte boundary, as NumPy does.
    const auto padded = [&header](std::size_t preamble) {
        std::string h = header;
        const std::size_t unpadded = preamble + h.size() + 1;
        h.append((64 - unpadded % 64) % 64, ' ');
        return h + '\n';
    };
    int major = 1;
    std::string text = padded(sizeof kMagic + 2 + 2);
    if (text.size() > 0xffff) {
        major = 2;
        text = padded(sizeof kMagic + 2 + 4);
    }
    const std::size_t length_bytes = major == 1 ? 2 : 4;

    // Sized once and filled in place (GCC 12 misreads growth by insert as an overflow).
    const std::size_t data_start = sizeof kMagic + 2 + length_bytes + text.size();
    std::vector<unsigned char> out(data_start + std::size_t(count) * 4);
    std::memcpy(out.data(), kMagic, sizeof kMagic);
    out[sizeof kMagic] = static_cast<unsigned char>(major);
    out[sizeof kMagic + 1] = 0;
    for (std::size_t i = 0; i < length_bytes; ++i)
        out[sizeof kMagic + 2 + i] = static_cast<unsigned char>(text.size() >> (8 * i));
    std::memcpy(out.data() + sizeof kMagic + 2 + length_bytes, text.data(), text.size());
    if (host_is_little_endian()) {
        if (count != 0) std::memcpy(out.data() + data_start, data, std::size_t(count) * 4);
    } else {
        for (std::size_t i = 0; i < std::size_t(count); ++i) {
            std::uint32_t bits;
            std::memcpy(&bits, &data[i], 4);
            for (int b = 0; b < 4; ++b) out[data_start + 4 * i + b] = static_cast<unsigned char>(bits >> (8 * b));
        }
    }
    return out;
}

// Writes `data` (C order) as a float32 .npy file; errors name `path`.
inline void write_npy(const std::string& path, const float* data, const std::vector<std::int64_t>& shape) {
    const std::vector<unsigned char> bytes = serialize_npy(data, shape, path);
    std::FILE* file = std::fopen(path.c_str(), "wb");
    if (file == nullptr) internal::fail_file(path, path + ": cannot open for writing: " + std::strerror(errno));
    const bool written = std::fwrite(bytes.data(), 1, bytes.size(), file) == bytes.size();
    const int write_errno = errno;
    // A full disk may only show when the buffered data is flushed at close.
    const bool closed = std::fclose(file) == 0;
    if (!written || !closed)
        internal::fail_file(path, path + ": write error after " + std::to_string(bytes.size()) + " bytes requested: " +
                       std::strerror(written ? errno : write_errno));
}

inline void write_npy(const std::string& path, const NpyArray& array) {
    const std::uint64_t count = internal::npy::writable_count(array.shape, path);
    internal::check(array.values.size() == count,
                    path + ": cannot write shape " + internal::npy::shape_text(array.shape) + ": it needs " +
                        std::to_string(count) + " values, the array holds " + std::to_string(array.values.size()));
    write_npy(path, array.values.data(), array.shape);
}

}  // namespace mobilenext
