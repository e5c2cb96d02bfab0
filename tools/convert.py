#!/usr/bin/python3
"""Convert a PyTorch MobileNeXt checkpoint (classifier or SSDLite detector) into a safetensors
file for the C++ library.

Accepted inputs:
  * what torch.load reads on the CPU (.pth, .pth.tar, .pt): a plain state dict; a training
    checkpoint dict holding ``state_dict`` (or ``state_dict_ema`` with --ema), or ``model``
    (a state dict or an nn.Module); a pickled nn.Module or a TorchScript archive;
  * a safetensors state dict (.safetensors; float32, float16, bfloat16 or float64 tensors),
    bare or already converted.  The mobilenext.* metadata of a converted file supplies the
    identity divisor, layout, width, labels and preprocessing the options do not give.
``module.`` prefixes are stripped.

Two layouts are understood (see mobilenext_torch.py): the authors' ``official`` one and
the ``mobilenext.pytorch`` one.  Width, number of classes and input channels are inferred
from tensor shapes and verified by rebuilding the network and comparing every key and
shape.  The identity tensor divisor cannot be seen in the weights: it comes from
--identity-div, else from the checkpoint's ``args``/``arch`` or the input's
``mobilenext.identity_div`` metadata when stated there.  When nothing states it the
conversion is refused: every divisor converts without error, and a wrong one changes
every logit.

The file stores a test vector, an input and its logits, which the C++ loader recomputes.
When the user's own model is available (--module FILE, or an nn.Module or TorchScript
archive as the input) the logits are that model's, after checking that it holds the
converted weights and that the reference re-implementation (mobilenext_torch.py) built
with the stated configuration computes the same; otherwise they are the reference
re-implementation's.  ``mobilenext.test_vector_source`` records which.

Output tensors are float32 and always use the official names:
  stem            features.0.0.weight, features.0.1.{weight,bias,running_mean,running_var}
  block i         features.{i}.conv.{j}.*  (j as in the official layer sequence; a
                  mobilenext.pytorch block uses 0 dw, 1 BN, 3 pw reduce, 4 BN,
                  5 pw expand, 6 BN, 8 dw, 9 BN -- the same indices as the official
                  full form)
  head            classifier.1.weight, classifier.1.bias
``num_batches_tracked`` is dropped.  Topology differences between the layouts are carried
by the ``mobilenext.layout`` metadata entry.

Detector checkpoints (SSDLite-MobileNeXt, see ssdlite_torch.py) are recognised by their names,
``backbone.features.*``, ``backbone.extras.*`` and ``box_head.predictor.{cls,reg}_headers.*``,
in the authors' training checkpoint ``{'model': ..., 'optimizer': ..., 'iteration': ...}`` or
bare.  They are written with those names unchanged (float32, ``num_batches_tracked``
dropped) and ``mobilenext.task`` = ``detection``.  The width comes from the backbone's shapes;
the backbone always has the full shortcut (identity divisor 1).  What the weights do not
show -- priors, score function, thresholds -- comes from --config:

  voc, coco       the two published configurations (ssdlite_torch.CONFIGS)
  FILE            a configuration file of the authors' YAML format: MODEL.NUM_CLASSES,
                  MODEL.PRIORS.{FEATURE_MAPS, STRIDES, MIN_SIZES, MAX_SIZES, ASPECT_RATIOS,
                  BOXES_PER_LOCATION}, MODEL.{CENTER,SIZE}_VARIANCE, INPUT.IMAGE_SIZE,
                  INPUT.PIXEL_MEAN, INPUT.PIXEL_STD, TEST.{NMS_THRESHOLD,
                  CONFIDENCE_THRESHOLD, MAX_PER_IMAGE}, MODEL.BOX_HEAD.SCORE (softmax or
                  sigmoid; softmax when absent).  Tuples written "(1, 2)" are read as lists.
                  The prior lists must be stated; other settings the file leaves out take the
                  training code's defaults (21 classes, image size 300, variances 0.1 and 0.2,
                  confidence 0.01, NMS 0.45, 100 detections), with a note saying so.
                  Or a JSON (or YAML) object of ssdlite_torch.CONFIGS' own fields:
                  num_classes, score, image_size, feature_maps, strides, min_sizes,
                  max_sizes, aspect_ratios, center_variance, size_variance, threshold,
                  nms_iou, max_detections (all required), pixel_mean, pixel_std (optional).

Without --config, voc when the heads fit it (21 classes, 6 boxes per location on every map),
else coco (81 classes, 6 6 6 6 6 4), else the conversion is refused; the choice is printed.
--score overrides the score function.  The configuration is checked against the weights:
boxes per location (2 + 2 x the aspect ratios of the map) against the box heads, the number of
classes against the class heads, the feature map sizes against those the network makes at the
image size, one list entry per map.  Metadata written for a detector:

  mobilenext.detector    {"score", "image_size", "feature_maps", "strides", "min_sizes",
                         "max_sizes", "aspect_ratios", "center_variance", "size_variance",
                         "threshold", "nms_iou", "max_detections"}
  mobilenext.preprocess  {"size": [S, S], "interpolation": "opencv-linear", "pixel_mean",
                         "pixel_std"}: x = (pixel - mean) / std in 0-255 units, default mean
                         (123, 117, 104) and std 255 x (0.229, 0.224, 0.225)
  mobilenext.labels      with --labels: the names by reported label, 0 the background: K names
                         for softmax scores, K + 1 for sigmoid ones (label = column + 1)
  mobilenext.test_vector {"input_shape": [1, 3, 65, 65], "input_seed", "scores": [N*P*K],
                         "boxes": [N*P*4]}: the reference's scores (after softmax or sigmoid)
                         and decoded corner boxes relative to the input, not clipped
plus format, mobilenext.layout (official), width, identity_div (1), in_channels (3),
num_classes (K) and converter_version.
"""

import argparse
import ast
import json
import math
import os
import re
import struct
import sys
import warnings

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import mobilenext_torch as mx  # noqa: E402
import safetensors_io  # noqa: E402
import ssdlite_torch as ssd  # noqa: E402

CONVERTER_VERSION = "3"
STANDARD_WIDTHS = (0.35, 0.5, 0.75, 1.0, 1.4)
DEFAULT_PREPROCESS = {"resize": 256, "crop": 224, "interpolation": "bicubic",
                      "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
TEST_VECTOR_SEED = 0
# 65 x 65: every layer's output is at least 3 x 3 (65 -> 33 -> 17 -> 9 -> 5 -> 3 through the
# five stride-2 layers), so every tap of every depthwise kernel is used; at 32 x 32 the last
# blocks ran at 1 x 1 and a changed corner weight passed unnoticed.
TEST_VECTOR_SIZE = 65
# What the C++ loader allows between its logits and the stored ones, relative to
# max(1, max |stored logit|); the user's model and the reference must agree as closely.
TEST_VECTOR_TOLERANCE = 1e-4
# Divisors tried when looking for one that makes the reference reproduce a user's model.
MAX_SUGGESTED_DIV = 32
SOURCE_USER = "user module"
SOURCE_REFERENCE = "reference implementation"
OFFICIAL_HEAD = "classifier.1"
SAFETENSORS_FLOAT_DTYPES = (torch.float32, torch.float16, torch.bfloat16, torch.float64)

IDENTITY_DIV_HELP = (
    "state it with --identity-div D: the shortcut of each block adds its input's first C/D "
    "channels to the output (D = 1: all C of them). The authors' released code builds "
    "D = 1, the paper's identity tensor multiplier 1/2 is D = 2, mobilenext.pytorch always "
    "uses 1. The weights do not show it: every D converts without error, and a wrong one "
    "changes every logit")


class ConvertError(Exception):
    pass


def warn(msg):
    print("convert.py: warning: " + msg, file=sys.stderr)


def note(msg):
    print("convert.py: " + msg, file=sys.stderr)


# ---------------------------------------------------------------------------
# Reading checkpoints
# ---------------------------------------------------------------------------

class Source:
    """What the input provides: its weights and whatever else states the configuration."""

    def __init__(self, state_dict, checkpoint=None, module=None, module_origin=None,
                 metadata=None):
        self.state_dict = state_dict        # plain names -> tensors, as stored
        self.checkpoint = checkpoint        # training checkpoint dict, or None
        self.module = module                # the user's own nn.Module / TorchScript, or None
        self.module_origin = module_origin  # how messages name that module
        self.metadata = metadata            # safetensors __metadata__, or None


def _is_state_dict(obj):
    return isinstance(obj, dict) and len(obj) > 0 and all(
        isinstance(k, str) for k in obj) and any(isinstance(v, torch.Tensor) for v in obj.values())


def _as_state_dict(obj, what):
    if isinstance(obj, nn.Module):  # TorchScript modules included
        return obj.state_dict()
    if _is_state_dict(obj):
        return obj
    raise ConvertError("%s is neither a state dict nor an nn.Module (got %s)"
                       % (what, type(obj).__name__))


def _key_list(d, limit=12):
    keys = [str(k) for k in d.keys()]
    more = ", ..." if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def _strip_module_prefix(name):
    while name.startswith("module."):
        name = name[len("module."):]
    return name


def _torch_load(path, what):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu")
    except Exception as e:  # maybe a TorchScript archive
        try:
            return torch.jit.load(path, map_location="cpu")
        except Exception:
            pass
        hint = ""
        if isinstance(e, (ImportError, AttributeError)):
            hint = ("; a pickled nn.Module needs its class importable: put the directory of "
                    "its code on PYTHONPATH, or save the model as TorchScript "
                    "(torch.jit.save(torch.jit.script(model), FILE))")
        raise ConvertError("cannot read %s %s with torch.load: %s%s" % (what, path, e, hint))


def _looks_like_safetensors(path):
    """By name, or by content: an 8-byte header length that fits the file, then '{'."""
    if path.lower().endswith(".safetensors"):
        return True
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(9)
    if len(head) < 9:
        return False
    (n,) = struct.unpack("<Q", head[:8])
    return 2 <= n <= size - 8 and head[8:9] == b"{"


def _plain_names(sd, path):
    out = {}
    for k, v in sd.items():
        if not isinstance(v, torch.Tensor):
            warn("ignoring non-tensor entry %r" % (k,))
            continue
        name = _strip_module_prefix(k)
        if name in out:
            raise ConvertError("duplicate key after stripping 'module.': %s" % name)
        out[name] = v
    if not out:
        raise ConvertError("%s: the state dict is empty" % path)
    return out


def _load_safetensors(path, use_ema):
    if use_ema:
        raise ConvertError("--ema applies to training checkpoints; %s is a safetensors file"
                           % path)
    tensors, metadata = safetensors_io.load_file(path)
    for k, v in tensors.items():
        if v.dtype not in SAFETENSORS_FLOAT_DTYPES and not k.endswith("num_batches_tracked"):
            dtype = str(v.dtype).replace("torch.", "")
            raise ConvertError("%s: tensor '%s' is %s; weights must be float32, float16, "
                               "bfloat16 or float64" % (path, k, dtype))
    return Source(_plain_names(tensors, path), metadata=metadata)


def load_input(path, use_ema):
    """Read the input file into a Source."""
    if not os.path.isfile(path):
        raise ConvertError("input file not found: %s" % path)
    if _looks_like_safetensors(path):
        return _load_safetensors(path, use_ema)
    obj = _torch_load(path, "input")
    ckpt = None
    holder = None  # the object the weights come from
    holder_name = None
    if isinstance(obj, nn.Module):
        if use_ema:
            raise ConvertError("--ema given but %s holds a bare model, not a checkpoint dict" % path)
        holder = obj
        holder_name = ("the TorchScript archive %s" % path
                       if isinstance(obj, torch.jit.ScriptModule) else "the nn.Module in %s" % path)
        sd = obj.state_dict()
    elif isinstance(obj, dict):
        ckpt = obj
        if use_ema:
            for key in ("state_dict_ema", "model_ema"):
                if key in obj and obj[key] is not None:
                    holder, holder_name = obj[key], "%s['%s']" % (path, key)
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
            holder, holder_name = obj["model"], "%s['model']" % path
            sd = _as_state_dict(obj["model"], "checkpoint['model']")
        elif _is_state_dict(obj):
            sd = obj
            ckpt = None
        else:
            raise ConvertError("%s: no 'state_dict' or 'model' entry and not a state dict "
                               "(top-level keys: %s)" % (path, _key_list(obj)))
    else:
        raise ConvertError("%s: unsupported content of type %s" % (path, type(obj).__name__))
    module = holder if isinstance(holder, nn.Module) else None
    return Source(_plain_names(sd, path), checkpoint=ckpt, module=module,
                  module_origin=holder_name if module is not None else None)


def load_module(path):
    """The user's model from --module: a TorchScript archive or a pickled nn.Module."""
    if not os.path.isfile(path):
        raise ConvertError("--module file not found: %s" % path)
    obj = _torch_load(path, "--module")
    if not isinstance(obj, nn.Module):
        hint = "; weights alone are the input, not --module" if _is_state_dict(obj) else ""
        raise ConvertError("--module %s is not a TorchScript archive or a pickled nn.Module "
                           "(torch.save(model)): it holds an object of type %s%s"
                           % (path, type(obj).__name__, hint))
    return obj
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


def settings_from_metadata(meta, path):
    """What a converted file's mobilenext.* metadata states: identity_div, layout, width,
    labels, preprocess (only the keys present)."""
    out = {}
    if not meta:
        return out

    def bad(key, expected):
        raise ConvertError("%s: metadata %s = %r is not %s" % (path, key, meta[key], expected))

    def read(name, key, parse, valid, expected):
        """meta[key] through parse(), kept as out[name] when valid() holds, refused otherwise."""
        if key not in meta:
            return
        try:
            value = parse(meta[key])
        except ValueError:
            value = None
        if value is None or not valid(value):
            bad(key, expected)
        out[name] = value

    read("identity_div", "mobilenext.identity_div", int, lambda v: v >= 1, "an integer >= 1")
    read("layout", "mobilenext.layout", str, lambda v: v in mx.LAYOUTS, "one of " + ", ".join(mx.LAYOUTS))
    read("width", "mobilenext.width", float, lambda v: math.isfinite(v) and v > 0, "a positive number")
    read("labels", "mobilenext.labels", json.loads,
         lambda v: isinstance(v, list) and all(isinstance(s, str) for s in v), "a JSON list of names")
    read("preprocess", "mobilenext.preprocess", json.loads, lambda v: isinstance(v, dict), "a JSON object")
    return out


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
    return load_checked(model, target, given)


def load_checked(model, target, given):
    """Loads the float32 tensors of ``given`` into ``model`` (whose state dict is ``target``),
    refusing non-finite values; tensors ``given`` lacks (num_batches_tracked) keep theirs."""
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


def test_vector_input(seed, count):
    """The values the C++ loader makes from ``input_seed`` (io/model_file.hpp,
    test_vector_input): splitmix64's sequence, value k as (x >> 40) * 2^-22 - 2, exactly a
    float32 in [-2, 2). Stored as a seed, the input costs nothing to parse at load."""
    import numpy as np
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + np.arange(1, count + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
    return ((z >> np.uint64(40)).astype(np.float64) * 2.0 ** -22 - 2.0).astype(np.float32)


def make_test_input(in_channels):
    shape = [1, in_channels, TEST_VECTOR_SIZE, TEST_VECTOR_SIZE]
    count = in_channels * TEST_VECTOR_SIZE * TEST_VECTOR_SIZE
    return torch.from_numpy(test_vector_input(TEST_VECTOR_SEED, count)).reshape(shape)


def format_test_vector(x, y):
    return ('{"input_shape": [%s], "input_seed": %d, "output": %s}'
            % (", ".join(str(s) for s in x.shape), TEST_VECTOR_SEED, _fmt_floats(y.reshape(-1).tolist())))


def logits_difference(expected, actual):
    """(max |difference|, tolerance the C++ loader would apply to ``expected``)."""
    err = (actual.reshape(-1) - expected.reshape(-1)).abs().max().item()
    return err, TEST_VECTOR_TOLERANCE * max(1.0, expected.abs().max().item())


# ---------------------------------------------------------------------------
# The user's own model
# ---------------------------------------------------------------------------

def check_module_weights(module, sd, origin):
    """The module must hold the weights being converted wherever the names match, or its
    logits would prove nothing about them."""
    theirs = {}
    for k, v in module.state_dict().items():
        theirs[_strip_module_prefix(k)] = v
    compared = total = 0
    for k, v in sd.items():
        if k.endswith("num_batches_tracked"):
            continue
        total += 1
        # a converted file names the head classifier.1 in both layouts
        names = (k, _model_key(k, "classifier"), _model_key(k, OFFICIAL_HEAD))
        t = next((theirs[n] for n in names if n in theirs), None)
        if t is None:
            continue
        if tuple(t.shape) != tuple(v.shape):
            raise ConvertError("%s does not hold the weights being converted: '%s' has shape %s "
                               "there and %s in the input" % (origin, k, _fmt_shape(t.shape),
                                                              _fmt_shape(v.shape)))
        a, b = t.detach().to(torch.float32), v.detach().to(torch.float32)
        if not torch.equal(a, b):
            dtypes = ""
            if t.dtype != v.dtype:
                dtypes = ", %s there, %s in the input" % (str(t.dtype).replace("torch.", ""),
                                                          str(v.dtype).replace("torch.", ""))
            raise ConvertError("%s does not hold the weights being converted: '%s' differs "
                               "(max |difference| %.3g%s); the test vector must come from the "
                               "same weights" % (origin, k, (a - b).abs().max().item(), dtypes))
        compared += 1
    if compared == 0:
        raise ConvertError("%s has none of the input's tensor names (its names: %s), so it "
                           "cannot be checked to hold the weights being converted"
                           % (origin, _key_list(theirs)))
    if compared < total:
        warn("%s holds %d of the %d weight tensors under the input's names; the others are "
             "checked only through its logits" % (origin, compared, total))


def run_module(module, x, num_classes, origin):
    """The module's logits for ``x`` in eval mode, float32."""
    module.eval()
    tensors = list(module.parameters()) + list(module.buffers())
    if any(t.is_floating_point() and t.dtype != torch.float32 for t in tensors):
        note("running %s in float32, as the library computes" % origin)
        module.float()
    try:
        with torch.no_grad():
            y = module(x.clone())  # the stored input must stay what it was
    except Exception as e:
        raise ConvertError("%s failed on a test input of shape %s: %s"
                           % (origin, list(x.shape), e))
    if not isinstance(y, torch.Tensor) or y.numel() != num_classes:
        what = ("a tensor of shape %s" % list(y.shape) if isinstance(y, torch.Tensor)
                else "a %s" % type(y).__name__)
        raise ConvertError("%s returned %s for one image; expected %d logits"
                           % (origin, what, num_classes))
    y = y.detach().to(torch.float32).reshape(1, num_classes)
    if not torch.isfinite(y).all():
        raise ConvertError("%s returned non-finite logits on the test input" % origin)
    return y


def matching_identity_divs(model, x, y_user):
    """Identity divisors (the smallest of each distinct topology) with which the reference
    model reproduces ``y_user``."""
    blocks = [m for m in model.modules() if isinstance(m, mx.SandglassBlock)]
    saved = [b.shortcut_channels for b in blocks]
    found, seen = [], set()
    try:
        for d in range(1, MAX_SUGGESTED_DIV + 1):
            specs = mx.topology(model.layout, model.width_mult, d)
            shortcuts = tuple(s.shortcut for s in specs)
            if shortcuts in seen:
                continue
            seen.add(shortcuts)
            for b, s in zip(blocks, specs):
                b.shortcut_channels = s.shortcut
            with torch.no_grad():
                y = model(x)
            err, tol = logits_difference(y_user, y)
            if err <= tol:
                found.append(d)
    finally:
        for b, k in zip(blocks, saved):
            b.shortcut_channels = k
    return found


def divisor_hint(model, x, y_user, origin):
    found = matching_identity_divs(model, x, y_user)
    if len(found) == 1:
        return (" With --identity-div %d the reference implementation computes what %s "
                "computes." % (found[0], origin))
    if found:
        # logits this small (an untrained model) leave every divisor within the tolerance
        shown = ", ".join(str(d) for d in found[:6])
        if len(found) > 6:
            shown += " and %d more" % (len(found) - 6)
        return (" The reference implementation computes what %s computes within the "
                "tolerance with each of --identity-div %s: the test input cannot tell these "
                "divisors apart." % (origin, shown))
    return (" No identity divisor from 1 to %d makes the reference implementation (layout %s, "
            "width %r) compute what %s computes: check --layout and --width, or that model is "
            "not a MobileNeXt this converter knows." % (MAX_SUGGESTED_DIV, model.layout,
                                                        model.width_mult, origin))


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------

def stated_labels(stated, count, what, path, reused):
    """The labels of the input's metadata, which must number `count` (`what` % count says why)."""
    labels = stated["labels"]
    if len(labels) != count:
        raise ConvertError("the metadata of %s has %d labels but %s" % (path, len(labels), what % count))
    reused.append("labels")
    return labels


def read_label_lines(path):
    """The lines of a labels file, trailing blank lines dropped."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise ConvertError("cannot read labels file: %s" % e)
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def read_labels(path, num_classes):
    lines = read_label_lines(path)
    if len(lines) != num_classes:
        raise ConvertError("labels file %s has %d lines but the model has %d classes"
                           % (path, len(lines), num_classes))
    return lines


def _verify_reload(path, tensors, metadata):
    """Reload ``path``: (tensors, metadata without the checksum) after checking that both are
    what was written and that the data checksum holds."""
    loaded, meta = safetensors_io.load_file(path)
    stored_checksum = meta.pop(safetensors_io.CHECKSUM_KEY, None)
    if meta != metadata:
        raise ConvertError("check failed: metadata differs after reload")
    _, _, data_start, _ = safetensors_io.read_header(path)
    with open(path, "rb") as f:
        f.seek(data_start)
        if stored_checksum != safetensors_io.data_checksum(f.read()):
            raise ConvertError("check failed: the data checksum differs after reload")
    meta = dict(meta)
    if list(loaded) != list(tensors):
        raise ConvertError("check failed: tensor names differ after reload")
    for k, v in tensors.items():
        t = loaded[k]
        if t.dtype != torch.float32 or tuple(t.shape) != tuple(v.shape) or not torch.equal(t, v):
            raise ConvertError("check failed: tensor '%s' differs after reload" % k)
    return loaded, meta


def verify_output(path, tensors, metadata):
    """Reload ``path`` and check names, shapes, values, metadata and the test vector."""
    loaded, meta = _verify_reload(path, tensors, metadata)
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
    if "input" in tv:
        x = torch.tensor(tv["input"], dtype=torch.float32).reshape(tv["input_shape"])
    else:
        count = 1
        for d in tv["input_shape"]:
            count *= d
        x = torch.from_numpy(test_vector_input(tv["input_seed"], count)).reshape(tv["input_shape"])
    expected = torch.tensor(tv["output"], dtype=torch.float32)
    with torch.no_grad():
        y = model(x).reshape(-1)
    err, tol = logits_difference(expected, y)
    if meta.get("mobilenext.test_vector_source") != SOURCE_USER:
        tol /= 10  # the same code computed the stored logits: only their printing differs
    if not err <= tol:
        raise ConvertError("check failed: test vector mismatch %.3g > %.3g" % (err, tol))
    return len(loaded), err


def _stated_or_option(option, stated, name, flag, path, reused):
    """The option when given (warning when the input's metadata says otherwise), else what
    the metadata states (recorded in ``reused``), else None."""
    if option is not None:
        if stated is not None and stated != option:
            warn("the metadata of %s states %s %s; using %s %s"
                 % (path, name, stated, flag, option))
        return option
    if stated is not None:
        reused.append("%s %s" % (name, stated))
    return stated


def resolve_identity_div(args, checkpoint, stated, reused):
    """(divisor, where it is stated), or (None, None) when nothing states it."""
    ckpt_div = identity_div_from_checkpoint(checkpoint)
    meta_div = stated.get("identity_div")
    if args.identity_div is not None:
        if args.identity_div < 1:
            raise ConvertError("--identity-div must be >= 1")
        if ckpt_div is not None and ckpt_div != args.identity_div:
            warn("checkpoint states identity_div %d; using --identity-div %d"
                 % (ckpt_div, args.identity_div))
        if meta_div is not None and meta_div != args.identity_div:
            warn("the metadata of %s states identity_div %d; using --identity-div %d"
                 % (args.input, meta_div, args.identity_div))
        return args.identity_div, "--identity-div"
    if ckpt_div is not None:
        return ckpt_div, "the checkpoint's args/arch"
    if meta_div is not None:
        reused.append("identity_div %d" % meta_div)
        return meta_div, "the metadata of %s" % args.input
    return None, None


# ---------------------------------------------------------------------------
# Detector checkpoints (SSDLite-MobileNeXt, ssdlite_torch.py)
# ---------------------------------------------------------------------------

DETECTOR_PREFIXES = ("backbone.features.", "backbone.extras.", "box_head.")
DETECTOR_MAPS = 6
DETECTOR_PIXEL_MEAN = [123, 117, 104]
DETECTOR_PIXEL_STD = [58.395, 57.12, 57.375]  # 255 x (0.229, 0.224, 0.225)
DETECTOR_INTERPOLATION = "opencv-linear"
DETECTOR_SCORES = ("softmax", "sigmoid")
# The stored test vector's scores and boxes against their recomputation by --check.
DETECTOR_CHECK_TOLERANCE = 1e-5
# The keys of mobilenext.detector, in the order they are written.
DETECTOR_KEYS = ("score", "image_size", "feature_maps", "strides", "min_sizes", "max_sizes",
                 "aspect_ratios", "center_variance", "size_variance", "threshold", "nms_iou",
                 "max_detections")
# A YAML setting -> (field, value where the file does not state it).  The values are the
# defaults of the authors' training code, used there whenever a config file is silent.
# The prior lists have no such default here: the training code's own describe another
# network (VGG SSD300), so a file must state them.
YAML_FIELDS = [
    ("MODEL.NUM_CLASSES", "num_classes", 21),
    ("INPUT.IMAGE_SIZE", "image_size", 300),
    ("MODEL.PRIORS.FEATURE_MAPS", "feature_maps", None),
    ("MODEL.PRIORS.STRIDES", "strides", None),
    ("MODEL.PRIORS.MIN_SIZES", "min_sizes", None),
    ("MODEL.PRIORS.MAX_SIZES", "max_sizes", None),
    ("MODEL.PRIORS.ASPECT_RATIOS", "aspect_ratios", None),
    ("MODEL.CENTER_VARIANCE", "center_variance", 0.1),
    ("MODEL.SIZE_VARIANCE", "size_variance", 0.2),
    ("TEST.CONFIDENCE_THRESHOLD", "threshold", 0.01),
    ("TEST.NMS_THRESHOLD", "nms_iou", 0.45),
    ("TEST.MAX_PER_IMAGE", "max_detections", 100),
    ("INPUT.PIXEL_MEAN", "pixel_mean", DETECTOR_PIXEL_MEAN),
    ("INPUT.PIXEL_STD", "pixel_std", DETECTOR_PIXEL_STD),
]
_MISSING = object()


def is_detector_state_dict(sd):
    return any(k.startswith(DETECTOR_PREFIXES) for k in sd)


class DetectorConfig:
    """A detector configuration (ssdlite_torch.CONFIGS' fields), where it comes from, and
    how messages name each of its fields (the YAML key for a file)."""

    def __init__(self, values, origin, names=None, pixel_mean=None, pixel_std=None):
        self.values = values
        self.origin = origin      # "the voc config", "config.yaml", ...
        self.names = names or {}  # field -> the name the user wrote
        self.pixel_mean = pixel_mean
        self.pixel_std = pixel_std

    def name(self, field):
        return "%s %s" % (self.origin, self.names.get(field, field))


def builtin_detector_config(name):
    return DetectorConfig(json.loads(json.dumps(ssd.CONFIGS[name])), "the %s config" % name)


def _yaml_value(value):
    """A setting as the authors' config code reads it: "(1, 2)" is a tuple, "1e-2" a number."""
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in ("(", "["):
            try:
                value = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                return value
        else:
            try:
                return float(text)
            except ValueError:
                return value
    if isinstance(value, (list, tuple)):
        return [_yaml_value(v) for v in value]
    return value


def _yaml_lookup(doc, dotted):
    node = doc
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return _yaml_value(node)


def file_detector_config(path):
    """The configuration a file states: the authors' YAML format (MODEL:, INPUT:, ...), or
    ssdlite_torch.CONFIGS' own fields (num_classes, score, ...) as JSON or YAML."""
    import yaml
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        doc = json.loads(text) if path.lower().endswith(".json") else yaml.safe_load(text)
    except OSError as e:
        raise ConvertError("cannot read --config %s: %s" % (path, e))
    except (ValueError, yaml.YAMLError) as e:
        raise ConvertError("--config %s is not valid %s: %s"
                           % (path, "JSON" if path.lower().endswith(".json") else "YAML", e))
    if isinstance(doc, dict) and "feature_maps" in doc:
        return fields_detector_config(doc, path)
    if not isinstance(doc, dict) or not any(k in doc for k in ("MODEL", "INPUT", "TEST")):
        raise ConvertError("--config %s holds neither the authors' configuration (MODEL:, "
                           "INPUT:, TEST:) nor the converter's fields (num_classes, score, "
                           "image_size, feature_maps, ...)" % path)
    return yaml_detector_config(doc, path)


def fields_detector_config(doc, path):
    """A configuration written in ssdlite_torch.CONFIGS' fields (plus optional pixel_mean and
    pixel_std); every field must be there."""
    fields = ["num_classes"] + list(DETECTOR_KEYS)
    missing = [k for k in fields if k not in doc]
    if missing:
        raise ConvertError("--config %s does not state %s" % (path, ", ".join(missing)))
    unknown = sorted(k for k in doc if k not in fields + ["pixel_mean", "pixel_std"])
    if unknown:
        warn("--config %s: ignoring %s" % (path, ", ".join(unknown)))
    values = {k: _yaml_value(doc[k]) for k in fields}
    return DetectorConfig(values, os.path.basename(path), pixel_mean=doc.get("pixel_mean"),
                          pixel_std=doc.get("pixel_std"))


def yaml_detector_config(doc, path):
    """The configuration a YAML file of the authors' format states."""
    origin = os.path.basename(path)
    values, names, defaulted = {}, {}, []
    for key, field, default in YAML_FIELDS:
        names[field] = key
        value = _yaml_lookup(doc, key)
        if value is _MISSING:
            if default is None:
                raise ConvertError("--config %s does not state %s; the priors cannot be "
                                   "inferred from the weights" % (path, key))
            value = default
            defaulted.append("%s %s" % (key, json.dumps(default)))
        values[field] = value
    score = _yaml_lookup(doc, "MODEL.BOX_HEAD.SCORE")
    names["score"] = "MODEL.BOX_HEAD.SCORE"
    if score is _MISSING:
        score = "softmax"
    elif isinstance(score, str):
        score = score.strip().lower()
    values["score"] = score
    boxes = _yaml_lookup(doc, "MODEL.PRIORS.BOXES_PER_LOCATION")
    if boxes is not _MISSING:
        values["boxes_per_location"] = boxes
        names["boxes_per_location"] = "MODEL.PRIORS.BOXES_PER_LOCATION"
    clip = _yaml_lookup(doc, "MODEL.PRIORS.CLIP")
    if clip is not _MISSING and clip is not True:
        raise ConvertError("--config %s: MODEL.PRIORS.CLIP is %r; the library clamps every prior "
                           "to [0, 1] (CLIP: True)" % (path, clip))
    if defaulted:
        note("%s does not state %s: using the training code's defaults"
             % (origin, ", ".join(defaulted)))
    mean, std = values.pop("pixel_mean"), values.pop("pixel_std")
    return DetectorConfig(values, origin, names, mean, std)


def metadata_detector_config(meta, path):
    """The configuration of a converted detector file's metadata, or None."""
    if not meta or "mobilenext.detector" not in meta:
        return None
    try:
        values = json.loads(meta["mobilenext.detector"])
        values["num_classes"] = int(meta["mobilenext.num_classes"])
    except (ValueError, KeyError, TypeError) as e:
        raise ConvertError("%s: metadata mobilenext.detector / mobilenext.num_classes cannot "
                           "be read: %s" % (path, e))
    if not isinstance(values, dict):
        raise ConvertError("%s: metadata mobilenext.detector is not a JSON object" % path)
    return DetectorConfig(values, "the metadata of %s" % os.path.basename(path))


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _is_int(v):
    return _is_number(v) and float(v) == int(v)


def _number(v):
    return int(v) if isinstance(v, int) else float(v)


def validate_detector_config(cfg):
    """Types, ranges and list lengths of cfg.values; returns the values normalised."""
    v = cfg.values

    def need(field, ok, expected):
        if field not in v:
            raise ConvertError("%s is missing" % cfg.name(field))
        if not ok(v[field]):
            raise ConvertError("%s is %s; expected %s" % (cfg.name(field), json.dumps(v[field]),
                                                          expected))
        return v[field]

    def number_list(field, positive_ints=False):
        def ok(x):
            return (isinstance(x, list) and len(x) == DETECTOR_MAPS and all(
                (_is_int(e) if positive_ints else _is_number(e)) and e > 0 for e in x))
        kind = "positive integers" if positive_ints else "positive numbers"
        items = need(field, lambda x: isinstance(x, list), "a list of %d %s" % (DETECTOR_MAPS, kind))
        if len(items) != DETECTOR_MAPS:
            raise ConvertError("%s has %d entries; the network makes %d feature maps, one entry "
                               "each" % (cfg.name(field), len(items), DETECTOR_MAPS))
        need(field, ok, "a list of %d %s" % (DETECTOR_MAPS, kind))
        return [int(e) if positive_ints else _number(e) for e in items]

    out = {}
    out["num_classes"] = int(need("num_classes", lambda x: _is_int(x) and x >= 1, "a positive integer"))
    out["score"] = need("score", lambda x: x in DETECTOR_SCORES, " or ".join(DETECTOR_SCORES))
    if out["score"] == "softmax" and out["num_classes"] < 2:
        raise ConvertError("%s is 1: softmax scores need the background and at least one class"
                           % cfg.name("num_classes"))
    out["image_size"] = int(need("image_size", lambda x: _is_int(x) and x >= 1, "a positive integer"))
    out["feature_maps"] = number_list("feature_maps", positive_ints=True)
    for field in ("strides", "min_sizes", "max_sizes"):
        out[field] = number_list(field)
    ratios = need("aspect_ratios", lambda x: isinstance(x, list),
                  "a list of %d lists of aspect ratios" % DETECTOR_MAPS)
    if len(ratios) != DETECTOR_MAPS:
        raise ConvertError("%s has %d entries; the network makes %d feature maps, one entry each"
                           % (cfg.name("aspect_ratios"), len(ratios), DETECTOR_MAPS))
    need("aspect_ratios", lambda x: all(isinstance(r, list) and all(_is_number(e) and e > 0 for e in r)
                                        for r in x), "lists of positive numbers")
    out["aspect_ratios"] = [[_number(e) for e in r] for r in ratios]
    if "boxes_per_location" in v:
        boxes = number_list("boxes_per_location", positive_ints=True)
        made = ssd.boxes_per_location(out)
        for k, (b, m) in enumerate(zip(boxes, made)):
            if b != m:
                raise ConvertError("%s[%d] is %d, but %s[%d] = %s make %d boxes per location "
                                   "(2 + 2 x %d ratios)"
                                   % (cfg.name("boxes_per_location"), k, b, cfg.name("aspect_ratios"),
                                      k, json.dumps(out["aspect_ratios"][k]), m,
                                      len(out["aspect_ratios"][k])))
    for field in ("center_variance", "size_variance"):
        out[field] = float(need(field, lambda x: _is_number(x) and x > 0, "a positive number"))
    out["threshold"] = float(need("threshold", lambda x: _is_number(x) and 0 <= x < 1,
                                  "a number in [0, 1)"))
    out["nms_iou"] = float(need("nms_iou", lambda x: _is_number(x) and 0 < x <= 1,
                                "a number in (0, 1]"))
    out["max_detections"] = int(need("max_detections", lambda x: _is_int(x) and x >= 1,
                                     "a positive integer"))
    return out


def _head_name(kind, level):
    """The last (1x1) convolution of head `level` of `kind` (cls or reg)."""
    if level == DETECTOR_MAPS - 1:
        return "box_head.predictor.%s_headers.%d.weight" % (kind, level)
    return "box_head.predictor.%s_headers.%d.conv.3.weight" % (kind, level)


def infer_detector_width(shapes, width_opt):
    """The width multiplier whose backbone blocks have the shapes found."""
    stem = shapes.get("backbone.features.0.0.weight")
    if stem is None or len(stem) != 4 or stem[2:] != (3, 3):
        raise ConvertError("no 3x3 stem convolution 'backbone.features.0.0.weight' found (found "
                           "%s); is this an SSDLite-MobileNeXt checkpoint?" % _fmt_shape(stem))
    if stem[1] != 3:
        raise ConvertError("'backbone.features.0.0.weight' has shape %s: the detector takes RGB "
                           "images, expected 3 input channels" % _fmt_shape(stem))
    found = {k: s for k, s in shapes.items() if k.startswith("backbone.features.")}
    widths = [float(width_opt)] if width_opt is not None else candidate_widths()
    best = None
    for w in widths:
        if width_opt is None and mx.stem_channels(w) != stem[0]:
            continue
        try:
            full = mx.state_dict_shapes(mx.LAYOUT_OFFICIAL, w, 1, 3)
        except (ValueError, ZeroDivisionError):
            continue
        expected = {"backbone." + k: s for k, s in full.items() if k.startswith("features.")}
        diffs = _diff(expected, found)
        if not diffs:
            return w
        if best is None or len(diffs) < best[0]:
            best = (len(diffs), w, diffs)
    if best is None:
        raise ConvertError("no standard width gives a stem of %d channels "
                           "('backbone.features.0.0.weight' has shape %s)" % (stem[0], _fmt_shape(stem)))
    _, w, diffs = best
    more = "" if len(diffs) == 1 else " (and %d more differences)" % (len(diffs) - 1)
    if width_opt is not None:
        raise ConvertError("the backbone is not of --width %r: %s%s" % (w, _describe_diff(diffs[0]), more))
    raise ConvertError("the backbone does not match any MobileNeXt width; closest is width %r: %s%s"
                       % (w, _describe_diff(diffs[0]), more))


def _describe_diff(diff):
    k, exp, found = diff
    if exp is None:
        return "unexpected tensor '%s' of shape %s" % (k, _fmt_shape(found))
    if found is None:
        return "tensor '%s' is missing (expected shape %s)" % (k, _fmt_shape(exp))
    return "tensor '%s' has shape %s, expected %s" % (k, _fmt_shape(found), _fmt_shape(exp))


def check_detector_backbone(shapes, width):
    """The extra layers (and the blocks again) against the backbone of that width."""
    try:
        backbone = ssd.Backbone(width)
    except ValueError as e:
        raise ConvertError("width %r: %s" % (width, e))
    expected = {"backbone." + k: tuple(v.shape) for k, v in backbone.state_dict().items()
                if not k.endswith("num_batches_tracked")}
    found = {k: s for k, s in shapes.items() if k.startswith("backbone.")}
    diffs = _diff(expected, found)
    missing_extras = [d for d in diffs if d[2] is None and d[0].startswith("backbone.extras.")]
    extras = sum(1 for k in expected if k.startswith("backbone.extras."))
    if missing_extras and len(missing_extras) == extras:
        raise ConvertError("no extra layers: tensor '%s' is missing (expected shape %s); the "
                           "detector's backbone ends in four extra layers 'backbone.extras.0-3'"
                           % (missing_extras[0][0], _fmt_shape(missing_extras[0][1])))
    if diffs:
        more = "" if len(diffs) == 1 else " (and %d more differences)" % (len(diffs) - 1)
        raise ConvertError("the backbone of width %r does not match: %s%s"
                           % (width, _describe_diff(diffs[0]), more))


def detector_heads(shapes, channels):
    """(boxes per location found, classes found or None) from the heads' last convolutions."""
    boxes, classes = [], []
    for level, c in enumerate(channels):
        for kind in ("reg", "cls"):
            name = _head_name(kind, level)
            s = shapes.get(name)
            if s is None:
                raise ConvertError("the %s head of map %d is missing: no tensor '%s' (a 1x1 "
                                   "convolution of %d input channels)"
                                   % ("box" if kind == "reg" else "class", level, name, c))
            if len(s) != 4 or s[1:] != (c, 1, 1):
                raise ConvertError("tensor '%s' has shape %s, expected [outputs, %d, 1, 1] (map %d "
                                   "has %d channels)" % (name, _fmt_shape(s), c, level, c))
        reg_name = _head_name("reg", level)
        reg = shapes[reg_name][0]
        if reg % 4:
            raise ConvertError("tensor '%s' has shape %s: %d outputs are not 4 per box"
                               % (reg_name, _fmt_shape(shapes[reg_name]), reg))
        boxes.append(reg // 4)
        cls = shapes[_head_name("cls", level)][0]
        classes.append(cls // (reg // 4) if reg and cls % (reg // 4) == 0 else None)
    k = classes[0] if all(c == classes[0] for c in classes) else None
    return boxes, k


def check_heads_against_config(shapes, channels, config, cfg):
    expected_boxes = ssd.boxes_per_location(config)
    for level, (c, b) in enumerate(zip(channels, expected_boxes)):
        name = _head_name("reg", level)
        found = shapes[name]
        if found[0] != 4 * b:
            raise ConvertError(
                "%s[%d] = %s make %d boxes per location on map %d, so tensor '%s' should have shape "
                "%s, but it has %s (%d boxes per location)"
                % (cfg.name("aspect_ratios"), level, json.dumps(config["aspect_ratios"][level]), b,
                   level, name, _fmt_shape((4 * b, c, 1, 1)), _fmt_shape(found), found[0] // 4))
    k = config["num_classes"]
    for level, (c, b) in enumerate(zip(channels, expected_boxes)):
        name = _head_name("cls", level)
        found = shapes[name]
        if found[0] != k * b:
            found_k = ("%d classes" % (found[0] // b) if found[0] % b == 0
                       else "not a multiple of %d boxes" % b)
            raise ConvertError(
                "%s is %d, so the class head tensor '%s' should have shape %s (%d boxes x %d "
                "classes), but it has %s (%s)"
                % (cfg.name("num_classes"), k, name, _fmt_shape((k * b, c, 1, 1)), b, k,
                   _fmt_shape(found), found_k))


def check_feature_maps(model, config, cfg):
    size = config["image_size"]
    made = ssd.map_sizes(model, size, size)
    if any(fh != fw for fh, fw in made):
        raise ConvertError("the network makes non-square maps %s at %dx%d" % (made, size, size))
    made = [fh for fh, _ in made]
    if made != config["feature_maps"]:
        raise ConvertError("%s is %s, but at %s %d the network makes maps of %s"
                           % (cfg.name("feature_maps"), json.dumps(config["feature_maps"]),
                              cfg.names.get("image_size", "image_size"), size, json.dumps(made)))


def choose_detector_config(args, boxes, k, stated_cfg):
    """The DetectorConfig the options (or the input's metadata, or the heads) name."""
    if args.config is not None:
        if args.config in ssd.CONFIGS:
            cfg = builtin_detector_config(args.config)
        elif os.path.isfile(args.config):
            cfg = file_detector_config(args.config)
        else:
            raise ConvertError("--config %s: not %s, and no such file"
                               % (args.config, " or ".join(sorted(ssd.CONFIGS, reverse=True))))
    elif stated_cfg is not None:
        cfg = stated_cfg
        note("detector configuration taken from %s" % cfg.origin)
    else:
        cfg = None
        for name in ("voc", "coco"):
            c = ssd.CONFIGS[name]
            if boxes == ssd.boxes_per_location(c) and k == c["num_classes"]:
                cfg = builtin_detector_config(name)
                print("detector config: %s (no --config given; the heads fit it: %d classes, %s "
                      "boxes per location)" % (name, k, " ".join(str(b) for b in boxes)))
                break
        if cfg is None:
            raise ConvertError(
                "no --config given and the heads (%s classes, %s boxes per location on the six "
                "maps) fit neither the voc config (21 classes, 6 6 6 6 6 6) nor the coco config "
                "(81 classes, 6 6 6 6 6 4): state the configuration with --config FILE (YAML or JSON)"
                % ("?" if k is None else k, " ".join(str(b) for b in boxes)))
    if args.score is not None:
        if cfg.values.get("score") not in (None, args.score):
            note("--score %s replaces %s %s" % (args.score, cfg.name("score"), cfg.values["score"]))
        cfg.values["score"] = args.score
        cfg.names["score"] = "--score"
    return cfg


def detector_preprocess(args, cfg, config, stated):
    """mobilenext.preprocess of a detector."""
    if args.preprocess is not None:
        try:
            pre = json.loads(args.preprocess)
        except ValueError as e:
            raise ConvertError("--preprocess is not valid JSON: %s" % e)
        for key in ("size", "interpolation", "pixel_mean", "pixel_std"):
            if not isinstance(pre, dict) or key not in pre:
                raise ConvertError("--preprocess for a detector must be a JSON object with "
                                   "size, interpolation, pixel_mean and pixel_std")
        return pre
    mean, std = cfg.pixel_mean, cfg.pixel_std
    if mean is None and isinstance(stated.get("preprocess"), dict) and args.config is None:
        mean = stated["preprocess"].get("pixel_mean")
        std = stated["preprocess"].get("pixel_std")
    mean = DETECTOR_PIXEL_MEAN if mean is None else mean
    std = DETECTOR_PIXEL_STD if std is None else std
    for what, values, positive in (("pixel_mean", mean, False), ("pixel_std", std, True)):
        if not (isinstance(values, list) and len(values) == 3 and all(_is_number(x) for x in values)
                and (not positive or all(x > 0 for x in values))):
            raise ConvertError("%s %s is %s; expected 3 %snumbers (R, G, B)"
                               % (cfg.origin, cfg.names.get(what, what), json.dumps(values),
                                  "positive " if positive else ""))
    if max(std) < 1:
        warn("%s pixel_std %s: the library divides pixel values (0-255) minus the mean by these"
             % (cfg.origin, json.dumps(std)))
    size = config["image_size"]
    return {"size": [size, size], "interpolation": DETECTOR_INTERPOLATION,
            "pixel_mean": [_number(x) for x in mean], "pixel_std": [_number(x) for x in std]}


def read_detector_labels(path, config):
    """Names indexed by the label a detection reports (0 is the background)."""
    lines = read_label_lines(path)
    k = config["num_classes"]
    if config["score"] == "softmax":
        expected, why = k, ("softmax scores over %d columns report labels 1..%d, column 0 being "
                            "the background: %d names, the first for the background" % (k, k - 1, k))
    else:
        expected, why = k + 1, ("sigmoid scores over %d columns report labels 1..%d (column + 1): "
                                "%d names, the first for the background" % (k, k, k + 1))
    if len(lines) != expected:
        raise ConvertError("labels file %s has %d names; %s" % (path, len(lines), why))
    return lines


def detector_outputs(model, config, x):
    """(scores [N, P, K], boxes [N, P, 4]) of the reference for input x."""
    h, w = x.shape[2], x.shape[3]
    with torch.no_grad():
        cls, reg = model(x)
        prior = ssd.priors(config, ssd.map_sizes(model, h, w), h, w)
        return ssd.scores_and_boxes(config, cls, reg, prior)


def format_detector_test_vector(x, scores, boxes):
    return ('{"input_shape": [%s], "input_seed": %d, "scores": %s, "boxes": %s}'
            % (", ".join(str(s) for s in x.shape), TEST_VECTOR_SEED,
               _fmt_floats(scores.reshape(-1).tolist()), _fmt_floats(boxes.reshape(-1).tolist())))


def detector_metadata_json(config):
    return json.dumps({k: config[k] for k in DETECTOR_KEYS})


def build_detector(width, config, sd):
    """The reference detector holding ``sd`` (float32); every key and shape must match."""
    model = ssd.SSDLiteMobileNeXt(width, config)
    target = model.state_dict()
    expected = {k: tuple(v.shape) for k, v in target.items() if not k.endswith("num_batches_tracked")}
    diffs = _diff(expected, {k: tuple(v.shape) for k, v in sd.items()})
    if diffs:
        more = "" if len(diffs) == 1 else " (and %d more differences)" % (len(diffs) - 1)
        raise ConvertError("the detector of width %r does not match: %s%s"
                           % (width, _describe_diff(diffs[0]), more))
    return load_checked(model, target, sd)


def verify_detector_output(path, tensors, metadata):
    """Reload ``path``; rebuild the detector from its metadata and recompute the test vector."""
    loaded, meta = _verify_reload(path, tensors, metadata)
    config = json.loads(meta["mobilenext.detector"])
    config["num_classes"] = int(meta["mobilenext.num_classes"])
    model = build_detector(float(meta["mobilenext.width"]), config, loaded)
    tv = json.loads(meta["mobilenext.test_vector"])
    count = 1
    for d in tv["input_shape"]:
        count *= d
    x = torch.from_numpy(test_vector_input(tv["input_seed"], count)).reshape(tv["input_shape"])
    scores, boxes = detector_outputs(model, config, x)
    err = 0.0
    for key, value in (("scores", scores), ("boxes", boxes)):
        stored = torch.tensor(tv[key], dtype=torch.float32)
        if stored.numel() != value.numel():
            raise ConvertError("check failed: the test vector has %d %s, the detector computes %d"
                               % (stored.numel(), key, value.numel()))
        err = max(err, (stored - value.reshape(-1)).abs().max().item())
    if not err <= DETECTOR_CHECK_TOLERANCE:
        raise ConvertError("check failed: test vector mismatch %.3g > %.3g" % (err, DETECTOR_CHECK_TOLERANCE))
    return len(loaded), err


def convert_detector(args, src):
    if args.module is not None:
        raise ConvertError("--module applies to classifier checkpoints; %s holds a detector "
                           "(backbone.*, box_head.*), whose test vector comes from the reference "
                           "implementation" % args.input)
    if args.identity_div not in (None, 1):
        raise ConvertError("--identity-div %d: the detector's backbone uses the full shortcut "
                           "(identity divisor 1)" % args.identity_div)
    if args.layout not in ("auto", mx.LAYOUT_OFFICIAL):
        raise ConvertError("--layout %s: detector checkpoints use the official layout" % args.layout)
    if src.module is not None:
        note("using the weights of %s; the test vector comes from the reference implementation"
             % src.module_origin)
    sd = {k: v for k, v in src.state_dict.items() if not k.endswith("num_batches_tracked")}
    shapes = {k: tuple(v.shape) for k, v in sd.items()}
    stated = settings_from_metadata(src.metadata, args.input)
    stated_cfg = metadata_detector_config(src.metadata, args.input)
    reused = []
    width_opt = _stated_or_option(args.width, stated.get("width"), "width", "--width",
                                  args.input, reused)

    width = infer_detector_width(shapes, width_opt)
    check_detector_backbone(shapes, width)
    channels = ssd.map_channels(width)
    boxes, k = detector_heads(shapes, channels)
    cfg = choose_detector_config(args, boxes, k, stated_cfg)
    config = validate_detector_config(cfg)
    check_heads_against_config(shapes, channels, config, cfg)
    if args.num_classes is not None and args.num_classes != config["num_classes"]:
        raise ConvertError("--num-classes %d given but the class heads have %d classes"
                           % (args.num_classes, config["num_classes"]))
    model = build_detector(width, config, sd)
    check_feature_maps(model, config, cfg)

    if args.labels:
        labels = read_detector_labels(args.labels, config)
    elif "labels" in stated and args.config is None:
        labels = stated_labels(stated, config["num_classes"] + (config["score"] == "sigmoid"),
                               "the detector reports %d labels", args.input, reused)
    else:
        labels = None
    pre = detector_preprocess(args, cfg, config, stated)
    if reused:
        note("taken from the metadata of %s: %s" % (args.input, ", ".join(reused)))

    x = make_test_input(3)
    scores, boxes_out = detector_outputs(model, config, x)
    tensors = {k: v.detach().to(torch.float32).contiguous().clone()
               for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    metadata = {
        "format": "mobilenext",
        "mobilenext.task": "detection",
        "mobilenext.layout": mx.LAYOUT_OFFICIAL,
        "mobilenext.width": repr(float(width)),
        "mobilenext.identity_div": "1",
        "mobilenext.in_channels": "3",
        "mobilenext.num_classes": str(config["num_classes"]),
        "mobilenext.converter_version": CONVERTER_VERSION,
        "mobilenext.detector": detector_metadata_json(config),
        "mobilenext.preprocess": json.dumps(pre),
        "mobilenext.test_vector": format_detector_test_vector(x, scores, boxes_out),
    }
    if labels is not None:
        metadata["mobilenext.labels"] = json.dumps(labels, ensure_ascii=False)
    out_dir = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(out_dir):
        raise ConvertError("output directory does not exist: %s" % out_dir)
    safetensors_io.save_file(tensors, args.output, metadata, checksum=True)
    size = config["image_size"]
    print("wrote %s: detector width=%s num_classes=%d score=%s image_size=%d priors=%d tensors=%d "
          "(configuration from %s)"
          % (args.output, repr(float(width)), config["num_classes"], config["score"], size,
             ssd.priors(config, [(f, f) for f in config["feature_maps"]], size, size).shape[0],
             len(tensors), cfg.origin))
    if args.check:
        n, err = verify_detector_output(args.output, tensors, metadata)
        print("check OK: %d tensors reloaded, test vector max abs diff %.3g" % (n, err))


def convert(args):
    src = load_input(args.input, args.ema)
    if is_detector_state_dict(src.state_dict):
        return convert_detector(args, src)
    for flag, given in (("--config", args.config), ("--score", args.score)):
        if given is not None:
            raise ConvertError("%s applies to detector checkpoints (backbone.*, box_head.*); %s "
                               "holds a classifier" % (flag, args.input))
    if args.module is not None:
        module = load_module(args.module)
        if src.module is not None:
            note("using --module %s rather than %s" % (args.module, src.module_origin))
        src.module, src.module_origin = module, "the module in %s" % args.module
    stated = settings_from_metadata(src.metadata, args.input)
    reused = []  # what the input's metadata supplies, to say so
    identity_div, div_origin = resolve_identity_div(args, src.checkpoint, stated, reused)
    layout_opt = _stated_or_option(None if args.layout == "auto" else args.layout,
                                   stated.get("layout"), "layout", "--layout", args.input, reused)
    width_opt = _stated_or_option(args.width, stated.get("width"), "width", "--width",
                                  args.input, reused)
    layout, width, num_classes, in_channels, _ = infer_config(
        src.state_dict, layout_opt or "auto", width_opt, args.num_classes)

    if args.labels:
        labels = read_labels(args.labels, num_classes)
    elif "labels" in stated:
        labels = stated_labels(stated, num_classes, "the model has %d classes", args.input, reused)
    else:
        labels = None
    if args.preprocess is not None:
        try:
            pre = json.loads(args.preprocess)
        except ValueError as e:
            raise ConvertError("--preprocess is not valid JSON: %s" % e)
        if not isinstance(pre, dict):
            raise ConvertError("--preprocess must be a JSON object")
    elif "preprocess" in stated:
        pre = stated["preprocess"]
        reused.append("preprocessing")
    else:
        pre = DEFAULT_PREPROCESS
    if reused:
        note("taken from the metadata of %s: %s" % (args.input, ", ".join(reused)))

    x = make_test_input(in_channels)
    y_user = None
    if src.module is not None:
        check_module_weights(src.module, src.state_dict, src.module_origin)
        y_user = run_module(src.module, x, num_classes, src.module_origin)
    if identity_div is None:
        hint = ""
        if y_user is not None:
            probe = build_and_load(src.state_dict, layout, width, 1, num_classes, in_channels)
            hint = divisor_hint(probe, x, y_user, src.module_origin)
        raise ConvertError("the identity divisor of %s is not stated; %s.%s"
                           % (args.input, IDENTITY_DIV_HELP, hint))

    model = build_and_load(src.state_dict, layout, width, identity_div, num_classes, in_channels)
    tensors = output_tensors(model)
    with torch.no_grad():
        y_ref = model(x)
    if y_user is not None:
        err, tol = logits_difference(y_user, y_ref)
        if not err <= tol:
            raise ConvertError(
                "%s and the reference implementation built with layout %s, width %r, "
                "identity_div %d (from %s) compute different logits on the test input "
                "(max |difference| %.3g > %.3g): that is not the configuration of %s.%s"
                % (src.module_origin, layout, float(width), identity_div, div_origin, err, tol,
                   src.module_origin, divisor_hint(model, x, y_user, src.module_origin)))
        y, source = y_user, SOURCE_USER
        note("test vector computed by %s; the reference implementation agrees (max "
             "|difference| %.3g)" % (src.module_origin, err))
    else:
        y, source = y_ref, SOURCE_REFERENCE

    metadata = {
        "format": "mobilenext",
        "mobilenext.layout": layout,
        "mobilenext.width": repr(float(width)),
        "mobilenext.identity_div": str(identity_div),
        "mobilenext.num_classes": str(num_classes),
        "mobilenext.in_channels": str(in_channels),
        "mobilenext.converter_version": CONVERTER_VERSION,
        "mobilenext.preprocess": json.dumps(pre),
        "mobilenext.test_vector": format_test_vector(x, y),
        "mobilenext.test_vector_source": source,
    }
    if labels is not None:
        metadata["mobilenext.labels"] = json.dumps(labels, ensure_ascii=False)

    out_dir = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(out_dir):
        raise ConvertError("output directory does not exist: %s" % out_dir)
    safetensors_io.save_file(tensors, args.output, metadata, checksum=True)
    print("wrote %s: layout=%s width=%s identity_div=%d num_classes=%d in_channels=%d tensors=%d "
          "test vector from the %s"
          % (args.output, layout, repr(float(width)), identity_div, num_classes, in_channels,
             len(tensors), source))
    if args.check:
        n, err = verify_output(args.output, tensors, metadata)
        print("check OK: %d tensors reloaded, test vector max abs diff %.3g" % (n, err))


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="convert.py",
        description="Convert a PyTorch MobileNeXt checkpoint (classifier or SSDLite "
                    "detector) to safetensors (float32, official tensor names, metadata "
                    "describing the network).")
    p.add_argument("input", help="checkpoint (.pth, .pth.tar, .pt) or safetensors state dict")
    p.add_argument("-o", "--output", required=True, help="output .safetensors file")
    p.add_argument("--ema", action="store_true", help="use the checkpoint's state_dict_ema")
    p.add_argument("--identity-div", type=int, default=None,
                   help="identity tensor divisor D (the shortcut adds the first C/D channels); "
                        "required unless the checkpoint's args/arch or the input's "
                        "mobilenext.identity_div metadata states it")
    p.add_argument("--module", default=None, metavar="FILE",
                   help="the model itself (TorchScript archive, or torch.save(model)); the "
                        "stored test vector's logits are then its own")
    p.add_argument("--layout", choices=["auto", mx.LAYOUT_OFFICIAL, mx.LAYOUT_THIRD_PARTY],
                   default="auto")
    p.add_argument("--width", type=float, default=None,
                   help="width multiplier (default: inferred from shapes)")
    p.add_argument("--num-classes", type=int, default=None,
                   help="expected number of classes (default: inferred)")
    p.add_argument("--labels", default=None, help="text file with one class name per line")
    p.add_argument("--preprocess", default=None,
                   help="JSON object replacing the default preprocessing description")
    p.add_argument("--config", default=None, metavar="voc|coco|FILE",
                   help="detector configuration: one of the two published ones, a YAML file "
                        "of the authors' format, or a JSON object of ssdlite_torch.CONFIGS' "
                        "fields (default: voc or coco, whichever the heads fit)")
    p.add_argument("--score", choices=list(DETECTOR_SCORES), default=None,
                   help="detector score function (default: the configuration's; softmax for a "
                        "YAML file without MODEL.BOX_HEAD.SCORE)")
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
