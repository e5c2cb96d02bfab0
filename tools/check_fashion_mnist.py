#!/usr/bin/python3
"""The shipped Fashion-MNIST model: C++ against PyTorch over the test set, and on sample images.

  check_fashion_mnist.py testset --cli build/examples/mobilenext [--model M] [--data-dir D]
      PyTorch, rebuilt from the safetensors file alone (tools/mobilenext_torch.py, BatchNorm
      unfolded), classifies the 10,000 test images with exactly the preprocessing the file's
      metadata states; `mobilenext evaluate --predictions` does the same in C++. Checks:
      equal predictions on >= 99.9% of the images, accuracies within 0.1 point, PyTorch
      accuracy >= 92.0%.

  check_fashion_mnist.py samples --cli build/examples/mobilenext [--model M] [IMAGE_DIR]
      `mobilenext classify` on the sample PNGs (named INDEX_CLASS.png): the top class must
      be the one in the name for most of them (--min-correct, a fraction).
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import torch

TOOLS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TOOLS)
sys.path.insert(0, TOOLS)

import fashion_mnist as fm  # noqa: E402
import mobilenext_torch as mx  # noqa: E402
import safetensors_io  # noqa: E402

DEFAULT_MODEL = os.path.join(ROOT, "models", "fashion_mnist_mobilenext.safetensors")
DEFAULT_SAMPLES = os.path.join(ROOT, "examples", "images", "fashion_mnist")


def load_torch_model(path):
    """(PyTorch model in eval mode, metadata) from a converted file; no checkpoint needed."""
    tensors, meta = safetensors_io.load_file(path)
    model = mx.build_model(meta["mobilenext.layout"], float(meta["mobilenext.width"]),
                           int(meta["mobilenext.identity_div"]), int(meta["mobilenext.num_classes"]),
                           int(meta["mobilenext.in_channels"]))
    if model.layout == mx.LAYOUT_THIRD_PARTY:  # the file always uses the official head name
        tensors = {("classifier" + k[len("classifier.1"):] if k.startswith("classifier.1.") else k): v
                   for k, v in tensors.items()}
    result = model.load_state_dict(tensors, strict=False)
    # The converter drops num_batches_tracked (unused in eval mode); nothing else may differ.
    missing = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
    if missing or result.unexpected_keys:
        raise SystemExit("%s: missing tensors %s, unexpected tensors %s"
                         % (path, missing, result.unexpected_keys))
    model.eval()
    return model, meta


def check_testset(args):
    torch.set_num_threads(2)
    model, meta = load_torch_model(args.model)
    pre = json.loads(meta["mobilenext.preprocess"])
    labels = json.loads(meta.get("mobilenext.labels", "null")) or ["class %d" % i for i in range(10)]
    images, y = fm.load_split(args.data_dir, "t10k")
    if args.limit:
        images, y = images[:args.limit], y[:args.limit]
    x = fm.eval_inputs(images, pre)
    if model.in_channels == 3:
        x = x.expand(-1, 3, -1, -1)
    with torch.no_grad():
        torch_logits = torch.cat([model(x[i:i + 500]) for i in range(0, len(x), 500)]).numpy()
    torch_pred = torch_logits.argmax(1)

    with tempfile.TemporaryDirectory() as work:
        out = os.path.join(work, "logits.npy")
        cmd = [args.cli, "evaluate", args.model, "--fashion-mnist", args.data_dir, "--predictions", out]
        if args.limit:
            cmd += ["--limit", str(args.limit)]
        run = subprocess.run(cmd, stdout=subprocess.PIPE, universal_newlines=True)
        print(run.stdout, end="")
        if run.returncode != 0:
            print("FAIL: %s exited with %d" % (" ".join(cmd), run.returncode))
            return 1
        cpp_logits = np.load(out)
    if cpp_logits.shape != torch_logits.shape:
        print("FAIL: C++ logits have shape %s, PyTorch's %s" % (cpp_logits.shape, torch_logits.shape))
        return 1
    cpp_pred = cpp_logits.argmax(1)
    printed = re.search(r"^accuracy: ([0-9.]+)%", run.stdout, re.M)

    n = len(y)
    agree = float((cpp_pred == torch_pred).mean())
    acc_torch = float((torch_pred == y).mean())
    acc_cpp = float((cpp_pred == y).mean())
    print()
    print("PyTorch accuracy %.2f%%, C++ accuracy %.2f%% over %d images" % (100 * acc_torch, 100 * acc_cpp, n))
    print("predictions equal on %.3f%% (%d differ); max |logit difference| %.3g"
          % (100 * agree, int((cpp_pred != torch_pred).sum()), float(np.abs(cpp_logits - torch_logits).max())))
    for c, name in enumerate(labels):
        sel = y == c
        if sel.any():
            print("  %-12s PyTorch %6.2f%%  C++ %6.2f%%" % (name, 100 * (torch_pred[sel] == c).mean(),
                                                          100 * (cpp_pred[sel] == c).mean()))
    failures = []
    if agree < args.min_agreement:
        failures.append("predictions agree on %.3f%% < %.3f%%" % (100 * agree, 100 * args.min_agreement))
    if abs(acc_torch - acc_cpp) > args.max_accuracy_diff + 1e-12:
        failures.append("accuracies differ by %.3f points > %.3f" % (100 * abs(acc_torch - acc_cpp),
                                                                    100 * args.max_accuracy_diff))
    if acc_torch < args.min_accuracy:
        failures.append("PyTorch accuracy %.2f%% < %.2f%%" % (100 * acc_torch, 100 * args.min_accuracy))
    if printed is None or abs(float(printed.group(1)) - 100 * acc_cpp) > 0.005 + 1e-9:
        failures.append("the accuracy printed by evaluate does not match its logits")
    for f in failures:
        print("FAIL: " + f)
    if not failures:
        print("ok")
    return 1 if failures else 0


def check_samples(args):
    files = sorted(f for f in os.listdir(args.image_dir) if f.endswith(".png"))
    if not files:
        print("FAIL: no PNG files in %s" % args.image_dir)
        return 1
    paths = [os.path.join(args.image_dir, f) for f in files]
    run = subprocess.run([args.cli, "classify", args.model] + paths + ["--top", "1"],
                         stdout=subprocess.PIPE, universal_newlines=True)
    print(run.stdout, end="")
    if run.returncode != 0:
        print("FAIL: classify exited with %d" % run.returncode)
        return 1
    # Output: "PATH (WxH)" then "   1.  PROB%  INDEX  NAME" for each image.
    top = {}
    current = None
    for line in run.stdout.splitlines():
        m = re.match(r"^(\S.*) \(\d+x\d+\)$", line)
        if m:
            current = m.group(1)
            continue
        m = re.match(r"^\s+1\.\s+[0-9.]+%\s+\d+\s+(.+)$", line)
        if m and current is not None:
            top[current] = m.group(1)
    right = 0
    for path in paths:
        expected = re.match(r"^\d+_(.+)\.png$", os.path.basename(path)).group(1)
        got = top.get(path)
        ok = got is not None and fm.slug(got) == expected
        right += ok
        print("%s %s: %s" % ("ok  " if ok else "MISS", os.path.basename(path), got))
    need = args.min_correct * len(paths)
    print("%d of %d right (need %.0f)" % (right, len(paths), need))
    return 0 if right >= need else 1


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="what", required=True)
    t = sub.add_parser("testset")
    t.add_argument("--cli", required=True)
    t.add_argument("--model", default=DEFAULT_MODEL)
    t.add_argument("--data-dir", default=fm.DEFAULT_DIR)
    t.add_argument("--limit", type=int, default=None)
    t.add_argument("--min-agreement", type=float, default=0.999)
    t.add_argument("--max-accuracy-diff", type=float, default=0.001)
    t.add_argument("--min-accuracy", type=float, default=0.92)
    s = sub.add_parser("samples")
    s.add_argument("--cli", required=True)
    s.add_argument("--model", default=DEFAULT_MODEL)
    s.add_argument("--min-correct", type=float, default=0.75)
    s.add_argument("image_dir", nargs="?", default=DEFAULT_SAMPLES)
    args = p.parse_args()
    return check_testset(args) if args.what == "testset" else check_samples(args)


if __name__ == "__main__":
    sys.exit(main())
