#!/usr/bin/env bash
# Measures the library against ONNX Runtime on this machine, side by side in one run (see
# compare_onnxruntime.py). Run as root on Debian 12 from anywhere; nothing else may run
# beside it. Needs the npm registry for onnxruntime-node.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
work=${WORK_DIR:-/tmp/mobilenext-compare}
bash "$root/tools/setup_debian.sh"
export DEBIAN_FRONTEND=noninteractive
command -v node >/dev/null || apt-get install -y -qq nodejs npm
dpkg-query -W -f='${Status}' python3-matplotlib 2>/dev/null | grep -q "install ok installed" ||
  apt-get install -y -qq python3-matplotlib

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DMOBILENEXT_BUILD_EXAMPLES=ON -DMOBILENEXT_BUILD_BENCHMARKS=ON >/dev/null
cmake --build "$build" -j"$(nproc)" --target mobilenext_cli mobilenext_fma_peak >/dev/null

mkdir -p "$work/models" "$work/ort"
/usr/bin/python3 "$root/benchmarks/export_models.py" "$work/models"
cp "$root/benchmarks/ort_run.mjs" "$work/ort/"
if [ ! -d "$work/ort/node_modules/onnxruntime-node" ]; then
  # The package's install script fetches optional GPU files; the CPU library is in the package.
  (cd "$work/ort" && { [ -f package.json ] || npm init -y >/dev/null; } &&
    npm install --ignore-scripts --no-audit --no-fund onnxruntime-node@1.30.0 >/dev/null)
fi
/usr/bin/python3 "$root/benchmarks/compare_onnxruntime.py" --cli "$build/examples/mobilenext" \
  --fma-peak "$build/benchmarks/mobilenext_fma_peak" --models "$work/models" --ort-dir "$work/ort" "$@"
