#!/usr/bin/python3
"""Write a random-weight MobileNeXt parity case: checkpoint, input and expected logits.

Files written to --out-dir:
  model.pth.tar  training-style checkpoint
                 {"state_dict": {"module." + name: tensor}, "epoch": 1, "arch": "mobilenext",
                  "args": {"identity_div": d}} with the layout's own state-dict names
                 (num_batches_tracked included); the args let tools/convert.py read the
                 identity divisor, which the weights do not show
  input.npy      float32 NCHW input, shape [batch, in_channels, height, width-px]
  expected.npy   float32 logits of the PyTorch model in eval mode, shape [batch, classes]

Weights: variance-preserving random convolutions/linear plus randomized BatchNorm
statistics (mobilenext_torch.randomize_weights), all drawn from --seed; the input is
drawn from a second generator seeded with --seed + 1.
"""

import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import mobilenext_torch as mx  # noqa: E402


def parse_args(argv):
    p = argparse.ArgumentParser(prog="make_parity_case.py", description=__doc__.split("\n")[0])
    p.add_argument("--width", type=float, default=1.0, help="width multiplier")
    p.add_argument("--identity-div", type=int, default=1, help="identity tensor divisor d")
    p.add_argument("--layout", choices=list(mx.LAYOUTS), default=mx.LAYOUT_OFFICIAL)
    p.add_argument("--height", type=int, default=224, help="input height in pixels")
    p.add_argument("--width-px", type=int, default=224, help="input width in pixels")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num-classes", type=int, default=1000)
    p.add_argument("--in-channels", type=int, default=3)
    p.add_argument("--out-dir", required=True)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    for name in ("height", "width_px", "batch", "num_classes", "in_channels", "identity_div"):
        if getattr(args, name) < 1:
            print("make_parity_case.py: error: --%s must be >= 1" % name.replace("_", "-"),
                  file=sys.stderr)
            return 1
    if not args.width > 0:
        print("make_parity_case.py: error: --width must be > 0", file=sys.stderr)
        return 1
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))

    model = mx.build_model(args.layout, args.width, args.identity_div, args.num_classes,
                           args.in_channels)
    mx.randomize_weights(model, torch.Generator().manual_seed(args.seed))
    model.eval()

    g_in = torch.Generator().manual_seed(args.seed + 1)
    x = torch.randn(args.batch, args.in_channels, args.height, args.width_px,
                    generator=g_in, dtype=torch.float32)
    with torch.no_grad():
        y = model(x)
    if not torch.isfinite(y).all():
        print("make_parity_case.py: error: non-finite logits", file=sys.stderr)
        return 1

    os.makedirs(args.out_dir, exist_ok=True)
    state = {"module." + k: v.detach().clone() for k, v in model.state_dict().items()}
    ckpt = {"state_dict": state, "epoch": 1, "arch": "mobilenext",
            "args": {"identity_div": args.identity_div}}
    torch.save(ckpt, os.path.join(args.out_dir, "model.pth.tar"))
    np.save(os.path.join(args.out_dir, "input.npy"), x.numpy().astype(np.float32))
    np.save(os.path.join(args.out_dir, "expected.npy"), y.numpy().astype(np.float32))
    print("wrote %s: layout=%s width=%r identity_div=%d input=%s logits=%s max|logit|=%.4g"
          % (args.out_dir, args.layout, args.width, args.identity_div, list(x.shape),
             list(y.shape), y.abs().max().item()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
