#pragma once
// Writing the safetensors format (io/safetensors.hpp reads it) as tools/safetensors_io.py
// does: tensors in the order given, data offsets from 0 without gaps, the JSON header padded
// with spaces to a multiple of 8 bytes so that the data starts aligned, and optionally the
// data section's checksum (data_checksum, kChecksumKey) in the metadata. Values are written
// little-endian whatever the host's byte order.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <system_error>
#include <vector>

#include <nlohmann/json.hpp>

#include "../core/error.hpp"
#include "safetensors.hpp"

namespace mobilenext {

// One tensor to write: its dtype name ("F32", "I8", "U8", "I32"), shape and little-endian bytes.
struct SafetensorsEntry {
    std::string name;
    std::string dtype;
    std::vector<std::int64_t> shape;
    std::string bytes;
};

namespace internal {

inline void append_little_endian(std::string& out, std::uint32_t value, int bytes) {
    for (int i = 0; i < bytes; ++i) out.push_back(char((value >> (8 * i)) & 0xffu));
}

}  // namespace internal

inline SafetensorsEntry f32_entry(std::string name, std::vector<std::int64_t> shape, const std::vector<float>& values) {
    SafetensorsEntry e{std::move(name), "F32", std::move(shape), {}};
    e.bytes.reserve(values.size() * 4);
    for (float v : values) {
        std::uint32_t bits;
        std::memcpy(&bits, &v, 4);
        internal::append_little_endian(e.bytes, bits, 4);
    }
    return e;
}

// I8, U8 or I32 (`dtype`) from values the caller has kept within the dtype's range.
inline SafetensorsEntry integer_entry(std::string name, const std::string& dtype, std::vector<std::int64_t> shape,
                                      const std::vector<std::int32_t>& values) {
    SafetensorsEntry e{std::move(name), dtype, std::move(shape), {}};
    const int bytes = dtype == "I32" ? 4 : 1;
    e.bytes.reserve(values.size() * std::size_t(bytes));
    for (std::int32_t v : values) internal::append_little_endian(e.bytes, std::uint32_t(v), bytes);
    return e;
}

// The whole file. With `checksum`, the metadata gets kChecksumKey of the data section.
inline std::string safetensors_file_bytes(const std::vector<SafetensorsEntry>& entries,
                                          std::map<std::string, std::string> metadata, bool checksum) {
    nlohmann::json header = nlohmann::json::object();
    std::string data;
    for (const SafetensorsEntry& e : entries) {
        const std::uint64_t begin = data.size();
        data += e.bytes;
        header[e.name] = {{"dtype", e.dtype}, {"shape", e.shape}, {"data_offsets", {begin, std::uint64_t(data.size())}}};
    }
    if (checksum)
        metadata[kChecksumKey] = data_checksum(reinterpret_cast<const unsigned char*>(data.data()), data.size());
    if (!metadata.empty()) header["__metadata__"] = metadata;
    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8, ' ');
    std::string out;
    out.reserve(8 + text.size() + data.size());
    internal::append_little_endian(out, std::uint32_t(text.size()), 4);
    internal::append_little_endian(out, std::uint32_t(std::uint64_t(text.size()) >> 32), 4);
    return out + text + data;
}

// Writes `bytes` to `path` through a temporary file renamed over it: a reader never sees half a
// file, and a failed write leaves an existing file as it was.
inline void write_file_atomically(const std::string& path, const std::string& bytes) {
    const std::string temporary = path + ".tmp";
    {
        std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
        if (!out) throw Error(temporary + ": cannot be opened for writing");
        out.write(bytes.data(), std::streamsize(bytes.size()));
        out.close();
        if (!out) {
            std::remove(temporary.c_str());
            throw Error(temporary + ": write error (" + std::to_string(bytes.size()) + " bytes)");
        }
    }
    std::error_code ec;
    std::filesystem::rename(temporary, path, ec);
    if (ec) {
        std::remove(temporary.c_str());
        throw Error(path + ": cannot be replaced (" + ec.message() + ")");
    }
}

}  // namespace mobilenext
