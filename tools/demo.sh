#!/usr/bin/env bash
# Sets everything up on Debian 12 (as root), builds the command-line tool and shows the
# library's main job: a PyTorch checkpoint converted, loaded in C++, checked against PyTorch,
# run on photos, and timed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup_debian.sh
build=${BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DMOBILENEXT_BUILD_TESTS=OFF -DMOBILENEXT_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target mobilenext_cli >/dev/null
cli="$build/examples/mobilenext"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== A MobileNeXt-1.0 checkpoint in the authors' layout (random weights), converted"
/usr/bin/python3 tools/make_parity_case.py --width 1.0 --identity-div 2 --batch 1 --out-dir "$work" >/dev/null
/usr/bin/python3 tools/convert.py "$work/model.pth.tar" -o "$work/model.safetensors" --identity-div 2
echo
echo "== Its topology"
"$cli" info "$work/model.safetensors"
echo
echo "== Same logits as PyTorch?"
"$cli" run "$work/model.safetensors" --input "$work/input.npy" --output "$work/logits.npy"
/usr/bin/python3 tools/compare_npy.py "$work/expected.npy" "$work/logits.npy"
echo
echo "== Classifying photos (random weights: the classes mean nothing yet)"
"$cli" classify "$work/model.safetensors" /usr/lib/python3/dist-packages/skimage/data/{chelsea,coffee}.png --top 3
echo
echo "== Latency of one image"
"$cli" bench "$work/model.safetensors" --runs 30
