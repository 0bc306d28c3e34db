#!/usr/bin/env bash
# Held-out test scans for choosing and checking models: the `paper-tests` jobs 1S-7S
# (class, lateral cells, thickness of PAPER-NOTES.md; 128x128 positions over 2x2 cells) with a
# different A-site arrangement (seed 7) than training, recorded at another camera length
# (96 px over +-30 mrad = 0.625 mrad/px instead of 0.469); noisy copies of every 20 nm set with
# 2e4 e- per pattern and a (+3, -2) px descan (ROW COL), named NAME-noisy; and the older noisy
# copy of 7S (2e4 e-, 2 px descan). The slow 50 nm sets come last, at 64x64 positions (128x128
# would take hours on 2 cores).
# Usage: bench/make_test_sets.sh OUT_DIR [POLARMAP_BINARY]
set -euo pipefail
out=${1:?output folder}
bin=${2:-target/release/polarmap}
mkdir -p "$out"
common=(--scan-cells 2x2 --detector 96 --max-mrad 30 --seed 7)
sets_20nm="3S-RM-2x2-20nm RM 2x2x50
7S-RD-2x2-20nm RD 2x2x50
6S-LD-4x4-20nm LD 4x4x50
1S-LU-6x6-20nm LU 6x6x50
5S-RU-6x6-20nm RU 6x6x50"
sets_50nm="2S-LU-6x6-50nm LU 6x6x127
4S-RD-6x6-50nm RD 6x6x127"
simulate() { # NAME CLASS CELLS [EXTRA FLAGS...]
  local name=$1 class=$2 cells=$3
  shift 3
  [ -e "$out/$name.npy" ] ||
    "$bin" simulate --class "$class" --cells "$cells" --scan "${scan:-128x128}" "${common[@]}" "$@" \
      --out "$out/$name.npy"
}
while read -r name class cells; do simulate "$name" "$class" "$cells"; done <<<"$sets_20nm"
while read -r name class cells; do
  simulate "$name-noisy" "$class" "$cells" --dose 2e4 --descan 3 -2
done <<<"$sets_20nm"
simulate 7S-noisy RD 2x2x50 --dose 2e4 --descan 2 2
while read -r name class cells; do
  scan=64x64 simulate "$name" "$class" "$cells"
done <<<"$sets_50nm"
