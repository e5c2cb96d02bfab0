#!/usr/bin/python3
"""The shipped Fashion-MNIST detector on its held-out test canvases, in C++ and in PyTorch.

Regenerates the 2000 test canvases (tools/make_detection_canvases.py, from the Fashion-MNIST
test images only, seed 0), runs `mobilenext detect MODEL CANVAS.png ... --json D.json` (the
image path: decoding, the file's preprocessing), rebuilds the detector in PyTorch from the same
file (tools/ssdlite_torch.py) and computes VOC mAP@0.5 (tools/detection_map.py) of both.
Passes when the two are within 0.5 points of each other and of the figure in
models/fashion_mnist_detector.json.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import detection_map  # noqa: E402
import safetensors_io  # noqa: E402
import ssdlite_torch as ssd  # noqa: E402
import train_detector  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(ROOT, "models", "fashion_mnist_detector.safetensors")
METRICS = os.path.join(ROOT, "models", "fashion_mnist_detector.json")
TOLERANCE = 0.005


def pytorch_detector(path):
    tensors, meta = safetensors_io.load_file(path)
    config = json.loads(meta["mobilenext.detector"])
    config["num_classes"] = int(meta["mobilenext.num_classes"])
    config["labels"] = json.loads(meta["mobilenext.labels"]) if "mobilenext.labels" in meta else None
    model = ssd.SSDLiteMobileNeXt(float(meta["mobilenext.width"]), config)
    state = model.state_dict()
    state.update({k: torch.as_tensor(v) for k, v in tensors.items()})
    model.load_state_dict(state)
    return model.eval(), config


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cli", required=True, help="the mobilenext executable")
    p.add_argument("--model", default=MODEL)
    p.add_argument("--count", type=int, default=2000)
    args = p.parse_args()
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as work:
        test = os.path.join(work, "test")
        subprocess.run([sys.executable, os.path.join(ROOT, "tools", "make_detection_canvases.py"), "--split", "test",
                        "--count", str(args.count), "--out", test], check=True, stdout=subprocess.DEVNULL)
        gt, images = train_detector.load_canvases(test)
        files = [os.path.join(test, r["file"]) for r in gt["images"]]
        out = os.path.join(work, "cpp.json")
        subprocess.run([args.cli, "detect", args.model] + files + ["--json", out], check=True, stdout=subprocess.DEVNULL)
        with open(out, encoding="utf-8") as f:
            cpp = detection_map.voc_map(gt, json.load(f))
        model, config = pytorch_detector(args.model)
        torch_result = detection_map.voc_map(gt, train_detector.run_detection(model, config, images))
    with open(METRICS, encoding="utf-8") as f:
        stored = json.load(f)["mAP@0.5_pytorch"]
    print("mAP@0.5 on %d test canvases: C++ %.4f, PyTorch %.4f (shipped figure %.4f)"
          % (args.count, cpp["mAP"], torch_result["mAP"], stored))
    for name, c in cpp["per_class"].items():
        print("  %-12s C++ %.4f  PyTorch %.4f" % (name, c["ap"], torch_result["per_class"][name]["ap"]))
    ok = abs(cpp["mAP"] - torch_result["mAP"]) <= TOLERANCE
    if args.count == 2000:
        ok = ok and abs(cpp["mAP"] - stored) <= TOLERANCE
    print("ok" if ok else "FAIL: the C++ and PyTorch figures differ by more than %.1f points" % (100 * TOLERANCE))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
