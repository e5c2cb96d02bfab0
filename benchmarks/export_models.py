#!/usr/bin/python3
"""Makes the models both engines run: MobileNeXt of each width with random weights and
randomised BatchNorm statistics (tools/mobilenext_torch.py), converted for the library
(tools/convert.py) and exported to ONNX (opset 13) at batch 1 and 8 from the same weights.

  export_models.py OUT_DIR [--widths 0.35,0.5,0.75,1.0,1.4]
"""

import argparse
import os
import subprocess
import sys

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))

import mobilenext_torch as mx  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out_dir")
    p.add_argument("--widths", default="0.35,0.5,0.75,1.0,1.4")
    args = p.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    for width in (float(w) for w in args.widths.split(",")):
        base = os.path.join(args.out_dir, "mobilenext_w%g" % width)
        if os.path.exists(base + "_b8.onnx"):
            continue
        model = mx.build_model(mx.LAYOUT_OFFICIAL, width, 1, 1000, 3)
        mx.randomize_weights(model, torch.Generator().manual_seed(7))
        model.eval()
        torch.save({"state_dict": model.state_dict()}, base + ".pth")
        subprocess.run([sys.executable, os.path.join(ROOT, "tools", "convert.py"), base + ".pth",
                        "-o", base + ".safetensors", "--identity-div", "1"],
                       check=True, stdout=subprocess.DEVNULL)
        for batch in (1, 8):
            x = torch.randn(batch, 3, 224, 224)
            torch.onnx.export(model, x, "%s_b%d.onnx" % (base, batch), opset_version=13,
                              input_names=["input"], output_names=["logits"])
        os.remove(base + ".pth")
        print("exported width %g" % width, flush=True)


if __name__ == "__main__":
    main()
