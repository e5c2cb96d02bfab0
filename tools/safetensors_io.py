"""Minimal reader/writer for the safetensors container format.

Layout: an 8-byte little-endian unsigned header length N, then N bytes of UTF-8 JSON
mapping tensor name -> {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative
to the start of the data section) plus an optional "__metadata__" object of string
values, padded with spaces to a multiple of 8 bytes; then the raw little-endian tensor
data, stored contiguously in header order.
"""

import json
import os
import struct

import numpy as np
import torch

# dtype tag -> (torch dtype, numpy dtype used for the raw bytes, bytes per element)
_DTYPES = {
    "F64": (torch.float64, np.dtype("<f8"), 8),
    "F32": (torch.float32, np.dtype("<f4"), 4),
    "F16": (torch.float16, np.dtype("<f2"), 2),
    "BF16": (torch.bfloat16, np.dtype("<i2"), 2),  # raw bits, reinterpreted afterwards
    "I64": (torch.int64, np.dtype("<i8"), 8),
    "I32": (torch.int32, np.dtype("<i4"), 4),
    "I16": (torch.int16, np.dtype("<i2"), 2),
    "I8": (torch.int8, np.dtype("i1"), 1),
    "U8": (torch.uint8, np.dtype("u1"), 1),
    "BOOL": (torch.bool, np.dtype("?"), 1),
}
_TORCH_TO_TAG = {v[0]: k for k, v in _DTYPES.items()}

METADATA_KEY = "__metadata__"
MAX_HEADER_BYTES = 100 * 1024 * 1024


class SafetensorsError(ValueError):
    pass


def _tensor_bytes(t):
    t = t.detach().cpu().contiguous()
    tag = _TORCH_TO_TAG.get(t.dtype)
    if tag is None:
        raise SafetensorsError("unsupported dtype %s" % (t.dtype,))
    np_dtype = _DTYPES[tag][1]
    if t.dtype == torch.bfloat16:
        arr = t.view(torch.int16).numpy()
    else:
        arr = t.numpy()
    return tag, np.ascontiguousarray(arr, dtype=np_dtype).tobytes()


CHECKSUM_KEY = "mobilenext.checksum"
_GOLDEN = 0x9E3779B97F4A7C15


def data_checksum(data):
    """The checksum of a data section that the C++ loader verifies (io/safetensors.hpp,
    data_checksum): little-endian 64-bit words, the last zero-padded, each mixed as
    x = w_i ^ i * golden ratio, x ^ (x >> 29), summed modulo 2^64; with the byte count.
    It guards against corruption and edits, not forgery."""
    import numpy as np
    words = np.frombuffer(bytes(data) + b"\0" * ((-len(data)) % 8), dtype="<u8").astype(np.uint64)
    with np.errstate(over="ignore"):
        x = words ^ (np.arange(len(words), dtype=np.uint64) * np.uint64(_GOLDEN))
        x ^= x >> np.uint64(29)
        total = int(np.sum(x, dtype=np.uint64))
    return "xs64-sum:%016x:%d" % (total, len(data))


def save_file(tensors, path, metadata=None, checksum=False):
    """Write ``tensors`` (name -> torch.Tensor) to ``path`` in dict order. With ``checksum``,
    the metadata also gets the data section's checksum (CHECKSUM_KEY)."""
    header = {}
    if metadata is not None:
        meta = {}
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise SafetensorsError("metadata keys and values must be str (got %r: %r)"
                                       % (k, type(v).__name__))
            meta[k] = v
        header[METADATA_KEY] = meta
    blobs = []
    offset = 0
    for name, t in tensors.items():
        if not isinstance(name, str) or name == METADATA_KEY:
            raise SafetensorsError("invalid tensor name %r" % (name,))
        if not isinstance(t, torch.Tensor):
            raise SafetensorsError("value for %r is not a tensor" % (name,))
        tag, raw = _tensor_bytes(t)
        header[name] = {"dtype": tag, "shape": [int(s) for s in t.shape],
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if checksum:
        header.setdefault(METADATA_KEY, {})[CHECKSUM_KEY] = data_checksum(b"".join(blobs))
    text = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    text += b" " * ((-len(text)) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)
    os.replace(tmp, path)


def read_header(path):
    """Return (header dict without metadata, metadata dict or None, data start, file size)."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) != 8:
            raise SafetensorsError("%s: file shorter than 8 bytes" % path)
        (n,) = struct.unpack("<Q", head)
        if n > MAX_HEADER_BYTES or 8 + n > size:
            raise SafetensorsError("%s: header length %d does not fit the file (%d bytes)"
                                   % (path, n, size))
        text = f.read(n)
    try:
        header = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise SafetensorsError("%s: header is not valid UTF-8 JSON: %s" % (path, e))
    if not isinstance(header, dict):
        raise SafetensorsError("%s: header is not a JSON object" % path)
    metadata = header.pop(METADATA_KEY, None)
    if metadata is not None:
        if not isinstance(metadata, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise SafetensorsError("%s: __metadata__ must map strings to strings" % path)
    return header, metadata, 8 + n, size


def load_file(path):
    """Read ``path``; returns (dict name -> torch.Tensor in header order, metadata or None)."""
    header, metadata, data_start, size = read_header(path)
    data_len = size - data_start
    spans = []
    for name, info in header.items():
        if not isinstance(info, dict):
            raise SafetensorsError("%s: entry %r is not an object" % (path, name))
        tag = info.get("dtype")
        if tag not in _DTYPES:
            raise SafetensorsError("%s: tensor %r has unsupported dtype %r" % (path, name, tag))
        shape = info.get("shape")
        offs = info.get("data_offsets")
        if (not isinstance(shape, list) or not all(isinstance(s, int) and s >= 0 for s in shape)
                or not isinstance(offs, list) or len(offs) != 2
                or not all(isinstance(o, int) for o in offs)):
            raise SafetensorsError("%s: tensor %r has a malformed shape/data_offsets" % (path, name))
        begin, end = offs
        count = 1
        for s in shape:
            count *= s
        if end - begin != count * _DTYPES[tag][2] or begin < 0:
            raise SafetensorsError("%s: tensor %r: offsets [%d, %d] do not match %s %s"
                                   % (path, name, begin, end, tag, shape))
        if end > data_len:
            raise SafetensorsError("%s: tensor %r ends at %d but the data section has %d bytes"
                                   " (truncated file?)" % (path, name, end, data_len))
        spans.append((begin, end, name))
    # the data section must be covered exactly, without gaps or overlaps
    pos = 0
    for begin, end, name in sorted(spans):
        if begin != pos:
            raise SafetensorsError("%s: tensor %r starts at %d, expected %d" % (path, name, begin, pos))
        pos = end
    if pos != data_len:
        raise SafetensorsError("%s: data section is %d bytes, tensors cover %d"
                               % (path, data_len, pos))
    with open(path, "rb") as f:
        f.seek(data_start)
        data = f.read()
    tensors = {}
    for name, info in header.items():
        tag = info["dtype"]
        torch_dtype, np_dtype, _ = _DTYPES[tag]
        begin, end = info["data_offsets"]
        count = (end - begin) // np_dtype.itemsize
        if count == 0:
            arr = np.zeros(info["shape"], dtype=np_dtype.newbyteorder("="))
        else:
            arr = np.frombuffer(data, dtype=np_dtype, count=count, offset=begin)
            arr = arr.reshape(info["shape"]).astype(np_dtype.newbyteorder("="), copy=True)
        t = torch.from_numpy(arr)
        if tag == "BF16":
            t = t.view(torch.bfloat16)
        tensors[name] = t
    return tensors, metadata
