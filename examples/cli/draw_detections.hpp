#pragma once
// `mobilenext detect --draw`: boxes and their labels drawn onto the image. Text comes from
// stb_easy_font, which describes each character as a few rectangles; they are filled here.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include <stb/stb_easy_font.h>

#include <mobilenext/mobilenext.hpp>

namespace mobilenext::cli {

// A colour per label, far apart for neighbouring labels (hues by the golden angle).
inline std::array<std::uint8_t, 3> label_colour(int label) {
    const double hue = std::fmod(label * 137.508, 360.0) / 60.0;
    const double x = 1.0 - std::fabs(std::fmod(hue, 2.0) - 1.0);
    std::array<double, 3> rgb{};
    switch (int(hue)) {
        case 0: rgb = {1, x, 0}; break;
        case 1: rgb = {x, 1, 0}; break;
        case 2: rgb = {0, 1, x}; break;
        case 3: rgb = {0, x, 1}; break;
        case 4: rgb = {x, 0, 1}; break;
        default: rgb = {1, 0, x}; break;
    }
    return {std::uint8_t(40 + 215 * rgb[0]), std::uint8_t(40 + 215 * rgb[1]), std::uint8_t(40 + 215 * rgb[2])};
}

// Fills [x0, x1) x [y0, y1), clipped to the image (RGB).
inline void fill_rect(Image& image, int x0, int y0, int x1, int y1, std::array<std::uint8_t, 3> colour) {
    x0 = std::max(0, x0);
    y0 = std::max(0, y0);
    x1 = std::min(image.width, x1);
    y1 = std::min(image.height, y1);
    for (int y = y0; y < y1; ++y)
        for (int x = x0; x < x1; ++x)
            for (int c = 0; c < 3; ++c) image.pixels[(std::size_t(y) * image.width + x) * 3 + c] = colour[std::size_t(c)];
}

// `text` with its top left corner at (x, y), each font unit `scale` pixels.
inline void draw_text(Image& image, int x, int y, const std::string& text, int scale, std::array<std::uint8_t, 3> colour) {
    std::vector<char> chars(text.begin(), text.end());
    chars.push_back('\0');
    struct Vertex {
        float x, y, z;
        unsigned char rgba[4];
    };
    std::vector<Vertex> vertices(4 * 64 * std::max<std::size_t>(1, text.size()));
    const int quads = stb_easy_font_print(0, 0, chars.data(), nullptr, vertices.data(), int(vertices.size() * sizeof(Vertex)));
    for (int q = 0; q < quads; ++q) {
        const Vertex& a = vertices[std::size_t(4 * q)];
        const Vertex& b = vertices[std::size_t(4 * q + 2)];
        fill_rect(image, x + int(a.x) * scale, y + int(a.y) * scale, x + int(b.x) * scale, y + int(b.y) * scale, colour);
    }
}

// Each detection's box (2-pixel outline) and "name score" on a band of the box's colour.
inline void draw_detections(Image& image, const std::vector<Detection>& detections) {
    const int scale = std::max(1, std::min(image.width, image.height) / 240);
    const int line = std::max(1, scale);
    for (auto it = detections.rbegin(); it != detections.rend(); ++it) {  // the best drawn last, on top
        const Detection& d = *it;
        const auto colour = label_colour(d.label);
        const int x0 = int(std::lround(d.box[0])), y0 = int(std::lround(d.box[1]));
        const int x1 = int(std::lround(d.box[2])), y1 = int(std::lround(d.box[3]));
        fill_rect(image, x0, y0, x1, y0 + line, colour);
        fill_rect(image, x0, y1 - line, x1, y1, colour);
        fill_rect(image, x0, y0, x0 + line, y1, colour);
        fill_rect(image, x1 - line, y0, x1, y1, colour);
        char score[16];
        std::snprintf(score, sizeof score, " %.2f", double(d.score));
        const std::string text = (d.name.empty() ? std::to_string(d.label) : std::string(d.name)) + score;
        const int text_width = stb_easy_font_width(const_cast<char*>(text.c_str())) * scale;
        const int band = 9 * scale, top = std::max(0, y0 - band);
        fill_rect(image, x0, top, x0 + text_width + 2 * scale, top + band, colour);
        draw_text(image, x0 + scale, top + scale, text, scale, {0, 0, 0});
    }
}

}  // namespace mobilenext::cli
