#!/usr/bin/env python3
"""The int8 scheme of include/mobilenext/kernels/int8/int8_args.hpp evaluated in NumPy, compared
byte for byte with the C++ reference kernels (tests/int8_scheme_dump.cpp) on random cases: the
1x1 convolution, the depthwise 3x3 at strides 1 and 2, and the partial shortcut add.

    check_int8_scheme.py --binary path/to/mobilenext_int8_scheme_dump [--cases N]
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np


def fold_bias(bias_q, weights, zp_in):
    """bias_q - zp_in * sum_k w: the bias the kernels take (int64 here, int32 in C++)."""
    return bias_q.astype(np.int64) - zp_in * weights.reshape(weights.shape[0], -1).astype(np.int64).sum(axis=1)


def output_range(zp_out, scale, relu6):
    if not relu6:
        return zp_out, 0, 255
    return zp_out, max(0, zp_out), min(255, zp_out + int(np.floor(6.0 / scale + 0.5)))


def requantize(acc, multipliers, zp_out, lo, hi):
    """clamp(round_half_even(float32(acc) * M) + zp, lo, hi), clamped in float32 first."""
    scaled = acc.astype(np.float32) * multipliers.astype(np.float32)
    clamped = np.clip(scaled, np.float32(lo - zp_out), np.float32(hi - zp_out))
    return (np.rint(clamped).astype(np.int64) + zp_out).astype(np.uint8)


def pointwise(x, w, bias, multipliers, zp_out, lo, hi):
    acc = bias[None, :] + x.astype(np.int64) @ w.astype(np.int64).T
    return requantize(acc, multipliers[None, :], zp_out, lo, hi)


def depthwise(image, w, bias, multipliers, stride, zp_in, zp_out, lo, hi):
    h, wd, c = image.shape
    padded = np.full((h + 2, wd + 2, c), zp_in, dtype=np.int64)
    padded[1:-1, 1:-1] = image
    oh, ow = (h - 1) // stride + 1, (wd - 1) // stride + 1
    acc = np.broadcast_to(bias, (oh, ow, c)).astype(np.int64)
    for ky in range(3):
        for kx in range(3):
            window = padded[ky:ky + (oh - 1) * stride + 1:stride, kx:kx + (ow - 1) * stride + 1:stride]
            acc = acc + window * w[:, ky, kx].astype(np.int64)
    return requantize(acc, multipliers, zp_out, lo, hi)


def shortcut(a, b, kept, za, zb, zy, sa, sb, sy, copy_rest):
    """clamp(round_half_even((float32(a - za) * s_a + float32(b - zb) * s_b) / s_y) + zy, 0, 255),
    every operation in float32 (NumPy never fuses a multiply into an add); b = zb beyond kept."""
    b_centered = b.astype(np.int64) - zb
    b_centered[:, kept:] = 0
    total = ((a.astype(np.int64) - za).astype(np.float32) * np.float32(sa) +
             b_centered.astype(np.float32) * np.float32(sb))
    scaled = np.clip(total / np.float32(sy), np.float32(-zy), np.float32(255 - zy))
    y = (np.rint(scaled).astype(np.int64) + zy).astype(np.uint8)
    if copy_rest:
        y[:, kept:] = a[:, kept:]
    return y


def params(*values):
    return np.array(values, dtype='<i4').tobytes()


def run(binary, op, payload, directory):
    case, out = os.path.join(directory, op + '.case'), os.path.join(directory, op + '.out')
    with open(case, 'wb') as f:
        f.write(payload)
    subprocess.run([binary, op, case, out], check=True)
    return np.fromfile(out, dtype=np.uint8)


def random_multipliers(rng, channels, terms):
    m = (rng.uniform(0.2, 3.0, channels) * 3.0 / (np.sqrt(terms) * 255.0)).astype(np.float32)
    m[3::4] = np.float32(0.5)  # ties: x.5 rounds half to even
    return m


def check_pointwise(binary, rng, directory):
    pixels, k, cout = int(rng.integers(1, 70)), int(rng.integers(1, 130)), int(rng.integers(1, 130))
    zp_in, zp_out, relu6 = int(rng.integers(0, 256)), int(rng.integers(0, 256)), bool(rng.integers(0, 2))
    x = rng.integers(0, 256, (pixels, k), dtype=np.uint8)
    w = rng.integers(-64, 65, (cout, k), dtype=np.int8)
    bias = fold_bias(rng.integers(-20000, 20001, cout), w, zp_in)
    m = random_multipliers(rng, cout, k)
    zp, lo, hi = output_range(zp_out, 0.05, relu6)
    expected = pointwise(x, w, bias, m, zp, lo, hi)
    payload = (params(pixels, k, cout, zp, lo, hi) + x.tobytes() + w.tobytes() + bias.astype('<i4').tobytes() +
               m.astype('<f4').tobytes())
    return f'pointwise {pixels} px {k}->{cout}', expected.ravel(), run(binary, 'pointwise', payload, directory)


def check_depthwise(binary, rng, directory, stride):
    h, wd, c = int(rng.integers(1, 12)), int(rng.integers(1, 12)), int(rng.integers(1, 70))
    zp_in, zp_out, relu6 = int(rng.integers(0, 256)), int(rng.integers(0, 256)), bool(rng.integers(0, 2))
    image = rng.integers(0, 256, (h, wd, c), dtype=np.uint8)
    w = rng.integers(-64, 65, (c, 3, 3), dtype=np.int8)
    bias = fold_bias(rng.integers(-5000, 5001, c), w, zp_in)
    m = random_multipliers(rng, c, 9)
    zp, lo, hi = output_range(zp_out, 0.05, relu6)
    expected = depthwise(image, w, bias, m, stride, zp_in, zp, lo, hi)
    payload = (params(h, wd, c, stride, zp_in, zp, lo, hi) + image.tobytes() + w.tobytes() +
               bias.astype('<i4').tobytes() + m.astype('<f4').tobytes())
    return f'depthwise {h}x{wd}x{c} stride {stride}', expected.ravel(), run(binary, 'depthwise', payload, directory)


def check_shortcut(binary, rng, directory):
    pixels, c = int(rng.integers(1, 20)), int(rng.integers(2, 100))
    kept = int(rng.integers(1, c + 1))
    za, zb, zy = (int(v) for v in rng.integers(0, 256, 3))
    sa, sb, sy = (np.float32(v) for v in rng.uniform(0.01, 0.1, 3))
    if rng.integers(0, 4) == 0:
        sa, sb, sy = np.float32(0.5), np.float32(0.25), np.float32(1.0)  # ties: x.5 rounds half to even
    copy_rest = bool(rng.integers(0, 2))
    if copy_rest:
        sy, zy = sa, za
    a = rng.integers(0, 256, (pixels, c), dtype=np.uint8)
    b = rng.integers(0, 256, (pixels, c), dtype=np.uint8)
    expected = shortcut(a, b, kept, za, zb, zy, sa, sb, sy, copy_rest)
    payload = (params(pixels, c, kept, za, zb, zy, int(copy_rest)) + np.array([sa, sb, sy], '<f4').tobytes() +
               a.tobytes() + b.tobytes())
    return f'shortcut {pixels} px {c} channels kept {kept}', expected.ravel(), run(binary, 'shortcut', payload, directory)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--binary', required=True, help='the mobilenext_int8_scheme_dump program')
    parser.add_argument('--cases', type=int, default=40, help='random cases per operation')
    parser.add_argument('--seed', type=int, default=2024)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    failures = 0
    with tempfile.TemporaryDirectory() as directory:
        checks = [lambda: check_pointwise(args.binary, rng, directory),
                  lambda: check_depthwise(args.binary, rng, directory, 1),
                  lambda: check_depthwise(args.binary, rng, directory, 2),
                  lambda: check_shortcut(args.binary, rng, directory)]
        for check in checks:
            for _ in range(args.cases):
                name, expected, actual = check()
                if expected.shape != actual.shape or not np.array_equal(expected, actual):
                    bad = np.flatnonzero(expected != actual) if expected.shape == actual.shape else [0]
                    print(f'FAIL {name}: {len(bad)} bytes differ, first at {bad[0]}')
                    failures += 1
    total = len(checks) * args.cases
    print(f'{total - failures} of {total} cases identical between NumPy and the C++ reference kernels')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
