"""Reference PyTorch implementation of the SSDLite-MobileNeXt detector.

Written from the description of the authors' detector (their layout and state-dict names):

* backbone: the official MobileNeXt of mobilenext_torch.py (identity divisor 1), without
  pool and classifier, under ``backbone.features.*``; map 0 is block 13's expansion output
  (after its ReLU6, before its stride-2 depthwise), map 1 block 20's (before its last
  depthwise);
* four extra layers ``backbone.extras.{k}``: dw3x3 stride 2 + BN + ReLU6, pw + BN (linear),
  pw + BN + ReLU6; maps 2-5;
* heads ``box_head.predictor.{cls,reg}_headers.{l}``: SeparableConv2d (dw3x3 with bias + BN
  + ReLU6, pw with bias) on maps 0-4, a plain 1x1 Conv2d with bias on map 5;
* priors, decoding, softmax or sigmoid scores, per-class NMS (torchvision) and the top
  ``max_detections``.

Priors for an input of H x W (the authors' formula at H = W = image_size): map k of
f_h x f_w locations, centre ``((j + 0.5) * strides[k] / W, (i + 0.5) * strides[k] / H)``,
sizes ``min_sizes[k] / W`` by ``min_sizes[k] / H`` and so on; every value clamped to
[0, 1].  Decoded boxes are relative to the input; detections are in the input's pixels.
"""

import math
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import mobilenext_torch as mx  # noqa: E402

BN_EPS = 1e-5

# The two published configurations (mobilenext_ssd320_voc0712, mobilenext_ssd320_coco).
CONFIGS = {
    "voc": {
        "num_classes": 21, "score": "softmax", "image_size": 320,
        "feature_maps": [20, 10, 5, 3, 2, 1], "strides": [16, 32, 64, 120, 160, 320],
        "min_sizes": [45, 90, 135, 180, 225, 270], "max_sizes": [120, 180, 220, 260, 300, 320],
        "aspect_ratios": [[2, 3]] * 6, "center_variance": 0.1, "size_variance": 0.2,
        "threshold": 0.01, "nms_iou": 0.45, "max_detections": 100,
    },
    "coco": {
        "num_classes": 81, "score": "sigmoid", "image_size": 320,
        "feature_maps": [20, 10, 5, 3, 2, 1], "strides": [16, 32, 64, 120, 160, 320],
        "min_sizes": [45, 90, 135, 180, 225, 270], "max_sizes": [90, 135, 180, 225, 270, 315],
        "aspect_ratios": [[2, 3]] * 5 + [[2]], "center_variance": 0.1, "size_variance": 0.2,
        "threshold": 0.05, "nms_iou": 0.5, "max_detections": 100,
    },
}

# (input channels, output channels, reduction ratio) of the four extra layers; the first
# takes the backbone's last channels.
EXTRAS = [(None, 512, 0.2), (512, 256, 0.25), (256, 256, 0.5), (256, 128, 0.5)]
MAP0_BLOCK, MAP1_BLOCK = 13, 20


def boxes_per_location(config):
    return [2 + 2 * len(r) for r in config["aspect_ratios"]]


def extra_channels(last_channels):
    """[(inp, mid, out)] of the extra layers."""
    out, inp = [], last_channels
    for _, oup, ratio in EXTRAS:
        out.append((inp, int(inp * ratio), oup))
        inp = oup
    return out


def map_channels(width_mult):
    blocks = mx.official_topology(width_mult, 1)
    return [blocks[MAP0_BLOCK - 1].oup, blocks[MAP1_BLOCK - 1].oup] + [e[2] for e in extra_channels(blocks[-1].oup)]


def _bn(c):
    return nn.BatchNorm2d(c, eps=BN_EPS)


def extra_layer(inp, mid, oup):
    """``backbone.extras.{k}.{j}``: the stride is on the input depthwise."""
    return nn.Sequential(
        nn.Conv2d(inp, inp, 3, 2, 1, groups=inp, bias=False), _bn(inp), nn.ReLU6(inplace=True),
        nn.Conv2d(inp, mid, 1, bias=False), _bn(mid),
        nn.Conv2d(mid, oup, 1, bias=False), _bn(oup), nn.ReLU6(inplace=True))


class SeparableConv2d(nn.Module):
    def __init__(self, inp, oup):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(inp, inp, 3, 1, 1, groups=inp, bias=True), _bn(inp), nn.ReLU6(inplace=True),
            nn.Conv2d(inp, oup, 1, bias=True))

    def forward(self, x):
        return self.conv(x)


def _expansion_end(block):
    """Index in block.conv of the ReLU6 after the expansion (the map taps)."""
    return {3: 4, 4: 7, 1: 7}[block.form]


class Backbone(nn.Module):
    def __init__(self, width_mult):
        super().__init__()
        specs = mx.official_topology(width_mult, 1)
        self.specs = specs
        self.features = nn.Sequential(mx._stem(3, mx.stem_channels(width_mult)),
                                      *[mx.SandglassBlock(s) for s in specs])
        self.extras = nn.ModuleList([extra_layer(*e) for e in extra_channels(specs[-1].oup)])
        for index in (MAP0_BLOCK, MAP1_BLOCK):
            spec = specs[index - 1]
            if spec.shortcut:
                raise ValueError("block %d has a shortcut at width %r: no tap inside it" % (index, width_mult))

    def _tapped(self, index, x):
        """Runs block `index`, returning (its expansion's output, its output)."""
        conv = self.features[index].conv
        end = _expansion_end(self.specs[index - 1]) + 1
        tap = conv[:end](x)
        return tap, conv[end:](tap)

    def forward(self, x):
        maps = []
        for i, layer in enumerate(self.features):
            if i in (MAP0_BLOCK, MAP1_BLOCK):
                tap, x = self._tapped(i, x)
                maps.append(tap)
            else:
                x = layer(x)
        for extra in self.extras:
            x = extra(x)
            maps.append(x)
        return maps


class Predictor(nn.Module):
    def __init__(self, channels, boxes, num_classes):
        super().__init__()
        self.num_classes = num_classes
        last = len(channels) - 1

        def head(k):
            return nn.ModuleList([SeparableConv2d(c, b * k) if l < last else nn.Conv2d(c, b * k, 1)
                                  for l, (c, b) in enumerate(zip(channels, boxes))])
        self.cls_headers = head(num_classes)
        self.reg_headers = head(4)

    def forward(self, maps):
        n = maps[0].shape[0]
        cls = [h(m).permute(0, 2, 3, 1).reshape(n, -1, self.num_classes) for h, m in zip(self.cls_headers, maps)]
        reg = [h(m).permute(0, 2, 3, 1).reshape(n, -1, 4) for h, m in zip(self.reg_headers, maps)]
        return torch.cat(cls, 1), torch.cat(reg, 1)


class BoxHead(nn.Module):
    def __init__(self, channels, boxes, num_classes):
        super().__init__()
        self.predictor = Predictor(channels, boxes, num_classes)


class SSDLiteMobileNeXt(nn.Module):
    """forward(x) -> (cls logits [N, P, K], box regressions [N, P, 4])."""

    def __init__(self, width_mult=1.0, config="voc"):
        super().__init__()
        self.config = dict(CONFIGS[config]) if isinstance(config, str) else dict(config)
        self.width_mult = float(width_mult)
        self.backbone = Backbone(width_mult)
        self.box_head = BoxHead(map_channels(width_mult), boxes_per_location(self.config),
                                self.config["num_classes"])

    def forward(self, x):
        return self.box_head.predictor(self.backbone(x))


# ---------------------------------------------------------------------------
# Priors, decoding, post-processing
# ---------------------------------------------------------------------------

def map_sizes(model, height, width):
    with torch.no_grad():
        maps = model.backbone(torch.zeros(1, 3, height, width))
    return [tuple(m.shape[2:]) for m in maps]


def priors(config, sizes, height, width):
    """[P, 4] centre-form priors relative to the input (see the module's docstring)."""
    out = []
    for k, (fh, fw) in enumerate(sizes):
        stride, mn, mx_ = config["strides"][k], config["min_sizes"][k], config["max_sizes"][k]
        big = math.sqrt(mn * mx_)
        for i in range(fh):
            for j in range(fw):
                cx, cy = (j + 0.5) * stride / width, (i + 0.5) * stride / height
                out.append((cx, cy, mn / width, mn / height))
                out.append((cx, cy, big / width, big / height))
                for r in config["aspect_ratios"][k]:
                    q = math.sqrt(r)
                    out.append((cx, cy, mn / width * q, mn / height / q))
                    out.append((cx, cy, mn / width / q, mn / height * q))
    return torch.tensor(out, dtype=torch.float32).clamp_(0.0, 1.0)


def scores_and_boxes(config, cls, reg, prior):
    """(scores [N, P, K], corner boxes [N, P, 4] relative to the input, not clipped)."""
    scores = torch.softmax(cls, dim=2) if config["score"] == "softmax" else torch.sigmoid(cls)
    cv, sv = config["center_variance"], config["size_variance"]
    center = reg[..., :2] * cv * prior[:, 2:] + prior[:, :2]
    wh = torch.exp(reg[..., 2:] * sv) * prior[:, 2:]
    return scores, torch.cat([center - wh / 2, center + wh / 2], dim=2)


def detect(config, scores, boxes, height, width, threshold=None, nms_iou=None, max_detections=None):
    """Per image: [(box [x1, y1, x2, y2] in input pixels, label, score)], best first."""
    import torchvision
    threshold = config["threshold"] if threshold is None else threshold
    nms_iou = config["nms_iou"] if nms_iou is None else nms_iou
    max_detections = config["max_detections"] if max_detections is None else max_detections
    softmax = config["score"] == "softmax"
    scale = torch.tensor([width, height, width, height], dtype=torch.float32)
    results = []
    for s, b in zip(scores, boxes):
        first = 1 if softmax else 0
        s = s[:, first:]
        pixels = b * scale
        prior_index, column = torch.nonzero(s > threshold, as_tuple=True)
        cand_scores = s[prior_index, column]
        cand_boxes = pixels[prior_index]
        labels = column + first if softmax else column + 1
        keep = torchvision.ops.batched_nms(cand_boxes, cand_scores, labels, nms_iou)[:max_detections]
        results.append([(cand_boxes[k].tolist(), int(labels[k]), float(cand_scores[k])) for k in keep])
    return results


# ---------------------------------------------------------------------------
# Random weights with realistic BatchNorm statistics (parity tests)
# ---------------------------------------------------------------------------

def random_detector(width_mult, config, seed, calibration_size=(160, 160), calibration_batches=2):
    """Random convolution weights and biases, random BatchNorm affine parameters, and running
    statistics measured on random images (so activations keep a realistic scale)."""
    torch.manual_seed(seed)
    model = SSDLiteMobileNeXt(width_mult, config)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                fan_in = m.weight.shape[1] * m.weight.shape[2] * m.weight.shape[3]
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) / math.sqrt(fan_in))
                if m.bias is not None:
                    m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.2)
                m.reset_running_stats()
                m.momentum = None  # cumulative average over the calibration batches
        model.train()
        for _ in range(calibration_batches):
            model(torch.randn(4, 3, *calibration_size, generator=g))
    model.eval()
    # The last extras see one or two pixels per image: their measured variances come from a
    # handful of values and can be 1e-8, a gain of 10^4 that no trained detector has, which
    # turns float rounding into differences of 1e-2. Each layer's variances are kept within
    # 100 of its median.
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.momentum = 0.1
                m.running_var.clamp_(min=float(m.running_var.median()) * 0.01)
    return model
