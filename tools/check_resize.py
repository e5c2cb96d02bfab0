#!/usr/bin/python3
"""mobilenext::resize_linear_u8 against cv2.resize(..., interpolation=cv2.INTER_LINEAR), byte for byte.

Runs a probe built from tests/resize_linear_probe.cpp (this script builds nothing) on
  (a) random uint8 images: destination widths 1..70 (vector bodies and scalar tails of
      OpenCV's row loops), source widths 1..70, random sizes from 1x1 to 97x131 resized both
      up and down, exact 2x/3x/4x/5x reductions and one-direction or near-2x ones, same-size
      copies, typical photo sizes to 320x320 and extreme aspect ratios and limits, with 1, 2,
      3 and 4 channels;
  (b) real photos found on the machine (matplotlib and scikit-image sample data, the
      repository's tests/data and examples/images, and any paths given), each resized to
      320x320 as decoded (1, 3 or 4 channels) and as 3-channel BGR.
Every case prints "equal bytes" or the number of differing bytes and the largest difference;
the exit status is non-zero unless every case is equal.

  g++-12 -O2 -std=c++17 -I include tests/resize_linear_probe.cpp -o build/resize_linear_probe
  tools/check_resize.py --binary build/resize_linear_probe [--quiet] [--jobs 2] [PHOTO ...]
"""

import argparse
import concurrent.futures
import glob
import os
import subprocess
import sys

import cv2
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PHOTO_GLOBS = [
    "/usr/share/matplotlib/mpl-data/sample_data/*.jpg",
    "/usr/share/matplotlib/mpl-data/sample_data/*.png",
    "/usr/lib/python3/dist-packages/skimage/data/*.jpg",
    "/usr/lib/python3/dist-packages/skimage/data/*.png",
    os.path.join(REPO, "tests/data/*.jpg"),
    os.path.join(REPO, "tests/data/*.png"),
    os.path.join(REPO, "examples/images/**/*.png"),
    os.path.join(REPO, "examples/images/**/*.jpg"),
]


class Case:
    def __init__(self, name, image, dst_h, dst_w):
        self.name, self.image, self.dst_h, self.dst_w = name, image, dst_h, dst_w


def random_image(rng, h, w, cn):
    return rng.integers(0, 256, (h, w, cn), dtype=np.uint8)


def random_cases(seed):
    rng = np.random.default_rng(seed)
    cases = []

    def add(tag, h, w, cn, dh, dw, image=None):
        img = random_image(rng, h, w, cn) if image is None else image
        cases.append(Case("%s %dx%dx%d -> %dx%d" % (tag, h, w, cn, dh, dw), img, dh, dw))

    for dw in range(1, 71):
        for cn in (1, 2, 3, 4):
            add("dst-width", 17, 53, cn, 11, dw)
            add("dst-width", 9, 40, cn, 23, dw)
    for sw in range(1, 71):
        cn = 1 + sw % 4
        add("src-width", int(rng.integers(1, 98)), sw, cn, int(rng.integers(1, 98)), int(rng.integers(1, 132)))
        add("src-width", 6, sw, 1 + (sw + 1) % 4, 13, 29)
    for _ in range(400):
        h, w = int(rng.integers(1, 98)), int(rng.integers(1, 132))
        if rng.random() < 0.5:  # down
            dh, dw = int(rng.integers(1, h + 1)), int(rng.integers(1, w + 1))
        else:
            dh, dw = int(rng.integers(h, 2 * h + 60)), int(rng.integers(w, 2 * w + 60))
        add("random", h, w, int(rng.integers(1, 5)), dh, dw)
    for factor in (2, 3, 4, 5):
        for dh, dw in ((1, 1), (1, 7), (5, 3), (16, 16), (37, 41), (60, 80), (120, 160)):
            for cn in (1, 2, 3, 4):
                add("%dx-down" % factor, dh * factor, dw * factor, cn, dh, dw)
    for dh, dw in ((1, 1), (7, 5), (33, 40), (120, 160)):
        for cn in (1, 2, 3, 4):
            add("2x-height", 2 * dh, dw, cn, dh, dw)
            add("2x-width", dh, 2 * dw, cn, dh, dw)
            add("near-2x", 2 * dh + 1, 2 * dw, cn, dh, dw)
            add("near-2x", 2 * dh, 2 * dw - 1, cn, dh, dw)
            add("2x-up", dh, dw, cn, 2 * dh, 2 * dw)
    for h, w in ((1, 1), (1, 70), (97, 131), (31, 17)):
        for cn in (1, 2, 3, 4):
            add("copy", h, w, cn, h, w)
    for w, h in ((640, 480), (480, 640), (500, 375), (375, 500), (1920, 1080), (333, 500), (1280, 720),
                 (4032, 3024), (224, 224), (160, 160), (321, 321), (640, 640), (960, 960), (1280, 1280),
                 (320, 320), (319, 640)):
        for cn in (1, 3, 4):
            add("photo-size", h, w, cn, 320, 320)
    for h, w, cn, dh, dw in ((1, 1, 3, 1, 1), (1, 1, 3, 97, 131), (1, 131, 1, 320, 1), (97, 1, 4, 1, 320),
                             (65536, 1, 4, 4096, 1), (1, 65536, 1, 1, 4096), (65536, 8, 3, 4096, 5),
                             (2, 3, 1, 4096, 4096), (4096, 4096, 1, 4095, 4096), (3, 65536, 2, 7, 4096)):
        add("extreme", h, w, cn, dh, dw)
    return cases


def photo_cases(extra):
    paths = []
    for pattern in PHOTO_GLOBS:
        paths += sorted(glob.glob(pattern, recursive=True))
    paths += extra
    cases = []
    for path in paths:
        for flag, tag in ((cv2.IMREAD_UNCHANGED, "as decoded"), (cv2.IMREAD_COLOR, "BGR")):
            img = cv2.imread(path, flag)
            if img is None or img.dtype != np.uint8:
                continue  # not decodable, or 16-bit: the function takes 8-bit images only
            if img.ndim == 2:
                img = img[:, :, None]
            if img.shape[2] > 4:
                continue
            h, w, cn = img.shape
            cases.append(Case("photo %s (%s, %dx%dx%d) -> 320x320" % (os.path.relpath(path, "/"), tag, h, w, cn),
                              np.ascontiguousarray(img), 320, 320))
    return cases


def run_case(binary, case, mode):
    h, w, cn = case.image.shape
    ref = cv2.resize(case.image, (case.dst_w, case.dst_h), interpolation=cv2.INTER_LINEAR)
    ref = ref.reshape(case.dst_h, case.dst_w, cn)
    proc = subprocess.run([binary, str(h), str(w), str(cn), str(case.dst_h), str(case.dst_w), mode],
                          input=case.image.tobytes(), capture_output=True)
    if proc.returncode != 0:
        return "FAIL: probe exited %d: %s" % (proc.returncode, proc.stderr.decode(errors="replace").strip()), False
    ours = np.frombuffer(proc.stdout, dtype=np.uint8)
    if ours.size != ref.size:
        return "FAIL: %d bytes, expected %d" % (ours.size, ref.size), False
    diff = np.abs(ours.astype(np.int16) - ref.reshape(-1).astype(np.int16))
    count = int(np.count_nonzero(diff))
    if count == 0:
        return "equal bytes", True
    return "FAIL: %d of %d bytes differ, max difference %d" % (count, ref.size, int(diff.max())), False


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--binary", required=True, help="the probe built from tests/resize_linear_probe.cpp")
    p.add_argument("--seed", type=int, default=20240607)
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--quiet", action="store_true", help="print failing cases and the summary only")
    p.add_argument("photos", nargs="*", help="more photos to resize to 320x320")
    args = p.parse_args()
    cases = random_cases(args.seed) + photo_cases(args.photos)
    # Alternate the allocating form and the caller-scratch form of the function.
    modes = ["alloc" if i % 2 == 0 else "scratch" for i in range(len(cases))]
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(lambda cm: run_case(args.binary, *cm), zip(cases, modes)))
    failures = 0
    photos = 0
    for case, (message, ok) in zip(cases, results):
        failures += not ok
        photos += case.name.startswith("photo ")
        if not ok or not args.quiet:
            print("%s: %s" % (case.name, message))
    print("%d cases (%d random-image, %d photo): %s" % (len(cases), len(cases) - photos, photos,
                                                         "all equal bytes" if failures == 0 else
                                                         "%d differ" % failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
