"""Fashion-MNIST IDX files and the evaluation transform shared by training and checks.

The evaluation transform is exactly what a model file's ``mobilenext.preprocess`` metadata
describes (torchvision's Resize of the shorter side, CenterCrop, ToTensor, Normalize on
the PIL image), so the C++ tool, which reproduces it from the metadata, sees the same
network input as PyTorch did.
"""

import gzip
import os
import struct

import numpy as np
import torch
from PIL import Image
from torchvision import transforms

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"

_IMAGES_MAGIC = 0x00000803  # unsigned byte, 3 dimensions
_LABELS_MAGIC = 0x00000801  # unsigned byte, 1 dimension


def slug(name):
    """File-name form of a class name: 'T-shirt/top' -> 't_shirt_top'."""
    out = "".join(c if c.isalnum() else "_" for c in name.lower())
    while "__" in out:
        out = out.replace("__", "_")
    return out.strip("_")


def _read(dir_, stem):
    for name in (stem, stem + ".gz"):
        path = os.path.join(dir_, name)
        if os.path.isfile(path):
            with open(path, "rb") as f:
                data = f.read()
            return path, (gzip.decompress(data) if name.endswith(".gz") else data)
    raise FileNotFoundError("no %s or %s.gz in %s" % (stem, stem, dir_))


def load_split(dir_, split):
    """(images uint8 [N, 28, 28], labels int64 [N]) of split 'train' or 't10k'."""
    ipath, idata = _read(dir_, split + "-images-idx3-ubyte")
    lpath, ldata = _read(dir_, split + "-labels-idx1-ubyte")
    magic, n, rows, cols = struct.unpack(">IIII", idata[:16])
    if magic != _IMAGES_MAGIC or len(idata) != 16 + n * rows * cols:
        raise ValueError("%s is not an IDX image file of the stated size" % ipath)
    lmagic, ln = struct.unpack(">II", ldata[:8])
    if lmagic != _LABELS_MAGIC or len(ldata) != 8 + ln or ln != n:
        raise ValueError("%s is not an IDX label file matching %s" % (lpath, ipath))
    images = np.frombuffer(idata, np.uint8, offset=16).reshape(n, rows, cols)
    labels = np.frombuffer(ldata, np.uint8, offset=8).astype(np.int64)
    if labels.max() >= len(CLASSES):
        raise ValueError("%s has a label outside 0..9" % lpath)
    return images, labels


def geometric_transform(pre):
    """Resize + centre crop of the metadata, on PIL images (8-bit result)."""
    interp = {"bicubic": transforms.InterpolationMode.BICUBIC,
              "bilinear": transforms.InterpolationMode.BILINEAR}[pre["interpolation"]]
    return transforms.Compose([transforms.Resize(pre["resize"], interpolation=interp),
                               transforms.CenterCrop(pre["crop"])])


def resize_all(images, pre):
    """uint8 [N, crop, crop]: every image through the metadata's resize and crop."""
    geo = geometric_transform(pre)
    out = np.empty((len(images), pre["crop"], pre["crop"]), np.uint8)
    for i, img in enumerate(images):
        out[i] = np.asarray(geo(Image.fromarray(img, mode="L")))
    return out


def normalize(batch_u8, pre):
    """uint8 [N, H, W] -> float32 [N, 1, H, W], /255 then mean/std as torchvision does."""
    x = batch_u8.to(torch.float32).div_(255.0).unsqueeze(1)
    return x.sub_(pre["mean"][0]).div_(pre["std"][0])


def eval_inputs(images, pre):
    """Network input of each image exactly as the metadata's transform gives it."""
    return normalize(torch.from_numpy(resize_all(images, pre)), pre)
