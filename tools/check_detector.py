#!/usr/bin/python3
"""Parity of the C++ detector (`mobilenext detect`) with live PyTorch (ssdlite_torch.py).

  check_detector.py --cli build/examples/mobilenext [--quick] [--work-dir DIR]
  check_detector.py --self-test [--quick]

For each case: a random SSDLite-MobileNeXt (ssdlite_torch.random_detector, a seed of its own)
of width 1.0 or 0.5 under the voc or coco configuration is saved as the authors' training
checkpoint {'model': state_dict, 'optimizer': {}, 'iteration': 0} and converted with
tools/convert.py (no options for voc, --config coco for coco; the width 1.0 models also with
--labels).  Batches of 1 and 2 images of 320x320 and 256x384 (torch.randn) go through

  CLI detect MODEL.safetensors --input X.npy --scores S.npy --boxes B.npy --json D.json

and are compared with the reference:
  * scores [N, P, K] (after softmax or sigmoid) and boxes [N, P, 4] (decoded corners relative
    to the input, not clipped): max |difference| <= 1e-4 each, or, where PyTorch's own float32
    rounding is larger than that, C++ no further from a float64 evaluation than 2 times
    PyTorch's float32 (both distances printed);
  * detections (D.json: one list per image, best first, of {"box": [x1, y1, x2, y2] in the
    input's pixels, "label", "name", "score"}) against ssdlite_torch.detect: a detection is
    found when the other side has one, not matched before, of the same label, |score
    difference| <= 1e-3 and IoU > 0.99.  At least 95% of PyTorch's detections must be found
    in C++'s, and 95% of C++'s in PyTorch's; scores must not increase down a list; with
    labels the name must be the label's.
One more case goes through an image: a 320x320 RGB PNG (no resize), `CLI detect MODEL
image.png --json D.json --scores S.npy --boxes B.npy`, against the reference fed with
(pixel - pixel_mean) / pixel_std of the file's mobilenext.preprocess; boxes in the image's
pixels.  --quick: only width 0.5, voc, 1x320x320, and the image.

--self-test checks this script without the C++ tool: the same cases run against a stand-in
written here in Python (this script with --stand-in: the model rebuilt from the converted
file, cv2 for the image, and a per-class NMS written from the definition, not torchvision's),
ssdlite_torch.detect is compared with that NMS exactly, and the comparison is shown to fail
on altered outputs.
"""

import argparse
import copy
import heapq
import json
import os
import struct
import subprocess
import sys
import tempfile
import zlib

import numpy as np
import torch

TOOLS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS)

import safetensors_io  # noqa: E402
import ssdlite_torch as ssd  # noqa: E402

OUTPUT_TOLERANCE = 1e-4   # scores and boxes, max |difference|
FLOAT32_MARGIN = 2.0      # beyond it: C++'s distance from float64 at most this times PyTorch's
SCORE_MATCH = 1e-3        # a detection's score
IOU_MATCH = 0.99          # a detection's box
MIN_FOUND = 0.95          # fraction of detections found on the other side
MISMATCHES_SHOWN = 8

VOC_NAMES = ["background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car",
             "cat", "chair", "cow", "diningtable", "dog", "horse", "motorbike", "person",
             "pottedplant", "sheep", "sofa", "train", "tvmonitor"]
# COCO's 81 columns under sigmoid scores report labels 1..81: 82 names with the background.
COCO_NAMES = ["background"] + ["coco_class_%d" % i for i in range(1, 82)]

FULL_MODELS = [(1.0, "voc"), (0.5, "voc"), (1.0, "coco"), (0.5, "coco")]
FULL_INPUTS = [(1, 320, 320), (2, 320, 320), (1, 256, 384), (2, 256, 384)]
QUICK_MODELS = [(0.5, "voc")]
QUICK_INPUTS = [(1, 320, 320)]
IMAGE_SIZE = (320, 320)


# ---------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------

def write_png(path, rgb):
    """An 8-bit RGB PNG of ``rgb`` [H, W, 3] uint8 (no filtering, zlib level 6)."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    h, w, _ = rgb.shape
    raw = b"".join(b"\0" + rgb[i].tobytes() for i in range(h))

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw, 6)))
        f.write(chunk(b"IEND", b""))


def test_image(seed, height, width):
    """Smooth colour regions with some noise: blocks of a coarse random grid, upsampled."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, size=(height // 32 + 1, width // 32 + 1, 3)).astype(np.float64)
    ys = np.linspace(0, coarse.shape[0] - 1, height)
    xs = np.linspace(0, coarse.shape[1] - 1, width)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, coarse.shape[0] - 1), np.minimum(x0 + 1, coarse.shape[1] - 1)
    fy, fx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
    img = ((1 - fy) * ((1 - fx) * coarse[y0][:, x0] + fx * coarse[y0][:, x1])
           + fy * ((1 - fx) * coarse[y1][:, x0] + fx * coarse[y1][:, x1]))
    img += rng.normal(0, 12, size=img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def file_metadata(path):
    return safetensors_io.read_header(path)[1] or {}


def read_detections(path, images):
    """D.json as per image [(box, label, score, name)]; raises ValueError on a bad format."""
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    if not isinstance(doc, list) or len(doc) != images:
        raise ValueError("expected a list of %d per-image lists, found %s"
                         % (images, type(doc).__name__ if not isinstance(doc, list)
                            else "%d entries" % len(doc)))
    out = []
    for i, dets in enumerate(doc):
        if not isinstance(dets, list):
            raise ValueError("image %d: expected a list of detections, found %s" % (i, type(dets).__name__))
        items = []
        for j, d in enumerate(dets):
            ok = (isinstance(d, dict) and isinstance(d.get("box"), list) and len(d["box"]) == 4
                  and all(isinstance(v, (int, float)) for v in d["box"])
                  and isinstance(d.get("label"), int) and isinstance(d.get("score"), (int, float))
                  and isinstance(d.get("name"), str))
            if not ok:
                raise ValueError("image %d, detection %d: expected {\"box\": [4 numbers], "
                                 "\"label\": int, \"name\": str, \"score\": number}, found %s"
                                 % (i, j, json.dumps(d)[:200]))
            items.append(([float(v) for v in d["box"]], d["label"], float(d["score"]), d["name"]))
        out.append(items)
    return out


# ---------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------

def iou(a, b):
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(iw, 0.0) * max(ih, 0.0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def find(wanted, pool):
    """(number of ``wanted`` detections found in ``pool``, the ones not found); one detection
    of ``pool`` answers at most one of ``wanted``, the closest in score."""
    used = [False] * len(pool)
    missing = []
    for box, label, score in wanted:
        best = None
        for k, (b, l, s) in enumerate(pool):
            if used[k] or l != label or abs(s - score) > SCORE_MATCH:
                continue
            if iou(box, b) > IOU_MATCH and (best is None or abs(s - score) < abs(pool[best][2] - score)):
                best = k
        if best is None:
            missing.append((box, label, score))
        else:
            used[best] = True
    return len(wanted) - len(missing), missing


def fraction(found, total):
    return 1.0 if total == 0 else found / total


def compare_outputs(ref, actual, labels, max_detections):
    """(ok, summary, details): ``ref`` and ``actual`` hold scores, boxes and detections."""
    problems, details = [], []
    diffs = {}
    for key in ("scores", "boxes"):
        e, a = ref[key], actual[key]
        if tuple(a.shape) != tuple(e.shape):
            problems.append("%s shape %s, expected %s" % (key, list(a.shape), list(e.shape)))
            diffs[key] = float("inf")
            continue
        a = a.astype(np.float64)
        diffs[key] = float(np.abs(a - e).max()) if e.size else 0.0
        if not np.isfinite(a).all():
            problems.append("%s not all finite" % key)
        elif not diffs[key] <= OUTPUT_TOLERANCE:
            # Beyond 1e-4 the difference may be PyTorch's own float32 rounding (random
            # detectors amplify it through BatchNorms of tiny variances): then both sides are
            # compared with the float64 evaluation, and C++ must be no further from it than
            # PyTorch's float32 is (times 1.5).
            exact = ref.get(key + "64")
            own = float(np.abs(a - exact).max()) if exact is not None else float("inf")
            torch_own = float(np.abs(e - exact).max()) if exact is not None else 0.0
            details.append("%s: max|diff| %.3g; from float64: C++ %.3g, PyTorch float32 %.3g"
                           % (key, diffs[key], own, torch_own))
            if not own <= max(OUTPUT_TOLERANCE, FLOAT32_MARGIN * torch_own):
                problems.append("%s max|diff| %.3g > %.3g, and C++ is %.3g from float64 where PyTorch's "
                                "float32 is %.3g" % (key, diffs[key], OUTPUT_TOLERANCE, own, torch_own))
    n_ref = n_act = found_ref = found_act = 0
    for i, (want, got) in enumerate(zip(ref["detections"], actual["detections"])):
        plain = [(b, l, s) for b, l, s, _ in got]
        if len(got) > max_detections:
            problems.append("image %d: %d detections, more than %d" % (i, len(got), max_detections))
        if any(plain[k + 1][2] > plain[k][2] for k in range(len(plain) - 1)):
            problems.append("image %d: detections not sorted best first" % i)
        if labels is not None:
            wrong = [(l, n) for _, l, _, n in got if not (0 <= l < len(labels) and labels[l] == n)]
            if wrong:
                problems.append("image %d: %d names are not their label's (label %d named %r)"
                                % (i, len(wrong), wrong[0][0], wrong[0][1]))
        f, missing = find(want, plain)
        g, extra = find(plain, want)
        n_ref, n_act = n_ref + len(want), n_act + len(plain)
        found_ref, found_act = found_ref + f, found_act + g
        for box, label, score in missing[:MISMATCHES_SHOWN]:
            details.append("image %d: PyTorch's label %d score %.6f box %s not in C++'s"
                           % (i, label, score, ["%.2f" % v for v in box]))
        for box, label, score in extra[:MISMATCHES_SHOWN]:
            details.append("image %d: C++'s label %d score %.6f box %s not in PyTorch's"
                           % (i, label, score, ["%.2f" % v for v in box]))
    ref_frac, act_frac = fraction(found_ref, n_ref), fraction(found_act, n_act)
    if ref_frac < MIN_FOUND:
        problems.append("%.3f of PyTorch's detections found in C++'s" % ref_frac)
    if act_frac < MIN_FOUND:
        problems.append("%.3f of C++'s detections found in PyTorch's" % act_frac)
    summary = ("scores max|diff| %.3g, boxes max|diff| %.3g, detections: %d/%d of PyTorch's found "
               "(%.3f), %d/%d of C++'s (%.3f)"
               % (diffs["scores"], diffs["boxes"], found_ref, n_ref, ref_frac, found_act, n_act, act_frac))
    if problems:
        summary += "; " + "; ".join(problems)
    return not problems, summary, details


# ---------------------------------------------------------------------------
# Reference
# ---------------------------------------------------------------------------

def reference(model, config, x, height, width):
    """scores, boxes (float64 arrays) and ssdlite_torch.detect's detections for ``x``; the
    detections' boxes are scaled to ``height`` x ``width`` pixels."""
    h, w = x.shape[2], x.shape[3]
    with torch.no_grad():
        cls, reg = model(x)
        prior = ssd.priors(config, ssd.map_sizes(model, h, w), h, w)
        scores, boxes = ssd.scores_and_boxes(config, cls, reg, prior)
    dets = ssd.detect(config, scores, boxes, height, width)
    # The same network in float64: how far float32 rounding alone moves PyTorch's own outputs.
    exact = copy.deepcopy(model).double()
    with torch.no_grad():
        cls64, reg64 = exact(x.double())
        scores64, boxes64 = ssd.scores_and_boxes(config, cls64, reg64, prior.double())
    return {"scores": scores.double().numpy(), "boxes": boxes.double().numpy(), "detections": dets,
            "scores64": scores64.numpy(), "boxes64": boxes64.numpy()}


def naive_detect(config, scores, boxes, height, width):
    """Per image [(box, label, score)] from the definition: every (prior, class) pair above the
    threshold (not class 0 under softmax), greedy NMS within each class, highest score first,
    suppressing IoU > nms_iou; the best max_detections overall, best first.  Classes are
    processed one after another, and a class stops at the first candidate scoring below the
    max_detections-th best kept so far: nothing lower can be among the best."""
    softmax = config["score"] == "softmax"
    threshold, nms_iou, limit = config["threshold"], config["nms_iou"], config["max_detections"]
    scale = np.array([width, height, width, height], dtype=np.float32)
    results = []
    for s, b in zip(np.asarray(scores, dtype=np.float32), np.asarray(boxes, dtype=np.float32)):
        pixels = b * scale
        kept, best = [], []  # best: heap of the `limit` highest kept scores
        for column in range(1 if softmax else 0, s.shape[1]):
            label = column if softmax else column + 1
            idx = np.nonzero(s[:, column] > threshold)[0]
            order = idx[np.argsort(-s[idx, column], kind="stable")]
            bx = pixels[order].astype(np.float64)
            area = (bx[:, 2] - bx[:, 0]) * (bx[:, 3] - bx[:, 1])
            alive = np.ones(len(order), dtype=bool)
            for i in range(len(order)):
                score = float(s[order[i], column])
                if len(best) == limit and score < best[0]:
                    break
                if not alive[i]:
                    continue
                kept.append((pixels[order[i]].tolist(), label, score))
                if len(best) < limit:
                    heapq.heappush(best, score)
                else:
                    heapq.heappushpop(best, score)
                rest = i + 1 + np.nonzero(alive[i + 1:])[0]
                iw = np.clip(np.minimum(bx[i, 2], bx[rest, 2]) - np.maximum(bx[i, 0], bx[rest, 0]), 0, None)
                ih = np.clip(np.minimum(bx[i, 3], bx[rest, 3]) - np.maximum(bx[i, 1], bx[rest, 1]), 0, None)
                inter = iw * ih
                overlap = inter / (area[i] + area[rest] - inter)
                alive[rest[overlap > nms_iou]] = False
        kept.sort(key=lambda d: -d[2])
        results.append(kept[:limit])
    return results


# ---------------------------------------------------------------------------
# The stand-in for `mobilenext detect` / `info` (--self-test)
# ---------------------------------------------------------------------------

def load_converted(path):
    """(model, config, metadata) rebuilt from a converted detector file."""
    tensors, meta = safetensors_io.load_file(path)
    config = json.loads(meta["mobilenext.detector"])
    config["num_classes"] = int(meta["mobilenext.num_classes"])
    model = ssd.SSDLiteMobileNeXt(float(meta["mobilenext.width"]), config)
    state = model.state_dict()
    for k in state:
        if not k.endswith("num_batches_tracked"):
            state[k] = tensors[k]
    model.load_state_dict(state, strict=True)
    model.eval()
    return model, config, meta


def stand_in(argv):
    p = argparse.ArgumentParser(prog="check_detector.py --stand-in")
    p.add_argument("command", choices=["detect", "info"])
    p.add_argument("model")
    p.add_argument("image", nargs="?")
    p.add_argument("--input")
    p.add_argument("--scores")
    p.add_argument("--boxes")
    p.add_argument("--json")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    model, config, meta = load_converted(args.model)
    if args.command == "info":
        import convert
        tv = json.loads(meta["mobilenext.test_vector"])
        count = int(np.prod(tv["input_shape"]))
        x = torch.from_numpy(convert.test_vector_input(tv["input_seed"], count)).reshape(tv["input_shape"])
        out = reference(model, config, x, x.shape[2], x.shape[3])
        err = max(np.abs(out[k].reshape(-1) - np.array(tv[k])).max() for k in ("scores", "boxes"))
        print("stand-in detector, width %s: test vector checked (max |difference| %.3g)"
              % (meta["mobilenext.width"], err))
        return 0 if err <= OUTPUT_TOLERANCE else 1
    if args.image is not None:
        import cv2
        bgr = cv2.imread(args.image, cv2.IMREAD_COLOR)
        rgb = bgr[:, :, ::-1]
        height, width = rgb.shape[:2]
        pre = json.loads(meta["mobilenext.preprocess"])
        sh, sw = pre["size"]
        if (height, width) != (sh, sw):
            rgb = cv2.resize(np.ascontiguousarray(rgb), (sw, sh), interpolation=cv2.INTER_LINEAR)
        x = normalise(rgb, pre)
    else:
        x = torch.from_numpy(np.load(args.input).astype(np.float32))
        height, width = x.shape[2], x.shape[3]
    h, w = x.shape[2], x.shape[3]
    with torch.no_grad():
        cls, reg = model(x)
        prior = ssd.priors(config, ssd.map_sizes(model, h, w), h, w)
        scores, boxes = ssd.scores_and_boxes(config, cls, reg, prior)
    if args.scores:
        np.save(args.scores, scores.numpy())
    if args.boxes:
        np.save(args.boxes, boxes.numpy())
    if args.json:
        labels = json.loads(meta["mobilenext.labels"]) if "mobilenext.labels" in meta else None
        doc = [[{"box": box, "label": label, "name": labels[label] if labels else str(label),
                 "score": score} for box, label, score in dets]
               for dets in naive_detect(config, scores.numpy(), boxes.numpy(), height, width)]
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(doc, f)
    return 0


def normalise(rgb, pre):
    """(pixel - pixel_mean) / pixel_std of an RGB uint8 image, as a [1, 3, H, W] tensor."""
    mean = np.array(pre["pixel_mean"], dtype=np.float32)
    std = np.array(pre["pixel_std"], dtype=np.float32)
    x = (rgb.astype(np.float32) - mean) / std
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)[None]))


# ---------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------

def run(cmd, cwd=None):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                       cwd=cwd)
    return r.returncode, r.stdout


def report(ok, name, summary, details=()):
    print("%s %s: %s" % ("ok  " if ok else "FAIL", name, summary), flush=True)
    for line in details:
        print("       " + line)
    return 0 if ok else 1


def prepare_model(cli, width, config_name, seed, work, with_labels):
    """(model, config, converted path, labels or None), or None after reporting a failure."""
    model = ssd.random_detector(width, config_name, seed)
    config = ssd.CONFIGS[config_name]
    ckpt = os.path.join(work, "ssd.pth")
    torch.save({"model": model.state_dict(), "optimizer": {}, "iteration": 0}, ckpt)
    out = os.path.join(work, "model.safetensors")
    options = []
    if config_name != "voc":
        options += ["--config", config_name]
    labels = None
    if with_labels:
        labels = VOC_NAMES if config_name == "voc" else COCO_NAMES
        with open(os.path.join(work, "labels.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(labels) + "\n")
        options += ["--labels", "labels.txt"]
    status, text = run([sys.executable, os.path.join(TOOLS, "convert.py"), "ssd.pth", "-o",
                        "model.safetensors"] + options, cwd=work)
    name = "width %s %s: convert.py %s" % (width, config_name, " ".join(options) or "(no options)")
    if status != 0:
        report(False, name, "exit status %d" % status, text.strip().splitlines())
        return None
    wrote = [line for line in text.splitlines() if line.startswith(("detector config", "wrote"))]
    report(True, name, "; ".join(line.replace(work + os.sep, "") for line in wrote))
    status, text = run(cli + ["info", out])
    first = next((line for line in text.splitlines() if "test vector" in line),
                 text.strip().splitlines()[0] if text.strip() else "")
    print("note `info`: exit status %d: %s" % (status, first.strip()), flush=True)
    return model, config, out, labels


def input_case(cli, model, config, converted, labels, n, h, w, seed, work, name):
    x = torch.randn(n, 3, h, w, generator=torch.Generator().manual_seed(seed)) * 1.0
    paths = {k: os.path.join(work, k) for k in ("X.npy", "S.npy", "B.npy", "D.json")}
    for p in paths.values():
        if os.path.exists(p):
            os.remove(p)
    np.save(paths["X.npy"], x.numpy().astype(np.float32))
    status, text = run(cli + ["detect", converted, "--input", paths["X.npy"], "--scores", paths["S.npy"],
                              "--boxes", paths["B.npy"], "--json", paths["D.json"]])
    if status != 0:
        return report(False, name, "`detect` exit status %d" % status, text.strip().splitlines()[-20:])
    ref = reference(model, config, x, h, w)
    return compare_files(ref, paths, n, labels, config, name)


def compare_files(ref, paths, n, labels, config, name):
    try:
        actual = {"scores": np.load(paths["S.npy"]), "boxes": np.load(paths["B.npy"]),
                  "detections": read_detections(paths["D.json"], n)}
    except (OSError, ValueError) as e:
        return report(False, name, "cannot read the outputs: %s" % e)
    ok, summary, details = compare_outputs(ref, actual, labels, config["max_detections"])
    return report(ok, name, summary, details)


def image_case(cli, model, config, converted, labels, seed, work):
    h, w = IMAGE_SIZE
    rgb = test_image(seed, h, w)
    image = os.path.join(work, "image.png")
    write_png(image, rgb)
    paths = {k: os.path.join(work, k) for k in ("S.npy", "B.npy", "D.json")}
    for p in paths.values():
        if os.path.exists(p):
            os.remove(p)
    name = "image %dx%d PNG through its preprocessing" % (w, h)
    status, text = run(cli + ["detect", converted, image, "--json", paths["D.json"],
                              "--scores", paths["S.npy"], "--boxes", paths["B.npy"]])
    if status != 0:
        return report(False, name, "`detect` exit status %d" % status, text.strip().splitlines()[-20:])
    pre = json.loads(file_metadata(converted)["mobilenext.preprocess"])
    if pre["size"] != [h, w]:
        return report(False, name, "the model's input size is %s, the image %dx%d: pick another"
                      % (pre["size"], h, w))
    ref = reference(model, config, normalise(rgb, pre), h, w)
    return compare_files(ref, paths, 1, labels, config, name)


def run_cases(cli, quick, work_dir):
    failures = 0
    models = QUICK_MODELS if quick else FULL_MODELS
    inputs = QUICK_INPUTS if quick else FULL_INPUTS
    image_done = False
    with tempfile.TemporaryDirectory(dir=work_dir) as work:
        for m, (width, config_name) in enumerate(models):
            seed = 101 + 10 * m
            prepared = prepare_model(cli, width, config_name, seed, work, with_labels=width == 1.0)
            if prepared is None:
                failures += 1
                continue
            model, config, converted, labels = prepared
            for k, (n, h, w) in enumerate(inputs):
                name = "width %s %s, input %dx3x%dx%d" % (width, config_name, n, h, w)
                failures += input_case(cli, model, config, converted, labels, n, h, w,
                                       seed * 100 + k, work, name)
            if not image_done and (width, config_name) == (0.5, "voc"):
                failures += image_case(cli, model, config, converted, labels, seed, work)
                image_done = True
    return failures


# ---------------------------------------------------------------------------
# Self-test
# ---------------------------------------------------------------------------

def same_detections(a, b):
    """Exactly the same detections (order of equal scores aside)."""
    key = lambda d: (-d[2], d[1], tuple(d[0]))  # noqa: E731
    a, b = sorted(a, key=key), sorted(b, key=key)
    return len(a) == len(b) and all(
        x[1] == y[1] and abs(x[2] - y[2]) <= 1e-7 and max(abs(p - q) for p, q in zip(x[0], y[0])) <= 1e-3
        for x, y in zip(a, b))


def self_test(quick, work_dir):
    failures = 0
    # 1. torchvision's NMS in ssdlite_torch.detect against the one written here
    cases = [(0.5, "voc", 1, 320, 320), (0.5, "coco", 2, 256, 384)]
    if not quick:
        cases += [(1.0, "voc", 2, 256, 384), (1.0, "coco", 1, 320, 320)]
    for width, config_name, n, h, w in cases:
        model = ssd.random_detector(width, config_name, 7)
        config = ssd.CONFIGS[config_name]
        x = torch.randn(n, 3, h, w, generator=torch.Generator().manual_seed(8))
        ref = reference(model, config, x, h, w)
        strict = dict(config, threshold=0.3, nms_iou=0.3)
        for label, cfg in (("", config), (", confidence 0.3, NMS 0.3", strict)):
            dets = ref["detections"]
            if cfg is strict:
                dets = ssd.detect(cfg, torch.from_numpy(ref["scores"]).float(),
                                  torch.from_numpy(ref["boxes"]).float(), h, w)
            naive = naive_detect(cfg, ref["scores"], ref["boxes"], h, w)
            same = sum(same_detections(a, b) for a, b in zip(dets, naive))
            counts = "/".join(str(len(d)) for d in dets)
            failures += report(same == n, "self-test: ssdlite_torch.detect = naive NMS, width %s %s "
                               "%dx3x%dx%d%s" % (width, config_name, n, h, w, label),
                               "%d of %d images identical (%s detections)" % (same, n, counts))

    # 2. the comparison fails on altered outputs
    model = ssd.random_detector(0.5, "voc", 9)
    config = ssd.CONFIGS["voc"]
    x = torch.randn(2, 3, 320, 320, generator=torch.Generator().manual_seed(10))
    ref = reference(model, config, x, 320, 320)

    def as_actual(dets, names=VOC_NAMES):
        return [[(list(b), l, s, names[l]) for b, l, s in d] for d in dets]

    good = {"scores": ref["scores"].astype(np.float32), "boxes": ref["boxes"].astype(np.float32),
            "detections": as_actual(ref["detections"])}
    ok, summary, _ = compare_outputs(ref, good, VOC_NAMES, 100)
    failures += report(ok, "self-test: the reference's own outputs pass", summary)
    altered = []
    shifted = dict(good, scores=good["scores"] + 2e-4)
    altered.append(("scores off by 2e-4", shifted))
    altered.append(("boxes of the wrong shape", dict(good, boxes=good["boxes"][:, :-1])))
    fewer = [d[: int(len(d) * 0.9)] for d in ref["detections"]]
    altered.append(("10% of the detections missing", dict(good, detections=as_actual(fewer))))
    relabelled = [[(b, l % 20 + 1, s) for b, l, s in d] for d in ref["detections"]]
    altered.append(("labels changed", dict(good, detections=as_actual(relabelled))))
    moved = [[([v + 3.0 for v in b], l, s) for b, l, s in d] for d in ref["detections"]]
    altered.append(("boxes moved by 3 pixels", dict(good, detections=as_actual(moved))))
    rescored = [[(b, l, s + 2e-3) for b, l, s in d] for d in ref["detections"]]
    altered.append(("detection scores off by 2e-3", dict(good, detections=as_actual(rescored))))
    unsorted = [list(reversed(d)) for d in ref["detections"]]
    altered.append(("detections worst first", dict(good, detections=as_actual(unsorted))))
    misnamed = [[(b, l, s, VOC_NAMES[(l + 1) % 21]) for b, l, s in d] for d in ref["detections"]]
    altered.append(("names not the labels'", dict(good, detections=misnamed)))
    for what, actual in altered:
        ok, summary, _ = compare_outputs(ref, actual, VOC_NAMES, 100)
        failures += report(not ok, "self-test: the comparison refuses %s" % what, summary)

    # 3. the PNG writer, read back by OpenCV
    try:
        import cv2
    except ImportError:
        cv2 = None
    with tempfile.TemporaryDirectory(dir=work_dir) as work:
        rgb = test_image(3, 37, 53)
        path = os.path.join(work, "t.png")
        write_png(path, rgb)
        if cv2 is not None:
            back = cv2.imread(path, cv2.IMREAD_COLOR)[:, :, ::-1]
            failures += report(np.array_equal(back, rgb), "self-test: write_png read back by OpenCV",
                               "%dx%d, max |difference| %d" % (53, 37, int(np.abs(back.astype(int) - rgb).max())))
        else:
            print("note: no cv2; the PNG writer is not checked", flush=True)

    # 4. the cases, against the stand-in
    print("self-test: the cases against the Python stand-in for `mobilenext`", flush=True)
    failures += run_cases([sys.executable, os.path.abspath(__file__), "--stand-in"], quick, work_dir)
    return failures


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--stand-in":
        return stand_in(sys.argv[2:])
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--cli", help="path of the mobilenext executable")
    g.add_argument("--self-test", action="store_true",
                   help="check this script against a Python stand-in for the executable")
    p.add_argument("--quick", action="store_true",
                   help="only width 0.5, voc, one 320x320 image, and the PNG case")
    p.add_argument("--work-dir")
    args = p.parse_args()
    torch.set_num_threads(1)
    if args.self_test:
        failures = self_test(args.quick, args.work_dir)
    else:
        failures = run_cases([args.cli], args.quick, args.work_dir)
    print("%d failure(s)" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
