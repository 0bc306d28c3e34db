#!/usr/bin/env bash
# The training set of the shipped models: the `paper-train` jobs (8 classes, 2x2x50 cells,
# 128x128 probe positions over the 2x2 cells, 200 kV, 24 mrad, PRISM f=1) with the detector
# restricted to the window the models see: 64 px over +-15 mrad = 0.469 mrad/px, the same
# angle per pixel as the preset's 256 px over +-60 mrad, so each pattern equals the central
# 64x64 crop of the preset's pattern (2 GiB in all instead of 32 GiB).
# Usage: bench/make_training_set.sh OUT_DIR [POLARMAP_BINARY]
set -euo pipefail
out=${1:?output folder}
bin=${2:-target/release/polarmap}
mkdir -p "$out"
for class in RM RU MU LU LM LD MD RD; do
  "$bin" simulate --class "$class" --cells 2x2x50 --scan 128x128 --scan-cells 2x2 \
    --detector 64 --max-mrad 15 --seed 1 --out "$out/train-$class.npy"
done
