// mobilenext::image against files made to lie: sizes the data cannot hold, truncated data,
// headers past the limits; and the legal files once refused (top-down BMP, CMYK JPEG). Every
// failure is a mobilenext::Error naming the file, raised before the pixels are allocated.
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <mobilenext/image/image_file.hpp>

namespace mobilenext {
namespace {

using Bytes = std::vector<unsigned char>;

Bytes read_file(const std::string& relative) {
    std::ifstream f(std::string(MOBILENEXT_SOURCE_DIR) + "/" + relative, std::ios::binary);
    return Bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

void expect_refused(const Bytes& bytes, int channels, const std::string& part) {
    try {
        decode_image(bytes.data(), bytes.size(), "crafted.img", channels);
        ADD_FAILURE() << "decoded; expected an error mentioning '" << part << "'";
    } catch (const Error& e) {
        const std::string m = e.what();
        EXPECT_NE(m.find("crafted.img"), std::string::npos) << m;
        EXPECT_NE(m.find(part), std::string::npos) << "'" << m << "' does not mention '" << part << "'";
    }
}

void put_be32(Bytes& b, std::size_t at, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) b[at + i] = static_cast<unsigned char>(v >> (24 - 8 * i));
}
void put_le32(Bytes& b, std::size_t at, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) b[at + i] = static_cast<unsigned char>(v >> (8 * i));
}

// A PNG whose IHDR says width x height, 16-bit RGBA, with `idat` bytes of (meaningless) data.
Bytes png_claiming(std::uint32_t width, std::uint32_t height, std::size_t idat) {
    Bytes b = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
    b.resize(b.size() + 13 + 4, 0);
    put_be32(b, 16, width);
    put_be32(b, 20, height);
    b[24] = 16;  // bit depth
    b[25] = 6;   // RGBA
    const std::size_t at = b.size();
    b.resize(at + 8 + idat + 4, 0x78);
    put_be32(b, at, std::uint32_t(idat));
    b[at + 4] = 'I', b[at + 5] = 'D', b[at + 6] = 'A', b[at + 7] = 'T';
    const Bytes end = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xAE, 0x42, 0x60, 0x82};
    b.insert(b.end(), end.begin(), end.end());
    return b;
}

// An uncompressed 24-bit BMP of width x height (negative: top-down) holding `rows` rows.
Bytes bmp(int width, int height, int rows) {
    const std::uint32_t stride = (std::uint32_t(width) * 3 + 3) / 4 * 4;
    Bytes b(54 + stride * std::uint32_t(rows), 0);
    b[0] = 'B', b[1] = 'M';
    put_le32(b, 2, std::uint32_t(b.size()));
    put_le32(b, 10, 54);
    put_le32(b, 14, 40);
    put_le32(b, 18, std::uint32_t(width));
    put_le32(b, 22, std::uint32_t(height));
    b[26] = 1;
    b[28] = 24;
    // Row r of the file: blue = 10 r, green = 100, red = 200.
    for (int r = 0; r < rows; ++r)
        for (int x = 0; x < width; ++x) {
            unsigned char* p = &b[54 + std::size_t(r) * stride + std::size_t(x) * 3];
            p[0] = static_cast<unsigned char>(10 * r), p[1] = 100, p[2] = 200;
        }
    return b;
}

// The 74-byte PNG declaring 16384 x 16384 16-bit RGBA made stb_image's size computation
// overflow; its null failure reason then crashed the message.
TEST(ImageFile, PngsDeclaringMoreThanTheLimitsOrTheirDataAreRefused) {
    expect_refused(png_claiming(16384, 16384, 1), 3, "more than");
    expect_refused(png_claiming(4000, 4000, 10), 3, "cannot hold");
    expect_refused(png_claiming(0, 10, 10), 3, "claims 0x10");
}

TEST(ImageFile, JpegsDeclaringMoreThanTheirDataCanHoldAreRefused) {
    Bytes jpeg = read_file("tests/fuzz/corpus/image/baseline.jpg");
    ASSERT_GT(jpeg.size(), 100u);
    std::size_t sof = 0;
    for (std::size_t i = 2; i + 9 < jpeg.size(); ++i)
        if (jpeg[i] == 0xFF && (jpeg[i + 1] == 0xC0 || jpeg[i + 1] == 0xC2)) {
            sof = i;
            break;
        }
    ASSERT_NE(sof, 0u);
    jpeg[sof + 5] = 0x3F, jpeg[sof + 6] = 0xFF;  // height 16383
    jpeg[sof + 7] = 0x3F, jpeg[sof + 8] = 0xFF;  // width 16383
    expect_refused(jpeg, 3, "cannot hold");
}

TEST(ImageFile, TruncatedFilesAreErrorsNotFilledIn) {
    for (const char* file : {"tests/fuzz/corpus/image/baseline.jpg", "tests/fuzz/corpus/image/progressive.jpg",
                             "tests/fuzz/corpus/image/rgb.bmp", "tests/fuzz/corpus/image/rgb.png"}) {
        SCOPED_TRACE(file);
        Bytes bytes = read_file(file);
        ASSERT_GT(bytes.size(), 64u);
        EXPECT_NO_THROW(decode_image(bytes.data(), bytes.size(), file, 3));
        bytes.resize(bytes.size() / 2);
        expect_refused(bytes, 3, "cannot read the image");
    }
    expect_refused(bmp(64, 64, 32), 3, "truncated");
    expect_refused(bmp(16384, 16384, 8), 1, "more than");
}

TEST(ImageFile, TopDownBmpsAreRead) {
    const Bytes bottom_up = bmp(5, 3, 3), top_down = bmp(5, -3, 3);
    const Image a = decode_image(bottom_up.data(), bottom_up.size(), "bottom_up.bmp", 3);
    const Image b = decode_image(top_down.data(), top_down.size(), "top_down.bmp", 3);
    ASSERT_EQ(a.width, 5);
    ASSERT_EQ(b.height, 3);
    // The file's first row is the bottom row of one and the top row of the other.
    EXPECT_EQ(a.pixels[std::size_t(2 * 5) * 3 + 2], 0);   // bottom-up: the last image row is file row 0
    EXPECT_EQ(b.pixels[2], 0);                            // top-down: the first image row is file row 0
    EXPECT_EQ(b.pixels[std::size_t(2 * 5) * 3 + 2], 20);  // ... and the last is file row 2
    EXPECT_EQ(b.pixels[0], 200);                          // red first
}

TEST(ImageFile, CmykJpegsAreConvertedAsPilConverts) {
    // tests/data/cmyk_adobe.jpg: 8 x 6 random CMYK pixels, written by PIL 9.4 as an Adobe CMYK
    // JPEG; cmyk_adobe.rgb: the RGB bytes PIL decodes for it (Image.open(...).convert("RGB")).
    const Bytes jpeg = read_file("tests/data/cmyk_adobe.jpg");
    ASSERT_FALSE(jpeg.empty());
    const Image rgb = decode_image(jpeg.data(), jpeg.size(), "cmyk_adobe.jpg", 3);
    ASSERT_EQ(rgb.width, 8);
    ASSERT_EQ(rgb.height, 6);
    const Bytes expected = read_file("tests/data/cmyk_adobe.rgb");
    ASSERT_EQ(expected.size(), rgb.pixels.size());
    for (std::size_t i = 0; i < expected.size(); ++i) ASSERT_EQ(rgb.pixels[i], expected[i]) << "byte " << i;
    const Image grey = decode_image(jpeg.data(), jpeg.size(), "cmyk_adobe.jpg", 1);
    EXPECT_EQ(grey.channels, 1);
}

}  // namespace
}  // namespace mobilenext
