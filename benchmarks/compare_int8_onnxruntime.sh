#!/usr/bin/env bash
# The int8 network side by side with ONNX Runtime's int8 in one run. For each width: a float
# MobileNeXt with random weights (export_models.py), quantized by `mobilenext quantize` on a
# batch of random N(0, 1) images, and that int8 file exported as a QDQ ONNX graph with its own
# scales, zero points and weights (tools/export_int8_qdq.py), which ONNX Runtime fuses into
# QLinearConv and friends. Each round times, at 224x224, batch 1, 1 and 2 threads: ONNX
# Runtime int8 and float, then the library int8 and float (`mobilenext bench`), one after the
# other so that all see the same machine. Nothing else may run beside it.
#   BUILD_DIR=build ORT_DIR=/tmp/ort bash benchmarks/compare_int8_onnxruntime.sh [ROUNDS] [WIDTHS]
# ORT_DIR holds ort_bench.mjs and onnxruntime-node (see BENCHMARKS.md, "Peers"). The log goes to
# OUT_DIR/compare.log, its summary to benchmarks/results/latest_int8.md and latency_int8.png.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
ort=${ORT_DIR:-/tmp/ort}
out=${OUT_DIR:-/tmp/mobilenext-int8-compare}
rounds=${1:-3}
widths=${2:-1.0}
cli="$build/examples/mobilenext"
mkdir -p "$out"
/usr/bin/python3 benchmarks/export_models.py "$out" --widths "$widths" >/dev/null
if [ ! -f "$out/calibration.npy" ]; then
  /usr/bin/python3 -c "import numpy as np, sys; np.save(sys.argv[1], np.random.default_rng(3).standard_normal((16, 3, 224, 224)).astype(np.float32))" "$out/calibration.npy"
fi
for width in ${widths//,/ }; do
  base="$out/mobilenext_w$(/usr/bin/python3 -c "print('%g' % float('$width'))")"
  # Quantized again when missing or no longer loadable (an int8 file of an earlier scheme).
  if [ ! -f "${base}_int8_b1.onnx" ] || ! "$cli" info "${base}_int8.safetensors" >/dev/null 2>&1; then
    "$cli" quantize "$base.safetensors" -o "${base}_int8.safetensors" --calibration "$out/calibration.npy" >/dev/null
    /usr/bin/python3 tools/export_int8_qdq.py "${base}_int8.safetensors" -o "${base}_int8_b1.onnx" \
      --fixed-input 1x224x224 >/dev/null
  fi
done
{
  echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(grep -o -m1 'avx512_vnni' /proc/cpuinfo || echo 'no VNNI')"
  for round in $(seq "$rounds"); do
    for width in ${widths//,/ }; do
      base="$out/mobilenext_w$(/usr/bin/python3 -c "print('%g' % float('$width'))")"
      echo "== round $round, width $width: ONNX Runtime int8, then float (median_ms, min_ms)"
      node "$ort/ort_bench.mjs" "${base}_int8_b1.onnx" --threads 1,2 --runs 200 2>/dev/null | grep RESULT
      node "$ort/ort_bench.mjs" "${base}_b1.onnx" --threads 1,2 --runs 200 2>/dev/null | grep RESULT
      for threads in 1 2; do
        for model in "${base}_int8.safetensors" "$base.safetensors"; do
          echo "mobilenext $(basename "$model") threads=$threads: $("$cli" bench "$model" --threads "$threads" --runs 200 | grep -m1 '^latency')"
        done
      done
    done
  done
} | tee "$out/compare.log"
# The table and plot of this run: benchmarks/results/latest_int8.md and latency_int8.png.
/usr/bin/python3 benchmarks/plot_int8_compare.py "$out/compare.log"
