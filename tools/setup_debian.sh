#!/usr/bin/env bash
# Installs what building, testing and the demo need on Debian 12 (run as root).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
packages=(
  build-essential cmake zlib1g-dev libturbojpeg0-dev
  libeigen3-dev libxsimd-dev nlohmann-json3-dev libstb-dev
  googletest libgtest-dev libbenchmark-dev
  python3-torch python3-torchvision python3-numpy python3-skimage python3-opencv python3-yaml
  dataset-fashion-mnist
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq || true
  apt-get install -y -qq "${missing[@]}"
fi
