#!/usr/bin/env bash
# Sets everything up on Debian 12 (as root), builds the command-line tool and shows the
# library's main job with the shipped model (a MobileNeXt trained on Fashion-MNIST in
# PyTorch, converted): its topology, sample images classified, the whole test set
# evaluated in C++, and the latency of one image; the same for its int8 version.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup_debian.sh
build=${BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DMOBILENEXT_BUILD_TESTS=OFF -DMOBILENEXT_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target mobilenext_cli >/dev/null
cli="$build/examples/mobilenext"
model=models/fashion_mnist_mobilenext.safetensors
data=/usr/share/datasets/fashion-mnist
# The network's input side (resize and crop of the model's preprocessing), from its metrics file.
size=$(/usr/bin/python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["input_size"])' \
  models/fashion_mnist_mobilenext.json)
start=$(date +%s.%N)

echo "== The shipped model: MobileNeXt trained on Fashion-MNIST in PyTorch, converted"
"$cli" info "$model" --size "$size"
echo
echo "== Classifying sample test images (the true class is in each file name)"
"$cli" classify "$model" examples/images/fashion_mnist/*.png --top 2
echo
echo "== The 10,000 test images, in C++"
"$cli" evaluate "$model" --fashion-mnist "$data"
echo
echo "== Latency of one image (${size}x${size})"
"$cli" bench "$model" --size "$size" --runs 200
echo
echo "== The same model in int8 (mobilenext quantize on 256 training images): test set and latency"
int8=models/fashion_mnist_mobilenext_int8.safetensors
"$cli" evaluate "$int8" --fashion-mnist "$data"
"$cli" bench "$int8" --size "$size" --runs 200
echo
echo "== The shipped detector: SSDLite-MobileNeXt trained on Fashion-MNIST canvases, converted"
detector=models/fashion_mnist_detector.safetensors
"$cli" info "$detector"
echo
echo "== Detecting the items of a sample test canvas (384x384, resized to the detector's 128x128)"
"$cli" detect "$detector" examples/images/detection/canvas_384.png --threshold 0.3 --draw "$build/canvas_detections.png"
echo
echo "== mAP@0.5 of the 2000 held-out test canvases, C++ and PyTorch"
/usr/bin/python3 tools/check_fashion_mnist_detector.py --cli "$cli"
echo
awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "(demo after setup and build: %.1f s)\n", b - a }'
