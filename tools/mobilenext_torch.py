"""Reference PyTorch implementation of MobileNeXt (sandglass-block classifier).

Two layouts are provided, both producing the state-dict names their checkpoints use.

``MobileNeXt`` -- the authors' released layout
    ``features.0`` = Sequential(conv3x3 s2, BN, ReLU6); ``features.{i}`` (i >= 1) is a block
    whose ``conv`` Sequential holds, activations included:

    * form 1 (t == 2) and form 4 (full form):
      0 dw, 1 BN, 2 ReLU6, 3 pw, 4 BN, 5 pw, 6 BN, 7 ReLU6, 8 dw, 9 BN
    * form 2 (inp != oup, stride 1, not keep_3x3): 0 pw, 1 BN, 2 pw, 3 BN, 4 ReLU6
    * form 3 (inp != oup, stride 2, not keep_3x3): 0 pw, 1 BN, 2 pw, 3 BN, 4 ReLU6, 5 dw, 6 BN

    head: ``classifier`` = Sequential(Dropout(0.2), Linear) -> ``classifier.1.weight/bias``.
    Form 4 always uses stride 1 in both depthwise convolutions, exactly like the released
    code; a stride-2 row can only land in form 4 (input and output widths equal) for
    some widths below 0.14, e.g. 0.125, where that block then does not downsample.  The partial shortcut adds x[:, :C // d] to the first C // d output
    channels of form-4 blocks that are not keep_3x3.

``MobileNeXtThirdParty`` -- the ``mobilenext.pytorch`` re-implementation layout
    Names follow that project's ``mobilenext.py``: the stem is ``features.0.0`` (conv) and
    ``features.0.1`` (BN); every block is the full form with a flat ``conv`` Sequential
    ``0 dw, 1 BN, 2 ReLU6, 3 pw, 4 BN, 5 pw, 6 BN, 7 ReLU6, 8 dw, 9 BN`` (no nested
    ConvBNReLU modules), so block tensors are ``features.{i}.conv.{0,1,3,4,5,6,8,9}.*``;
    the head is a plain ``nn.Linear`` named ``classifier`` (``classifier.weight/bias``,
    no dropout).  Differences from the official layout:

    * every block is the full form; the row stride is applied on the first block of the
      row only, in the LAST depthwise convolution (the first depthwise is always stride 1);
    * hidden width ``int(round(inp // t))`` with no minimum;
    * shortcut whenever stride == 1 and inp == oup, covering the first C // d channels
      (that project always uses d == 1, i.e. ``x + conv(x)``);
    * every row, including the 1280 one, uses make_div(c * w, 8) (no "stays 1280 below
      width 1" rule).

Both classes are TorchScript-scriptable and exportable with torch.onnx.export (opset 13).
"""

import math
import sys

import torch
import torch.nn as nn

# (t, c, n, s) rows shared by both layouts
STAGES = [
    (2, 96, 1, 2),
    (6, 144, 1, 1),
    (6, 192, 3, 2),
    (6, 288, 3, 2),
    (6, 384, 4, 1),
    (6, 576, 4, 2),
    (6, 960, 3, 1),
    (6, 1280, 1, 1),
]

LAYOUT_OFFICIAL = "official"
LAYOUT_THIRD_PARTY = "mobilenext.pytorch"
LAYOUTS = (LAYOUT_OFFICIAL, LAYOUT_THIRD_PARTY)

BN_EPS = 1e-5


def make_div(v, d):
    """Round v to a multiple of d, never below d and never more than 10% down."""
    new_v = max(d, int(v + d / 2) // d * d)
    if new_v < 0.9 * v:
        new_v += d
    return new_v


# ---------------------------------------------------------------------------
# Topology (pure Python, shared by the modules, the converter and the reports)
# ---------------------------------------------------------------------------

class BlockSpec:
    """Static description of one sandglass block."""

    __slots__ = ("index", "inp", "hidden", "oup", "stride", "form", "shortcut", "layers")

    def __init__(self, index, inp, hidden, oup, stride, form, shortcut, layers):
        self.index = index        # position in ``features`` (1-based, 0 is the stem)
        self.inp = inp
        self.hidden = hidden
        self.oup = oup
        self.stride = stride      # stride of the block as a whole
        self.form = form          # 1..4 for the official layout, "F" for the third-party one
        self.shortcut = shortcut  # number of channels the identity covers (0 = none)
        # layer sequence: ("dw", ch, stride) | ("pw", in, out) | ("bn", ch) | ("relu",)
        self.layers = layers

    def __repr__(self):
        return ("BlockSpec(index=%d, inp=%d, hidden=%d, oup=%d, stride=%d, form=%s, shortcut=%d)"
                % (self.index, self.inp, self.hidden, self.oup, self.stride, self.form,
                   self.shortcut))


def _full_layers(inp, hidden, oup, last_stride):
    return [("dw", inp, 1), ("bn", inp), ("relu",),
            ("pw", inp, hidden), ("bn", hidden),
            ("pw", hidden, oup), ("bn", oup), ("relu",),
            ("dw", oup, last_stride), ("bn", oup)]


def stem_channels(width_mult):
    return make_div(32 * width_mult, 8)


def official_topology(width_mult=1.0, identity_div=1):
    """Block list of the authors' layout."""
    if identity_div < 1:
        raise ValueError("identity_div must be >= 1")
    blocks = []
    inp = stem_channels(width_mult)
    index = 1
    for t, c, n, s in STAGES:
        oup = make_div(c * width_mult, 8)
        if c == 1280 and width_mult < 1:
            oup = 1280
        for i in range(n):
            if i == 0:
                stride, keep_3x3 = s, (n == 1 and s == 1)
            else:
                stride, keep_3x3 = 1, False
            hidden = inp // t
            if hidden < oup / 6.0:
                hidden = make_div(int(math.ceil(oup / 6.0)), 16)
            shortcut = 0
            if t == 2:
                form = 1
                layers = _full_layers(inp, hidden, oup, stride)
            elif inp != oup and stride == 1 and not keep_3x3:
                form = 2
                layers = [("pw", inp, hidden), ("bn", hidden),
                          ("pw", hidden, oup), ("bn", oup), ("relu",)]
            elif inp != oup and stride == 2 and not keep_3x3:
                form = 3
                layers = [("pw", inp, hidden), ("bn", hidden),
                          ("pw", hidden, oup), ("bn", oup), ("relu",),
                          ("dw", oup, 2), ("bn", oup)]
            else:
                form = 4
                # the released code builds this form with stride 1 everywhere
                layers = _full_layers(inp, hidden, oup, 1)
                if not keep_3x3:
                    shortcut = inp // identity_div
            eff_stride = 1 if form == 4 else stride
            blocks.append(BlockSpec(index, inp, hidden, oup, eff_stride, form, shortcut, layers))
            inp = oup
            index += 1
    return blocks


def third_party_topology(width_mult=1.0, identity_div=1):
    """Block list of the ``mobilenext.pytorch`` layout."""
    if identity_div < 1:
        raise ValueError("identity_div must be >= 1")
    blocks = []
    inp = stem_channels(width_mult)
    index = 1
    for t, c, n, s in STAGES:
        oup = make_div(c * width_mult, 8)
        for i in range(n):
            stride = s if i == 0 else 1
            hidden = int(round(inp // t))
            shortcut = inp // identity_div if (stride == 1 and inp == oup) else 0
            layers = _full_layers(inp, hidden, oup, stride)
            blocks.append(BlockSpec(index, inp, hidden, oup, stride, "F", shortcut, layers))
            inp = oup
            index += 1
    return blocks


def topology(layout, width_mult=1.0, identity_div=1):
    if layout == LAYOUT_OFFICIAL:
        return official_topology(width_mult, identity_div)
    if layout == LAYOUT_THIRD_PARTY:
        return third_party_topology(width_mult, identity_div)
    raise ValueError("unknown layout %r" % (layout,))


def _layer_param_shapes(layer, prefix, out):
    kind = layer[0]
    if kind == "dw":
        out[prefix + ".weight"] = (layer[1], 1, 3, 3)
    elif kind == "pw":
        out[prefix + ".weight"] = (layer[2], layer[1], 1, 1)
    elif kind == "bn":
        ch = layer[1]
        for name in ("weight", "bias", "running_mean", "running_var"):
            out[prefix + "." + name] = (ch,)


def state_dict_shapes(layout, width_mult=1.0, num_classes=1000, in_channels=3,
                      head_prefix=None):
    """Ordered {key: shape} of a model's state dict, without ``num_batches_tracked``.

    ``head_prefix`` overrides the classifier key prefix (``classifier`` or
    ``classifier.1``); by default each layout uses its own.
    """
    out = {}
    stem = stem_channels(width_mult)
    out["features.0.0.weight"] = (stem, in_channels, 3, 3)
    _layer_param_shapes(("bn", stem), "features.0.1", out)
    blocks = topology(layout, width_mult, 1)
    for b in blocks:
        for j, layer in enumerate(b.layers):
            _layer_param_shapes(layer, "features.%d.conv.%d" % (b.index, j), out)
    last = blocks[-1].oup
    if head_prefix is None:
        head_prefix = "classifier.1" if layout == LAYOUT_OFFICIAL else "classifier"
    out[head_prefix + ".weight"] = (num_classes, last)
    out[head_prefix + ".bias"] = (num_classes,)
    return out


# ---------------------------------------------------------------------------
# Modules
# ---------------------------------------------------------------------------

def _build_layers(layers):
    mods = []
    for layer in layers:
        kind = layer[0]
        if kind == "dw":
            ch, stride = layer[1], layer[2]
            mods.append(nn.Conv2d(ch, ch, 3, stride, 1, groups=ch, bias=False))
        elif kind == "pw":
            mods.append(nn.Conv2d(layer[1], layer[2], 1, 1, 0, bias=False))
        elif kind == "bn":
            mods.append(nn.BatchNorm2d(layer[1], eps=BN_EPS))
        elif kind == "relu":
            mods.append(nn.ReLU6(inplace=True))
        else:
            raise ValueError(kind)
    return nn.Sequential(*mods)


class SandglassBlock(nn.Module):
    """One block: ``conv`` Sequential plus an optional partial identity shortcut."""

    def __init__(self, spec: BlockSpec):
        super().__init__()
        self.inp = spec.inp
        self.hidden = spec.hidden
        self.oup = spec.oup
        self.stride = spec.stride
        self.form = str(spec.form)
        self.shortcut_channels = int(spec.shortcut)
        self.conv = _build_layers(spec.layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        k = self.shortcut_channels
        if k <= 0:
            return out
        if k >= self.oup:
            return out + x
        head = out[:, :k] + x[:, :k]
        return torch.cat([head, out[:, k:]], dim=1)


def _stem(in_channels, out_channels):
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, 2, 1, bias=False),
        nn.BatchNorm2d(out_channels, eps=BN_EPS),
        nn.ReLU6(inplace=True),
    )


def _default_init(model):
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
            nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / n))
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.01)
            nn.init.zeros_(m.bias)


class _MobileNeXtBase(nn.Module):
    layout = ""
    # static Python description, not part of the scripted graph
    __jit_ignored_attributes__ = ["specs"]

    def _build(self, width_mult, identity_div, num_classes, in_channels):
        self.width_mult = float(width_mult)
        self.identity_div = int(identity_div)
        self.num_classes = int(num_classes)
        self.in_channels = int(in_channels)
        self.specs = topology(self.layout, width_mult, identity_div)
        layers = [_stem(in_channels, stem_channels(width_mult))]
        layers += [SandglassBlock(s) for s in self.specs]
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.last_channels = self.specs[-1].oup

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


class MobileNeXt(_MobileNeXtBase):
    """Authors' layout (``classifier.1.*`` head, forms 1-4)."""

    layout = LAYOUT_OFFICIAL

    def __init__(self, width_mult=1.0, identity_div=1, num_classes=1000, in_channels=3):
        super().__init__()
        self._build(width_mult, identity_div, num_classes, in_channels)
        self.classifier = nn.Sequential(nn.Dropout(0.2),
                                        nn.Linear(self.last_channels, num_classes))
        _default_init(self)


class MobileNeXtThirdParty(_MobileNeXtBase):
    """``mobilenext.pytorch`` layout (all blocks full form, ``classifier.*`` head)."""

    layout = LAYOUT_THIRD_PARTY

    def __init__(self, width_mult=1.0, identity_div=1, num_classes=1000, in_channels=3):
        super().__init__()
        self._build(width_mult, identity_div, num_classes, in_channels)
        self.classifier = nn.Linear(self.last_channels, num_classes)
        _default_init(self)


def build_model(layout, width_mult=1.0, identity_div=1, num_classes=1000, in_channels=3):
    if layout == LAYOUT_OFFICIAL:
        return MobileNeXt(width_mult, identity_div, num_classes, in_channels)
    if layout == LAYOUT_THIRD_PARTY:
        return MobileNeXtThirdParty(width_mult, identity_div, num_classes, in_channels)
    raise ValueError("unknown layout %r" % (layout,))


# ---------------------------------------------------------------------------
# Random weights for parity tests
# ---------------------------------------------------------------------------

def randomize_bn(model, generator):
    """Give every BatchNorm non-trivial statistics and affine parameters.

    running_mean ~ N(0, 0.2^2), running_var ~ U(0.5, 2.0), weight ~ U(0.5, 1.5),
    bias ~ N(0, 0.2^2); values are drawn in module order from ``generator``.
    """
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                c = m.num_features
                m.running_mean.copy_(torch.randn(c, generator=generator) * 0.2)
                m.running_var.copy_(torch.rand(c, generator=generator) * 1.5 + 0.5)
                m.weight.copy_(torch.rand(c, generator=generator) + 0.5)
                m.bias.copy_(torch.randn(c, generator=generator) * 0.2)
    return model


def randomize_weights(model, generator, conv_gain=1.0):
    """Random conv/linear weights (variance-preserving normal) followed by randomize_bn.

    Conv weights ~ N(0, conv_gain^2 / fan_in) with fan_in = k_h * k_w * in / groups;
    Linear weights ~ N(0, 1 / in), Linear bias ~ N(0, 0.1^2).
    """
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                fan_in = m.weight.shape[1] * m.weight.shape[2] * m.weight.shape[3]
                std = conv_gain / math.sqrt(fan_in)
                m.weight.copy_(torch.randn(m.weight.shape, generator=generator) * std)
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, nn.Linear):
                std = 1.0 / math.sqrt(m.in_features)
                m.weight.copy_(torch.randn(m.weight.shape, generator=generator) * std)
                m.bias.copy_(torch.randn(m.bias.shape, generator=generator) * 0.1)
    randomize_bn(model, generator)
    return model


# ---------------------------------------------------------------------------
# Complexity
# ---------------------------------------------------------------------------

def count_params_madds(model, h=224, w=224):
    """(parameters, multiply-adds) for one h x w image.

    Parameters: sum of numel over model.parameters() (BN running stats excluded).
    Multiply-adds: Conv2d (k_h * k_w * in / groups) * out * H_out * W_out plus Linear
    in * out, collected with forward hooks during a real forward pass.
    """
    params = sum(p.numel() for p in model.parameters())
    total = [0]

    def conv_hook(m, inputs, output):
        kh, kw = m.kernel_size
        per_out = kh * kw * (m.in_channels // m.groups)
        total[0] += per_out * m.out_channels * output.shape[2] * output.shape[3]

    def linear_hook(m, inputs, output):
        total[0] += m.in_features * m.out_features

    handles = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, model.in_channels, h, w))
    finally:
        for hd in handles:
            hd.remove()
        model.train(was_training)
    return params, total[0]


def format_topology(model):
    lines = ["  %5s %6s %6s %6s %6s %4s %8s" % ("index", "in", "hidden", "out", "stride",
                                               "form", "shortcut")]
    for s in model.specs:
        lines.append("  %5d %6d %6d %6d %6d %4s %8d" % (s.index, s.inp, s.hidden, s.oup,
                                                      s.stride, s.form, s.shortcut))
    return "\n".join(lines)


def _main(argv):
    import argparse
    p = argparse.ArgumentParser(description="Print MobileNeXt counts and topology.")
    p.add_argument("--layout", choices=LAYOUTS, default=LAYOUT_OFFICIAL)
    p.add_argument("--identity-div", type=int, default=1)
    p.add_argument("--num-classes", type=int, default=1000)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--widths", default="0.35,0.5,0.75,1.0,1.4")
    p.add_argument("--no-topology", action="store_true")
    args = p.parse_args(argv)
    widths = [float(x) for x in args.widths.split(",")]
    print("layout=%s identity_div=%d num_classes=%d input=%dx%d"
          % (args.layout, args.identity_div, args.num_classes, args.size, args.size))
    print("%6s %12s %14s" % ("width", "params", "madds"))
    models = []
    for wm in widths:
        m = build_model(args.layout, wm, args.identity_div, args.num_classes)
        params, madds = count_params_madds(m, args.size, args.size)
        print("%6s %12d %14d" % (repr(wm), params, madds))
        models.append((wm, m))
    if not args.no_topology:
        for wm, m in models:
            print()
            print("width %s (stem %d):" % (repr(wm), stem_channels(wm)))
            print(format_topology(m))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
