#!/usr/bin/python3
"""Write test-set images as PNG files named INDEX_CLASS.png (grey, 28x28 as stored).

Takes the first test image of each class, in test-set order, until --count classes are
covered, so the choice is fixed and does not depend on any model.

  export_fashion_mnist_samples.py --out examples/images/fashion_mnist --count 8
"""

import argparse
import os
import sys

from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fashion_mnist as fm  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", default=fm.DEFAULT_DIR)
    p.add_argument("--out", required=True)
    p.add_argument("--count", type=int, default=8)
    args = p.parse_args()
    images, labels = fm.load_split(args.data_dir, "t10k")
    os.makedirs(args.out, exist_ok=True)
    taken = set()
    for i, label in enumerate(labels):
        if label in taken:
            continue
        taken.add(label)
        path = os.path.join(args.out, "%04d_%s.png" % (i, fm.slug(fm.CLASSES[label])))
        Image.fromarray(images[i], mode="L").save(path)
        print(path)
        if len(taken) == args.count:
            break
    return 0


if __name__ == "__main__":
    sys.exit(main())
