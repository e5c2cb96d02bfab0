// Runs mobilenext::resize_linear_u8 on one image for tools/check_resize.py.
//   resize_linear_probe SRC_H SRC_W CHANNELS DST_H DST_W [alloc|scratch] < image.raw > resized.raw
// stdin holds SRC_H * SRC_W * CHANNELS bytes (HWC), stdout receives DST_H * DST_W * CHANNELS.
// "scratch" passes a caller buffer that starts one byte past an int32 boundary, so the
// alignment step of the non-allocating form is exercised too. Errors go to stderr, exit 1.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "mobilenext/io/resize_linear_u8.hpp"

int main(int argc, char** argv) {
    if (argc != 6 && argc != 7) {
        std::fprintf(stderr, "usage: %s SRC_H SRC_W CHANNELS DST_H DST_W [alloc|scratch] < in > out\n", argv[0]);
        return 1;
    }
    try {
        int v[5];
        for (int i = 0; i < 5; ++i) v[i] = std::stoi(argv[i + 1]);
        const std::string mode = argc == 7 ? argv[6] : "alloc";
        const std::size_t in_bytes = std::size_t(v[0]) * std::size_t(v[1]) * std::size_t(v[2]);
        const std::size_t out_bytes = std::size_t(v[3]) * std::size_t(v[4]) * std::size_t(v[2]);
        std::vector<std::uint8_t> in(in_bytes), out(out_bytes);
        if (std::fread(in.data(), 1, in_bytes, stdin) != in_bytes) {
            std::fprintf(stderr, "expected %zu bytes on stdin\n", in_bytes);
            return 1;
        }
        if (mode == "scratch") {
            const std::size_t n = mobilenext::resize_linear_u8_scratch_bytes(v[0], v[1], v[2], v[3], v[4]);
            std::vector<std::uint32_t> storage(n / 4 + 2);
            unsigned char* scratch = reinterpret_cast<unsigned char*>(storage.data()) + 1;
            mobilenext::resize_linear_u8(in.data(), v[0], v[1], v[2], out.data(), v[3], v[4], scratch, n);
        } else {
            mobilenext::resize_linear_u8(in.data(), v[0], v[1], v[2], out.data(), v[3], v[4]);
        }
        if (std::fwrite(out.data(), 1, out_bytes, stdout) != out_bytes) return 1;
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}
