#!/usr/bin/python3
"""Parity of the C++ engine with live PyTorch, end to end through the user's path.

For each case: build a MobileNeXt with random weights and randomised BatchNorm statistics
(mobilenext_torch), save it as a training checkpoint in its layout's own names, convert it
with tools/convert.py, run `mobilenext run` on inputs of several sizes, and compare with
PyTorch's logits: max abs difference <= 1e-4 x max(1, max |logit|) and the same top-1.

  parity_check.py --cli build/examples/mobilenext --width 0.35 --identity-divs 1,2,6 \
      --sizes 2x224x224,1x97x131 [--layout official] [--work-dir DIR]
"""

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

TOOLS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS)

import mobilenext_torch as mx  # noqa: E402


def parse_sizes(text):
    sizes = []
    for item in text.split(","):
        n, h, w = (int(v) for v in item.lower().split("x"))
        sizes.append((n, h, w))
    return sizes


def compare(expected, actual):
    """Returns (ok, message)."""
    if expected.shape != actual.shape:
        return False, "shape %s, expected %s" % (actual.shape, expected.shape)
    scale = max(1.0, float(np.abs(expected).max()))
    diff = float(np.abs(expected - actual).max())
    top1_same = bool((expected.argmax(axis=1) == actual.argmax(axis=1)).all())
    ok = diff <= 1e-4 * scale and top1_same
    return ok, "max|diff| %.3g (tolerance %.3g), top-1 %s" % (
        diff, 1e-4 * scale, "equal" if top1_same else "DIFFERENT")


def run_case(args, layout, width, divisor, sizes, work):
    name = "%s width %g divisor %d" % (layout, width, divisor)
    seed = int(width * 1000) + divisor
    model = mx.build_model(layout, width, divisor, args.num_classes, 3)
    mx.randomize_weights(model, torch.Generator().manual_seed(seed))
    model.eval()
    checkpoint = os.path.join(work, "model.pth.tar")
    state = {"module." + k: v.detach().clone() for k, v in model.state_dict().items()}
    torch.save({"state_dict": state, "epoch": 1, "arch": "mobilenext"}, checkpoint)
    converted = os.path.join(work, "model.safetensors")
    subprocess.run([sys.executable, os.path.join(TOOLS, "convert.py"), checkpoint, "-o", converted,
                    "--identity-div", str(divisor)], check=True, stdout=subprocess.DEVNULL)
    failures = 0
    for n, h, w in sizes:
        x = torch.randn(n, 3, h, w, generator=torch.Generator().manual_seed(seed + h * w))
        with torch.no_grad():
            expected = model(x).numpy()
        in_path, out_path = os.path.join(work, "input.npy"), os.path.join(work, "logits.npy")
        np.save(in_path, x.numpy().astype(np.float32))
        subprocess.run([args.cli, "run", converted, "--input", in_path, "--output", out_path], check=True,
                       stdout=subprocess.DEVNULL)
        ok, message = compare(expected, np.load(out_path))
        print("%s %s, input %dx3x%dx%d: %s" % ("ok  " if ok else "FAIL", name, n, h, w, message), flush=True)
        failures += not ok
    return failures


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cli", required=True, help="path of the mobilenext executable")
    p.add_argument("--width", type=float, nargs="+", required=True)
    p.add_argument("--identity-divs", default="1")
    p.add_argument("--layout", choices=list(mx.LAYOUTS), default=mx.LAYOUT_OFFICIAL)
    p.add_argument("--sizes", default="2x224x224,1x97x131")
    p.add_argument("--num-classes", type=int, default=1000)
    p.add_argument("--work-dir")
    args = p.parse_args()
    torch.set_num_threads(1)
    failures = 0
    with tempfile.TemporaryDirectory(dir=args.work_dir) as work:
        for width in args.width:
            for divisor in (int(d) for d in args.identity_divs.split(",")):
                failures += run_case(args, args.layout, width, divisor, parse_sizes(args.sizes), work)
    print("%d failure(s)" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
