#!/usr/bin/env bash
# Scores models on held-out labelled scans: one Markdown row per (model, scan) with the majority
# class (✓ when it is the scan's labelled class) and the pixel accuracy against the labels.
# Usage: bench/heldout.sh "MODEL.pmm..." SCAN.npy... [POLARMAP_BINARY via $POLARMAP]
set -euo pipefail
bin=${POLARMAP:-target/release/polarmap}
models=${1:?models (space-separated)}
shift
echo "| model | scan | majority | pixel accuracy | mean confidence |"
echo "|---|---|---|---|---|"
for model in $models; do
  for scan in "$@"; do
    "$bin" predict "$scan" --model "$model" --json 2>/dev/null |
      python3 "$(dirname "$0")/heldout_row.py" "$(basename "$model" .pmm)" "$(basename "$scan" .npy)"
  done
done
