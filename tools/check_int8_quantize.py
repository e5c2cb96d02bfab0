#!/usr/bin/env python3
"""`mobilenext quantize` end to end on the shipped Fashion-MNIST model.

Writes 256 training images (drawn with a fixed seed, never test images) preprocessed as the
model file says into an NCHW float32 .npy, quantizes the model on it with the command-line
tool, and runs the int8 file through `info`, `evaluate` (with the float file alongside, to
compare top-1 answers), `classify`, `run` and `bench`. Fails unless the int8 model reaches
92.2% on the 10,000 test images and gives float's top-1 on at least 99% of them; also
quantizes from a folder of images (the calibration path `classify`'s image reading serves).

  check_int8_quantize.py --cli BUILD/mobilenext --model MODEL --data-dir DIR --samples IMAGES_DIR
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fashion_mnist as fm  # noqa: E402
import safetensors_io  # noqa: E402

CALIBRATION_IMAGES = 256
MIN_ACCURACY = 0.922
MIN_AGREEMENT = 0.99


def run(cmd):
    print("$ " + " ".join(cmd), flush=True)
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    print(r.stdout, end="", flush=True)
    if r.returncode != 0:
        raise SystemExit("FAILED: exit code %d" % r.returncode)
    return r.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cli", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--samples", required=True, help="folder of sample images")
    args = ap.parse_args()

    _, meta = safetensors_io.read_header(args.model)[:2]
    pre = json.loads(meta["mobilenext.preprocess"])
    images, _ = fm.load_split(args.data_dir, "train")
    rng = np.random.default_rng(2020)
    pick = rng.choice(len(images), CALIBRATION_IMAGES, replace=False)
    batch = fm.eval_inputs(images[pick], pre).numpy().astype(np.float32)
    _, labels = fm.load_split(args.data_dir, "t10k")

    with tempfile.TemporaryDirectory() as work:
        calibration = os.path.join(work, "calibration.npy")
        np.save(calibration, batch)
        int8 = os.path.join(work, "int8.safetensors")
        out = run([args.cli, "quantize", args.model, "-o", int8, "--calibration", calibration])
        if "observer minmax" not in out or "256 images" not in out:
            raise SystemExit("FAILED: quantize does not say what it did")

        info = run([args.cli, "info", int8, "--size", "40x40"])
        if "int8:" not in info or "kernels: int8 " not in info:
            raise SystemExit("FAILED: info does not say the model is int8")

        logits = {}
        for name, path in (("float", args.model), ("int8", int8)):
            predictions = os.path.join(work, name + ".npy")
            run([args.cli, "evaluate", path, "--fashion-mnist", args.data_dir, "--predictions", predictions])
            logits[name] = np.load(predictions)
        top1 = {k: v.argmax(1) for k, v in logits.items()}
        accuracy = float((top1["int8"] == labels).mean())
        agreement = float((top1["int8"] == top1["float"]).mean())
        print("int8 accuracy %.4f (float %.4f), the same top-1 as float on %.4f"
              % (accuracy, float((top1["float"] == labels).mean()), agreement))
        if accuracy < MIN_ACCURACY or agreement < MIN_AGREEMENT:
            raise SystemExit("FAILED: int8 must reach %.3f and agree with float on %.2f"
                             % (MIN_ACCURACY, MIN_AGREEMENT))

        samples = sorted(os.path.join(args.samples, f) for f in os.listdir(args.samples))[:4]
        run([args.cli, "classify", int8] + samples)
        x = os.path.join(work, "x.npy")
        np.save(x, batch[:5])
        y = os.path.join(work, "y.npy")
        run([args.cli, "run", int8, "--input", x, "--output", y, "--threads", "2"])
        if np.load(y).shape != (5, 10):
            raise SystemExit("FAILED: run wrote logits of shape %s" % (np.load(y).shape,))
        run([args.cli, "bench", int8, "--size", "40x40", "--runs", "5", "--warmup", "1"])

        from_images = os.path.join(work, "int8_images.safetensors")
        run([args.cli, "quantize", args.model, "-o", from_images, "--calibration", args.samples,
             "--method", "percentile", "--samples", "8"])
    print("OK")


if __name__ == "__main__":
    main()
