#!/usr/bin/python3
"""Checks of tools/convert.py's refusals and inputs, on small random models (classifiers of
width 0.35 and 5 classes built with mobilenext_torch.py; detectors of width 0.5 built with
ssdlite_torch.py):

  check_converter.py --cli build/examples/mobilenext [--work-dir DIR]

  a. a bare state dict without --identity-div is refused (exit status 1), naming the option;
  b. with --identity-div it converts, the test vector from the reference implementation;
  c. a checkpoint whose args state identity_div converts without the option;
  d. a float16 .safetensors state dict converts (with labels) and `mobilenext info` checks
     its stored test vector; the converted file converts again from its own metadata;
  e. --module with a TorchScript model of identity divisor 2 is refused under
     --identity-div 1, saying which divisor fits, and accepted under 2 with the test
     vector from the user module; so is a checkpoint holding the nn.Module itself;
     --config given for a classifier is refused.
  f. a VOC detector in the authors' checkpoint form ({'model': ..., 'optimizer': ...},
     'module.' prefixes) converts without options, voc recognised from the heads; names,
     metadata and the test vector (scores, boxes of the model itself) are checked;
  g. a COCO detector's bare state dict is recognised as coco; 82 labels are stored (sigmoid:
     label = column + 1), 81 refused;
  h. a YAML configuration in the authors' format (tuples as "(...)", numbers as "2e-2",
     sigmoid scores, pixel mean/std) converts; one without TEST and INPUT.PIXEL_* takes the
     training code's defaults; so does a JSON object of ssdlite_torch.CONFIGS' fields;
  i. refused: boxes per location contradicting the box heads (a VOC model under --config
     coco), NUM_CLASSES contradicting the class heads, FEATURE_MAPS other than the network
     makes at IMAGE_SIZE, a list of 5 entries, BOXES_PER_LOCATION contradicting ASPECT_RATIOS,
     heads fitting neither published configuration without --config, no MIN_SIZES;
  j. refused: no extra layers, no last extra layer, a missing head, an unexpected tensor,
     --identity-div 2.
The detector cases use only Python: the C++ side of detection is checked by check_detector.py.
"""

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile

import torch

TOOLS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS)

import convert  # noqa: E402
import mobilenext_torch as mx  # noqa: E402
import safetensors_io  # noqa: E402
import ssdlite_torch as ssd  # noqa: E402

WIDTH = 0.35
CLASSES = 5
DIV = 2
LABELS = ["zero", "one", "two", "three", "four"]


class Checks:
    def __init__(self):
        self.failures = 0

    def expect(self, ok, what, detail=""):
        """Report one check; on failure also ``detail`` (the tool's output), indented."""
        shown = ""
        if not ok and detail:
            shown = "\n     " + detail.strip().replace("\n", "\n     ")
        print("%s %s%s" % ("ok  " if ok else "FAIL", what, shown), flush=True)
        self.failures += not ok
        return ok


def run_inprocess(argv):
    """(exit status, stdout + stderr) of convert.py run in this process (saves a torch import)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        status = convert.main(argv)
    return status, out.getvalue()


def metadata(path):
    return safetensors_io.load_file(path)[1]


def cli_checks_test_vector(checks, cli, model, what):
    """`mobilenext info MODEL` loads the file and says its stored test vector was checked."""
    info = subprocess.run([cli, "info", model], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True)
    checks.expect(info.returncode == 0 and "test vector checked" in info.stdout, what,
                  "exit status %d: %s" % (info.returncode, info.stdout))


# ---------------------------------------------------------------------------
# Detector checkpoints
# ---------------------------------------------------------------------------

DETECTOR_WIDTH = 0.5
DETECTOR_METADATA_KEYS = {
    "format", "mobilenext.task", "mobilenext.layout", "mobilenext.width",
    "mobilenext.identity_div", "mobilenext.in_channels", "mobilenext.num_classes",
    "mobilenext.converter_version", "mobilenext.detector", "mobilenext.preprocess",
    "mobilenext.test_vector", safetensors_io.CHECKSUM_KEY}
# A configuration of its own for the YAML cases: 300 x 300 input, 4 classes under sigmoid
# scores, 4 boxes per location on the last map.
CUSTOM = {
    "num_classes": 4, "score": "sigmoid", "image_size": 300,
    "feature_maps": [19, 10, 5, 3, 2, 1], "strides": [16, 32, 64, 100, 150, 300],
    "min_sizes": [60, 105, 150, 195, 240, 285], "max_sizes": [105, 150, 195, 240, 285, 330],
    "aspect_ratios": [[2, 3]] * 5 + [[2]], "center_variance": 0.1, "size_variance": 0.2,
    "threshold": 0.02, "nms_iou": 0.5, "max_detections": 50,
}
CUSTOM_MEAN, CUSTOM_STD = [120, 110, 100], [50.0, 51.5, 52.25]


def _yaml_list(values):
    return "[" + ", ".join(_yaml_list(v) if isinstance(v, list) else str(v) for v in values) + "]"


def custom_yaml(drop=(), **override):
    """CUSTOM in the authors' YAML format, with tuples written "(...)" as their files do;
    ``override`` replaces settings by their YAML key's last part (lower case), ``drop``
    leaves keys out."""
    c = dict(CUSTOM)
    v = {
        "NUM_CLASSES": str(c["num_classes"]), "SCORE": c["score"],
        "FEATURE_MAPS": _yaml_list(c["feature_maps"]),
        "STRIDES": "(" + ", ".join(str(x) for x in c["strides"]) + ")",
        "MIN_SIZES": _yaml_list(c["min_sizes"]), "MAX_SIZES": _yaml_list(c["max_sizes"]),
        "ASPECT_RATIOS": _yaml_list(c["aspect_ratios"]),
        "BOXES_PER_LOCATION": "(6, 6, 6, 6, 6, 4)",
        "IMAGE_SIZE": str(c["image_size"]), "PIXEL_MEAN": _yaml_list(CUSTOM_MEAN),
        "PIXEL_STD": _yaml_list(CUSTOM_STD),
        "NMS_THRESHOLD": str(c["nms_iou"]), "CONFIDENCE_THRESHOLD": "2e-2",
        "MAX_PER_IMAGE": str(c["max_detections"]),
    }
    for key, value in override.items():
        v[key.upper()] = value
    lines = [
        "MODEL:",
        "  NUM_CLASSES: {NUM_CLASSES}",
        "  BOX_HEAD:",
        "    PREDICTOR: 'SSDLiteBoxPredictor'",
        "    SCORE: {SCORE}",
        "  BACKBONE:",
        "    NAME: 'mobilenext'",
        "    OUT_CHANNELS: (288, 1280, 512, 256, 256, 128)",
        "  PRIORS:",
        "    FEATURE_MAPS: {FEATURE_MAPS}",
        "    STRIDES: {STRIDES}",
        "    MIN_SIZES: {MIN_SIZES}",
        "    MAX_SIZES: {MAX_SIZES}",
        "    ASPECT_RATIOS: {ASPECT_RATIOS}",
        "    BOXES_PER_LOCATION: {BOXES_PER_LOCATION}",
        "    CLIP: True",
        "  CENTER_VARIANCE: 0.1",
        "  SIZE_VARIANCE: 0.2",
        "INPUT:",
        "  IMAGE_SIZE: {IMAGE_SIZE}",
        "  PIXEL_MEAN: {PIXEL_MEAN}",
        "  PIXEL_STD: {PIXEL_STD}",
        "DATASETS:",
        "  TRAIN: (\"voc_2007_trainval\", \"voc_2012_trainval\")",
        "  TEST: (\"voc_2007_test\", )",
        "TEST:",
        "  NMS_THRESHOLD: {NMS_THRESHOLD}",
        "  CONFIDENCE_THRESHOLD: {CONFIDENCE_THRESHOLD}",
        "  MAX_PER_IMAGE: {MAX_PER_IMAGE}",
        "OUTPUT_DIR: 'outputs/mobilenext_ssd300_custom'",
    ]
    out = []
    for line in lines:
        key = line.split(":")[0].strip()
        if key in drop:
            continue
        out.append(line.format(**v))
    return "\n".join(out) + "\n"


def detector_state(width, config, seed):
    model = ssd.random_detector(width, config, seed, calibration_size=(64, 64),
                                calibration_batches=1)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return model, state


def reference_test_vector(model, config):
    """(scores, boxes) flattened, as the converter must store them, from the model itself."""
    x = convert.make_test_input(3)
    with torch.no_grad():
        cls, reg = model(x)
        prior = ssd.priors(config, ssd.map_sizes(model, 65, 65), 65, 65)
        scores, boxes = ssd.scores_and_boxes(config, cls, reg, prior)
    return scores.reshape(-1), boxes.reshape(-1)


def detector_file_ok(path, model, config, expect, state):
    """'' when ``path`` holds ``state`` and the metadata ``expect`` describes, else why not."""
    tensors, m = safetensors_io.load_file(path)
    if set(m) != DETECTOR_METADATA_KEYS | ({"mobilenext.labels"} if "labels" in expect else set()):
        return "metadata keys %s" % sorted(m)
    wanted = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    if list(tensors) != list(wanted) or not all(torch.equal(tensors[k], wanted[k]) for k in wanted):
        return "the tensors are not the checkpoint's, in its names and order"
    fixed = {"format": "mobilenext", "mobilenext.task": "detection",
             "mobilenext.layout": "official", "mobilenext.width": repr(float(DETECTOR_WIDTH)),
             "mobilenext.identity_div": "1", "mobilenext.in_channels": "3",
             "mobilenext.num_classes": str(config["num_classes"])}
    for k, v in fixed.items():
        if m[k] != v:
            return "%s = %r, expected %r" % (k, m[k], v)
    detector = json.loads(m["mobilenext.detector"])
    want = {k: config[k] for k in convert.DETECTOR_KEYS}
    if list(detector) != list(convert.DETECTOR_KEYS) or detector != want:
        return "mobilenext.detector = %s, expected %s" % (m["mobilenext.detector"], json.dumps(want))
    pre = json.loads(m["mobilenext.preprocess"])
    want = {"size": [config["image_size"]] * 2, "interpolation": "opencv-linear",
            "pixel_mean": expect.get("mean", [123, 117, 104]),
            "pixel_std": expect.get("std", [58.395, 57.12, 57.375])}
    if pre != want:
        return "mobilenext.preprocess = %s, expected %s" % (m["mobilenext.preprocess"], json.dumps(want))
    if "labels" in expect and json.loads(m["mobilenext.labels"]) != expect["labels"]:
        return "mobilenext.labels = %s" % m["mobilenext.labels"]
    tv = json.loads(m["mobilenext.test_vector"])
    if tv["input_shape"] != [1, 3, 65, 65] or tv["input_seed"] != 0 or set(tv) != {
            "input_shape", "input_seed", "scores", "boxes"}:
        return "test vector %s" % m["mobilenext.test_vector"][:120]
    scores, boxes = reference_test_vector(model, config)
    for key, value in (("scores", scores), ("boxes", boxes)):
        stored = torch.tensor(tv[key])
        if stored.numel() != value.numel():
            return "test vector: %d %s, expected %d" % (stored.numel(), key, value.numel())
        err = (stored - value).abs().max().item()
        if err > 1e-6:
            return "test vector %s differ from the model's by %.3g" % (key, err)
    return ""


def detector_checks(checks, path):
    """Cases f-j: detector checkpoints."""
    voc_model, voc_state = detector_state(DETECTOR_WIDTH, "voc", 21)
    voc = ssd.CONFIGS["voc"]
    ckpt = path("ssd_voc.pth")
    torch.save({"model": {"module." + k: v for k, v in voc_state.items()}, "optimizer": {},
                "scheduler": {}, "iteration": 1000}, ckpt)

    # f. the authors' checkpoint, no options
    out = path("f.safetensors")
    status, text = run_inprocess([ckpt, "-o", out, "--check"])
    why = detector_file_ok(out, voc_model, voc, {}, voc_state) if status == 0 else "exit status 1"
    checks.expect(status == 0 and "detector config: voc" in text and not why,
                  "f. VOC detector checkpoint converts without options, voc recognised: %s"
                  % (why or "metadata and test vector as expected"), text)

    # g. COCO, a bare state dict; labels by reported label
    coco_model, coco_state = detector_state(DETECTOR_WIDTH, "coco", 81)
    coco = ssd.CONFIGS["coco"]
    bare = path("ssd_coco.pth")
    torch.save(coco_state, bare)
    names = ["background"] + ["class%d" % i for i in range(1, 82)]
    labels = path("coco_labels.txt")
    with open(labels, "w", encoding="utf-8") as f:
        f.write("\n".join(names) + "\n")
    out = path("g.safetensors")
    status, text = run_inprocess([bare, "-o", out, "--labels", labels])
    why = (detector_file_ok(out, coco_model, coco, {"labels": names}, coco_state)
           if status == 0 else "exit status 1")
    checks.expect(status == 0 and "detector config: coco" in text and not why,
                  "g. COCO detector state dict recognised as coco, 82 labels: %s"
                  % (why or "as expected"), text)
    with open(labels, "w", encoding="utf-8") as f:
        f.write("\n".join(names[:81]) + "\n")
    refused(checks, [bare, "--labels", labels], path("g-labels.safetensors"),
            ["has 81 names", "82 names", "column + 1"], "g. 81 labels for a sigmoid head of 81 columns")

    # h. a YAML configuration of the authors' format
    custom_model, custom_state = detector_state(DETECTOR_WIDTH, CUSTOM, 4)
    custom_ckpt = path("ssd_custom.pth")
    torch.save({"model": custom_state, "optimizer": {}, "iteration": 0}, custom_ckpt)
    yaml_path = path("custom.yaml")
    with open(yaml_path, "w", encoding="utf-8") as f:
        f.write(custom_yaml())
    out = path("h.safetensors")
    status, text = run_inprocess([custom_ckpt, "-o", out, "--config", yaml_path, "--check"])
    why = (detector_file_ok(out, custom_model, CUSTOM, {"mean": CUSTOM_MEAN, "std": CUSTOM_STD},
                            custom_state) if status == 0 else "exit status 1")
    checks.expect(status == 0 and not why, "h. --config FILE.yaml (tuples, number strings, "
                  "sigmoid, mean/std): %s" % (why or "as expected"), text)
    plain_yaml = path("custom-plain.yaml")
    with open(plain_yaml, "w", encoding="utf-8") as f:
        f.write(custom_yaml(drop=("SCORE", "PIXEL_MEAN", "PIXEL_STD", "TEST", "NMS_THRESHOLD",
                                  "CONFIDENCE_THRESHOLD", "MAX_PER_IMAGE", "BOXES_PER_LOCATION")))
    out = path("h-plain.safetensors")
    status, text = run_inprocess([custom_ckpt, "-o", out, "--config", plain_yaml,
                                  "--score", "sigmoid"])
    plain = dict(CUSTOM, threshold=0.01, nms_iou=0.45, max_detections=100)
    why = detector_file_ok(out, custom_model, plain, {}, custom_state) if status == 0 else "exit status 1"
    checks.expect(status == 0 and not why and "does not state" in text,
                  "h. a YAML file without TEST and PIXEL_* takes the training code's defaults, "
                  "--score sigmoid: %s" % (why or "as expected"), text)

    fields = path("custom.json")
    with open(fields, "w", encoding="utf-8") as f:
        json.dump(dict(CUSTOM, pixel_mean=CUSTOM_MEAN, pixel_std=CUSTOM_STD), f)
    out = path("h-json.safetensors")
    status, text = run_inprocess([custom_ckpt, "-o", out, "--config", fields])
    why = (detector_file_ok(out, custom_model, CUSTOM, {"mean": CUSTOM_MEAN, "std": CUSTOM_STD},
                            custom_state) if status == 0 else "exit status 1")
    checks.expect(status == 0 and not why, "h. --config FILE.json in the converter's own fields: %s"
                  % (why or "as expected"), text)

    # i. refusals of a configuration the weights contradict
    refused(checks, [ckpt, "--config", "coco"], path("i1.safetensors"),
            ["box_head.predictor.reg_headers.5.weight", "[16, 128, 1, 1]", "[24, 128, 1, 1]"],
            "i. the VOC checkpoint under --config coco (4 boxes on map 5)")
    wrong_k = path("wrong-classes.yaml")
    with open(wrong_k, "w", encoding="utf-8") as f:
        f.write(custom_yaml(num_classes="81"))
    refused(checks, [custom_ckpt, "--config", wrong_k], path("i2.safetensors"),
            ["MODEL.NUM_CLASSES is 81", "box_head.predictor.cls_headers.0.conv.3.weight",
             "[486, 288, 1, 1]", "[24, 288, 1, 1]"],
            "i. a YAML file's NUM_CLASSES 81 against class heads of 4")
    wrong_maps = path("wrong-maps.yaml")
    with open(wrong_maps, "w", encoding="utf-8") as f:
        f.write(custom_yaml(feature_maps="[20, 10, 5, 3, 2, 1]"))
    refused(checks, [custom_ckpt, "--config", wrong_maps], path("i3.safetensors"),
            ["MODEL.PRIORS.FEATURE_MAPS is [20, 10, 5, 3, 2, 1]", "INPUT.IMAGE_SIZE 300",
             "[19, 10, 5, 3, 2, 1]"],
            "i. FEATURE_MAPS of a 320 input with IMAGE_SIZE 300")
    short = path("short.yaml")
    with open(short, "w", encoding="utf-8") as f:
        f.write(custom_yaml(strides="(16, 32, 64, 100, 150)"))
    refused(checks, [custom_ckpt, "--config", short], path("i4.safetensors"),
            ["MODEL.PRIORS.STRIDES has 5 entries", "6 feature maps"], "i. five STRIDES")
    boxes = path("boxes.yaml")
    with open(boxes, "w", encoding="utf-8") as f:
        f.write(custom_yaml(boxes_per_location="[6, 6, 6, 6, 6, 6]"))
    refused(checks, [custom_ckpt, "--config", boxes], path("i5.safetensors"),
            ["MODEL.PRIORS.BOXES_PER_LOCATION[5] is 6", "make 4 boxes"],
            "i. BOXES_PER_LOCATION contradicting ASPECT_RATIOS")
    refused(checks, [custom_ckpt], path("i6.safetensors"),
            ["no --config given", "4 classes", "6 6 6 6 6 4", "fit neither", "--config FILE (YAML or JSON)"],
            "i. heads that fit neither published configuration, without --config")
    no_priors = path("no-priors.yaml")
    with open(no_priors, "w", encoding="utf-8") as f:
        f.write(custom_yaml(drop=("MIN_SIZES",)))
    refused(checks, [custom_ckpt, "--config", no_priors], path("i7.safetensors"),
            ["does not state MODEL.PRIORS.MIN_SIZES"], "i. a YAML file without MIN_SIZES")

    # j. refusals of incomplete or foreign tensors
    def edited(name, keep=lambda k: True, extra=None):
        state = {k: v for k, v in voc_state.items() if keep(k)}
        state.update(extra or {})
        p = path(name)
        torch.save({"model": state, "optimizer": {}, "iteration": 0}, p)
        return p

    refused(checks, [edited("no-extras.pth", lambda k: not k.startswith("backbone.extras."))],
            path("j1.safetensors"), ["no extra layers", "backbone.extras.0.0.weight"],
            "j. a detector without its extra layers")
    refused(checks, [edited("no-extra3.pth", lambda k: not k.startswith("backbone.extras.3."))],
            path("j2.safetensors"), ["backbone.extras.3.0.weight", "is missing"],
            "j. a detector without its last extra layer")
    refused(checks, [edited("no-head.pth",
                            lambda k: not k.startswith("box_head.predictor.cls_headers.2."))],
            path("j3.safetensors"), ["class head of map 2 is missing",
                                     "box_head.predictor.cls_headers.2.conv.3.weight"],
            "j. a detector without the class head of map 2")
    refused(checks, [edited("extra-tensor.pth",
                            extra={"box_head.predictor.extra.weight": torch.zeros(3)})],
            path("j4.safetensors"), ["unexpected tensor 'box_head.predictor.extra.weight'"],
            "j. a detector with a tensor the network does not have")
    refused(checks, [ckpt, "--identity-div", "2"], path("j5.safetensors"),
            ["--identity-div 2", "identity divisor 1"], "j. --identity-div 2 for a detector")


def refused(checks, argv, out, needles, what):
    """convert.py exits with status 1 saying each of ``needles`` and writes nothing."""
    status, text = run_inprocess(argv + ["-o", out])
    missing = [n for n in needles if n not in text]
    checks.expect(status == 1 and not missing and not os.path.exists(out),
                  "%s is refused" % what,
                  "exit status %d, missing %s: %s" % (status, missing, text))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cli", required=True, help="path of the mobilenext executable")
    p.add_argument("--work-dir")
    args = p.parse_args()
    torch.set_num_threads(1)
    checks = Checks()

    model = mx.build_model(mx.LAYOUT_OFFICIAL, WIDTH, DIV, CLASSES, 3)
    mx.randomize_weights(model, torch.Generator().manual_seed(11))
    model.eval()
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}

    with tempfile.TemporaryDirectory(dir=args.work_dir) as work:
        def path(name):
            return os.path.join(work, name)

        bare = path("bare.pth")
        torch.save(state, bare)

        # a. refused, by the real process and its exit status
        out = path("a.safetensors")
        run = subprocess.run([sys.executable, os.path.join(TOOLS, "convert.py"), bare, "-o", out],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             universal_newlines=True)
        checks.expect(run.returncode == 1 and "--identity-div" in run.stdout
                      and "do not show it" in run.stdout and not os.path.exists(out),
                      "a. bare state dict without --identity-div is refused",
                      "exit status %d: %s" % (run.returncode, run.stdout))

        # b. stated on the command line
        out = path("b.safetensors")
        status, text = run_inprocess([bare, "-o", out, "--identity-div", str(DIV), "--check"])
        ok = status == 0
        if ok:
            m = metadata(out)
            ok = (m["mobilenext.identity_div"] == str(DIV)
                  and m.get("mobilenext.test_vector_source") == convert.SOURCE_REFERENCE)
        checks.expect(ok, "b. bare state dict with --identity-div %d converts" % DIV, text)

        # c. stated in the checkpoint's args
        ckpt = path("ckpt.pth.tar")
        torch.save({"state_dict": {"module." + k: v for k, v in state.items()}, "epoch": 1,
                    "args": {"identity_div": DIV}}, ckpt)
        out = path("c.safetensors")
        status, text = run_inprocess([ckpt, "-o", out])
        checks.expect(status == 0 and metadata(out)["mobilenext.identity_div"] == str(DIV),
                      "c. checkpoint with args identity_div %d converts without the option" % DIV,
                      text)

        # d. a float16 safetensors state dict, then the C++ tool checks the test vector
        sf_input = path("state_f16.safetensors")
        safetensors_io.save_file({k: (v.half() if v.is_floating_point() else v)
                                  for k, v in state.items()}, sf_input)
        labels = path("labels.txt")
        with open(labels, "w", encoding="utf-8") as f:
            f.write("\n".join(LABELS) + "\n")
        status, text = run_inprocess([sf_input, "-o", path("d-nodiv.safetensors")])
        checks.expect(status == 1 and "--identity-div" in text,
                      "d. safetensors state dict without --identity-div is refused", text)
        out = path("d.safetensors")
        status, text = run_inprocess([sf_input, "-o", out, "--identity-div", str(DIV),
                                      "--labels", labels, "--check"])
        if checks.expect(status == 0 and json.loads(metadata(out)["mobilenext.labels"]) == LABELS,
                         "d. float16 safetensors state dict converts with labels", text):
            cli_checks_test_vector(checks, args.cli, out, "d. the C++ tool loads it and checks its test vector")
            again = path("d-again.safetensors")
            status, text = run_inprocess([out, "-o", again])
            ok = status == 0 and "taken from the metadata" in text
            if ok:
                m = metadata(again)
                ok = (m["mobilenext.identity_div"] == str(DIV)
                      and json.loads(m["mobilenext.labels"]) == LABELS)
            checks.expect(ok, "d. a converted file converts again from its own metadata", text)

        # e. the user's own model: TorchScript of identity divisor 2
        scripted = path("model_ts.pt")
        torch.jit.save(torch.jit.script(model), scripted)
        out = path("e-wrong.safetensors")
        status, text = run_inprocess([bare, "-o", out, "--module", scripted,
                                      "--identity-div", "1"])
        checks.expect(status == 1 and "identity_div 1" in text
                      and "With --identity-div %d" % DIV in text and not os.path.exists(out),
                      "e. --module (divisor %d) with --identity-div 1 is refused" % DIV, text)
        out = path("e.safetensors")
        status, text = run_inprocess([bare, "-o", out, "--module", scripted,
                                      "--identity-div", str(DIV), "--check"])
        source = metadata(out).get("mobilenext.test_vector_source") if status == 0 else None
        if checks.expect(source == convert.SOURCE_USER,
                         "e. --module with --identity-div %d: test vector from the user module"
                         % DIV, text):
            cli_checks_test_vector(checks, args.cli, out, "e. the C++ tool checks the user module's test vector")
        holder = path("ckpt_module.pth")
        torch.save({"model": model, "epoch": 1}, holder)
        out = path("e-holder.safetensors")
        status, text = run_inprocess([holder, "-o", out, "--identity-div", str(DIV)])
        checks.expect(status == 0
                      and metadata(out).get("mobilenext.test_vector_source") == convert.SOURCE_USER,
                      "e. checkpoint['model'] as an nn.Module: test vector from the user module",
                      text)
        other = mx.build_model(mx.LAYOUT_OFFICIAL, WIDTH, DIV, CLASSES, 3)
        mx.randomize_weights(other, torch.Generator().manual_seed(12))
        other_scripted = path("other_ts.pt")
        torch.jit.save(torch.jit.script(other.eval()), other_scripted)
        status, text = run_inprocess([bare, "-o", path("e-other.safetensors"),
                                      "--module", other_scripted, "--identity-div", str(DIV)])
        checks.expect(status == 1 and "does not hold the weights" in text,
                      "e. --module with other weights is refused", text)
        refused(checks, [bare, "--identity-div", str(DIV), "--config", "voc"],
                path("e-config.safetensors"), ["--config applies to detector checkpoints"],
                "e. --config for a classifier")

        detector_checks(checks, path)

    print("%d failure(s)" % checks.failures)
    return 1 if checks.failures else 0


if __name__ == "__main__":
    sys.exit(main())
