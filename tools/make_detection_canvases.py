#!/usr/bin/python3
"""Build a small object-detection data set from Fashion-MNIST: items pasted on canvases.

Each canvas is a --size x --size gray image (stored as 3-channel RGB PNG, the gray value
replicated) on a textured background: a random base level, a smooth low-frequency pattern
and per-pixel noise. It holds --min-items..--max-items Fashion-MNIST items, each cropped
to its non-zero bounding box, scaled so that its longer side is --min-side..--max-side
pixels (uniform), its aspect ratio jittered by up to --aspect-jitter (log scale), its
contrast scaled by 0.75..1, and alpha-blended at a random position so that it overlaps any
earlier item by at most --max-overlap of the smaller box's area (an item that finds no
such place within 50 tries is dropped). After scaling, item values below --threshold are
set to zero, and the box of an item is the exact extent of its remaining non-zero pixels:
``[x1, y1, x2, y2]`` in pixel-edge coordinates (x2, y2 exclusive: an item covering columns
10..29 has x1 = 10, x2 = 30). Labels are the Fashion-MNIST class + 1 (0 = background).

Canvases of the 'train' split use the 60,000 training images, those of the 'test' split the
10,000 test images only; items are drawn without replacement from a shuffled order (which
is reshuffled when exhausted, for the training split only). Everything is deterministic in
--seed and the split.

Output: DIR/NNNNNN.png and DIR/ground_truth.json =
``{"images": [{"file", "width", "height", "boxes", "labels"}], "labels": [...], ...}``;
with --npy, also the canvases as one NCHW float32 batch preprocessed as the detector's
input: RGB, (pixel - [123, 117, 104]) / [58.395, 57.12, 57.375].

  make_detection_canvases.py --split train --count 30000 --out /tmp/detector/train
  make_detection_canvases.py --split test --count 2000 --out /tmp/detector/test \\
      --npy /tmp/detector/test.npy
"""

import argparse
import json
import os
import sys
import time

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fashion_mnist as fm  # noqa: E402

LABELS = ["background"] + fm.CLASSES
PIXEL_MEAN = [123.0, 117.0, 104.0]
PIXEL_STD = [58.395, 57.12, 57.375]
SPLIT_SEED_OFFSET = {"train": 0, "test": 1_000_003}


def preprocess(rgb_u8):
    """uint8 [N, H, W, 3] RGB -> float32 [N, 3, H, W] network input."""
    x = rgb_u8.astype(np.float32)
    x -= np.asarray(PIXEL_MEAN, np.float32)
    x /= np.asarray(PIXEL_STD, np.float32)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def background(rng, size):
    """float32 [size, size]: base level + smooth pattern + pixel noise."""
    base = rng.uniform(10.0, 70.0)
    cells = int(rng.integers(3, 9))
    coarse = rng.normal(0.0, 1.0, (cells, cells)).astype(np.float32)
    smooth = np.asarray(Image.fromarray(coarse, mode="F").resize((size, size), Image.BICUBIC))
    amplitude = rng.uniform(0.0, 15.0)
    noise = rng.normal(0.0, rng.uniform(2.0, 10.0), (size, size))
    return (base + amplitude * smooth + noise).astype(np.float32)


def crop_nonzero(img):
    ys, xs = np.nonzero(img)
    return img[ys.min():ys.max() + 1, xs.min():xs.max() + 1]


def scaled_item(rng, img, args):
    """float32 item, cropped to its non-zero extent after scaling and thresholding."""
    item = crop_nonzero(img)
    h, w = item.shape
    longer = rng.uniform(args.min_side, args.max_side)
    jitter = np.exp(rng.uniform(-args.aspect_jitter, args.aspect_jitter))
    sx, sy = longer / max(h, w) * np.sqrt(jitter), longer / max(h, w) / np.sqrt(jitter)
    nw, nh = max(3, int(round(w * sx))), max(3, int(round(h * sy)))
    # keep the longer side within the stated range after the jitter
    over = max(nw, nh) / args.max_side
    if over > 1.0:
        nw, nh = max(3, int(nw / over)), max(3, int(nh / over))
    scaled = np.asarray(Image.fromarray(item, mode="L").resize((nw, nh), Image.BILINEAR), np.float32)
    scaled = scaled * rng.uniform(0.75, 1.0)
    scaled[scaled < args.threshold] = 0.0
    if not scaled.any():
        return None
    return crop_nonzero(scaled)


def overlap_ok(box, boxes, limit):
    x1, y1, x2, y2 = box
    area = (x2 - x1) * (y2 - y1)
    for b in boxes:
        iw = min(x2, b[2]) - max(x1, b[0])
        ih = min(y2, b[3]) - max(y1, b[1])
        if iw > 0 and ih > 0:
            smaller = min(area, (b[2] - b[0]) * (b[3] - b[1]))
            if iw * ih > limit * smaller:
                return False
    return True


class ItemStream:
    """Item indices in shuffled order; reshuffled when exhausted if `repeat`."""

    def __init__(self, rng, n, repeat):
        self.rng, self.n, self.repeat = rng, n, repeat
        self.order, self.pos = rng.permutation(n), 0
        self.draws = 0

    def next(self):
        if self.pos == self.n:
            if not self.repeat:
                raise RuntimeError("the split has no unused items left: ask for fewer canvases")
            self.order, self.pos = self.rng.permutation(self.n), 0
        self.pos += 1
        self.draws += 1
        return int(self.order[self.pos - 1])


def make_canvas(rng, stream, images, labels, args):
    size = args.size
    canvas = background(rng, size)
    boxes, classes = [], []
    for _ in range(int(rng.integers(args.min_items, args.max_items + 1))):
        index = stream.next()
        item = scaled_item(rng, images[index], args)
        if item is None:
            continue
        h, w = item.shape
        for _ in range(50):
            x = int(rng.integers(0, size - w + 1))
            y = int(rng.integers(0, size - h + 1))
            box = [x, y, x + w, y + h]
            if overlap_ok(box, boxes, args.max_overlap):
                alpha = np.clip(item / args.opaque, 0.0, 1.0)
                region = canvas[y:y + h, x:x + w]
                canvas[y:y + h, x:x + w] = region * (1.0 - alpha) + item * alpha
                boxes.append(box)
                classes.append(int(labels[index]) + 1)
                break
    gray = np.clip(np.rint(canvas), 0, 255).astype(np.uint8)
    return np.repeat(gray[:, :, None], 3, axis=2), boxes, classes


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", default=fm.DEFAULT_DIR)
    p.add_argument("--split", choices=["train", "test"], required=True,
                   help="train: items from the 60,000 training images; test: from the 10,000 test images")
    p.add_argument("--count", type=int, required=True, help="number of canvases")
    p.add_argument("--out", required=True, help="output directory (PNGs and ground_truth.json)")
    p.add_argument("--npy", default=None, help="also write the preprocessed NCHW float32 batch here")
    p.add_argument("--size", type=int, default=128, help="canvas side (pixels)")
    p.add_argument("--min-items", type=int, default=1)
    p.add_argument("--max-items", type=int, default=5)
    p.add_argument("--min-side", type=float, default=20.0, help="smallest longer side of an item")
    p.add_argument("--max-side", type=float, default=64.0, help="largest longer side of an item")
    p.add_argument("--aspect-jitter", type=float, default=0.2,
                   help="aspect ratio multiplied by exp(U(-a, a))")
    p.add_argument("--max-overlap", type=float, default=0.15,
                   help="largest intersection with an earlier item, as a fraction of the smaller box")
    p.add_argument("--threshold", type=float, default=8.0,
                   help="scaled item values below this become zero (outside the item)")
    p.add_argument("--opaque", type=float, default=48.0,
                   help="item value from which it fully covers the background (alpha = value / this)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    start = time.time()
    split = "train" if args.split == "train" else "t10k"
    images, labels = fm.load_split(args.data_dir, split)
    rng = np.random.default_rng(args.seed + SPLIT_SEED_OFFSET[args.split])
    stream = ItemStream(rng, len(images), repeat=args.split == "train")
    os.makedirs(args.out, exist_ok=True)
    records = []
    batch = [] if args.npy else None
    for i in range(args.count):
        rgb, boxes, classes = make_canvas(rng, stream, images, labels, args)
        name = "%06d.png" % i
        Image.fromarray(rgb, mode="RGB").save(os.path.join(args.out, name), compress_level=1)
        records.append({"file": name, "width": args.size, "height": args.size,
                        "boxes": boxes, "labels": classes})
        if batch is not None:
            batch.append(rgb)
    settings = {k: v for k, v in vars(args).items() if k not in ("out", "npy", "data_dir")}
    gt = {"images": records, "labels": LABELS,
          "box_format": "x1, y1, x2, y2 in pixel-edge coordinates (x2, y2 exclusive)",
          "source": "Fashion-MNIST %s images" % ("60,000 training" if args.split == "train" else "10,000 test"),
          "generator": "tools/make_detection_canvases.py", "settings": settings}
    with open(os.path.join(args.out, "ground_truth.json"), "w", encoding="utf-8") as f:
        json.dump(gt, f)
        f.write("\n")
    if batch is not None:
        np.save(args.npy, preprocess(np.stack(batch)))
    n_items = sum(len(r["boxes"]) for r in records)
    print("%d canvases, %d items, %d item draws from %d source images; %s, %.1f s"
          % (args.count, n_items, stream.draws, len(images), args.out, time.time() - start))
    return 0


if __name__ == "__main__":
    sys.exit(main())
