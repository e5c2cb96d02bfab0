#!/usr/bin/python3
"""Exports an int8 model file (`mobilenext quantize`) as a QDQ ONNX graph with exactly its
scales, zero points, int8 weights and int32 biases, and checks the library against ONNX
Runtime on it.

  export_int8_qdq.py INT8.safetensors -o MODEL.onnx [--fixed-input NxHxW]
  export_int8_qdq.py INT8.safetensors -o MODEL.onnx --check --cli BUILD/mobilenext \\
      --ort-dir DIR --data-dir /usr/share/datasets/fashion-mnist [--images N]

The graph: the float stem (Conv, Clip 0..6), QuantizeLinear to the stem's uint8 tensor; each
layer DequantizeLinear (activation; weights per output channel, axis 0; the int32 bias on
s_in * s_w) -> Conv [-> Clip 0..6] -> QuantizeLinear to the layer's output tensor; the partial
shortcut as Slice/Add/Concat of the dequantized tensors, quantized to the block's output; then
DequantizeLinear, GlobalAveragePool, Flatten and the classifier: its int8 weights
DequantizeLinear'd per class, a float Gemm on the pooled features. ONNX Runtime
fuses the Q/DQ pairs around each Conv into QLinearConv.

--check runs the Fashion-MNIST test images (preprocessed as the file says) through ONNX
Runtime (tools/ort_logits.mjs, copied beside onnxruntime-node in --ort-dir) and through
`mobilenext run`, and fails unless on at least 99% of the images the logits are within 1% of
the logit range, and the top-1 answers agree on at least 99% of them; it prints how many
images differ by more than float rounding, and the largest difference. Both sides compute
the same integer layers with the same float requantization (multipliers formed in float as
(s_in * s_w) / s_out) and the shortcut add in float as DequantizeLinear, Add and
QuantizeLinear define it. The differences left follow the float stem (the images that differ
change when the library's stem runs on another float kernel set): its 27-term sums are added
in another order on each side, and an output next to a rounding boundary of its uint8 grid
can round the other way, a difference the following layers carry to the logits.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mobilenext_torch as mx  # noqa: E402
import safetensors_io  # noqa: E402

LOGIT_TOLERANCE = 0.01   # of the logit range (max - min over the test set)
MIN_AGREEMENT = 0.99


def block_layers(spec):
    """[(role, kind, stride, relu6)] of a block, in order, from mobilenext_torch's layer list."""
    out, seen_pw = [], 0
    layers = spec.layers
    for i, layer in enumerate(layers):
        if layer[0] not in ("dw", "pw"):
            continue
        relu = any(l[0] == "relu" for l in layers[i + 1:i + 3])
        if layer[0] == "pw":
            role = "reduce" if seen_pw == 0 else "expand"
            seen_pw += 1
            out.append((role, "pw", 1, relu))
        else:
            role = "input_dw" if seen_pw == 0 else "output_dw"
            out.append((role, "dw", layer[2] if role == "output_dw" else 1, relu))
    return out


class Graph:
    def __init__(self):
        self.nodes, self.inits, self.count = [], [], 0

    def const(self, name, array):
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(self, op, inputs, **attrs):
        self.count += 1
        out = "%s_%d" % (op.lower(), self.count)
        self.nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def quantize(self, x, scale, zero_point):
        return self.node("QuantizeLinear", [x, scale, zero_point])

    def dequantize(self, q, scale, zero_point):
        return self.node("DequantizeLinear", [q, scale, zero_point])


def scalar_qparams(g, t, prefix):
    scale = g.const(prefix + ".scale", np.array(t[prefix + ".scale"], np.float32).reshape(()))
    zp = g.const(prefix + ".zero_point", np.array(t[prefix + ".zero_point"], np.uint8).reshape(()))
    return scale, zp


def conv_layer(g, t, x_q, in_params, name, kind, stride, relu, channels):
    """Dequantize, convolve with the int8 weights and int32 bias, clip, quantize."""
    w = np.asarray(t[name + ".weight"], np.int8)
    w_scale = np.asarray(t[name + ".weight_scale"], np.float32)
    in_scale = float(np.float32(t[in_params[2] + ".scale"]))
    x = g.dequantize(x_q, in_params[0], in_params[1])
    wq = g.const(name + ".weight", w)
    weights = g.node("DequantizeLinear", [wq, g.const(name + ".weight_scale", w_scale),
                                          g.const(name + ".weight_zero_point", np.zeros(len(w_scale), np.int8))],
                     axis=0)
    bias_scale = (np.float32(in_scale) * w_scale).astype(np.float32)
    bias = g.node("DequantizeLinear", [g.const(name + ".bias", np.asarray(t[name + ".bias"], np.int32)),
                                       g.const(name + ".bias_scale", bias_scale),
                                       g.const(name + ".bias_zero_point", np.zeros(len(w_scale), np.int32))],
                  axis=0)
    attrs = dict(kernel_shape=[w.shape[2], w.shape[3]], strides=[stride, stride])
    if kind == "dw":
        attrs.update(group=channels, pads=[1, 1, 1, 1])
    y = g.node("Conv", [x, weights, bias], **attrs)
    if relu:
        y = g.node("Clip", [y, g.const(name + ".clip_lo", np.array(0, np.float32)),
                            g.const(name + ".clip_hi", np.array(6, np.float32))])
    params = scalar_qparams(g, t, name + ".output") + (name + ".output",)
    return g.quantize(y, params[0], params[1]), params


def partial_shortcut(g, t, block_in, in_params, out_q, out_params, shortcut, channels, prefix):
    a = g.dequantize(out_q, out_params[0], out_params[1])
    b = g.dequantize(block_in, in_params[0], in_params[1])
    axes = g.const(prefix + ".axes", np.array([1], np.int64))
    start = g.const(prefix + ".start", np.array([0], np.int64))
    k = g.const(prefix + ".k", np.array([shortcut], np.int64))
    end = g.const(prefix + ".end", np.array([channels], np.int64))
    added = g.node("Add", [g.node("Slice", [a, start, k, axes]), g.node("Slice", [b, start, k, axes])])
    y = added if shortcut == channels else g.node("Concat", [added, g.node("Slice", [a, k, end, axes])], axis=1)
    params = scalar_qparams(g, t, prefix + ".output") + (prefix + ".output",)
    return g.quantize(y, params[0], params[1]), params


def build_graph(path):
    t, meta = safetensors_io.load_file(path)
    t = {k: v.numpy() for k, v in t.items()}
    if not meta or "mobilenext.quantization" not in meta:
        raise SystemExit("%s: not an int8 model file (no mobilenext.quantization)" % path)
    width = float(meta["mobilenext.width"])
    identity_div = int(meta.get("mobilenext.identity_div", "1"))
    in_channels = int(meta.get("mobilenext.in_channels", "3"))
    specs = mx.topology(meta.get("mobilenext.layout", mx.LAYOUT_OFFICIAL), width, identity_div)
    g = Graph()
    stem = g.node("Conv", ["input", g.const("stem.weight", t["stem.weight"]), g.const("stem.bias", t["stem.bias"])],
                  kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    stem = g.node("Clip", [stem, g.const("stem.clip_lo", np.array(0, np.float32)),
                           g.const("stem.clip_hi", np.array(6, np.float32))])
    params = scalar_qparams(g, t, "stem.output") + ("stem.output",)
    x = g.quantize(stem, params[0], params[1])
    for spec in specs:
        prefix = "features.%d" % spec.index
        block_in, block_params = x, params
        for role, kind, stride, relu in block_layers(spec):
            channels = spec.inp if role == "input_dw" else spec.oup
            x, params = conv_layer(g, t, x, params, "%s.%s" % (prefix, role), kind, stride, relu, channels)
        if spec.shortcut:
            x, params = partial_shortcut(g, t, block_in, block_params, x, params, spec.shortcut, spec.oup, prefix)
    pooled = g.node("Flatten", [g.node("GlobalAveragePool", [g.dequantize(x, params[0], params[1])])], axis=1)
    classes = int(t["classifier.bias"].shape[0])
    weight = g.node("DequantizeLinear", [g.const("classifier.weight", np.asarray(t["classifier.weight"], np.int8)),
                                         g.const("classifier.weight_scale",
                                                 np.asarray(t["classifier.weight_scale"], np.float32)),
                                         g.const("classifier.weight_zero_point", np.zeros(classes, np.int8))], axis=0)
    logits = g.node("Gemm", [pooled, weight, g.const("classifier.bias", t["classifier.bias"])], transB=1)
    g.nodes.append(helper.make_node("Identity", [logits], ["logits"]))
    graph = helper.make_graph(
        g.nodes, "mobilenext_int8_qdq",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", in_channels, "H", "W"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", int(t["classifier.bias"].shape[0])])],
        g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    return model, meta


def check(args, model_path, meta):
    import fashion_mnist as fm
    pre = json.loads(meta["mobilenext.preprocess"])
    images, _ = fm.load_split(args.data_dir, "t10k")
    x = fm.eval_inputs(images[:args.images], pre).numpy().astype(np.float32)
    with tempfile.TemporaryDirectory() as work:
        xin, ort_out = os.path.join(work, "x.bin"), os.path.join(work, "ort.bin")
        x.tofile(xin)
        runner = os.path.join(args.ort_dir, "ort_logits.mjs")
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "ort_logits.mjs")) as src, \
                open(runner, "w") as dst:
            dst.write(src.read())
        subprocess.run(["node", runner, model_path, xin] + [str(d) for d in x.shape] + [ort_out], check=True)
        ort = np.fromfile(ort_out, np.float32).reshape(len(x), -1)
        np.save(os.path.join(work, "x.npy"), x)
        ours_path = os.path.join(work, "ours.npy")
        subprocess.run([args.cli, "run", args.model, "--input", os.path.join(work, "x.npy"), "--output", ours_path],
                       check=True, stdout=subprocess.DEVNULL)
        ours = np.load(ours_path).reshape(len(x), -1)
    span = float(ort.max() - ort.min())
    per_image = np.abs(ours - ort).max(1)
    worst = float(per_image.max())
    within = float((per_image <= LOGIT_TOLERANCE * span).mean())
    print("per image max |logit difference| as %% of the range: median %.3f%%, 99th percentile %.3f%%, "
          "over 1%%: %d images; over 0.01%% (a uint8 value that differs somewhere): %d images"
          % (100 * np.median(per_image) / span, 100 * np.percentile(per_image, 99) / span,
             int((per_image > LOGIT_TOLERANCE * span).sum()), int((per_image > 1e-4 * span).sum())))
    agreement = float((ours.argmax(1) == ort.argmax(1)).mean())
    print("%d images: max |logit difference| %.4g = %.3f%% of the logit range %.4g; the same top-1 on %.4f"
          % (len(x), worst, 100 * worst / span, span, agreement))
    if not (within >= MIN_AGREEMENT and agreement >= MIN_AGREEMENT):
        raise SystemExit("FAILED: logits must be within %.0f%% of the range and top-1 agree on %.0f%% of the images"
                         % (100 * LOGIT_TOLERANCE, 100 * MIN_AGREEMENT))
    print("passed: logits within %.0f%% of the range on %.2f%% of the images, the same top-1 on %.2f%%"
          % (100 * LOGIT_TOLERANCE, 100 * within, 100 * agreement))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--cli")
    ap.add_argument("--ort-dir")
    ap.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--images", type=int, default=10000)
    ap.add_argument("--fixed-input", metavar="NxHxW",
                    help="fix the input's batch and size (for timing tools that read them from the model)")
    args = ap.parse_args()
    model, meta = build_graph(args.model)
    if args.fixed_input:
        dims = model.graph.input[0].type.tensor_type.shape.dim
        for d, value in zip((dims[0], dims[2], dims[3]), (int(v) for v in args.fixed_input.split("x"))):
            d.dim_value = value
        model.graph.output[0].type.tensor_type.shape.dim[0].dim_value = dims[0].dim_value
    onnx.save(model, args.output)
    print("wrote %s: %d nodes" % (args.output, len(model.graph.node)))
    if args.check:
        if not args.cli or not args.ort_dir:
            ap.error("--check needs --cli and --ort-dir")
        check(args, args.output, meta)


if __name__ == "__main__":
    main()
