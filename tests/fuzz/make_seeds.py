#!/usr/bin/python3
"""Writes the seed corpora of the fuzz targets: small valid files of every kind each reader
takes (run from anywhere; needs numpy and PIL, Debian's python3-numpy and python3-pil).

    /usr/bin/python3 tests/fuzz/make_seeds.py

The seeds are committed under tests/fuzz/corpus/; rerun this only to change them.
"""
import io
import json
import os
import struct
import sys
import zlib

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "tools"))
import safetensors_io  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")


def write(kind, name, data):
    os.makedirs(os.path.join(CORPUS, kind), exist_ok=True)
    with open(os.path.join(CORPUS, kind, name), "wb") as f:
        f.write(data)


# --- safetensors -------------------------------------------------------------------------

def safetensors_bytes(tensors, metadata=None):
    """tensors: list of (name, dtype tag, shape, raw bytes)."""
    header, offset, blobs = {}, 0, []
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def as_dtype(array, dtype):
    if dtype == "F32":
        return array.astype("<f4").tobytes()
    if dtype == "F16":
        return array.astype("<f2").tobytes()
    if dtype == "F64":
        return array.astype("<f8").tobytes()
    if dtype == "BF16":
        return (array.astype("<f4").view("<u4") >> 16).astype("<u2").tobytes()
    raise ValueError(dtype)


def real_model_prefix():
    """The shipped model's metadata and its first tensors (the stem), data included."""
    path = os.path.join(ROOT, "models", "fashion_mnist_mobilenext.safetensors")
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    metadata = header.pop("__metadata__")
    # The checksum covers the whole file's data; the prefix gets its own (checksum_prefix seed).
    metadata.pop("mobilenext.checksum", None)
    # A short test vector keeps the seed small; the loader checks its shape, not its values,
    # before it has a network to run it on.
    metadata["mobilenext.test_vector"] = json.dumps(
        {"input_shape": [1, 1, 2, 2], "input": [0.5, -0.25, 1.0, 0.0], "output": [0.0] * 10})
    data = raw[8 + n:]
    tensors = []
    for name, entry in list(header.items())[:6]:
        begin, end = entry["data_offsets"]
        array = np.frombuffer(data[begin:end], dtype="<f4").reshape(entry["shape"])
        tensors.append((name, entry["shape"], array))
    return metadata, tensors


def int8_model_prefix():
    """The first tensors of an int8 file (include/mobilenext/io/int8_model_format.hpp) of the
    shipped model's architecture, every dtype the format uses, with its metadata: mutations
    reach the int8 reader's checks."""
    metadata, tensors = real_model_prefix()
    metadata["mobilenext.quantization"] = json.dumps(
        {"scheme": "mobilenext-int8-v2", "observer": "minmax", "calibration_images": 1})
    stem_weight, stem_bias = tensors[0][2], np.linspace(-0.5, 0.5, 16)
    rng = np.random.default_rng(0)
    out = [("stem.weight", "F32", [16, 1, 3, 3], as_dtype(stem_weight, "F32")),
           ("stem.bias", "F32", [16], as_dtype(stem_bias, "F32")),
           ("stem.output.scale", "F32", [], as_dtype(np.array(0.025), "F32")),
           ("stem.output.zero_point", "U8", [], bytes([0]))]
    layer = "features.1.input_dw"
    out += [(layer + ".weight", "I8", [16, 1, 3, 3], rng.integers(-64, 65, 144).astype("<i1").tobytes()),
            (layer + ".bias", "I32", [16], rng.integers(-1000, 1000, 16).astype("<i4").tobytes()),
            (layer + ".weight_scale", "F32", [16], as_dtype(np.full(16, 0.01), "F32")),
            (layer + ".output.scale", "F32", [], as_dtype(np.array(0.02), "F32")),
            (layer + ".output.zero_point", "I32", [], np.array([3], dtype="<i4").tobytes())]
    return safetensors_bytes(out, metadata)


def safetensors_seeds():
    write("safetensors", "int8_model_prefix.safetensors", int8_model_prefix())
    metadata, tensors = real_model_prefix()
    for dtype in ("F32", "F16", "BF16", "F64"):
        write("safetensors", f"model_prefix_{dtype.lower()}.safetensors",
              safetensors_bytes([(n, dtype, s, as_dtype(a, dtype)) for n, s, a in tensors], metadata))
    # Without metadata: the architecture is inferred from tensor shapes.
    write("safetensors", "state_dict_prefix.safetensors",
          safetensors_bytes([(n, "F32", s, as_dtype(a, "F32")) for n, s, a in tensors]))
    counter = np.array([7], dtype="<i8").tobytes()
    write("safetensors", "with_counter.safetensors",
          safetensors_bytes([("features.0.1.num_batches_tracked", "I64", [], counter)]
                            + [(n, "F32", s, as_dtype(a, "F32")) for n, s, a in tensors[:3]]))
    write("safetensors", "one_tensor.safetensors",
          safetensors_bytes([("x", "F32", [2, 3], np.arange(6, dtype="<f4").tobytes())]))
    write("safetensors", "empty_tensor.safetensors", safetensors_bytes([("e", "F32", [0, 4], b"")]))
    write("safetensors", "metadata_only.safetensors", safetensors_bytes([], metadata))
    write("safetensors", "empty_header.safetensors", safetensors_bytes([]))
    # Metadata strings are JSON parsed again: nested values (refused beyond 4 levels while
    # parsing) and a data checksum, right for these bytes, for mutations to break.
    nested = dict(metadata)
    nested["mobilenext.labels"] = "[[[[[[[[\"a\"]]]]]]]]"
    nested["mobilenext.preprocess"] = '{"resize": [[[[[[1]]]]]], "crop": 40}'
    write("safetensors", "nested_metadata.safetensors",
          safetensors_bytes([(n, "F32", s, as_dtype(a, "F32")) for n, s, a in tensors], nested))
    blobs = [(n, "F32", s, as_dtype(a, "F32")) for n, s, a in tensors]
    summed = dict(metadata)
    summed["mobilenext.checksum"] = safetensors_io.data_checksum(b"".join(b for _, _, _, b in blobs))
    write("safetensors", "checksum_prefix.safetensors", safetensors_bytes(blobs, summed))


# --- .npy --------------------------------------------------------------------------------

def npy_bytes(array, version=None):
    buf = io.BytesIO()
    if version is None:
        np.save(buf, array)
    else:
        np.lib.format.write_array(buf, array, version=version)
    return buf.getvalue()


def npy_seeds():
    rng = np.random.default_rng(0)
    write("npy", "nchw_f32.npy", npy_bytes(rng.standard_normal((1, 3, 8, 8)).astype("<f4")))
    write("npy", "nchw_gray_f32.npy", npy_bytes(rng.standard_normal((2, 1, 5, 7)).astype("<f4")))
    write("npy", "nchw_f64.npy", npy_bytes(rng.standard_normal((1, 3, 4, 4)).astype("<f8")))
    write("npy", "nchw_f16.npy", npy_bytes(rng.standard_normal((1, 3, 4, 6)).astype("<f2")))
    write("npy", "version2.npy", npy_bytes(rng.standard_normal((1, 3, 3, 3)).astype("<f4"), version=(2, 0)))
    write("npy", "version3.npy", npy_bytes(rng.standard_normal((1, 1, 2, 2)).astype("<f4"), version=(3, 0)))
    write("npy", "fortran.npy", npy_bytes(np.asfortranarray(rng.standard_normal((1, 1, 1, 5)).astype("<f4"))))
    write("npy", "logits.npy", npy_bytes(rng.standard_normal((2, 10)).astype("<f4")))
    write("npy", "scalar.npy", npy_bytes(np.array(1.5, dtype="<f4")))
    write("npy", "empty.npy", npy_bytes(np.zeros((0, 3), dtype="<f4")))


# --- images ------------------------------------------------------------------------------

def image_bytes(image, fmt, **options):
    buf = io.BytesIO()
    image.save(buf, format=fmt, **options)
    return buf.getvalue()


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_with_empty_first_idat(gray):
    """A valid greyscale PNG whose compressed data follows an empty IDAT chunk."""
    w, h = gray.size
    raw = b"".join(b"\x00" + gray.tobytes()[y * w:(y + 1) * w] for y in range(h))
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + png_chunk(b"IDAT", b"") + png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b""))


def image_seeds():
    rng = np.random.default_rng(1)
    rgb = Image.fromarray(rng.integers(0, 256, (13, 17, 3), dtype=np.uint8), "RGB")
    gray = Image.fromarray(rng.integers(0, 256, (9, 11), dtype=np.uint8), "L")
    rgba = Image.fromarray(rng.integers(0, 256, (6, 5, 4), dtype=np.uint8), "RGBA")
    write("image", "rgb.png", image_bytes(rgb, "PNG"))
    write("image", "gray.png", image_bytes(gray, "PNG"))
    write("image", "rgba.png", image_bytes(rgba, "PNG"))
    write("image", "palette.png", image_bytes(rgb.convert("P"), "PNG"))
    write("image", "small.png", image_bytes(rgb.resize((9, 7)), "PNG"))
    write("image", "empty_first_idat.png", png_with_empty_first_idat(gray))
    write("image", "gray16.png", image_bytes(Image.fromarray(
        rng.integers(0, 65536, (4, 6), dtype=np.uint16).astype(np.int32), "I").convert("I;16"), "PNG"))
    write("image", "baseline.jpg", image_bytes(rgb, "JPEG", quality=90))
    write("image", "progressive.jpg", image_bytes(rgb, "JPEG", quality=75, progressive=True))
    write("image", "gray.jpg", image_bytes(gray, "JPEG"))
    write("image", "subsampled.jpg", image_bytes(rgb.resize((24, 19)), "JPEG", subsampling=2))
    write("image", "rgb.bmp", image_bytes(rgb, "BMP"))
    write("image", "gray.bmp", image_bytes(gray, "BMP"))
    # PNM is not decoded (see src/image/image_file.cpp): a refused format, kept as a seed.
    write("image", "gray.pgm", image_bytes(gray, "PPM"))
    # Legal files once refused: CMYK (Adobe) JPEG, top-down BMP (negative height).
    write("image", "cmyk_adobe.jpg", image_bytes(Image.fromarray(
        rng.integers(0, 256, (7, 9, 4), dtype=np.uint8), "CMYK"), "JPEG", quality=90))
    bmp = bytearray(image_bytes(rgb, "BMP"))
    bmp[22:26] = struct.pack("<i", -struct.unpack("<i", bytes(bmp[22:26]))[0])
    write("image", "top_down.bmp", bytes(bmp))
    # Headers that lie: sizes their data cannot hold (refused before decoding).
    ihdr = struct.pack(">IIBBBBB", 16384, 16384, 16, 6, 0, 0, 0)
    write("image", "claims_16384x16384.png", b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)
          + png_chunk(b"IDAT", zlib.compress(b"\0" * 64)) + png_chunk(b"IEND", b""))
    jpeg = bytearray(image_bytes(rgb, "JPEG", quality=90))
    sof = jpeg.index(b"\xff\xc0")
    jpeg[sof + 5:sof + 9] = struct.pack(">HH", 16383, 16383)
    write("image", "claims_16383x16383.jpg", bytes(jpeg))
    sample = os.path.join(ROOT, "examples", "images", "fashion_mnist", "0000_ankle_boot.png")
    with open(sample, "rb") as f:
        write("image", "fashion_mnist_sample.png", f.read())


if __name__ == "__main__":
    safetensors_seeds()
    npy_seeds()
    image_seeds()
    for kind in sorted(os.listdir(CORPUS)):
        files = os.listdir(os.path.join(CORPUS, kind))
        size = sum(os.path.getsize(os.path.join(CORPUS, kind, f)) for f in files)
        print(f"{kind}: {len(files)} seeds, {size} bytes")
