#!/usr/bin/env bash
# Held-out test scans for choosing and checking models: the `paper-tests` jobs 1S-7S
# (class, lateral cells, thickness of PAPER-NOTES.md; 128x128 positions over 2x2 cells) with a
# different A-site arrangement (seed 7) than training, recorded at another camera length
# (96 px over +-30 mrad = 0.625 mrad/px instead of 0.469), plus a noisy copy of 7S
# (2e4 e- per pattern, 2 px constant descan).
# Usage: bench/make_test_sets.sh OUT_DIR [POLARMAP_BINARY]
set -euo pipefail
out=${1:?output folder}
bin=${2:-target/release/polarmap}
mkdir -p "$out"
common=(--scan 128x128 --scan-cells 2x2 --detector 96 --max-mrad 30 --seed 7)
while read -r name class cells; do
  [ -e "$out/$name.npy" ] || "$bin" simulate --class "$class" --cells "$cells" "${common[@]}" --out "$out/$name.npy"
done <<'LIST'
3S-RM-2x2-20nm RM 2x2x50
7S-RD-2x2-20nm RD 2x2x50
6S-LD-4x4-20nm LD 4x4x50
1S-LU-6x6-20nm LU 6x6x50
5S-RU-6x6-20nm RU 6x6x50
2S-LU-6x6-50nm LU 6x6x127
4S-RD-6x6-50nm RD 6x6x127
LIST
[ -e "$out/7S-noisy.npy" ] || "$bin" simulate --class RD --cells 2x2x50 "${common[@]}" \
  --dose 2e4 --descan 2 2 --out "$out/7S-noisy.npy"
