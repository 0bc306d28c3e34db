#!/usr/bin/env python3
"""Adaptation to the user's scan, measured (docs/transfer.md, "Adaptation to the user's scan").

Simulates scans the shipped models get wrong (50 nm thick; 20 nm with 5e3 e- per pattern and a
(+3, -2) px descan; 32x32 positions over 2x2 cells, 64-px detector over +-30 mrad, A-site seed 7),
composes two-domain scans from them (left half one class, right half another, per-pixel labels),
then for every scan x model x labelling x fraction x seed writes a region-labels file from the
ground truth, runs `polarmap predict SCAN --model M --adapt LABELS.json --json` and reads the
accuracy on the unlabelled pixels before and after adaptation.

Labellings: `pixels` = that fraction of the scan's pixels drawn at random; `region` = one compact
rectangle of about that many pixels at a random place (on a two-domain scan it lies in one domain
or straddles both, as a user's box might).

Usage: [ADAPT_SEEDS=1,2,3] [ADAPT_MODELS=pca-knn,conv-proto,conv-cls] [ADAPT_EXTRA="..."]
       [ADAPT_SCANS=RD|MU-20nm-noisy,...]
       python3 bench/adaptation.py DATA_DIR [POLARMAP_BINARY] > table.md
(models by file stem in $POLARMAP_MODELS, default models/)
Needs numpy. Writes DATA_DIR/adaptation.json with every run.
"""
import json
import math
import os
import random
import subprocess
import sys

import numpy as np

MODELS = os.environ.get("ADAPT_MODELS", "pca-knn,conv-proto,conv-cls").split(",")
FRACTIONS = [0.005, 0.02, 0.10]
SEEDS = [int(s) for s in os.environ.get("ADAPT_SEEDS", "1,2,3").split(",")]
# More `predict` options for every run, e.g. ADAPT_EXTRA="--adapt-anchor 1".
EXTRA = os.environ.get("ADAPT_EXTRA", "").split()
# Only the scans whose names are listed (default: all).
ONLY = [s for s in os.environ.get("ADAPT_SCANS", "").split(",") if s]
COMMON = ["--scan", "32x32", "--scan-cells", "2x2", "--detector", "64", "--max-mrad", "30",
          "--seed", "7"]
NOISY = ["--cells", "4x4x50", "--dose", "5e3", "--descan", "3", "-2"]
THICK = ["--cells", "4x4x127"]
SINGLE = {
    "RD-20nm-noisy": ["--class", "RD"] + NOISY,
    "MU-20nm-noisy": ["--class", "MU"] + NOISY,
    "LU-50nm": ["--class", "LU"] + THICK,
    "RD-50nm": ["--class", "RD"] + THICK,
}
MIXED = {"RD|MU-20nm-noisy": ("RD-20nm-noisy", "MU-20nm-noisy"),
         "LU|RD-50nm": ("LU-50nm", "RD-50nm")}
SCANS = ["RD-20nm-noisy", "LU-50nm", "RD|MU-20nm-noisy", "LU|RD-50nm"]
CLASSES = ["RM", "RU", "MU", "LU", "LM", "LD", "MD", "RD"]


def file_name(scan):
    return scan.replace("|", "-")


def simulate(data, binary):
    for name, flags in SINGLE.items():
        out = os.path.join(data, name + ".npy")
        if not os.path.exists(out):
            subprocess.run([binary, "simulate", *COMMON, *flags, "--out", out], check=True)
    for name, (left, right) in MIXED.items():
        out = os.path.join(data, file_name(name) + ".npy")
        if os.path.exists(out):
            continue
        a = np.load(os.path.join(data, left + ".npy"))
        b = np.load(os.path.join(data, right + ".npy"))
        half = a.shape[1] // 2
        np.save(out, np.concatenate([a[:, :half], b[:, half:]], axis=1))
        meta = json.load(open(os.path.join(data, left + ".meta.json")))
        classes = [json.load(open(os.path.join(data, s + ".meta.json")))["labels"]
                   for s in (left, right)]
        labels = np.zeros(a.shape[:2], dtype=np.uint8)
        labels[:, :half] = CLASSES.index(classes[0])
        labels[:, half:] = CLASSES.index(classes[1])
        np.save(os.path.join(data, file_name(name) + "_labels.npy"), labels)
        meta["labels"] = file_name(name) + "_labels.npy"
        meta["description"] = f"columns 0-{half - 1} from {left}, the rest from {right}"
        json.dump(meta, open(os.path.join(data, file_name(name) + ".meta.json"), "w"), indent=1)


def truth_of(data, scan):
    meta = json.load(open(os.path.join(data, file_name(scan) + ".meta.json")))
    labels = meta["labels"]
    if labels in CLASSES:
        return np.full((32, 32), CLASSES.index(labels), dtype=np.uint8)
    return np.load(os.path.join(data, labels))


def labels_file(truth, mode, fraction, seed, path):
    rng = random.Random(seed * 1000 + int(fraction * 1e4))
    rows, cols = truth.shape
    count = max(1, round(fraction * rows * cols))
    if mode == "pixels":
        picked = rng.sample(range(rows * cols), count)
        by_class = {}
        for i in picked:
            by_class.setdefault(CLASSES[truth.flat[i]], []).append([i // cols, i % cols])
        regions = [{"class": c, "region": {"kind": "pixels", "pixels": p}}
                   for c, p in sorted(by_class.items())]
    else:
        h = max(1, round(math.sqrt(count)))
        w = max(1, round(count / h))
        r0, c0 = rng.randrange(rows - h + 1), rng.randrange(cols - w + 1)
        # The box carries the truth of its pixels: one rectangle per class inside it.
        regions = []
        for k in sorted(set(truth[r0:r0 + h, c0:c0 + w].flat)):
            cs = [c for c in range(c0, c0 + w) if truth[r0, c] == k]
            regions.append({"class": CLASSES[k], "region": {
                "kind": "rect", "row0": r0, "col0": min(cs), "row1": r0 + h,
                "col1": max(cs) + 1}})
    json.dump({"regions": regions}, open(path, "w"))


def main():
    data = sys.argv[1]
    binary = sys.argv[2] if len(sys.argv) > 2 else "target/release/polarmap"
    models_dir = os.environ.get("POLARMAP_MODELS", "models")
    simulate(data, binary)
    runs = []
    scans = [s for s in SCANS if not ONLY or s in ONLY]
    for scan in scans:
        truth = truth_of(data, scan)
        for model in MODELS:
            for mode in ["pixels", "region"]:
                for fraction in FRACTIONS:
                    for seed in SEEDS:
                        path = os.path.join(data, "labels.json")
                        labels_file(truth, mode, fraction, seed, path)
                        out = subprocess.run(
                            [binary, "predict", os.path.join(data, file_name(scan) + ".npy"),
                             "--model", os.path.join(models_dir, model + ".pmm"),
                             "--device", "cpu", "--adapt", path, "--json", *EXTRA],
                            check=True, capture_output=True, text=True).stdout
                        acc = json.loads(out)["adaptation"]["accuracy"]
                        runs.append({"scan": scan, "model": model, "mode": mode,
                                     "fraction": fraction, "seed": seed,
                                     "before": acc["before"], "after": acc["after"]})
                        print(scan, model, mode, fraction, seed,
                              acc["before"]["unlabelled"], acc["after"]["unlabelled"],
                              file=sys.stderr)
    json.dump(runs, open(os.path.join(data, "adaptation.json"), "w"), indent=1)
    pct = lambda v: f"{100 * v:.1f}"
    print("| scan | model | labelling | before | " +
          " | ".join(f"{100 * f:g} %" for f in FRACTIONS) + " |")
    print("|---|---|---|---|" + "---|" * len(FRACTIONS))
    for scan in scans:
        for model in MODELS:
            for mode in ["pixels", "region"]:
                sel = [r for r in runs if (r["scan"], r["model"], r["mode"]) == (scan, model, mode)]
                before = np.mean([r["before"]["unlabelled"] for r in sel])
                cells = []
                for f in FRACTIONS:
                    after = [r["after"]["unlabelled"] for r in sel if r["fraction"] == f]
                    cells.append(f"{pct(np.mean(after))} ± {pct(np.std(after))}")
                print(f"| {scan} | {model} | {mode} | {pct(before)} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
