// Runs one int8 reference kernel on a case written by tools/check_int8_scheme.py and writes
// its output bytes, for the NumPy evaluation of the same scheme to compare with.
//   int8_scheme_dump pointwise|depthwise|shortcut <case file> <output file>
// Case files: int32 parameters, then the arrays, little-endian, no padding:
//   pointwise: pixels K Cout zp_out lo hi | u8 input[pixels][K] | s8 w[Cout][K] | s32 bias[Cout] | f32 M[Cout]
//   depthwise: H W C stride zp_in zp_out lo hi | u8 image[H][W][C] | s8 w[C][9] | s32 bias[C] | f32 M[C]
//   shortcut:  pixels C kept za zb zy A B S copy_rest | u8 a[pixels][C] | u8 b[pixels][C]
// Biases have the input's zero point folded in already.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include <mobilenext/kernels/int8/pack_int8.hpp>
#include <mobilenext/kernels/int8/reference_int8_kernels.hpp>

namespace {

using namespace mobilenext;

class CaseReader {
public:
    explicit CaseReader(const std::string& path) {
        std::ifstream file(path, std::ios::binary);
        bytes_.assign(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
    }
    template <class T>
    std::vector<T> read(std::size_t count) {
        if (at_ + count * sizeof(T) > bytes_.size()) throw std::runtime_error("case file too short");
        std::vector<T> v(count);
        std::memcpy(v.data(), bytes_.data() + at_, count * sizeof(T));
        at_ += count * sizeof(T);
        return v;
    }

private:
    std::vector<char> bytes_;
    std::size_t at_ = 0;
};

std::vector<std::uint8_t> run_pointwise(CaseReader& in) {
    const auto p = in.read<std::int32_t>(6);
    const auto input = in.read<std::uint8_t>(std::size_t(p[0]) * p[1]);
    const auto weights = in.read<std::int8_t>(std::size_t(p[2]) * p[1]);
    const auto bias = in.read<std::int32_t>(std::size_t(p[2]));
    const auto multipliers = in.read<float>(std::size_t(p[2]));
    const auto packed =
        pack_pointwise_u8s8(weights.data(), bias.data(), multipliers.data(), p[1], p[2], {p[3], p[4], p[5]}, 64);
    std::vector<std::uint8_t> out(static_cast<std::size_t>(p[0]) * p[2]);
    kernels::reference::pointwise_conv_u8s8(input.data(), std::size_t(p[0]), packed.view(), out.data());
    return out;
}

std::vector<std::uint8_t> run_depthwise(CaseReader& in) {
    const auto p = in.read<std::int32_t>(8);
    const int h = p[0], w = p[1], c = p[2], stride = p[3];
    const auto image = in.read<std::uint8_t>(std::size_t(h) * w * c);
    const auto weights = in.read<std::int8_t>(std::size_t(c) * 9);
    const auto bias = in.read<std::int32_t>(std::size_t(c));
    const auto multipliers = in.read<float>(std::size_t(c));
    const auto packed = pack_depthwise_u8s8(weights.data(), bias.data(), multipliers.data(), c, p[4], {p[5], p[6], p[7]});
    std::vector<std::uint8_t> out(static_cast<std::size_t>(conv3x3_output_size(h, stride)) * conv3x3_output_size(w, stride) * c);
    kernels::reference::dwconv3x3_u8s8(image.data(), whole_image(h, w, stride), packed.view(), out.data());
    return out;
}

std::vector<std::uint8_t> run_shortcut(CaseReader& in) {
    const auto p = in.read<std::int32_t>(7);
    const auto scales = in.read<float>(3);
    const std::size_t count = std::size_t(p[0]) * p[1];
    const auto a = in.read<std::uint8_t>(count);
    const auto b = in.read<std::uint8_t>(count);
    ShortcutAddU8 q = shortcut_add_u8(scales[0], p[3], scales[1], p[4], scales[2], p[5]);
    if (q.copy_rest != (p[6] != 0)) throw std::runtime_error("shortcut case: copy_rest does not follow the scales");
    std::vector<std::uint8_t> out(count);
    kernels::reference::add_partial_shortcut_u8(a.data(), b.data(), std::size_t(p[0]), p[1], p[2], q, out.data());
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: %s pointwise|depthwise|shortcut <case file> <output file>\n", argv[0]);
        return 2;
    }
    try {
        CaseReader in(argv[2]);
        const std::string op = argv[1];
        const std::vector<std::uint8_t> out = op == "pointwise"   ? run_pointwise(in)
                                              : op == "depthwise" ? run_depthwise(in)
                                              : op == "shortcut"  ? run_shortcut(in)
                                                                  : throw std::runtime_error("unknown operation " + op);
        std::ofstream(argv[3], std::ios::binary).write(reinterpret_cast<const char*>(out.data()), std::streamsize(out.size()));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "int8_scheme_dump: %s\n", e.what());
        return 1;
    }
    return 0;
}
