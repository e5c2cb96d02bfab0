#!/usr/bin/env python3
"""`mobilenext quantize` end to end on the shipped Fashion-MNIST model.

Writes 256 training images (drawn with a fixed seed, never test images) preprocessed as the
model file says into an NCHW float32 .npy, quantizes the model on it with the command-line
tool, and runs the int8 file through `info`, `evaluate` (with the float file alongside, to
compare top-1 answers), `classify`, `run` and `bench`. Fails unless the int8 model reaches
92.2% on the 10,000 test images and gives float's top-1 on at least 99% of them; also
quantizes from a folder of images (the calibration path `classify`'s image reading serves).

  check_int8_quantize.py --cli BUILD/mobilenext --model MODEL --data-dir DIR --samples IMAGES_DIR
      [--shipped INT8_MODEL]
  check_int8_quantize.py --cli BUILD/mobilenext --model MODEL --data-dir DIR --write INT8_MODEL

--shipped also holds the shipped int8 file to the same bounds (it was made by --write, which
only quantizes on the same 256 training images).
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


def calibration_batch(model, data_dir):
    """CALIBRATION_IMAGES training images drawn with a fixed seed, preprocessed as `model` says."""
    _, meta = safetensors_io.read_header(model)[:2]
    pre = json.loads(meta["mobilenext.preprocess"])
    images, _ = fm.load_split(data_dir, "train")
    rng = np.random.default_rng(2020)
    pick = rng.choice(len(images), CALIBRATION_IMAGES, replace=False)
    return fm.eval_inputs(images[pick], pre).numpy().astype(np.float32)


def quantize(cli, model, batch, out, work):
    calibration = os.path.join(work, "calibration.npy")
    np.save(calibration, batch)
    text = run([cli, "quantize", model, "-o", out, "--calibration", calibration])
    if "observer minmax" not in text or "256 images" not in text:
        raise SystemExit("FAILED: quantize does not say what it did")


def check_agreement(cli, model, int8, data_dir, labels, work):
    """Accuracy of `int8` and its agreement with the float `model` on the test set."""
    logits = {}
    for name, path in (("float", model), ("int8", int8)):
        predictions = os.path.join(work, name + ".npy")
        run([cli, "evaluate", path, "--fashion-mnist", data_dir, "--predictions", predictions])
        logits[name] = np.load(predictions)
    top1 = {k: v.argmax(1) for k, v in logits.items()}
    accuracy = float((top1["int8"] == labels).mean())
    agreement = float((top1["int8"] == top1["float"]).mean())
    print("%s: int8 accuracy %.4f (float %.4f), the same top-1 as float on %.4f"
          % (os.path.basename(int8), accuracy, float((top1["float"] == labels).mean()), agreement))
    if accuracy < MIN_ACCURACY or agreement < MIN_AGREEMENT:
        raise SystemExit("FAILED: int8 must reach %.3f and agree with float on %.2f"
                         % (MIN_ACCURACY, MIN_AGREEMENT))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cli", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--samples", help="folder of sample images")
    ap.add_argument("--shipped", help="the shipped int8 file, held to the same bounds")
    ap.add_argument("--write", help="only quantize MODEL into this file")
    args = ap.parse_args()
    if not args.write and not args.samples:
        ap.error("--samples is needed unless --write is given")

    batch = calibration_batch(args.model, args.data_dir)
    if args.write:
        with tempfile.TemporaryDirectory() as work:
            quantize(args.cli, args.model, batch, args.write, work)
        return
    _, labels = fm.load_split(args.data_dir, "t10k")

    with tempfile.TemporaryDirectory() as work:
        int8 = os.path.join(work, "int8.safetensors")
        quantize(args.cli, args.model, batch, int8, work)

        info = run([args.cli, "info", int8, "--size", "40x40"])
        if "int8:" not in info or "kernels: int8 " not in info:
            raise SystemExit("FAILED: info does not say the model is int8")

        check_agreement(args.cli, args.model, int8, args.data_dir, labels, work)
        if args.shipped:
            check_agreement(args.cli, args.model, args.shipped, args.data_dir, labels, work)

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
