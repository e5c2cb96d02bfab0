#pragma once
// Reading the safetensors format: an 8-byte little-endian header length N, N bytes of JSON
// ({name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}),
// then the raw little-endian tensor data, offsets relative to its start.
//
// Every field of a file is checked before it is used: lengths against the file size, shape
// products for overflow, offsets in range and not overlapping, JSON keys unique and nesting
// shallow. Failures throw LoadError naming the file, the tensor, expected and found.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

#include "../core/error.hpp"
#include "../core/float16.hpp"
#include "../model/state_dict.hpp"

namespace mobilenext {

// An integer tensor's values, widened to int32 (I8, U8 and I32 all fit).
struct IntegerTensor {
    std::string dtype;
    std::vector<std::int64_t> shape;
    std::vector<std::int32_t> values;
};

struct SafetensorsContents {
    std::map<std::string, std::string> metadata;
    // data_checksum() of the file's data section, computed when the metadata stores one
    // (kChecksumKey); empty otherwise.
    std::string data_checksum;
    StateDict tensors;           // floating-point tensors, converted to float32
    std::set<std::string> skipped;  // integer tensors that were skipped (BatchNorm step counters)
    // The I8, U8 and I32 tensors among the skipped ones, with their values (int8 models).
    std::map<std::string, IntegerTensor> integer_tensors;
    std::map<std::string, std::string> dtypes;  // every tensor's dtype as the file states it
};

// The metadata key of the converter's checksum of the data section.
inline constexpr const char* kChecksumKey = "mobilenext.checksum";

// A checksum of a file's tensor data, as tools/safetensors_io.py computes it: the data as
// little-endian 64-bit words (the last zero-padded), each word w_i mixed as x = w_i ^ i * the
// golden ratio, x ^ (x >> 29), and the results summed modulo 2^64; with the byte count. The
// xorshift is a bijection, so any change of one word changes its term and the sum; the index
// keeps swapped words apart. It guards against corruption and edits, not forgery (whoever
// edits the data can edit the checksum). Shifts, xors and adds only, with the index's product
// kept by addition: the compiler vectorises the loop on any instruction set (with a multiply a
// word it took longer than the rest of the checks of a load; "file to first result" in
// BENCHMARKS.md).
inline std::string data_checksum(const unsigned char* data, std::size_t size) {
    constexpr std::uint64_t kGolden = 0x9E3779B97F4A7C15ULL;
    const auto term = [](std::uint64_t x) { return x ^ (x >> 29); };
    const auto little_endian_word = [](const unsigned char* p, std::size_t bytes) {
        std::uint64_t w = 0;
        for (std::size_t b = bytes; b-- > 0;) w = (w << 8) | p[b];
        return w;
    };
    const std::uint16_t probe = 1;
    unsigned char low_byte_first = 0;
    std::memcpy(&low_byte_first, &probe, 1);
    std::uint64_t sum = 0, key = 0;  // key = i * kGolden
    const std::size_t words = size / 8;
    if (low_byte_first) {
        for (std::size_t i = 0; i < words; ++i, key += kGolden) {
            std::uint64_t w;
            std::memcpy(&w, data + i * 8, 8);
            sum += term(w ^ key);
        }
    } else {
        for (std::size_t i = 0; i < words; ++i, key += kGolden) sum += term(little_endian_word(data + i * 8, 8) ^ key);
    }
    if (size % 8 != 0) sum += term(little_endian_word(data + words * 8, size % 8) ^ key);
    char text[64];
    std::snprintf(text, sizeof text, "xs64-sum:%016llx:%llu", static_cast<unsigned long long>(sum),
                  static_cast<unsigned long long>(size));
    return text;
}

namespace internal {


inline std::uint64_t read_le_u64(const unsigned char* p) {
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}

inline std::size_t dtype_size(const std::string& dtype) {
    static const std::map<std::string, std::size_t> sizes = {
        {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"I32", 4}, {"I16", 2},
        {"I8", 1},  {"U8", 1},  {"BOOL", 1}, {"U16", 2}, {"U32", 4},  {"U64", 8}};
    const auto it = sizes.find(dtype);
    return it == sizes.end() ? 0 : it->second;
}

inline const bool kLittleEndian = [] {
    const std::uint32_t one = 1;
    unsigned char first;
    std::memcpy(&first, &one, 1);
    return first == 1;
}();

// Largest header accepted: far above any MobileNeXt (a few hundred tensors), far below memory.
inline constexpr std::uint64_t kMaxHeaderBytes = 100u << 20;
// Largest element count of one tensor (and of a shape product) accepted.
inline constexpr std::uint64_t kMaxElements = std::uint64_t(1) << 34;

}  // namespace internal

namespace internal {

[[noreturn]] inline void safetensors_fail(const std::string& file, const std::string& tensor,
                                          const std::string& expected, const std::string& found) {
    throw LoadError(file, tensor, expected, found);
}

// The header's length, checked against the file; torch.save's zip archives (PyTorch >= 1.6) and
// pickle streams (protocol 2 and up start with 0x80 and the protocol number) are named as such:
// the users' most common mistake is to pass one.
inline std::uint64_t safetensors_header_length(const unsigned char* bytes, std::size_t size, const std::string& file) {
    const bool zip = size >= 4 && std::memcmp(bytes, "PK\x03\x04", 4) == 0;
    const bool pickle = size >= 2 && bytes[0] == 0x80 && bytes[1] >= 2 && bytes[1] <= 5;
    if (zip || pickle)
        safetensors_fail(file, "", "a safetensors file",
                         std::string("a PyTorch checkpoint (") + (zip ? "a torch.save zip archive" : "a pickle stream") +
                             "): convert it first with /usr/bin/python3 tools/convert.py CHECKPOINT -o "
                             "MODEL.safetensors --identity-div D");
    if (size < 8)
        safetensors_fail(file, "", "a safetensors file (8-byte header length, JSON header, data)",
                         std::to_string(size) + " bytes");
    const std::uint64_t header_len = read_le_u64(bytes);
    if (header_len > size - 8)
        safetensors_fail(file, "", "a header of at most " + std::to_string(size - 8) + " bytes (the rest of the file)",
                         "header length " + std::to_string(header_len));
    if (header_len > kMaxHeaderBytes)
        safetensors_fail(file, "", "a header of at most " + std::to_string(kMaxHeaderBytes) + " bytes",
                         std::to_string(header_len));
    if (header_len < 2 || bytes[8] != '{')
        safetensors_fail(file, "", "a JSON object as header", "something else (not a safetensors file?)");
    return header_len;
}

// Duplicate keys would make the meaning of a file depend on the parser; deep nesting has no
// place in a safetensors header. Both are refused while parsing.
inline nlohmann::json parse_safetensors_header(const char* begin, std::uint64_t length, const std::string& file) {
    using nlohmann::json;
    std::vector<std::set<std::string>> open_objects;
    const auto callback = [&](int depth, json::parse_event_t event, json& parsed) {
        switch (event) {
            case json::parse_event_t::object_start:
            case json::parse_event_t::array_start:
                if (depth > 3)
                    safetensors_fail(file, "", "a safetensors header (nesting depth <= 3)",
                                     "nesting depth " + std::to_string(depth));
                if (event == json::parse_event_t::object_start) open_objects.emplace_back();
                break;
            case json::parse_event_t::object_end:
                if (!open_objects.empty()) open_objects.pop_back();
                break;
            case json::parse_event_t::key:
                if (!open_objects.empty() && !open_objects.back().insert(parsed.get<std::string>()).second)
                    safetensors_fail(file, parsed.get<std::string>(), "unique keys in the JSON header", "a duplicate key");
                break;
            default: break;
        }
        return true;
    };
    json header;
    try {
        header = json::parse(begin, begin + length, callback);
    } catch (const json::exception& e) {
        safetensors_fail(file, "", "a valid JSON header", std::string("invalid JSON (") + e.what() + ")");
    }
    if (!header.is_object()) safetensors_fail(file, "", "a JSON object as header", header.type_name());
    return header;
}

// One tensor's header entry, checked: a known dtype, a shape of at most 2^34 elements, and
// data_offsets that fit the data section and the shape.
struct TensorEntry {
    std::string dtype;
    std::size_t element_size = 0;
    std::vector<std::int64_t> shape;
    std::uint64_t elements = 1, begin = 0, end = 0;
};

inline TensorEntry read_tensor_entry(const std::string& name, const nlohmann::json& entry, std::uint64_t data_size,
                                     const std::string& file) {
    using nlohmann::json;
    const auto fail = [&](const std::string& expected, const std::string& found) {
        safetensors_fail(file, name, expected, found);
    };
    if (!entry.is_object()) fail("an object {dtype, shape, data_offsets}", entry.type_name());
    const auto field = [&](const char* key) -> const json& {
        const auto f = entry.find(key);
        if (f == entry.end()) fail(std::string("a '") + key + "' field", "none");
        return *f;
    };
    const json& dtype_json = field("dtype");
    const json& shape_json = field("shape");
    const json& offsets_json = field("data_offsets");
    TensorEntry t;
    if (!dtype_json.is_string()) fail("dtype as a string", dtype_json.type_name());
    t.dtype = dtype_json.get<std::string>();
    t.element_size = dtype_size(t.dtype);
    if (t.element_size == 0) fail("a safetensors dtype (F32, F16, BF16, ...)", "dtype '" + t.dtype + "'");
    if (!shape_json.is_array()) fail("shape as an array", shape_json.type_name());
    for (const json& d : shape_json) {
        if (!d.is_number_unsigned() && !(d.is_number_integer() && d.get<std::int64_t>() >= 0))
            fail("non-negative integer dimensions", "shape " + shape_json.dump());
        const std::uint64_t dim = d.get<std::uint64_t>();
        if (dim > kMaxElements || (dim != 0 && t.elements > kMaxElements / dim))
            fail("at most 2^34 elements", "shape " + shape_json.dump());
        t.elements *= dim;
        t.shape.push_back(std::int64_t(dim));
    }
    if (!offsets_json.is_array() || offsets_json.size() != 2 || !offsets_json[0].is_number_unsigned() ||
        !offsets_json[1].is_number_unsigned())
        fail("data_offsets as [begin, end] of non-negative integers", offsets_json.dump());
    t.begin = offsets_json[0].get<std::uint64_t>();
    t.end = offsets_json[1].get<std::uint64_t>();
    if (t.begin > t.end || t.end > data_size)
        fail("data_offsets within the " + std::to_string(data_size) + " data bytes", offsets_json.dump());
    if (t.end - t.begin != t.elements * t.element_size)
        fail(std::to_string(t.elements * t.element_size) + " bytes for " + t.dtype + " shape " + shape_string(t.shape),
             std::to_string(t.end - t.begin) + " bytes (data_offsets " + offsets_json.dump() + ")");
    return t;
}

inline bool is_float_dtype(const std::string& dtype) {
    return dtype == "F32" || dtype == "F16" || dtype == "BF16" || dtype == "F64";
}

// A floating-point tensor's values as float32, from the file's little-endian bytes.
inline HostTensor tensor_values(const TensorEntry& t, const unsigned char* src) {
    HostTensor out{t.shape, std::vector<float>(t.elements)};
    if (t.dtype == "F32" && kLittleEndian) {  // the file's byte order: one copy of the whole tensor
        if (t.elements != 0) std::memcpy(out.values.data(), src, t.elements * 4);  // empty: no storage
        return out;
    }
    for (std::uint64_t i = 0; i < t.elements; ++i) {
        const unsigned char* p = src + i * t.element_size;
        if (t.dtype == "F32") {
            const std::uint32_t bits = std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 | std::uint32_t(p[2]) << 16 |
                                       std::uint32_t(p[3]) << 24;
            std::memcpy(&out.values[i], &bits, 4);
        } else if (t.dtype == "F64") {
            const std::uint64_t bits = read_le_u64(p);
            double d;
            std::memcpy(&d, &bits, 8);
            out.values[i] = float(d);
        } else {
            const std::uint16_t bits = std::uint16_t(p[0] | p[1] << 8);
            out.values[i] = t.dtype == "F16" ? half_to_float(bits) : bfloat16_to_float(bits);
        }
    }
    return out;
}

inline bool is_small_integer_dtype(const std::string& dtype) { return dtype == "I8" || dtype == "U8" || dtype == "I32"; }

// An I8, U8 or I32 tensor's values from the file's little-endian bytes.
inline IntegerTensor integer_tensor_values(const TensorEntry& t, const unsigned char* src) {
    IntegerTensor out{t.dtype, t.shape, std::vector<std::int32_t>(t.elements)};
    for (std::uint64_t i = 0; i < t.elements; ++i) {
        const unsigned char* p = src + i * t.element_size;
        if (t.dtype == "I8")
            out.values[i] = std::int32_t(std::int8_t(p[0]));
        else if (t.dtype == "U8")
            out.values[i] = std::int32_t(p[0]);
        else
            out.values[i] = std::int32_t(std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 | std::uint32_t(p[2]) << 16 |
                                         std::uint32_t(p[3]) << 24);
    }
    return out;
}

// Tensors may not share bytes: a file whose tensors alias each other is not what any writer
// makes. Sorted by start, each non-empty extent must begin after every earlier one ended.
struct Extent {
    std::uint64_t begin, end;
    std::string name;
};

inline void check_no_overlap(std::vector<Extent> extents, const std::string& file) {
    std::sort(extents.begin(), extents.end(), [](const Extent& a, const Extent& b) { return a.begin < b.begin; });
    std::uint64_t covered_end = 0;
    const std::string* covered_by = nullptr;
    for (const Extent& x : extents) {
        if (x.begin == x.end) continue;
        if (covered_by != nullptr && x.begin < covered_end)
            safetensors_fail(file, x.name, "data not overlapping other tensors", "bytes shared with '" + *covered_by + "'");
        if (x.end > covered_end) {
            covered_end = x.end;
            covered_by = &x.name;
        }
    }
}

}  // namespace internal

// Parses a whole safetensors file held in memory. `file` names it in error messages.
inline SafetensorsContents parse_safetensors(const void* data, std::size_t size, const std::string& file) {
    const auto* bytes = static_cast<const unsigned char*>(data);
    const std::uint64_t header_len = internal::safetensors_header_length(bytes, size, file);
    const nlohmann::json header =
        internal::parse_safetensors_header(reinterpret_cast<const char*>(bytes + 8), header_len, file);
    const unsigned char* data_begin = bytes + 8 + header_len;
    const std::uint64_t data_size = size - 8 - header_len;

    SafetensorsContents out;
    std::vector<internal::Extent> extents;
    for (auto it = header.begin(); it != header.end(); ++it) {
        const std::string& name = it.key();
        if (name == "__metadata__") {
            if (!it.value().is_object()) internal::safetensors_fail(file, name, "an object of strings", it.value().type_name());
            for (auto m = it.value().begin(); m != it.value().end(); ++m) {
                if (!m.value().is_string())
                    internal::safetensors_fail(file, "__metadata__." + m.key(), "a string value", m.value().type_name());
                out.metadata[m.key()] = m.value().get<std::string>();
            }
            continue;
        }
        const internal::TensorEntry t = internal::read_tensor_entry(name, it.value(), data_size, file);
        extents.push_back({t.begin, t.end, name});
        out.dtypes.emplace(name, t.dtype);
        if (internal::is_float_dtype(t.dtype)) {
            out.tensors.emplace(name, internal::tensor_values(t, data_begin + t.begin));
        } else {
            out.skipped.insert(name);
            if (internal::is_small_integer_dtype(t.dtype))
                out.integer_tensors.emplace(name, internal::integer_tensor_values(t, data_begin + t.begin));
        }
    }
    internal::check_no_overlap(std::move(extents), file);
    if (out.metadata.count(kChecksumKey)) out.data_checksum = data_checksum(data_begin, std::size_t(data_size));
    return out;
}

// The bytes of a whole file, mapped read-only where the system allows (no copy: the tensors
// are converted straight from the page cache), else read into memory.
class FileBytes {
public:
    explicit FileBytes(const std::string& path) {
        std::error_code ec;
        const auto status = std::filesystem::status(path, ec);
        if (ec || !std::filesystem::exists(status)) throw LoadError(path, "", "a readable file", "no such file");
        if (!std::filesystem::is_regular_file(status))
            throw LoadError(path, "", "a regular file", "a directory or special file");
#if defined(__unix__) || defined(__APPLE__)
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) throw LoadError(path, "", "a readable file", "it cannot be opened");
        struct stat st {};
        if (::fstat(fd, &st) != 0) {
            ::close(fd);
            throw LoadError(path, "", "a readable file", "no size");
        }
        size_ = std::size_t(st.st_size);
        if (size_ > 0) {
#ifdef MAP_POPULATE
            // Every byte is read once, right away: map the pages in one call rather than one
            // fault at a time.
            const int flags = MAP_PRIVATE | MAP_POPULATE;
#else
            const int flags = MAP_PRIVATE;
#endif
            void* mapped = ::mmap(nullptr, size_, PROT_READ, flags, fd, 0);
            if (mapped != MAP_FAILED) mapping_ = mapped;
        }
        ::close(fd);
        if (mapping_ != nullptr || size_ == 0) return;
#endif
        std::ifstream in(path, std::ios::binary | std::ios::ate);
        if (!in) throw LoadError(path, "", "a readable file", "it cannot be opened");
        const std::streamoff size = in.tellg();
        if (size < 0) throw LoadError(path, "", "a readable file", "no size");
        copy_.resize(static_cast<std::size_t>(size));
        size_ = copy_.size();
        in.seekg(0);
        if (size > 0 && !in.read(reinterpret_cast<char*>(copy_.data()), size))
            throw LoadError(path, "", std::to_string(size) + " bytes", "a read error");
    }
    FileBytes(const FileBytes&) = delete;
    FileBytes& operator=(const FileBytes&) = delete;
    ~FileBytes() {
#if defined(__unix__) || defined(__APPLE__)
        if (mapping_ != nullptr) ::munmap(mapping_, size_);
#endif
    }

    const unsigned char* data() const {
        return mapping_ != nullptr ? static_cast<const unsigned char*>(mapping_) : copy_.data();
    }
    std::size_t size() const { return size_; }

private:
    void* mapping_ = nullptr;
    std::vector<unsigned char> copy_;
    std::size_t size_ = 0;
};

inline SafetensorsContents read_safetensors(const std::string& path) {
    const FileBytes bytes(path);
    return parse_safetensors(bytes.data(), bytes.size(), path);
}

}  // namespace mobilenext
