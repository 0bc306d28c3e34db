#!/usr/bin/env bash
# Which nuisance loses a thick randomised draw? The transfer suite's `randomised-LU-s224`
# (47 nm, 2x2 cells, tilt 4.6 mrad, defocus -61 A, 7.2e3 e-, descan, blur, phonons) rebuilt from
# its sidecar's values with `polarmap simulate`, then with nuisances taken away one group at a
# time, then in wider boxes; and the 8 classes in 2x2, 3x3 and 4x4 boxes at 47 nm with nothing
# else changed. Each scan is read by the default model, every pixel counted
# (docs/transfer.md, "Narrow boxes").
#
#     bash bench/box_ablation.sh POLARMAP OUT_DIR [MODEL.pmm]
#
# The rebuilt draw differs from the suite's in one respect: its K/Na arrangement is 50/50 from
# seed 224 (the suite drew 45 % K).
set -euo pipefail
P=${1:?polarmap binary}
OUT=${2:?output folder}
MODEL=${3:-}
mkdir -p "$OUT"
model=()
[ -n "$MODEL" ] && model=(--model "$MODEL")
read_scan() {
    "$P" predict "$OUT/$1.npy" "${model[@]}" --device cpu --ignore-signal --min-probability 0 \
        --max-ood 1e9 2>/dev/null |
        awk -v n="$1" '/^majority class/ {m = $3} /^accuracy/ {a = $6}
                       END {printf "%-14s majority %s, pixel accuracy %s %%\n", n, m, a}'
}
sim() {
    local name=$1
    shift
    "$P" simulate --scan 8x8 --detector 96 --overwrite --out "$OUT/$name.npy" "$@" >/dev/null 2>&1
    read_scan "$name"
}
optics=(--class LU --max-mrad 22.519 --convergence-mrad 23.7457 --sampling 0.04927 --seed 224)
noise=(--phonons 3 --phonon-sigma 0.0595 --dose 7176 --blur 1.887 --descan -2.456 2.504
    --descan-gradient 0.305 -0.023 0.352 0.324)
tilt=(--tilt 0.821 4.5425)
echo "# randomised-LU-s224 rebuilt, then taken apart"
sim s224-all "${optics[@]}" --cells 2x2x120 --defocus=-60.94 "${noise[@]}" "${tilt[@]}"
sim s224-no-tilt "${optics[@]}" --cells 2x2x120 --defocus=-60.94 "${noise[@]}"
sim s224-tilt-only "${optics[@]}" --cells 2x2x120 --defocus=-60.94 "${tilt[@]}"
sim s224-optics "${optics[@]}" --cells 2x2x120 --defocus=-60.94
sim s224-focus "${optics[@]}" --cells 2x2x120 --defocus=0
sim s224-4x4 "${optics[@]}" --cells 4x4x120 --defocus=-60.94
sim s224-4x4-focus "${optics[@]}" --cells 4x4x120 --defocus=0
echo "# the 8 classes at 47 nm, 24 mrad, in focus, noise-free"
for c in RM RU MU LU LM LD MD RD; do
    for l in 2 3 4; do
        sim "box$l-$c" --class "$c" --max-mrad 22.5 --seed 7 --cells "${l}x${l}x120"
    done
done
