#!/usr/bin/env bash
# The detector side by side with ONNX Runtime in one run: SSDLite-MobileNeXt-1.0 (VOC heads,
# random weights with measured BatchNorm statistics), 320x320, batch 1, 1 and 2 threads.
# ONNX Runtime runs the PyTorch export (raw class logits and box regressions, no NMS); the
# library's "raw outputs" are its scores and decoded boxes, "detection" adds the suppression.
# Rounds alternate the two engines so both see the same machine.
#   BUILD_DIR=build ORT_DIR=/tmp/ort bash benchmarks/compare_detector_onnxruntime.sh [ROUNDS]
# ORT_DIR holds ort_bench.mjs and onnxruntime-node (see BENCHMARKS.md, "Peers").
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
ort=${ORT_DIR:-/tmp/ort}
out=${OUT_DIR:-/tmp/mobilenext-detector-compare}
rounds=${1:-3}
mkdir -p "$out"
if [ ! -f "$out/detector_b1.onnx" ]; then
  /usr/bin/python3 - "$out" <<'PY'
import os, sys
import numpy as np
import torch
sys.path.insert(0, "tools")
import ssdlite_torch as ssd
out = sys.argv[1]
model = ssd.random_detector(1.0, "voc", 11)
torch.save({"model": model.state_dict(), "optimizer": {}, "iteration": 0}, os.path.join(out, "detector.pth"))
x = torch.randn(1, 3, 320, 320, generator=torch.Generator().manual_seed(1))
np.save(os.path.join(out, "x.npy"), x.numpy())
torch.onnx.export(model, x, os.path.join(out, "detector_b1.onnx"), opset_version=13,
                  input_names=["input"], output_names=["cls", "reg"])
PY
  /usr/bin/python3 tools/convert.py "$out/detector.pth" -o "$out/detector.safetensors" >/dev/null
fi
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores"
cli="$build/examples/mobilenext"
for round in $(seq "$rounds"); do
  echo "== round $round: ONNX Runtime"
  node "$ort/ort_bench.mjs" "$out/detector_b1.onnx" --threads 1,2 --runs 100
  for threads in 1 2; do
    echo "== round $round: mobilenext, $threads thread(s)"
    "$cli" detect "$out/detector.safetensors" --input "$out/x.npy" --threads "$threads" --repeat 100 | sed -n '/^timing/,$p'
  done
done
