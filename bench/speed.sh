#!/usr/bin/env bash
# polarmap's Conv (Cls) against the paper's PyTorch code (bench/torch_cnn.py), side by side on
# one machine: a training epoch and a whole-scan classification, three runs of each, the tools
# alternating. On a machine with an NVIDIA GPU, one more run of each on the GPU.
#
#   1. data: 400 dr-optics-edges draws at 5x5 positions (8,000 training + 1,000 validation
#      patterns), and the built-in demo tiled 4x4 into a 128x128 scan (16,384 patterns);
#   2. the epoch: `polarmap train ... --epochs 1` (its epoch line) against
#      `torch_cnn.py train` on as many patterns (its total);
#   3. the scan: `polarmap predict SCAN --json` (the default model, whose scores are averaged
#      over the 8 lattice symmetries: 8 passes per pattern) against `torch_cnn.py predict SCAN
#      --symmetrise` (the same 8 passes), each a whole process, PyTorch's own "end to end" line
#      (after its imports) beside it.
#
# Usage: bench/speed.sh POLARMAP [WORK]   (POLARMAP: a release build; needs python3 with torch
# and numpy; threads: every core, `nproc`)
set -uo pipefail
P=$1
W=${2:-/tmp/pm-speed}
T=$(nproc)
PY=${PYTHON:-python3}
mkdir -p "$W"
stamp() { echo "== $(date +%T) $*"; }
secs() { # secs CMD...: wall seconds of CMD (its output to $W/last.log)
    local t0=$EPOCHREALTIME
    "$@" >"$W/last.log" 2>&1 || { echo "failed: $*" >&2; tail -3 "$W/last.log" >&2; }
    local t1=$EPOCHREALTIME
    "$PY" -c "print(f'{$t1 - $t0:.2f}')"
}

stamp "machine: $T threads; $("$P" --version)"
if [ ! -f "$W/done-data" ]; then
    "$P" simulate --preset dr-optics-edges --draws-per-class 50 --preset-positions 5x5 \
        --out-dir "$W/droe" --resume >"$W/simulate.log" 2>&1 || exit 1
    "$PY" - "$W" <<'EOF' || exit 1
import json, sys
import numpy as np
w = sys.argv[1]
np.save(f"{w}/scan.npy", np.tile(np.load("assets/demo.npy"), (4, 4, 1, 1)))
meta = json.load(open("assets/demo.meta.json"))
keep = {k: meta[k] for k in ["energy_kv", "convergence_mrad", "mrad_per_px", "scan_step_a"]}
keep["scan_shape"] = [128, 128]
json.dump(keep, open(f"{w}/scan.meta.json", "w"))
EOF
    touch "$W/done-data"
fi
DRAWS=$(ls "$W"/droe/droe-*.npy)

stamp "one epoch (8,000 + 1,000 patterns) and one 128x128 scan, three runs each"
for run in 1 2 3; do
    "$P" train $DRAWS --model conv-cls --input-binning 2 --epochs 1 --device cpu \
        --no-checkpoint --overwrite --out "$W/epoch.pmm" >"$W/epoch.log" 2>&1
    pm_epoch=$(grep -o "| [0-9.]* s$" "$W/epoch.log" | tail -1)
    torch_epoch=$("$PY" bench/torch_cnn.py train --threads "$T" --train-patterns 8000 \
        --val-patterns 1000 2>&1 | grep -o "total [0-9.]* s")
    pm_scan=$(secs "$P" predict "$W/scan.npy" --json)
    torch_scan=$(secs "$PY" bench/torch_cnn.py predict "$W/scan.npy" --threads "$T" --symmetrise)
    torch_e2e=$(grep -o "end to end: [0-9.]* s" "$W/last.log")
    echo "run $run: epoch polarmap ${pm_epoch#| } torch ${torch_epoch#total } |" \
        "scan polarmap $pm_scan s torch $torch_scan s ($torch_e2e)"
done

if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
    stamp "GPU: $(nvidia-smi -L | head -1)"
    "$P" train $DRAWS --model conv-cls --input-binning 2 --epochs 1 --device gpu \
        --no-checkpoint --overwrite --out "$W/epoch-gpu.pmm" >"$W/epoch-gpu.log" 2>&1
    echo "epoch polarmap gpu: $(grep -o "| [0-9.]* s$" "$W/epoch-gpu.log" | tail -1)"
    echo "epoch torch cuda: $("$PY" bench/torch_cnn.py train --threads "$T" --train-patterns 8000 \
        --val-patterns 1000 --device cuda 2>&1 | grep -o "total [0-9.]* s")"
    echo "scan polarmap gpu: $(secs "$P" predict "$W/scan.npy" --json --device gpu) s"
    echo "scan torch cuda: $(secs "$PY" bench/torch_cnn.py predict "$W/scan.npy" --threads "$T" \
        --symmetrise --device cuda) s ($(grep -o "end to end: [0-9.]* s" "$W/last.log"))"
fi
stamp "done"
