#!/usr/bin/env python3
"""What a known specimen tilt is worth (docs/transfer.md, "What a known tilt is worth"): each
scan through `polarmap predict` as a user without the tilt would run it, and again with the tilt
its sidecar records stated (`--tilt-mrad X,Y`, which moves the model's crop onto the crystal's
pattern), every pixel counted (`--ignore-signal --min-probability 0 --max-ood 1e9`) and as
reported (the determined pixels' direction).

    python3 bench/known_tilt.py POLARMAP MODEL.pmm SCAN.npy...

e.g. the transfer suite's randomised and tilt-5mrad scans, or fresh `dr-train` draws.
"""
import json
import subprocess
import sys

binary, model, scans = sys.argv[1], sys.argv[2], sys.argv[3:]
EVERY = ["--ignore-signal", "--min-probability", "0", "--max-ood", "1e9"]


def predict(scan, *extra):
    out = subprocess.run([binary, "predict", scan, "--model", model, "--device", "cpu", "--json",
                          *extra], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


print("| scan | nm | tilt (x, y), mrad | truth | without the tilt: every pixel | reported "
      "| with the tilt stated: every pixel | reported |")
print("|---|---|---|---|---|---|---|---|")
rows = []
for scan in scans:
    sim = json.load(open(scan[:-4] + ".meta.json"))["simulation"]
    tilt = sim.get("tilt_mrad") or [0.0, 0.0]
    nm = sim["thickness_a"] / 10.0
    stated = ["--tilt-mrad", f"{tilt[0]},{tilt[1]}"]
    runs = [predict(scan, *EVERY), predict(scan), predict(scan, *EVERY, *stated),
            predict(scan, *stated)]
    truth = runs[0]["labelled_majority_class"]
    row = [nm, truth] + [(r["majority_class"], r["accuracy_vs_labels"]) for r in runs]
    rows.append(row)
    cell = lambda r: f"{r[0] or 'undetermined'} {100 * r[1]:.0f} %"
    print(f"| {scan.split('/')[-1][:-4]} | {nm:.0f} | {tilt[0]:.1f}, {tilt[1]:.1f} | {truth} | "
          f"{cell(row[2])} | {row[3][0] or 'undetermined'} | {cell(row[4])} | "
          f"{row[5][0] or 'undetermined'} |", flush=True)


def totals(rows, label):
    if not rows:
        return
    n = len(rows)
    right = lambda k: sum(r[k][0] == r[1] for r in rows)
    acc = lambda k: 100 * sum(r[k][1] for r in rows) / n
    print(f"\n{label} ({n} scans): without the tilt: majority right {right(2)}/{n} every pixel, "
          f"{right(3)}/{n} reported, mean pixel accuracy {acc(2):.1f} %; with it: {right(4)}/{n}, "
          f"{right(5)}/{n}, {acc(4):.1f} %")


totals(rows, "all")
totals([r for r in rows if 40.0 <= r[0] <= 60.0], "40-60 nm")
