#!/usr/bin/python3
"""Train a MobileNeXt (authors' layout) on Fashion-MNIST, on the CPU.

Images go through the evaluation transform that the model file will state (shorter side
to --size with PIL bicubic, centre crop --size, /255, mean/std); training adds a random
crop with zero padding and a horizontal flip on top of it. SGD with Nesterov momentum,
one warm-up epoch then a cosine decay per step, label smoothing, weight decay on
convolution and linear weights only. Loss and accuracy are logged per epoch to stdout and
to --log; the checkpoint is written in the authors' layout, and --metrics gets the final
test numbers as JSON.

  train_fashion_mnist.py --out fashion_mnist.pth.tar --log train.log --metrics metrics.json
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fashion_mnist as fm  # noqa: E402
import mobilenext_torch as mx  # noqa: E402


class Logger:
    def __init__(self, path):
        self.f = open(path, "w", encoding="utf-8") if path else None

    def __call__(self, msg):
        print(msg, flush=True)
        if self.f:
            self.f.write(msg + "\n")
            self.f.flush()


def augment(batch_u8, pad, gen):
    """Random crop of the zero-padded images and a horizontal flip, one draw per image."""
    n, h, w = batch_u8.shape
    padded = F.pad(batch_u8, (pad, pad, pad, pad))
    oy = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
    ox = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
    flip = torch.rand(n, generator=gen) < 0.5
    rows = oy[:, None] + torch.arange(h)[None, :]
    cols_fwd = torch.arange(w)[None, :].expand(n, w)
    cols = torch.where(flip[:, None], (w - 1) - cols_fwd, cols_fwd) + ox[:, None]
    idx = torch.arange(n)[:, None, None]
    return padded[idx, rows[:, :, None], cols[:, None, :]]


def evaluate(model, x, y, batch_size):
    """(mean loss, accuracy, per-class accuracy, predictions) over prepared inputs."""
    model.eval()
    preds, loss = [], 0.0
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            xb = x[i:i + batch_size].contiguous(memory_format=torch.channels_last)
            out = model(xb)
            loss += F.cross_entropy(out, y[i:i + batch_size], reduction="sum").item()
            preds.append(out.argmax(1))
    pred = torch.cat(preds)
    correct = pred == y
    per_class = [correct[y == c].float().mean().item() for c in range(len(fm.CLASSES))]
    return loss / len(x), correct.float().mean().item(), per_class, pred


def param_groups(model, weight_decay):
    decay, no_decay = [], []
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            decay.append(m.weight)
            if m.bias is not None:
                no_decay.append(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            no_decay += [m.weight, m.bias]
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


def replan_epochs(planned, epoch, max_epochs, budget_minutes, start, train_start, log):
    """The epochs that fit the time budget after `epoch` of them. Speed varies with the
    machine's load: the plan uses the mean epoch time so far."""
    per_epoch = (time.time() - train_start) / epoch
    left = budget_minutes * 60 - (time.time() - start)
    new_plan = max(epoch, min(max_epochs, epoch + int(left / per_epoch)))
    if new_plan != planned:
        log("plan: %d epochs (%.0f s per epoch, %.1f min of the budget left)" % (new_plan, per_epoch, left / 60))
    return new_plan


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", default=fm.DEFAULT_DIR)
    p.add_argument("--out", required=True, help="checkpoint to write (.pth.tar)")
    p.add_argument("--log", default=None, help="log file (a copy of stdout)")
    p.add_argument("--metrics", default=None, help="JSON file for the final metrics")
    p.add_argument("--width", type=float, default=0.5)
    p.add_argument("--identity-div", type=int, default=2)
    p.add_argument("--size", type=int, default=40, help="network input side (resize and crop)")
    p.add_argument("--epochs", type=int, default=27,
                   help="epochs; with --time-budget, the most epochs")
    p.add_argument("--time-budget", type=float, default=None,
                   help="minutes: after each epoch, plan the number of epochs (and the cosine "
                        "schedule) that fits this budget at the measured speed")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--weight-decay", type=float, default=4e-4)
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--pad", type=int, default=4, help="padding of the random crop (pixels at --size)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--limit", type=int, default=None, help="use only the first N images (smoke tests)")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    log = Logger(args.log)
    command = " ".join(["/usr/bin/python3"] + [a if a and " " not in a else repr(a) for a in sys.argv])
    log("command: " + command)
    start = time.time()

    pre = {"resize": args.size, "crop": args.size, "interpolation": "bicubic"}
    train_img, train_lab = fm.load_split(args.data_dir, "train")
    test_img, test_lab = fm.load_split(args.data_dir, "t10k")
    if args.limit:
        train_img, train_lab = train_img[:args.limit], train_lab[:args.limit]
        test_img, test_lab = test_img[:args.limit], test_lab[:args.limit]
    train_u8 = torch.from_numpy(fm.resize_all(train_img, pre))
    # mean/std of the resized training pixels, rounded so the metadata states them exactly
    scaled = train_u8.to(torch.float64) / 255.0
    pre["mean"] = [round(scaled.mean().item(), 4)]
    pre["std"] = [round(scaled.std().item(), 4)]
    del scaled
    test_x = fm.eval_inputs(test_img, pre)
    train_y = torch.from_numpy(train_lab)
    test_y = torch.from_numpy(test_lab)
    log("preprocess: " + json.dumps(pre))
    log("data: %d training, %d test images, prepared in %.1f s"
        % (len(train_u8), len(test_x), time.time() - start))

    model = mx.MobileNeXt(args.width, args.identity_div, len(fm.CLASSES), 1)
    model = model.to(memory_format=torch.channels_last)  # much faster on the CPU
    params, madds = mx.count_params_madds(model, args.size, args.size)
    log("model: MobileNeXt width %s identity_div %d, %d parameters, %.1f M multiply-adds"
        % (args.width, args.identity_div, params, madds / 1e6))
    opt = torch.optim.SGD(param_groups(model, args.weight_decay), lr=args.lr, momentum=0.9,
                          nesterov=True)
    steps_per_epoch = math.ceil(len(train_u8) / args.batch_size)
    planned = args.epochs
    warmup = steps_per_epoch

    def lr_at(step):
        if step < warmup:
            return args.lr * (step + 1) / warmup
        total_steps = planned * steps_per_epoch
        progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        return 0.5 * args.lr * (1.0 + math.cos(math.pi * progress))

    step = 0
    history = []
    train_start = time.time()
    epoch = 0
    while epoch < planned:
        epoch += 1
        t0 = time.time()
        model.train()
        order = torch.randperm(len(train_u8), generator=gen)
        seen, loss_sum, correct = 0, 0.0, 0
        for i in range(0, len(order), args.batch_size):
            idx = order[i:i + args.batch_size]
            xb = fm.normalize(augment(train_u8[idx], args.pad, gen), pre)
            xb = xb.contiguous(memory_format=torch.channels_last)
            yb = train_y[idx]
            for g in opt.param_groups:
                g["lr"] = lr_at(step)
            out = model(xb)
            loss = F.cross_entropy(out, yb, label_smoothing=args.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            seen += len(idx)
            loss_sum += loss.item() * len(idx)
            correct += (out.argmax(1) == yb).sum().item()
        train_time = time.time() - t0
        test_loss, test_acc, _, _ = evaluate(model, test_x, test_y, 500)
        row = {"epoch": epoch, "train_loss": loss_sum / seen, "train_acc": correct / seen,
               "test_loss": test_loss, "test_acc": test_acc, "lr": lr_at(step - 1),
               "epoch_seconds": time.time() - t0}
        history.append(row)
        log("epoch %2d/%d  train loss %.4f acc %.2f%%  test loss %.4f acc %.2f%%  lr %.4f  "
            "%.0f s (train %.0f s)  elapsed %.1f min"
            % (epoch, planned, row["train_loss"], 100 * row["train_acc"], test_loss,
               100 * test_acc, row["lr"], row["epoch_seconds"], train_time,
               (time.time() - start) / 60))
        if args.time_budget is not None and epoch < args.epochs:
            planned = replan_epochs(planned, epoch, args.epochs, args.time_budget, start, train_start, log)

    test_loss, test_acc, per_class, _ = evaluate(model, test_x, test_y, 500)
    elapsed = time.time() - start
    state_dict = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    train_args = dict(vars(args))
    train_args["preprocess"] = pre
    ckpt = {"state_dict": state_dict, "epoch": epoch,
            "arch": "mobilenext_w%s_idiv%d" % (args.width, args.identity_div),
            "best_prec1": 100 * test_acc, "args": train_args}
    torch.save(ckpt, args.out)
    log("final: test accuracy %.2f%%, %.1f min; checkpoint %s" % (100 * test_acc, elapsed / 60, args.out))
    for name, acc in zip(fm.CLASSES, per_class):
        log("  %-12s %.2f%%" % (name, 100 * acc))
    if args.metrics:
        metrics = {
            "dataset": "Fashion-MNIST (60,000 training, 10,000 test images)",
            "test_accuracy": test_acc,
            "test_loss": test_loss,
            "per_class_accuracy": dict(zip(fm.CLASSES, per_class)),
            "epochs": epoch,
            "training_seconds": round(elapsed, 1),
            "width": args.width,
            "identity_div": args.identity_div,
            "input_size": args.size,
            "in_channels": 1,
            "num_classes": len(fm.CLASSES),
            "parameters": params,
            "multiply_adds": madds,
            "preprocess": pre,
            "seed": args.seed,
            "threads": args.threads,
            "torch_version": torch.__version__,
            "command": command,
            "history": history,
        }
        with open(args.metrics, "w", encoding="utf-8") as f:
            json.dump(metrics, f, indent=2)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
