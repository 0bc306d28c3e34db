#!/usr/bin/env python3
"""A model judged on fresh domain-randomised draws that nothing was trained or tuned on
(docs/transfer.md, "More thick draws ... judged on fresh draws").

    polarmap simulate --preset dr-train --draws-per-class 6 --preset-positions 5x5 --out-dir FRESH
    python3 bench/fresh_draws.py POLARMAP MODEL.pmm FRESH

Per scan: its thickness, true class, the majority of every pixel's class and the pixel accuracy
(`predict --ignore-signal --min-probability 0 --max-ood 1e9`), and the majority of the
determined pixels with the outcome as `predict --json` reports them; then the totals.
"""
import glob
import json
import subprocess
import sys

binary, model, folder = sys.argv[1:4]


def predict(scan, *extra):
    out = subprocess.run([binary, "predict", scan, "--model", model, "--device", "cpu", "--json",
                          *extra], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


rows = []
print("| scan | nm | truth | majority, every pixel | pixel accuracy | majority, determined | outcome |")
print("|---|---|---|---|---|---|---|")
for scan in sorted(glob.glob(f"{folder}/*.npy")):
    meta = json.load(open(scan[:-4] + ".meta.json"))
    nm = meta["simulation"]["thickness_a"] / 10.0
    reported = predict(scan)
    every = predict(scan, "--ignore-signal", "--min-probability", "0", "--max-ood", "1e9")
    truth = reported["labelled_majority_class"]
    row = (truth, every["majority_class"], every["accuracy_vs_labels"], reported["majority_class"], nm)
    rows.append(row)
    name = scan.split("/")[-1][:-4]
    print(f"| {name} | {nm:.1f} | {truth} | {row[1]} | {100 * row[2]:.0f} % | {row[3]} | "
          f"{reported['outcome']} |", flush=True)
thick = [r for r in rows if r[4] >= 40.0]
print(f"\nmajority right, every pixel: {sum(r[1] == r[0] for r in rows)}/{len(rows)} "
      f"(40-60 nm: {sum(r[1] == r[0] for r in thick)}/{len(thick)}); mean pixel accuracy "
      f"{100 * sum(r[2] for r in rows) / len(rows):.1f} %; majority of the determined pixels "
      f"right: {sum(r[3] == r[0] for r in rows)}/{len(rows)}")
