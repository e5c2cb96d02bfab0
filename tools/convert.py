#!/usr/bin/python3
"""Convert a PyTorch MobileNeXt checkpoint into a safetensors file for the C++ library.

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
"""

import argparse
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

CONVERTER_VERSION = "2"
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


def convert(args):
    src = load_input(args.input, args.ema)
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
        labels = stated["labels"]
        if len(labels) != num_classes:
            raise ConvertError("the metadata of %s has %d labels but the model has %d classes"
                               % (args.input, len(labels), num_classes))
        reused.append("labels")
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
        description="Convert a PyTorch MobileNeXt checkpoint to safetensors (float32, "
                    "official tensor names, metadata describing the network).")
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
