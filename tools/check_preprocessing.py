#!/usr/bin/python3
"""The C++ image preprocessing against torchvision's, on real photos.

For each image, `mobilenext preprocess` writes the network input (shorter side 256 bicubic,
centre crop 224, ImageNet mean/std) and torchvision computes the same transform from the PIL
image; the mean absolute difference of the normalised tensors must be <= 0.001 and no value may
differ by more than one 8-bit level (PNG is lossless; JPEG goes through libjpeg-turbo, as in PIL).

  check_preprocessing.py --cli build/examples/mobilenext [IMAGE ...]
"""

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image
from torchvision import transforms

SKIMAGE_DATA = "/usr/lib/python3/dist-packages/skimage/data"
DEFAULT_IMAGES = ["chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg", "hubble_deep_field.jpg"]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cli", required=True)
    p.add_argument("--tolerance", type=float, default=0.001, help="largest mean |difference|")
    p.add_argument("images", nargs="*")
    args = p.parse_args()
    images = args.images or [os.path.join(SKIMAGE_DATA, name) for name in DEFAULT_IMAGES]
    transform = transforms.Compose([
        transforms.Resize(256, interpolation=transforms.InterpolationMode.BICUBIC),
        transforms.CenterCrop(224),
        transforms.ToTensor(),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ])
    failures = 0
    with tempfile.TemporaryDirectory() as work:
        for path in images:
            out = os.path.join(work, "input.npy")
            subprocess.run([args.cli, "preprocess", path, "--output", out], check=True)
            ours = np.load(out)[0]
            theirs = transform(Image.open(path).convert("RGB")).numpy()
            if ours.shape != theirs.shape:
                print("FAIL %s: shape %s, torchvision %s" % (path, ours.shape, theirs.shape))
                failures += 1
                continue
            diff = np.abs(ours - theirs)
            # One 8-bit level after normalisation by the smallest std (rounding in resampling).
            one_level = 1.0 / 255.0 / 0.224 + 1e-5
            ok = diff.mean() <= args.tolerance and diff.max() <= one_level
            failures += not ok
            print("%s %s: mean |diff| %.5f, max |diff| %.4f (tolerance %.3g, max %.4f)"
                  % ("ok  " if ok else "FAIL", os.path.basename(path), diff.mean(), diff.max(), args.tolerance,
                     one_level))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
