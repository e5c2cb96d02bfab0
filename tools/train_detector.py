#!/usr/bin/python3
"""Train an SSDLite-MobileNeXt (authors' layout) on detection canvases, on the CPU.

Data: directories written by tools/make_detection_canvases.py (PNGs + ground_truth.json),
canvases of the config's image_size, so the network input is the canvas itself,
preprocessed as the C++ library does it: RGB uint8, float, (pixel - [123, 117, 104]) /
[58.395, 57.12, 57.375], NCHW. Training adds a random horizontal flip (the prior grid is
symmetric, so flipped canvases are matched like any other).

SSD training: each ground-truth box takes its best prior, and every prior whose best IoU
with a ground-truth box is >= --match-iou takes that box; positives get the box's label,
the others background. Box targets are the inverse of the decoding of SSDLITE.md:
``((g_cx - p_cx) / (0.1 p_w), (g_cy - p_cy) / (0.1 p_h), log(g_w / p_w) / 0.2,
log(g_h / p_h) / 0.2)`` (the config's variances). Loss = smooth-L1 (beta 1) over the
positives' box regressions + softmax cross-entropy over the positives and the hardest
negatives (by background loss, --neg-ratio per positive, per image), both divided by the
number of positives. AdamW (or SGD with Nesterov momentum), a linear warm-up then a cosine
decay per step; with --time-budget the number of epochs (and so the schedule) is planned
after each epoch from the measured speed. The backbone can start from the shipped
Fashion-MNIST classifier (1-channel stem spread over RGB).

Per epoch, mAP@0.5 on the first --eval-subset test canvases; at the end on all of them,
with the detections (ssdlite_torch.detect with the config's threshold, NMS and limit, boxes
in pixels) written in the JSON form of ``mobilenext detect --json``. The checkpoint is the
authors' layout: ``{'model': state_dict, 'optimizer': ..., 'iteration': N}``.

  train_detector.py --config models/fashion_mnist_detector.config.json \\
      --train /tmp/detector/train --test /tmp/detector/test \\
      --out /tmp/detector/fashion_mnist_detector.pth --time-budget 50
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
import torchvision
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import detection_map as dm  # noqa: E402
import ssdlite_torch as st  # noqa: E402
from make_detection_canvases import PIXEL_MEAN, PIXEL_STD  # noqa: E402
from safetensors_io import load_file  # noqa: E402
from train_fashion_mnist import Logger, replan_epochs  # noqa: E402

# mean/std (on the 0..255 scale) of the classifier's 1-channel input: models/fashion_mnist_mobilenext.json
CLASSIFIER_STD_255 = 0.3456 * 255.0




def load_canvases(directory, limit=None):
    """(ground truth dict, uint8 [N, H, W, 3] RGB canvases)."""
    with open(os.path.join(directory, "ground_truth.json"), encoding="utf-8") as f:
        gt = json.load(f)
    if limit:
        gt = dict(gt, images=gt["images"][:limit])
    images = np.stack([np.asarray(Image.open(os.path.join(directory, r["file"])).convert("RGB"))
                       for r in gt["images"]])
    return gt, images


def gt_tensors(gt, max_boxes):
    """Padded boxes relative to the canvas [N, M, 4] and labels [N, M] (0 = padding)."""
    n = len(gt["images"])
    boxes = torch.zeros(n, max_boxes, 4)
    labels = torch.zeros(n, max_boxes, dtype=torch.int64)
    for i, r in enumerate(gt["images"]):
        scale = torch.tensor([r["width"], r["height"], r["width"], r["height"]], dtype=torch.float32)
        for j, (b, l) in enumerate(zip(r["boxes"], r["labels"])):
            boxes[i, j] = torch.tensor(b, dtype=torch.float32) / scale
            labels[i, j] = int(l)
    return boxes, labels


def preprocess(batch_u8):
    """uint8 [N, H, W, 3] RGB tensor -> float32 [N, 3, H, W] (channels_last memory)."""
    x = batch_u8.to(torch.float32)
    x = (x - torch.tensor(PIXEL_MEAN)) / torch.tensor(PIXEL_STD)
    return x.permute(0, 3, 1, 2)  # an NHWC buffer viewed as NCHW: channels_last already


def corners(center_form):
    return torch.cat([center_form[:, :2] - center_form[:, 2:] / 2,
                      center_form[:, :2] + center_form[:, 2:] / 2], 1)


def encode(matched, prior, cv, sv):
    """Corner boxes [P, 4] matched to the priors -> regression targets (decoding inverted)."""
    wh = matched[:, 2:] - matched[:, :2]
    center = (matched[:, :2] + matched[:, 2:]) / 2
    return torch.cat([(center - prior[:, :2]) / (cv * prior[:, 2:]),
                      torch.log(wh / prior[:, 2:]) / sv], 1)


def match(boxes, labels, prior, prior_corners, iou_threshold, cv, sv):
    """One image: boxes [G, 4] relative corners, labels [G] -> (targets [P, 4], labels [P])."""
    keep = labels > 0
    boxes, labels = boxes[keep], labels[keep]
    p = prior.shape[0]
    if len(boxes) == 0:
        return torch.zeros(p, 4), torch.zeros(p, dtype=torch.int64)
    iou = torchvision.ops.box_iou(boxes, prior_corners)          # [G, P]
    best_gt_iou, best_gt = iou.max(0)                             # per prior
    best_prior = iou.argmax(1)                                    # per ground truth
    best_gt_iou[best_prior] = 2.0
    best_gt[best_prior] = torch.arange(len(boxes))
    out_labels = labels[best_gt].clone()
    out_labels[best_gt_iou < iou_threshold] = 0
    return encode(boxes[best_gt], prior, cv, sv), out_labels


def multibox_loss(cls, reg, target_reg, target_labels, neg_ratio):
    """(box loss, class loss), each summed and divided by the number of positives."""
    pos = target_labels > 0
    num_pos = pos.sum(1, keepdim=True)
    with torch.no_grad():
        bg_loss = -F.log_softmax(cls, dim=2)[:, :, 0]
        bg_loss[pos] = -math.inf
        rank = bg_loss.argsort(1, descending=True).argsort(1)
        num_neg = (num_pos * neg_ratio).clamp(max=cls.shape[1] - 1)
        neg = rank < num_neg
    chosen = pos | neg
    total_pos = max(1, int(num_pos.sum()))
    class_loss = F.cross_entropy(cls[chosen], target_labels[chosen], reduction="sum") / total_pos
    box_loss = F.smooth_l1_loss(reg[pos], target_reg[pos], reduction="sum") / total_pos
    return box_loss, class_loss


def init_backbone_from_classifier(model, path):
    """Copy the classifier's features.* into backbone.features.*: the 1-channel stem is spread
    over the three RGB inputs (w / 3 each, rescaled by each channel's std relative to the
    classifier's input scale). Returns the number of tensors copied."""
    loaded = load_file(path)
    tensors = loaded[0] if isinstance(loaded, tuple) else loaded
    own = model.backbone.state_dict()
    copied = 0
    with torch.no_grad():
        for name, value in tensors.items():
            if not name.startswith("features.") or name not in own:
                continue
            if name == "features.0.0.weight" and value.shape[1] == 1:
                scale = torch.tensor(PIXEL_STD).view(1, 3, 1, 1) / CLASSIFIER_STD_255
                value = value.repeat(1, 3, 1, 1) * scale / 3.0
            if tuple(own[name].shape) != tuple(value.shape):
                raise ValueError("%s: shape %s in %s, %s in the detector"
                                 % (name, tuple(value.shape), path, tuple(own[name].shape)))
            own[name].copy_(value.to(own[name].dtype))
            copied += 1
    return copied


def param_groups(model, weight_decay):
    decay, no_decay = [], []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            decay.append(m.weight)
            if m.bias is not None:
                no_decay.append(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            no_decay += [m.weight, m.bias]
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


def run_detection(model, config, images_u8, batch_size=100):
    """Detections of every canvas in the JSON form of `mobilenext detect --json`."""
    h, w = images_u8.shape[1:3]
    model.eval()
    prior = st.priors(config, st.map_sizes(model, h, w), h, w)
    names = config.get("labels")
    out = []
    with torch.no_grad():
        for i in range(0, len(images_u8), batch_size):
            x = preprocess(torch.from_numpy(images_u8[i:i + batch_size]))
            cls, reg = model(x)
            scores, boxes = st.scores_and_boxes(config, cls, reg, prior)
            for dets in st.detect(config, scores, boxes, h, w):
                out.append([{"box": [round(v, 4) for v in b], "label": l,
                             "name": names[l] if names else str(l), "score": round(s, 6)}
                            for b, l, s in dets])
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", required=True, help="detector config JSON (converter form)")
    p.add_argument("--train", required=True, help="training canvases directory")
    p.add_argument("--test", required=True, help="test canvases directory")
    p.add_argument("--out", required=True, help="checkpoint to write (.pth)")
    p.add_argument("--log", default=None, help="log file (a copy of stdout)")
    p.add_argument("--metrics", default=None, help="JSON file for the final metrics")
    p.add_argument("--detections", default=None, help="JSON file for the final test detections")
    p.add_argument("--width", type=float, default=0.5)
    p.add_argument("--init", default=None,
                   help="classifier safetensors to initialise backbone.features from")
    p.add_argument("--epochs", type=int, default=12, help="epochs; with --time-budget, the most epochs")
    p.add_argument("--time-budget", type=float, default=None,
                   help="minutes: after each epoch, plan the number of epochs (and the cosine "
                        "schedule) that fits this budget at the measured speed")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--optimizer", choices=["adamw", "sgd"], default="adamw")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--warmup", type=int, default=300, help="warm-up steps")
    p.add_argument("--match-iou", type=float, default=0.5)
    p.add_argument("--neg-ratio", type=int, default=3)
    p.add_argument("--no-flip", action="store_true")
    p.add_argument("--eval-subset", type=int, default=500, help="test canvases evaluated per epoch")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--limit", type=int, default=None, help="use only the first N training canvases")
    p.add_argument("--max-steps", type=int, default=None, help="stop each epoch after N steps (smoke tests)")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    log = Logger(args.log)
    command = " ".join(["/usr/bin/python3"] + [a if a and " " not in a else repr(a) for a in sys.argv])
    log("command: " + command)
    start = time.time()

    with open(args.config, encoding="utf-8") as f:
        config = json.load(f)
    train_gt, train_u8 = load_canvases(args.train, args.limit)
    test_gt, test_u8 = load_canvases(args.test)
    config["labels"] = train_gt["labels"]
    size = config["image_size"]
    for name, arr in (("training", train_u8), ("test", test_u8)):
        if arr.shape[1:3] != (size, size):
            raise ValueError("%s canvases are %dx%d, the config's image_size is %d"
                             % (name, arr.shape[2], arr.shape[1], size))
    max_boxes = max(len(r["boxes"]) for r in train_gt["images"])
    train_boxes, train_labels = gt_tensors(train_gt, max_boxes)
    train_t = torch.from_numpy(train_u8)
    n_train_items = int((train_labels > 0).sum())
    n_test_items = sum(len(r["boxes"]) for r in test_gt["images"])
    log("data: %d training canvases (%d items) from %s, %d test canvases (%d items) from %s, "
        "%dx%d, loaded in %.1f s" % (len(train_u8), n_train_items, args.train, len(test_u8),
                                     n_test_items, args.test, size, size, time.time() - start))
    log("config: " + json.dumps({k: v for k, v in config.items() if k != "labels"}))

    model = st.SSDLiteMobileNeXt(args.width, config)
    model.eval()
    sizes = st.map_sizes(model, size, size)
    if [s[0] for s in sizes] != config["feature_maps"] or [s[1] for s in sizes] != config["feature_maps"]:
        raise ValueError("feature_maps %s but the network's maps are %s" % (config["feature_maps"], sizes))
    prior = st.priors(config, sizes, size, size)
    prior_corners = corners(prior)
    cv, sv = config["center_variance"], config["size_variance"]
    if args.init:
        n = init_backbone_from_classifier(model, args.init)
        log("init: %d backbone tensors from %s" % (n, args.init))
    model = model.to(memory_format=torch.channels_last)
    params = sum(t.numel() for t in model.parameters())
    log("model: SSDLite-MobileNeXt width %s, %d classes, %d parameters, %d priors, maps %s"
        % (args.width, config["num_classes"], params, len(prior), [s[0] for s in sizes]))

    groups = param_groups(model, args.weight_decay)
    if args.optimizer == "adamw":
        opt = torch.optim.AdamW(groups, lr=args.lr)
    else:
        opt = torch.optim.SGD(groups, lr=args.lr, momentum=0.9, nesterov=True)
    steps_per_epoch = len(train_u8) // args.batch_size  # full batches only (BN on 1x1 maps)
    if args.max_steps:
        steps_per_epoch = min(steps_per_epoch, args.max_steps)
    planned = args.epochs

    def lr_at(step):
        if step < args.warmup:
            return args.lr * (step + 1) / args.warmup
        total_steps = planned * steps_per_epoch
        progress = min(1.0, (step - args.warmup) / max(1, total_steps - args.warmup))
        return 0.5 * args.lr * (1.0 + math.cos(math.pi * progress))

    eval_u8 = test_u8[:args.eval_subset]
    eval_gt = dict(test_gt, images=test_gt["images"][:args.eval_subset])
    step, epoch, history = 0, 0, []
    train_start = time.time()
    while epoch < planned:
        epoch += 1
        t0 = time.time()
        model.train()
        order = torch.randperm(len(train_u8), generator=gen)
        sums = {"box": 0.0, "cls": 0.0, "pos": 0}
        seen = 0
        for s in range(steps_per_epoch):
            idx = order[s * args.batch_size:(s + 1) * args.batch_size]
            imgs, boxes, labels = train_t[idx], train_boxes[idx].clone(), train_labels[idx]
            if not args.no_flip:
                flip = torch.rand(len(idx), generator=gen) < 0.5
                imgs = torch.where(flip[:, None, None, None], imgs.flip(2), imgs)
                fx = torch.stack([1.0 - boxes[..., 2], boxes[..., 1], 1.0 - boxes[..., 0], boxes[..., 3]], -1)
                boxes = torch.where(flip[:, None, None], fx, boxes)
            targets = [match(b, l, prior, prior_corners, args.match_iou, cv, sv) for b, l in zip(boxes, labels)]
            target_reg = torch.stack([t[0] for t in targets])
            target_labels = torch.stack([t[1] for t in targets])
            for g in opt.param_groups:
                g["lr"] = lr_at(step)
            cls, reg = model(preprocess(imgs))
            box_loss, class_loss = multibox_loss(cls, reg, target_reg, target_labels, args.neg_ratio)
            loss = box_loss + class_loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            seen += len(idx)
            sums["box"] += box_loss.item() * len(idx)
            sums["cls"] += class_loss.item() * len(idx)
            sums["pos"] += int((target_labels > 0).sum())
        train_time = time.time() - t0
        result = dm.voc_map(eval_gt, run_detection(model, config, eval_u8))
        row = {"epoch": epoch, "steps": step, "box_loss": round(sums["box"] / seen, 4),
               "class_loss": round(sums["cls"] / seen, 4),
               "positives_per_canvas": round(sums["pos"] / seen, 3),
               "subset_mAP": round(result["mAP"], 4), "lr": lr_at(step - 1),
               "epoch_seconds": round(time.time() - t0, 1)}
        history.append(row)
        log("epoch %2d/%d  box loss %.4f  class loss %.4f  (%.2f positives/canvas)  mAP@0.5 %.4f "
            "(first %d test canvases)  lr %.5f  %.0f s (train %.0f s)  elapsed %.1f min"
            % (epoch, planned, row["box_loss"], row["class_loss"], row["positives_per_canvas"],
               result["mAP"], len(eval_u8), row["lr"], row["epoch_seconds"], train_time,
               (time.time() - start) / 60))
        if args.time_budget is not None and epoch < args.epochs:
            planned = replan_epochs(planned, epoch, args.epochs, args.time_budget, start, train_start, log)

    train_seconds = time.time() - train_start
    state_dict = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    ckpt = {"model": state_dict, "optimizer": opt.state_dict(), "iteration": step,
            "config": {k: v for k, v in config.items()}, "width": args.width}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    torch.save(ckpt, args.out)
    t_eval = time.time()
    detections = run_detection(model, config, test_u8)
    result = dm.voc_map(test_gt, detections)
    eval_seconds = time.time() - t_eval
    if args.detections:
        with open(args.detections, "w", encoding="utf-8") as f:
            json.dump(detections, f)
            f.write("\n")
    elapsed = time.time() - start
    log("final: %d iterations, %d epochs, training %.1f min, total %.1f min; checkpoint %s"
        % (step, epoch, train_seconds / 60, elapsed / 60, args.out))
    log("test (%d canvases, %d items, PyTorch, threshold %s, NMS %s, max %d): "
        % (len(test_u8), n_test_items, config["threshold"], config["nms_iou"], config["max_detections"])
        + dm.format_report(result))
    if args.metrics:
        metrics = {
            "dataset": {"train": "%d canvases, %d items (%s)" % (len(train_u8), n_train_items, train_gt.get("source")),
                        "test": "%d canvases, %d items (%s)" % (len(test_u8), n_test_items, test_gt.get("source")),
                        "canvas": "%dx%d RGB (gray replicated)" % (size, size),
                        "generator_settings": {"train": train_gt.get("settings"), "test": test_gt.get("settings")}},
            "mAP@0.5_pytorch": round(result["mAP"], 4),
            "per_class_AP@0.5_pytorch": {k: round(v["ap"], 4) for k, v in result["per_class"].items()},
            "map_details": result,
            "interpolation": result["interpolation"],
            "iterations": step, "epochs": epoch,
            "training_minutes": round(train_seconds / 60, 1),
            "total_minutes": round(elapsed / 60, 1),
            "final_evaluation_seconds": round(eval_seconds, 1),
            "width": args.width, "input_size": size, "parameters": params, "priors": len(prior),
            "config": {k: v for k, v in config.items() if k != "labels"},
            "labels": config["labels"],
            "preprocess": {"color": "RGB", "resize": None, "mean": PIXEL_MEAN, "std": PIXEL_STD,
                           "layout": "NCHW"},
            "optimizer": args.optimizer, "lr": args.lr, "batch_size": args.batch_size,
            "weight_decay": args.weight_decay, "init": args.init,
            "seed": args.seed, "threads": args.threads, "torch_version": torch.__version__,
            "command": command, "history": history,
        }
        with open(args.metrics, "w", encoding="utf-8") as f:
            json.dump(metrics, f, indent=2)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
