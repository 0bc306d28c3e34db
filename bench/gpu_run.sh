#!/usr/bin/env bash
# One run on a machine with an NVIDIA GPU (the `device` machine: one H200, 16 cores):
#   1. the GPU path: polarmap's wgpu backend finds the GPU and trains and predicts on it;
#   2. timings side by side, same data and machine: one training epoch and a whole-scan
#      classification, polarmap on the CPU and on the GPU against the paper's PyTorch code
#      (bench/torch_cnn.py) on the CPU and on CUDA;
#   3. the dr-single recipe at a size the 2-core machine cannot afford: the scans simulated on
#      the 16 cores, Conv (Cls) fine-tuned from the shipped model and trained from scratch on
#      the GPU, PCA+kNN, each split by scan; then the transfer suite's cheap conditions (the
#      same seeds and definitions as `polarmap bench --suite transfer --make`, 8x8 positions)
#      made on the CPU and every model, shipped and new, run over them. The models and the
#      suite's report come back in OUT.
#
# Usage: bench/gpu_run.sh POLARMAP OUT [DRAWS_PER_CLASS] [EPOCHS]
# POLARMAP is a release build of this commit; OUT receives the log lines, models and cards.
set -uo pipefail
P=$1
OUT=$2
DRAWS=${3:-96}
EPOCHS=${4:-12}
W=${PM_GPU_WORK:-/tmp/pm-gpu}
mkdir -p "$W" "$OUT"
stamp() { echo "== $(date +%T) $*"; }
timed() { # timed LABEL CMD...: wall seconds of CMD, its last lines kept
    local label=$1
    shift
    local t0=$EPOCHREALTIME
    "$@" >"$W/$label.log" 2>&1
    local rc=$?
    local t1=$EPOCHREALTIME
    python3 -c "print(f'$label: rc $rc, {$t1 - $t0:.2f} s')"
    grep -v '^\s*$' "$W/$label.log" | grep -iv "progress\|\[.*\]" | tail -4 | sed 's/^/    /'
}

stamp "machine"
nvidia-smi -L
nproc
"$P" --version || true

stamp "data: dr-single, $DRAWS draws per class at 5x5 positions"
timed simulate-dr-single "$P" simulate --preset dr-single --draws-per-class "$DRAWS" \
    --preset-positions 5x5 --out-dir "$W/drs"
ls "$W"/drs/*.npy | wc -l

stamp "data: one 128x128 scan for whole-scan timings (RD, 2x2x50 cells, 64-px window)"
timed simulate-scan "$P" simulate --class RD --cells 2x2x50 --scan 128x128 \
    --detector 64 --max-mrad 15 --out "$W/scan-RD.npy"

stamp "one training epoch, 12,800 patterns (1,600 per class; split by pattern 80/10/10)"
for dev in cpu gpu; do
    timed "epoch-polarmap-$dev" "$P" train "$W"/drs/drs-*.npy --model conv-cls --input-binning 2 \
        --max-per-class 1600 --epochs 1 --device $dev --no-checkpoint --out "$W/epoch-$dev.pmm"
done
for dev in cpu cuda; do
    timed "epoch-torch-$dev" python3 bench/torch_cnn.py train --threads "$(nproc)" \
        --train-patterns 10240 --val-patterns 1280 --device $dev
done

stamp "whole-scan classification, 16,384 patterns"
for dev in cpu gpu; do
    for run in 1 2; do
        timed "predict-polarmap-$dev-$run" "$P" predict "$W/scan-RD.npy" \
            --model models/conv-cls.pmm --device $dev --json
    done
done
for dev in cpu cuda; do
    for run in 1 2; do
        timed "predict-torch-$dev-$run" python3 bench/torch_cnn.py predict "$W/scan-RD.npy" \
            --threads "$(nproc)" --device $dev
    done
done

stamp "the transfer suite's cheap conditions, made on the CPU while the GPU trains"
ONLY=reference-,dose-,descan-,blur-,thickness-,cells-2x2,a-site-,defocus,convergence-,camera-,sampling-0.06,tilt-,unpolarised-s21,randomised-
nice -n 5 "$P" bench --suite transfer --make --side 8 --only "$ONLY" --data-dir "$W/suite" \
    --models models/pca-knn.pmm --device cpu --out "$W/suite-shipped" >"$W/suite-make.log" 2>&1 &
SUITE_PID=$!

stamp "dr-single models on the GPU, split by scan"
timed train-finetune "$P" train "$W"/drs/drs-*.npy --model conv-cls --input-binning 2 \
    --init-weights models/conv-cls.pmm --split scans --epochs "$EPOCHS" --patience 4 \
    --device gpu --no-checkpoint --out "$OUT/drs-finetune-cls.pmm"
grep "^epoch\|test" "$W/train-finetune.log" | tail -20
timed train-scratch "$P" train "$W"/drs/drs-*.npy --model conv-cls --input-binning 2 \
    --split scans --epochs "$EPOCHS" --patience 4 --lr 1e-3 \
    --device gpu --no-checkpoint --out "$OUT/drs-scratch-cls.pmm"
grep "^epoch\|test" "$W/train-scratch.log" | tail -20
timed train-pca "$P" train "$W"/drs/drs-*.npy --model pca --input-binning 2 --split scans \
    --out "$OUT/drs-pca.pmm"

stamp "waiting for the suite"
wait $SUITE_PID
echo "suite make: rc $?"
tail -3 "$W/suite-make.log"
ls "$W"/suite/*.npy | wc -l
MODELS=models/pca-knn.pmm,models/conv-cls.pmm,models/conv-proto.pmm
for m in drs-finetune-cls drs-scratch-cls drs-pca; do
    [ -f "$OUT/$m.pmm" ] && MODELS="$MODELS,$OUT/$m.pmm"
done
timed suite-eval "$P" bench --suite transfer --data-dir "$W/suite" --models "$MODELS" \
    --device gpu --out "$W/suite-out"
cp "$W/suite-out/transfer.md" "$W/suite-out/transfer.csv" "$OUT/" 2>/dev/null
ls -la "$OUT"
stamp "done"
