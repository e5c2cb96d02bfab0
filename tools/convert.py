#!/usr/bin/python3
"""Convert a PyTorch MobileNeXt checkpoint into a safetensors file for the C++ library.

Accepted inputs (.pth, .pth.tar, .pt; loaded with torch.load on the CPU):
  * a plain state dict;
  * a training checkpoint dict holding ``state_dict`` (or ``state_dict_ema`` with --ema),
    or ``model`` (a state dict or an nn.Module);
  * a pickled nn.Module or a TorchScript archive.
``module.`` prefixes are stripped.

Two layouts are understood (see mobilenext_torch.py): the authors' ``official`` one and
the ``mobilenext.pytorch`` one.  Width, number of classes and input channels are inferred
from tensor shapes and verified by rebuilding the network and comparing every key and
shape.  The identity tensor divisor cannot be seen in the weights: it comes from
--identity-div, else from the checkpoint's ``args``/``arch`` when stated there, else 1.

Output tensors are float32 and always use the official names:
  stem            features.0.0.weight, features.0.1.{weight,bias,running_mean,running_var}
  block i         features.{i}.conv.{j}.*  (j as in the official layer sequence; a
                  mobilenext.pytorch block uses 0 dw, 1 BN, 3 pw reduce, 4 BN,
                  5 pw expand, 6 BN, 8 dw, 9 BN -- the same indices as the official
                  full form)
  head            classifier.1.weight, classifier.1.bias
``num_batches_tracked`` is dropped.  Topology differences between the layouts are carried
by the ``mobilenext.layout`` metadata entry.
"""

import argparse
import json
import math
import os
import re
import sys
import warnings

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import mobilenext_torch as mx  # noqa: E402
import safetensors_io  # noqa: E402

CONVERTER_VERSION = "1"
STANDARD_WIDTHS = (0.35, 0.5, 0.75, 1.0, 1.4)
DEFAULT_PREPROCESS = {"resize": 256, "crop": 224, "interpolation": "bicubic",
                      "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
TEST_VECTOR_SEED = 0
TEST_VECTOR_SIZE = 32
OFFICIAL_HEAD = "classifier.1"


class ConvertError(Exception):
    pass


def warn(msg):
    print("convert.py: warning: " + msg, file=sys.stderr)


# ---------------------------------------------------------------------------
# Reading checkpoints
# ---------------------------------------------------------------------------

def _is_state_dict(obj):
    return isinstance(obj, dict) and len(obj) > 0 and all(
        isinstance(k, str) for k in obj) and any(isinstance(v, torch.Tensor) for v in obj.values())


def _as_state_dict(obj, what):
    if isinstance(obj, nn.Module):
        return obj.state_dict()
    if isinstance(obj, torch.jit.ScriptModule):
        return obj.state_dict()
    if _is_state_dict(obj):
        return obj
    raise ConvertError("%s is neither a state dict nor an nn.Module (got %s)"
                       % (what, type(obj).__name__))


def _key_list(d, limit=12):
    keys = [str(k) for k in d.keys()]
    more = ", ..." if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def load_checkpoint(path, use_ema):
    """Return (state dict with plain keys, checkpoint dict or None)."""
    if not os.path.isfile(path):
        raise ConvertError("input file not found: %s" % path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            obj = torch.load(path, map_location="cpu")
    except Exception as e:  # maybe a TorchScript archive
        try:
            obj = torch.jit.load(path, map_location="cpu")
        except Exception:
            raise ConvertError("cannot read %s with torch.load: %s" % (path, e))
    ckpt = None
    if isinstance(obj, (nn.Module, torch.jit.ScriptModule)):
        if use_ema:
            raise ConvertError("--ema given but %s holds a bare model, not a checkpoint dict" % path)
        sd = obj.state_dict()
    elif isinstance(obj, dict):
        ckpt = obj
        if use_ema:
            for key in ("state_dict_ema", "model_ema"):
                if key in obj and obj[key] is not None:
                    sd = _as_state_dict(obj[key], "checkpoint['%s']" % key)
                    break
            else:
                if _is_state_dict(obj):
                    raise ConvertError("--ema given but %s is a plain state dict without "
                                       "'state_dict_ema'" % path)
                raise ConvertError("--ema given but the checkpoint has no 'state_dict_ema' "
                                   "(top-level keys: %s)" % _key_list(obj))
        elif "state_dict" in obj:
            sd = _as_state_dict(obj["state_dict"], "checkpoint['state_dict']")
        elif "model" in obj:
            sd = _as_state_dict(obj["model"], "checkpoint['model']")
        elif _is_state_dict(obj):
            sd = obj
            ckpt = None
        else:
            raise ConvertError("%s: no 'state_dict' or 'model' entry and not a state dict "
                               "(top-level keys: %s)" % (path, _key_list(obj)))
    else:
        raise ConvertError("%s: unsupported content of type %s" % (path, type(obj).__name__))

    out = {}
    for k, v in sd.items():
        if not isinstance(v, torch.Tensor):
            warn("ignoring non-tensor entry %r" % (k,))
            continue
        name = k
        while name.startswith("module."):
            name = name[len("module."):]
        if name in out:
            raise ConvertError("duplicate key after stripping 'module.': %s" % name)
        out[name] = v
    if not out:
        raise ConvertError("%s: the state dict is empty" % path)
    return out, ckpt


def identity_div_from_checkpoint(ckpt):
    """identity_div stated in a checkpoint's ``args``/``arch``, or None."""
    if not isinstance(ckpt, dict):
        return None
    args = ckpt.get("args")
    if args is not None:
        get = args.get if isinstance(args, dict) else (lambda k, a=args: getattr(a, k, None))
        for key in ("identity_div", "identity_divisor", "id_div"):
            v = get(key)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 1 and v == int(v):
                return int(v)
        for key in ("identity_tensor_multiplier", "identity_multiplier"):
            v = get(key)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v <= 1:
                d = int(round(1.0 / v))
                if abs(1.0 / d - v) < 1e-3:
                    return d
    arch = ckpt.get("arch")
    if isinstance(arch, str):
        m = re.search(r"(?:identity_div|id_div|idiv)[_=-]?(\d+)", arch)
        if m and int(m.group(1)) >= 1:
            return int(m.group(1))
    return None


# ---------------------------------------------------------------------------
# Layout / width inference
# ---------------------------------------------------------------------------

def candidate_widths():
    seen = set()
    out = []
    grids = [STANDARD_WIDTHS,
             [round(i * 0.05, 2) for i in range(1, 81)],
             [round(i * 0.01, 2) for i in range(1, 401)],
             [round(i * 0.001, 3) for i in range(50, 4001)]]
    for grid in grids:
        for w in grid:
            if w not in seen:
                seen.add(w)
                out.append(float(w))
    return out


def _diff(expected, found):
    """List of (key, expected shape or None, found shape or None) differences."""
    diffs = []
    for k, shape in expected.items():
        if k not in found:
            diffs.append((k, shape, None))
        elif tuple(found[k]) != tuple(shape):
            diffs.append((k, tuple(shape), tuple(found[k])))
    for k in found:
        if k not in expected:
            diffs.append((k, None, tuple(found[k])))
    return diffs


def _fmt_shape(s):
    return "absent" if s is None else "[" + ", ".join(str(x) for x in s) + "]"


def infer_config(sd, layout_opt="auto", width_opt=None, num_classes_opt=None):
    """Return (layout, width, num_classes, in_channels, head_prefix)."""
    shapes = {k: tuple(v.shape) for k, v in sd.items() if not k.endswith("num_batches_tracked")}
    stem = shapes.get("features.0.0.weight")
    if stem is None or len(stem) != 4 or stem[2:] != (3, 3):
        raise ConvertError("no 3x3 stem convolution 'features.0.0.weight' found (found %s); "
                           "is this a MobileNeXt checkpoint?" % _fmt_shape(stem))
    if "classifier.1.weight" in shapes:
        head_prefix = "classifier.1"
    elif "classifier.weight" in shapes:
        head_prefix = "classifier"
    else:
        raise ConvertError("no classifier found ('classifier.1.weight' or 'classifier.weight')")
    head = shapes[head_prefix + ".weight"]
    if len(head) != 2:
        raise ConvertError("%s.weight has shape %s, expected 2-D" % (head_prefix, _fmt_shape(head)))
    num_classes = head[0]
    if num_classes_opt is not None and num_classes_opt != num_classes:
        raise ConvertError("--num-classes %d given but %s.weight has shape %s"
                           % (num_classes_opt, head_prefix, _fmt_shape(head)))
    in_channels = stem[1]
    stem_ch = stem[0]

    if layout_opt == "auto":
        layouts = ([mx.LAYOUT_THIRD_PARTY, mx.LAYOUT_OFFICIAL] if head_prefix == "classifier"
                   else [mx.LAYOUT_OFFICIAL, mx.LAYOUT_THIRD_PARTY])
    else:
        layouts = [layout_opt]
    widths = [float(width_opt)] if width_opt is not None else candidate_widths()

    best = None  # (number of differences, layout, width, diffs)
    for layout in layouts:
        for w in widths:
            if width_opt is None and mx.stem_channels(w) != stem_ch:
                continue
            try:
                expected = mx.state_dict_shapes(layout, w, num_classes, in_channels, head_prefix)
            except (ValueError, ZeroDivisionError):
                continue
            diffs = _diff(expected, shapes)
            if not diffs:
                return layout, w, num_classes, in_channels, head_prefix
            if best is None or len(diffs) < best[0]:
                best = (len(diffs), layout, w, diffs)
    if best is None:
        raise ConvertError("no standard width gives a stem of %d channels (features.0.0.weight "
                           "has shape %s)" % (stem_ch, _fmt_shape(stem)))
    _, layout, w, diffs = best
    k, exp, found = diffs[0]
    more = "" if len(diffs) == 1 else " (and %d more differences)" % (len(diffs) - 1)
    raise ConvertError("checkpoint does not match any MobileNeXt configuration; closest is "
                       "layout %s width %r: key '%s' expected shape %s, found %s%s"
                       % (layout, w, k, _fmt_shape(exp), _fmt_shape(found), more))


# ---------------------------------------------------------------------------
# Conversion
# ---------------------------------------------------------------------------

def _model_key(k, model_head):
    for src in ("classifier.1.", "classifier."):
        if k.startswith(src):
            return model_head + "." + k[len(src):]
    return k


def build_and_load(sd, layout, width, identity_div, num_classes, in_channels):
    """Rebuild the network, check every key/shape against ``sd`` and load it (float32)."""
    model = mx.build_model(layout, width, identity_div, num_classes, in_channels)
    model_head = OFFICIAL_HEAD if layout == mx.LAYOUT_OFFICIAL else "classifier"
    target = model.state_dict()
    given = {}
    for k, v in sd.items():
        if k.endswith("num_batches_tracked"):
            continue
        given[_model_key(k, model_head)] = v
    expected = {k: tuple(v.shape) for k, v in target.items()
                if not k.endswith("num_batches_tracked")}
    diffs = _diff(expected, {k: tuple(v.shape) for k, v in given.items()})
    if diffs:
        k, exp, found = diffs[0]
        raise ConvertError("rebuilt %s width %r does not match: key '%s' expected shape %s, "
                           "found %s" % (layout, width, k, _fmt_shape(exp), _fmt_shape(found)))
    load = {}
    for k, v in target.items():
        if k in given:
            t = given[k].detach().to(torch.float32)
            if not torch.isfinite(t).all():
                raise ConvertError("tensor '%s' contains non-finite values" % k)
            load[k] = t
        else:
            load[k] = v  # num_batches_tracked
    model.load_state_dict(load, strict=True)
    model.eval()
    return model


def output_tensors(model):
    """Official-named float32 tensors in network order."""
    out = {}
    for k, v in model.state_dict().items():
        if k.endswith("num_batches_tracked"):
            continue
        if model.layout == mx.LAYOUT_THIRD_PARTY and k.startswith("classifier."):
            k = OFFICIAL_HEAD + k[len("classifier"):]
        out[k] = v.detach().to(torch.float32).contiguous().clone()
    return out


def _fmt_floats(values):
    out = []
    for v in values:
        if not math.isfinite(v):
            raise ConvertError("non-finite value in the test vector")
        out.append("%.9g" % v)
    return "[" + ", ".join(out) + "]"


def make_test_vector(model):
    g = torch.Generator().manual_seed(TEST_VECTOR_SEED)
    shape = [1, model.in_channels, TEST_VECTOR_SIZE, TEST_VECTOR_SIZE]
    x = torch.randn(shape, generator=g, dtype=torch.float32)
    with torch.no_grad():
        y = model(x)
    return ('{"input_shape": [%s], "input": %s, "output": %s}'
            % (", ".join(str(s) for s in shape),
               _fmt_floats(x.reshape(-1).tolist()), _fmt_floats(y.reshape(-1).tolist())))


def read_labels(path, num_classes):
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise ConvertError("cannot read labels file: %s" % e)
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) != num_classes:
        raise ConvertError("labels file %s has %d lines but the model has %d classes"
                           % (path, len(lines), num_classes))
    return lines


def verify_output(path, tensors, metadata):
    """Reload ``path`` and check names, shapes, values, metadata and the test vector."""
    loaded, meta = safetensors_io.load_file(path)
    if meta != metadata:
        raise ConvertError("check failed: metadata differs after reload")
    if list(loaded) != list(tensors):
        raise ConvertError("check failed: tensor names differ after reload")
    for k, v in tensors.items():
        t = loaded[k]
        if t.dtype != torch.float32 or tuple(t.shape) != tuple(v.shape) or not torch.equal(t, v):
            raise ConvertError("check failed: tensor '%s' differs after reload" % k)
    layout = meta["mobilenext.layout"]
    model = mx.build_model(layout, float(meta["mobilenext.width"]),
                           int(meta["mobilenext.identity_div"]),
                           int(meta["mobilenext.num_classes"]), int(meta["mobilenext.in_channels"]))
    sd = model.state_dict()
    for k in list(sd):
        if not k.endswith("num_batches_tracked"):
            sd[k] = loaded[_model_key(k, OFFICIAL_HEAD)]
    model.load_state_dict(sd, strict=True)
    model.eval()
    tv = json.loads(meta["mobilenext.test_vector"])
    x = torch.tensor(tv["input"], dtype=torch.float32).reshape(tv["input_shape"])
    expected = torch.tensor(tv["output"], dtype=torch.float32)
    with torch.no_grad():
        y = model(x).reshape(-1)
    err = (y - expected).abs().max().item()
    tol = 1e-5 * max(1.0, expected.abs().max().item())
    if not err <= tol:
        raise ConvertError("check failed: test vector mismatch %.3g > %.3g" % (err, tol))
    return len(loaded), err


def convert(args):
    sd, ckpt = load_checkpoint(args.input, args.ema)
    layout, width, num_classes, in_channels, _ = infer_config(
        sd, args.layout, args.width, args.num_classes)

    ckpt_div = identity_div_from_checkpoint(ckpt)
    if args.identity_div is not None:
        identity_div = args.identity_div
        if ckpt_div is not None and ckpt_div != identity_div:
            warn("checkpoint states identity_div %d; using --identity-div %d"
                 % (ckpt_div, identity_div))
    else:
        identity_div = ckpt_div if ckpt_div is not None else 1
    if identity_div < 1:
        raise ConvertError("--identity-div must be >= 1")

    model = build_and_load(sd, layout, width, identity_div, num_classes, in_channels)
    tensors = output_tensors(model)

    if args.preprocess is not None:
        try:
            pre = json.loads(args.preprocess)
        except ValueError as e:
            raise ConvertError("--preprocess is not valid JSON: %s" % e)
        if not isinstance(pre, dict):
            raise ConvertError("--preprocess must be a JSON object")
    else:
        pre = DEFAULT_PREPROCESS

    metadata = {
        "format": "mobilenext",
        "mobilenext.layout": layout,
        "mobilenext.width": repr(float(width)),
        "mobilenext.identity_div": str(identity_div),
        "mobilenext.num_classes": str(num_classes),
        "mobilenext.in_channels": str(in_channels),
        "mobilenext.converter_version": CONVERTER_VERSION,
        "mobilenext.preprocess": json.dumps(pre),
        "mobilenext.test_vector": make_test_vector(model),
    }
    if args.labels:
        metadata["mobilenext.labels"] = json.dumps(read_labels(args.labels, num_classes),
                                                   ensure_ascii=False)

    out_dir = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(out_dir):
        raise ConvertError("output directory does not exist: %s" % out_dir)
    safetensors_io.save_file(tensors, args.output, metadata)
    print("wrote %s: layout=%s width=%s identity_div=%d num_classes=%d in_channels=%d tensors=%d"
          % (args.output, layout, repr(float(width)), identity_div, num_classes, in_channels,
             len(tensors)))
    if args.check:
        n, err = verify_output(args.output, tensors, metadata)
        print("check OK: %d tensors reloaded, test vector max abs diff %.3g" % (n, err))


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="convert.py",
        description="Convert a PyTorch MobileNeXt checkpoint to safetensors (float32, "
                    "official tensor names, metadata describing the network).")
    p.add_argument("input", help="checkpoint (.pth, .pth.tar, .pt)")
    p.add_argument("-o", "--output", required=True, help="output .safetensors file")
    p.add_argument("--ema", action="store_true", help="use the checkpoint's state_dict_ema")
    p.add_argument("--identity-div", type=int, default=None,
                   help="identity tensor divisor d (shortcut covers C // d channels); "
                        "default: from the checkpoint's args/arch, else 1")
    p.add_argument("--layout", choices=["auto", mx.LAYOUT_OFFICIAL, mx.LAYOUT_THIRD_PARTY],
                   default="auto")
    p.add_argument("--width", type=float, default=None,
                   help="width multiplier (default: inferred from shapes)")
    p.add_argument("--num-classes", type=int, default=None,
                   help="expected number of classes (default: inferred)")
    p.add_argument("--labels", default=None, help="text file with one class name per line")
    p.add_argument("--preprocess", default=None,
                   help="JSON object replacing the default preprocessing description")
    p.add_argument("--check", action="store_true",
                   help="reload the written file and verify it")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    try:
        convert(args)
    except (ConvertError, safetensors_io.SafetensorsError) as e:
        print("convert.py: error: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
