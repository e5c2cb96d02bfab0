// The safetensors parser: every malformed file is refused with a LoadError naming the file,
// the tensor or field, what was expected and what was found (never a crash, a stack overflow
// or another exception type); well-formed files decode exactly, F16 and BF16 included.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <typeinfo>
#include <vector>

#include <mobilenext/io/safetensors.hpp>

#include "safetensors_writer.hpp"

namespace mobilenext {
namespace {

using testing::SafetensorsWriter;
using testing::safetensors_bytes;

const std::string kFile = "weights.safetensors";

// Errors about the default file name unless a test names another.
void expect_error(const std::optional<LoadError>& error, const std::string& tensor,
                  std::initializer_list<std::string> parts, const std::string& file = kFile) {
    testing::expect_error(error, tensor, parts, file);
}

// The LoadError that parsing `bytes` throws, if any. Any other exception escapes and fails the test.
std::optional<LoadError> parse_error(const std::string& bytes, const std::string& file = kFile) {
    try {
        parse_safetensors(bytes.data(), bytes.size(), file);
    } catch (const LoadError& e) {
        return e;
    }
    return std::nullopt;
}


// A header with one tensor entry written by hand, and `data_bytes` zero bytes of data.
std::string one_entry(const std::string& entry, std::size_t data_bytes, const std::string& name = "w") {
    return safetensors_bytes("{\"" + name + "\":" + entry + "}", std::string(data_bytes, '\0'));
}

// Two F32 tensors of 4 and 2 elements: 24 data bytes, the last tensor at [16, 24).
std::string two_tensor_file() {
    SafetensorsWriter w;
    w.add("a", HostTensor{{4}, {1, 2, 3, 4}});
    w.add("b", HostTensor{{2}, {5, 6}});
    return w.bytes();
}

std::uint32_t bits(float f) { return testing::float_bits(f); }

// ---------------------------------------------------------------- sizes and lengths

TEST(Safetensors, EmptyFile) {
    expect_error(parse_error(""), "", {"8-byte header length", "found 0 bytes"});
}

TEST(Safetensors, EmptyFileOnDisk) {
    const testing::TempFile file("");
    const std::string& path = file.path();
    try {
        read_safetensors(path);
        FAIL() << "no LoadError";
    } catch (const LoadError& e) {
        expect_error(e, "", {"found 0 bytes"}, path);
    }
}

TEST(Safetensors, FewerThanEightBytes) {
    expect_error(parse_error(std::string("\x02\x00\x00", 3)), "", {"8-byte header length", "found 3 bytes"});
    expect_error(parse_error(std::string(7, '\0')), "", {"found 7 bytes"});
}

TEST(Safetensors, HeaderLengthBeyondTheFile) {
    const std::string bytes = testing::safetensors_bytes_with_length(100, "{\"a\":1}   ");
    expect_error(parse_error(bytes), "", {"a header of at most 10 bytes", "found header length 100"});
}

TEST(Safetensors, HugeHeaderLength) {
    const std::string bytes = testing::safetensors_bytes_with_length(std::uint64_t(1) << 63, "{}");
    expect_error(parse_error(bytes), "", {"at most 2 bytes", "header length 9223372036854775808"});
    const std::string all_ones = testing::safetensors_bytes_with_length(~std::uint64_t(0), "{}");
    expect_error(parse_error(all_ones), "", {"header length 18446744073709551615"});
}

TEST(Safetensors, ZeroHeaderLength) {
    expect_error(parse_error(testing::safetensors_bytes_with_length(0, "")), "", {"a JSON object as header"});
    expect_error(parse_error(testing::safetensors_bytes_with_length(0, "abcd")), "", {"a JSON object as header"});
}

TEST(Safetensors, TruncatedInTheHeader) {
    const std::string whole = two_tensor_file();
    const std::uint64_t header_length = whole.size() - 8 - 24;
    for (std::size_t keep : {std::size_t(8), std::size_t(9), std::size_t(8 + header_length / 2), std::size_t(8 + header_length - 1)}) {
        SCOPED_TRACE(keep);
        expect_error(parse_error(whole.substr(0, keep)), "",
                     {"a header of at most " + std::to_string(keep - 8) + " bytes",
                      "header length " + std::to_string(header_length)});
    }
}

TEST(Safetensors, TruncatedInTheData) {
    const std::string whole = two_tensor_file();
    // Cut in the middle of "b" (data bytes 16..24): 20 data bytes remain.
    const std::string cut = whole.substr(0, whole.size() - 4);
    expect_error(parse_error(cut), "b", {"data_offsets within the 20 data bytes", "found [16,24]"});
    // Cut just after the header: even "a" is out of range.
    expect_error(parse_error(whole.substr(0, whole.size() - 24)), "a", {"within the 0 data bytes", "found [0,16]"});
}

TEST(Safetensors, TruncatedFileOnDisk) {
    const std::string whole = two_tensor_file();
    const testing::TempFile file(whole.substr(0, whole.size() - 1));
    const std::string& path = file.path();
    try {
        read_safetensors(path);
        FAIL() << "no LoadError";
    } catch (const LoadError& e) {
        expect_error(e, "b", {"within the 23 data bytes", "[16,24]"}, path);
    }
}

TEST(Safetensors, MissingFile) {
    const std::string path = ::testing::TempDir() + "mobilenext_no_such_file.safetensors";
    try {
        read_safetensors(path);
        FAIL() << "no LoadError";
    } catch (const LoadError& e) {
        expect_error(e, "", {"a readable file", "no such file"}, path);
    }
}

// A directory opens as an ifstream on Linux and reports a size of 2^63 - 1: it must be
// refused as not a regular file before anything is allocated.
TEST(Safetensors, DirectoryIsNotAFile) {
    const std::string path = ::testing::TempDir();
    try {
        read_safetensors(path);
        FAIL() << "no LoadError";
    } catch (const LoadError& e) {
        EXPECT_EQ(e.file(), path) << e.what();
    } catch (const std::exception& e) {
        FAIL() << "expected LoadError, got " << typeid(e).name() << ": " << e.what();
    }
}

// ---------------------------------------------------------------- JSON structure

TEST(Safetensors, HeaderIsNotJson) {
    expect_error(parse_error(safetensors_bytes("{not json}")), "", {"a valid JSON header", "invalid JSON"});
    expect_error(parse_error(safetensors_bytes("{\"w\": {\"dtype\": \"F32\"")), "", {"invalid JSON"});
    expect_error(parse_error(safetensors_bytes("{} trailing")), "", {"invalid JSON"});
    expect_error(parse_error(safetensors_bytes(std::string("{\"a\":\"\xff\"}"))), "", {"invalid JSON"});
    expect_error(parse_error(safetensors_bytes("hello")), "", {"a JSON object as header"});
}

TEST(Safetensors, HeaderIsJsonButNotAnObject) {
    expect_error(parse_error(safetensors_bytes("[1, 2, 3]")), "", {"a JSON object as header"});
    expect_error(parse_error(safetensors_bytes("\"a string\"")), "", {"a JSON object as header"});
    expect_error(parse_error(safetensors_bytes("42")), "", {"a JSON object as header"});
    expect_error(parse_error(safetensors_bytes("null")), "", {"a JSON object as header"});
}

TEST(Safetensors, DeepNestingIsRefusedWithoutRecursion) {
    const int depth = 10000;
    const std::string arrays = "{\"w\":" + std::string(depth, '[') + std::string(depth, ']') + "}";
    expect_error(parse_error(safetensors_bytes(arrays)), "", {"nesting depth <= 3", "found nesting depth 4"});
    std::string objects = "{";
    for (int i = 0; i < depth; ++i) objects += "\"a\":{";
    objects += std::string(depth + 1, '}');
    expect_error(parse_error(safetensors_bytes(objects)), "", {"nesting depth <= 3"});
    // Unterminated: refused by depth before the missing brackets are noticed.
    expect_error(parse_error(safetensors_bytes("{\"w\":" + std::string(depth, '['))), "", {"nesting depth"});
}

TEST(Safetensors, HugeNumbersInShape) {
    // Beyond double: the JSON parser itself refuses it, and the message quotes it.
    expect_error(parse_error(one_entry(R"({"dtype":"F32","shape":[1e400],"data_offsets":[0,4]})", 4)), "",
                 {"invalid JSON", "1e400"});
    // 2^64 parses as a floating-point number, not an integer.
    expect_error(parse_error(one_entry(R"({"dtype":"F32","shape":[18446744073709551616],"data_offsets":[0,4]})", 4)),
                 "w", {"non-negative integer dimensions", "found shape [1.8446744073709552e+19]"});
    expect_error(parse_error(one_entry(R"({"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,4]})", 4)),
                 "w", {"at most 2^34 elements", "shape [18446744073709551615]"});
    expect_error(parse_error(one_entry(R"({"dtype":"F32","shape":[-1],"data_offsets":[0,4]})", 4)), "w",
                 {"non-negative integer dimensions", "found shape [-1]"});
    expect_error(parse_error(one_entry(R"({"dtype":"F32","shape":[1.5],"data_offsets":[0,4]})", 4)), "w",
                 {"non-negative integer dimensions", "found shape [1.5]"});
    expect_error(parse_error(one_entry(R"({"dtype":"F32","shape":["1"],"data_offsets":[0,4]})", 4)), "w",
                 {"non-negative integer dimensions", "found shape [\"1\"]"});
    expect_error(parse_error(one_entry(R"({"dtype":"F32","shape":[[1]],"data_offsets":[0,4]})", 4)), "w",
                 {"non-negative integer dimensions", "found shape [[1]]"});
}

TEST(Safetensors, ShapeProductOverflowingSixtyFourBits) {
    // 2^32 * 2^32 * 16 wraps to 0 in 64-bit arithmetic; a zero-byte tensor must not slip through.
    expect_error(parse_error(one_entry(R"({"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,0]})", 0)),
                 "w", {"at most 2^34 elements", "shape [4294967296,4294967296,16]"});
    expect_error(parse_error(one_entry(R"({"dtype":"F32","shape":[131072,131072,2],"data_offsets":[0,0]})", 0)), "w",
                 {"at most 2^34 elements"});
}

TEST(Safetensors, ShapeNotAnArray) {
    expect_error(parse_error(one_entry(R"({"dtype":"F32","shape":4,"data_offsets":[0,16]})", 16)), "w",
                 {"shape as an array", "found number"});
}

TEST(Safetensors, DuplicateTensorKeys) {
    const std::string header =
        R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})";
    expect_error(parse_error(safetensors_bytes(header, std::string(8, '\0'))), "w",
                 {"unique keys in the JSON header", "found a duplicate key"});
}

TEST(Safetensors, DuplicateKeysInsideAnEntry) {
    // The error names the repeated field (the tensor holding it is not named).
    const std::string header = R"({"w":{"dtype":"F32","dtype":"F16","shape":[1],"data_offsets":[0,4]}})";
    expect_error(parse_error(safetensors_bytes(header, std::string(4, '\0'))), "dtype",
                 {"unique keys", "a duplicate key"});
    const std::string metadata = R"({"__metadata__":{"k":"1","k":"2"}})";
    expect_error(parse_error(safetensors_bytes(metadata)), "k", {"unique keys"});
}

TEST(Safetensors, SameKeyInDifferentEntriesIsFine) {
    const std::string header =
        R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})";
    const std::string bytes = safetensors_bytes(header, std::string(8, '\0'));
    EXPECT_EQ(parse_safetensors(bytes.data(), bytes.size(), kFile).tensors.size(), 2u);
}

// ---------------------------------------------------------------- tensor entries

TEST(Safetensors, EntryIsNotAnObject) {
    expect_error(parse_error(one_entry("[1, 2]", 0)), "w", {"an object {dtype, shape, data_offsets}", "found array"});
    expect_error(parse_error(one_entry("\"F32\"", 0)), "w", {"found string"});
}

TEST(Safetensors, UnknownDtype) {
    expect_error(parse_error(one_entry(R"({"dtype":"Q4","shape":[2],"data_offsets":[0,1]})", 1)), "w",
                 {"a safetensors dtype", "found dtype 'Q4'"});
    expect_error(parse_error(one_entry(R"({"dtype":"f32","shape":[2],"data_offsets":[0,8]})", 8)), "w",
                 {"dtype 'f32'"});
    expect_error(parse_error(one_entry(R"({"dtype":4,"shape":[2],"data_offsets":[0,8]})", 8)), "w",
                 {"dtype as a string", "found number"});
}

TEST(Safetensors, MissingFields) {
    expect_error(parse_error(one_entry(R"({"shape":[2],"data_offsets":[0,8]})", 8)), "w",
                 {"expected a 'dtype' field", "found none"});
    expect_error(parse_error(one_entry(R"({"dtype":"F32","data_offsets":[0,8]})", 8)), "w",
                 {"expected a 'shape' field", "found none"});
    expect_error(parse_error(one_entry(R"({"dtype":"F32","shape":[2]})", 8)), "w",
                 {"expected a 'data_offsets' field", "found none"});
    expect_error(parse_error(one_entry("{}", 0)), "w", {"a 'dtype' field"});
}

TEST(Safetensors, DataOffsetsReversed) {
    expect_error(parse_error(one_entry(R"({"dtype":"F32","shape":[1],"data_offsets":[8,4]})", 8)), "w",
                 {"data_offsets within the 8 data bytes", "found [8,4]"});
}

TEST(Safetensors, DataOffsetsOutOfRange) {
    expect_error(parse_error(one_entry(R"({"dtype":"F32","shape":[1],"data_offsets":[0,4]})", 3)), "w",
                 {"data_offsets within the 3 data bytes", "found [0,4]"});
    expect_error(parse_error(one_entry(R"({"dtype":"F32","shape":[1],"data_offsets":[18446744073709551612,18446744073709551615]})", 8)),
                 "w", {"within the 8 data bytes", "found [18446744073709551612,18446744073709551615]"});
}

TEST(Safetensors, DataOffsetsOfWrongForm) {
    const char* cases[] = {"[0]", "[0,4,8]", "[]", "4", "[-4,0]", "[0.0,4.0]", "[\"0\",\"4\"]", "null"};
    for (const char* offsets : cases) {
        SCOPED_TRACE(offsets);
        const std::string entry = std::string(R"({"dtype":"F32","shape":[1],"data_offsets":)") + offsets + "}";
        const std::string dumped = nlohmann::json::parse(offsets).dump();
        expect_error(parse_error(one_entry(entry, 8)), "w",
                     {"data_offsets as [begin, end] of non-negative integers", "found " + dumped});
    }
}

TEST(Safetensors, ByteCountNotMatchingShapeAndDtype) {
    expect_error(parse_error(one_entry(R"({"dtype":"F32","shape":[2],"data_offsets":[0,12]})", 12)), "w",
                 {"expected 8 bytes for F32 shape [2]", "found 12 bytes (data_offsets [0,12])"});
    expect_error(parse_error(one_entry(R"({"dtype":"F16","shape":[3, 2],"data_offsets":[0,8]})", 12)), "w",
                 {"expected 12 bytes for F16 shape [3, 2]", "found 8 bytes"});
    expect_error(parse_error(one_entry(R"({"dtype":"I64","shape":[],"data_offsets":[0,4]})", 8)), "w",
                 {"expected 8 bytes for I64 shape []", "found 4 bytes"});
}

TEST(Safetensors, OverlappingTensors) {
    const std::string header =
        R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})";
    expect_error(parse_error(safetensors_bytes(header, std::string(24, '\0'))), "b",
                 {"data not overlapping other tensors", "bytes shared with 'a'"});
    const std::string same =
        R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
    const std::optional<LoadError> e = parse_error(safetensors_bytes(same, std::string(8, '\0')));
    ASSERT_TRUE(e.has_value());
    EXPECT_TRUE(e->tensor() == "a" || e->tensor() == "b") << e->what();
    EXPECT_NE(std::string(e->what()).find("not overlapping"), std::string::npos) << e->what();
}

// "c" = [8, 12) lies inside "a" = [0, 16), with the empty "e" sorted between them: the
// overlap must be found all the same.
TEST(Safetensors, OverlapHiddenBehindAnEmptyTensor) {
    const std::string header =
        R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
        R"("e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},)"
        R"("c":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})";
    expect_error(parse_error(safetensors_bytes(header, std::string(16, '\0'))), "c",
                 {"data not overlapping other tensors", "bytes shared with 'a'"});
}

TEST(Safetensors, EmptyTensorsMayShareAnOffset) {
    const std::string header =
        R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
        R"("e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},)"
        R"("f":{"dtype":"F16","shape":[2,0],"data_offsets":[4,4]},)"
        R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})";
    const std::string bytes = safetensors_bytes(header, std::string(8, '\0'));
    EXPECT_EQ(parse_safetensors(bytes.data(), bytes.size(), kFile).tensors.size(), 4u);
}

// ---------------------------------------------------------------- __metadata__

TEST(Safetensors, MetadataNotAnObject) {
    expect_error(parse_error(safetensors_bytes(R"({"__metadata__":["a","b"]})")), "__metadata__",
                 {"an object of strings", "found array"});
    expect_error(parse_error(safetensors_bytes(R"({"__metadata__":"text"})")), "__metadata__", {"found string"});
}

TEST(Safetensors, MetadataValueNotAString) {
    expect_error(parse_error(safetensors_bytes(R"({"__metadata__":{"ok":"1","width":0.5}})")), "__metadata__.width",
                 {"a string value", "found number"});
    expect_error(parse_error(safetensors_bytes(R"({"__metadata__":{"labels":["a"]}})")), "__metadata__.labels",
                 {"found array"});
    expect_error(parse_error(safetensors_bytes(R"({"__metadata__":{"x":null}})")), "__metadata__.x", {"found null"});
}

// ---------------------------------------------------------------- well-formed files

TEST(Safetensors, F32RoundTripIsExact) {
    const float inf = std::numeric_limits<float>::infinity();
    StateDict dict;
    dict["conv.weight"] = HostTensor{{2, 1, 2, 2}, {1.0f, -0.0f, 3.14159274f, -1e-38f, 1e-45f, 3.4028235e38f, -inf, inf}};
    dict["scalar"] = HostTensor{{}, {42.5f}};
    dict["nan"] = HostTensor{{2}, {std::numeric_limits<float>::quiet_NaN(), testing::bits_float(0x7fc01234u)}};
    std::vector<float> many(1000);
    for (std::size_t i = 0; i < many.size(); ++i) many[i] = std::sin(float(i)) * float(i);
    dict["big"] = HostTensor{{10, 100}, many};
    const std::string bytes = testing::safetensors_from_state_dict(dict);
    const SafetensorsContents c = parse_safetensors(bytes.data(), bytes.size(), kFile);
    ASSERT_EQ(c.tensors.size(), dict.size());
    EXPECT_TRUE(c.skipped.empty());
    EXPECT_TRUE(c.metadata.empty());
    for (const auto& [name, t] : dict) {
        SCOPED_TRACE(name);
        const HostTensor& r = c.tensors.at(name);
        EXPECT_EQ(r.shape, t.shape);
        ASSERT_EQ(r.values.size(), t.values.size());
        for (std::size_t i = 0; i < t.values.size(); ++i) EXPECT_EQ(bits(r.values[i]), bits(t.values[i])) << i;
    }
}

TEST(Safetensors, F32FromFileWithUnalignedData) {
    // No padding: the data starts at an odd offset, which must not matter.
    SafetensorsWriter w;
    w.add("x", HostTensor{{3}, {1.5f, -2.25f, 1e10f}});
    std::string bytes = w.bytes(1);
    if ((bytes.size() - 12) % 2 == 0) {  // make the header length odd with one trailing space
        w = SafetensorsWriter();
        w.add("xx", HostTensor{{3}, {1.5f, -2.25f, 1e10f}});
        bytes = w.bytes(1);
    }
    ASSERT_EQ((bytes.size() - 12) % 2, 1u);
    const testing::TempFile file(bytes);
    const std::string& path = file.path();
    const SafetensorsContents c = read_safetensors(path);
    ASSERT_EQ(c.tensors.size(), 1u);
    EXPECT_EQ(c.tensors.begin()->second.values, (std::vector<float>{1.5f, -2.25f, 1e10f}));
}

TEST(Safetensors, HeaderPaddedWithSpaces) {
    SafetensorsWriter w;
    w.add("x", HostTensor{{1}, {7.0f}});
    const std::string bytes = w.bytes(64);
    const SafetensorsContents c = parse_safetensors(bytes.data(), bytes.size(), kFile);
    EXPECT_EQ(c.tensors.at("x").values, std::vector<float>{7.0f});
}

// IEEE half decoded independently of the library: sign, 5-bit exponent (bias 15), 10-bit fraction.
float reference_half(std::uint16_t h) {
    const int exponent = (h >> 10) & 0x1f, fraction = h & 0x3ff;
    const float sign = (h & 0x8000) ? -1.0f : 1.0f;
    if (exponent == 0x1f)
        return fraction ? std::numeric_limits<float>::quiet_NaN() : sign * std::numeric_limits<float>::infinity();
    if (exponent == 0) return sign * std::ldexp(float(fraction), -24);
    return sign * std::ldexp(float(1024 + fraction), exponent - 25);
}

std::string u16_data(const std::vector<std::uint16_t>& values) {
    std::string out;
    for (std::uint16_t v : values) testing::append_le(out, v, 2);
    return out;
}

TEST(Safetensors, F16DecodesSpecialValues) {
    const std::vector<std::uint16_t> h = {0x0000, 0x8000, 0x0001, 0x8001, 0x03ff, 0x0400, 0x3c00,
                                          0xc000, 0x7bff, 0x7c00, 0xfc00, 0x3555, 0x7e00, 0x0200};
    const float inf = std::numeric_limits<float>::infinity();
    const std::vector<float> expected = {0.0f, -0.0f, std::ldexp(1.0f, -24), -std::ldexp(1.0f, -24),
                                         std::ldexp(1023.0f, -24), std::ldexp(1.0f, -14), 1.0f, -2.0f, 65504.0f,
                                         inf, -inf, 0.333251953125f, 0.0f /* NaN */, std::ldexp(1.0f, -15)};
    SafetensorsWriter w;
    w.add_raw("h", "F16", {2, 7}, u16_data(h));
    const std::string bytes = w.bytes();
    const SafetensorsContents c = parse_safetensors(bytes.data(), bytes.size(), kFile);
    const HostTensor& t = c.tensors.at("h");
    EXPECT_EQ(t.shape, (std::vector<std::int64_t>{2, 7}));
    ASSERT_EQ(t.values.size(), h.size());
    for (std::size_t i = 0; i < h.size(); ++i) {
        SCOPED_TRACE(i);
        if (h[i] == 0x7e00) {
            EXPECT_TRUE(std::isnan(t.values[i]));
        } else {
            EXPECT_EQ(bits(t.values[i]), bits(expected[i])) << t.values[i] << " vs " << expected[i];
        }
    }
    EXPECT_TRUE(std::signbit(t.values[1]));
    EXPECT_FALSE(std::signbit(t.values[0]));
}

TEST(Safetensors, F16DecodesEveryHalfExactly) {
    std::vector<std::uint16_t> all(65536);
    for (std::uint32_t i = 0; i < 65536; ++i) all[i] = std::uint16_t(i);
    SafetensorsWriter w;
    w.add_raw("all", "F16", {65536}, u16_data(all));
    const std::string bytes = w.bytes();
    const SafetensorsContents c = parse_safetensors(bytes.data(), bytes.size(), kFile);
    const std::vector<float>& v = c.tensors.at("all").values;
    ASSERT_EQ(v.size(), all.size());
    for (std::uint32_t i = 0; i < 65536; ++i) {
        const float e = reference_half(std::uint16_t(i));
        if (std::isnan(e)) {
            ASSERT_TRUE(std::isnan(v[i])) << std::hex << i;
        } else {
            ASSERT_EQ(bits(v[i]), bits(e)) << std::hex << i;
            // The test writer's float -> half inverts the decoding for every non-NaN half.
            ASSERT_EQ(testing::float_to_half(v[i]), std::uint16_t(i)) << std::hex << i;
        }
    }
}

TEST(Safetensors, F16WrittenFromFloatsRoundsToNearest) {
    StateDict dict;
    // 1 + 2^-11 is halfway between two halves and rounds to even (1); 65520 rounds to infinity.
    dict["x"] = HostTensor{{6}, {1.0f + std::ldexp(1.0f, -11), 1.0f + 3 * std::ldexp(1.0f, -11), 65519.0f, 65520.0f,
                                 std::ldexp(1.0f, -25), std::ldexp(3.0f, -26)}};
    const std::string bytes = testing::safetensors_from_state_dict(dict, {}, testing::FloatFormat::f16);
    const SafetensorsContents c = parse_safetensors(bytes.data(), bytes.size(), kFile);
    const std::vector<float> expected = {1.0f, 1.0f + std::ldexp(1.0f, -9), 65504.0f,
                                         std::numeric_limits<float>::infinity(), 0.0f, std::ldexp(1.0f, -24)};
    EXPECT_EQ(c.tensors.at("x").values, expected);
}

TEST(Safetensors, BF16Decodes) {
    const std::vector<std::uint16_t> b = {0x3f80, 0xc049, 0x0001, 0x8000, 0x7f80, 0xff80, 0x7f7f, 0x3e80, 0x7fc0};
    SafetensorsWriter w;
    w.add_raw("b", "BF16", {9}, u16_data(b));
    const std::string bytes = w.bytes();
    const SafetensorsContents c = parse_safetensors(bytes.data(), bytes.size(), kFile);
    const std::vector<float>& v = c.tensors.at("b").values;
    ASSERT_EQ(v.size(), b.size());
    EXPECT_EQ(v[0], 1.0f);
    EXPECT_EQ(v[1], -3.140625f);
    EXPECT_EQ(v[2], std::ldexp(1.0f, -133));  // subnormal
    EXPECT_TRUE(v[3] == 0.0f && std::signbit(v[3]));
    EXPECT_EQ(v[4], std::numeric_limits<float>::infinity());
    EXPECT_EQ(v[5], -std::numeric_limits<float>::infinity());
    EXPECT_EQ(v[6], testing::bits_float(0x7f7f0000u));
    EXPECT_EQ(v[7], 0.25f);
    EXPECT_TRUE(std::isnan(v[8]));
}

TEST(Safetensors, BF16WrittenFromAStateDict) {
    StateDict dict;
    dict["w"] = HostTensor{{2, 2}, {1.0f, -0.5f, 3.0f, 1.0f + std::ldexp(1.0f, -8)}};
    const std::string bytes = testing::safetensors_from_state_dict(dict, {}, testing::FloatFormat::bf16);
    const SafetensorsContents c = parse_safetensors(bytes.data(), bytes.size(), kFile);
    // The last value is halfway between 1 and 1 + 2^-7, and rounds to even.
    EXPECT_EQ(c.tensors.at("w").values, (std::vector<float>{1.0f, -0.5f, 3.0f, 1.0f}));
}

TEST(Safetensors, F64IsConvertedToFloat) {
    std::string data;
    for (double d : {1.0 / 3.0, -1e300, 2.5}) {
        std::uint64_t b;
        std::memcpy(&b, &d, 8);
        testing::append_le(data, b, 8);
    }
    SafetensorsWriter w;
    w.add_raw("d", "F64", {3}, data);
    const std::string bytes = w.bytes();
    const SafetensorsContents c = parse_safetensors(bytes.data(), bytes.size(), kFile);
    EXPECT_EQ(c.tensors.at("d").values, (std::vector<float>{float(1.0 / 3.0), -std::numeric_limits<float>::infinity(), 2.5f}));
}

TEST(Safetensors, IntegerTensorsAreSkippedAndListed) {
    SafetensorsWriter w;
    w.add("features.0.1.weight", HostTensor{{2}, {1.0f, 2.0f}});
    w.add_i64("features.0.1.num_batches_tracked", {}, {12345});
    w.add_raw("mask", "U8", {3}, std::string("\x01\x00\x01", 3));
    w.add_raw("flags", "BOOL", {2}, std::string("\x01\x00", 2));
    const std::string bytes = w.bytes();
    const SafetensorsContents c = parse_safetensors(bytes.data(), bytes.size(), kFile);
    EXPECT_EQ(c.tensors.size(), 1u);
    EXPECT_EQ(c.tensors.count("features.0.1.weight"), 1u);
    EXPECT_EQ(c.skipped, (std::set<std::string>{"features.0.1.num_batches_tracked", "mask", "flags"}));
}

TEST(Safetensors, ZeroElementTensor) {
    SafetensorsWriter w;
    w.add("a", HostTensor{{2}, {1.0f, 2.0f}});
    w.add("empty", HostTensor{{0, 3}, {}});  // offsets [8, 8]: at the very end of the data
    w.add("dims", HostTensor{{4, 0, 2}, {}}, testing::FloatFormat::bf16);
    const std::string bytes = w.bytes();
    const SafetensorsContents c = parse_safetensors(bytes.data(), bytes.size(), kFile);
    ASSERT_EQ(c.tensors.size(), 3u);
    EXPECT_EQ(c.tensors.at("empty").shape, (std::vector<std::int64_t>{0, 3}));
    EXPECT_TRUE(c.tensors.at("empty").values.empty());
    EXPECT_EQ(c.tensors.at("dims").shape, (std::vector<std::int64_t>{4, 0, 2}));
    EXPECT_EQ(c.tensors.at("a").values, (std::vector<float>{1.0f, 2.0f}));
}

TEST(Safetensors, EmptyHeaderObject) {
    const std::string bytes = safetensors_bytes("{}");
    const SafetensorsContents c = parse_safetensors(bytes.data(), bytes.size(), kFile);
    EXPECT_TRUE(c.tensors.empty() && c.metadata.empty() && c.skipped.empty());
}

TEST(Safetensors, MetadataIsRead) {
    SafetensorsWriter w;
    w.add("x", HostTensor{{1}, {1.0f}});
    w.metadata("format", "pt").metadata("mobilenext.width", "0.75").metadata("empty", "").metadata("utf8", "\xc3\xa9t\xc3\xa9");
    const std::string bytes = w.bytes();
    const SafetensorsContents c = parse_safetensors(bytes.data(), bytes.size(), kFile);
    const std::map<std::string, std::string> expected = {
        {"format", "pt"}, {"mobilenext.width", "0.75"}, {"empty", ""}, {"utf8", "\xc3\xa9t\xc3\xa9"}};
    EXPECT_EQ(c.metadata, expected);
    EXPECT_EQ(c.tensors.count("__metadata__"), 0u);
}

}  // namespace
}  // namespace mobilenext
