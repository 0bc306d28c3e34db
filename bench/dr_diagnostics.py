#!/usr/bin/env python3
"""Where domain-randomised draws defeat the models: two diagnostics on a folder of draws.

    python bench/dr_diagnostics.py DRAWS_DIR POLARMAP MODEL.pmm [--suite SUITE_DIR]

DRAWS_DIR holds `polarmap simulate --preset dr-fast ...` scans (one nuisance draw each, with
its sidecar). Needs numpy, scipy and scikit-learn.

1. MODEL on every draw (`POLARMAP predict --json`): pixel accuracy and majority right, binned
   by each nuisance's value (defocus, thickness, tilt, dose, convergence), and in the corner
   where the optics are closest to the training sets' (|defocus| < 30 A, tilt < 2 mrad, 15-40 nm).
2. How much class information survives in the draws' position-averaged pattern (PACBED over
   the whole scan, brought to 0.938 mrad/px around its CoM, log, standardised): a logistic
   regression cross-validated by draw (5 folds; no draw in both training and test), and, with
   --suite, trained on every draw and judged on the transfer suite's scans.
"""
import argparse
import glob
import json
import subprocess
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy.ndimage import map_coordinates
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, cross_val_predict

CLASSES = ["RM", "RU", "MU", "LU", "LM", "LD", "MD", "RD"]
MRAD_PER_INPUT_PX, SIDE = 0.469 * 2, 32


def sidecar(npy: Path) -> dict:
    return json.loads(npy.with_suffix(".meta.json").read_text())


def predict(polarmap: str, model: str, npy: Path) -> tuple[bool, float]:
    out = subprocess.run(
        [polarmap, "predict", str(npy), "--model", model, "--device", "cpu", "--json"],
        capture_output=True, text=True, check=True,
    ).stdout
    d = json.loads(out)
    dist = d["distribution"]
    return max(dist, key=dist.get) == d["labelled_majority_class"], d["accuracy_vs_labels"]


def nuisances(meta: dict) -> dict:
    s = meta["simulation"]
    return {
        "defocus": abs(s["defocus_a"]),
        "nm": s["thickness_a"] / 10,
        "tilt": float(np.hypot(*s["tilt_mrad"])),
        "dose": s["acquisition"]["dose_per_pattern"] or float("inf"),
        "conv": s["convergence_mrad"],
    }


def by_nuisance(rows: list[dict]) -> None:
    bins = {
        "defocus": [0, 20, 40, 60, 80, 101],
        "nm": [9, 15, 20, 25, 30, 40, 50, 61],
        "tilt": [0, 1, 2, 4, 6, 8.1],
        "dose": [5e3, 1e4, 2e4, 5e4, 1.01e5],
        "conv": [20, 22.5, 25, 27.5, 30.1],
    }
    print(f"{len(rows)} draws: pixel accuracy {100 * np.mean([r['acc'] for r in rows]):.1f} %, "
          f"majority right {sum(r['right'] for r in rows)}")
    for key, edges in bins.items():
        cells = []
        for lo, hi in zip(edges[:-1], edges[1:]):
            sel = [r for r in rows if lo <= r[key] < hi]
            if sel:
                cells.append(f"{lo:g}-{hi:g}: {100 * np.mean([r['acc'] for r in sel]):.0f} % "
                             f"({sum(r['right'] for r in sel)}/{len(sel)})")
        print(f"  {key:8s}" + " | ".join(cells))
    sel = [r for r in rows if r["defocus"] < 30 and r["tilt"] < 2 and 15 < r["nm"] < 40]
    if sel:
        print(f"  |defocus| < 30 A, tilt < 2 mrad, 15-40 nm: {len(sel)} draws, "
              f"{100 * np.mean([r['acc'] for r in sel]):.0f} %, majority right {sum(r['right'] for r in sel)}")


def pacbed(npy: Path) -> np.ndarray:
    meta = sidecar(npy)
    a = np.load(npy, mmap_mode="r")
    m = np.asarray(a, dtype=np.float64).reshape(-1, a.shape[-2], a.shape[-1]).mean(0)
    yy, xx = np.mgrid[0 : m.shape[0], 0 : m.shape[1]]
    cy, cx = (m * yy).sum() / m.sum(), (m * xx).sum() / m.sum()
    g = (np.arange(SIDE) - (SIDE - 1) / 2) * MRAD_PER_INPUT_PX / meta["mrad_per_px"]
    r = map_coordinates(m, np.array(np.meshgrid(cy + g, cx + g, indexing="ij")), order=1)
    x = np.log(r / r.sum() + 1e-6)
    return ((x - x.mean()) / x.std()).ravel()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("draws")
    ap.add_argument("polarmap")
    ap.add_argument("model")
    ap.add_argument("--suite")
    args = ap.parse_args()
    draws = sorted(Path(p) for p in glob.glob(f"{args.draws}/*.npy"))
    rows = []
    for npy in draws:
        right, acc = predict(args.polarmap, args.model, npy)
        rows.append({"right": right, "acc": acc, **nuisances(sidecar(npy))})
    print(f"1. {args.model} on the draws")
    by_nuisance(rows)

    X = np.array([pacbed(p) for p in draws])
    y = np.array([CLASSES.index(sidecar(p)["labels"]) for p in draws])
    clf = LogisticRegression(C=0.1, max_iter=3000)
    cv = cross_val_predict(clf, X, y, groups=np.arange(len(y)), cv=GroupKFold(5))
    print(f"2. PACBED + logistic regression, cross-validated by draw: {100 * (cv == y).mean():.1f} % "
          f"of {len(y)} draws (chance 12.5 %)")
    if args.suite:
        clf.fit(X, y)
        suite = sorted(Path(p) for p in glob.glob(f"{args.suite}/*.npy") + glob.glob(f"{args.suite}/abtem/*.npy"))
        suite = [p for p in suite if sidecar(p).get("labels") in CLASSES]
        pred = clf.predict(np.array([pacbed(p) for p in suite]))
        right = defaultdict(list)
        for p, k in zip(suite, pred):
            right[sidecar(p)["transfer"]["condition"]].append(CLASSES[k] == sidecar(p)["labels"])
        total = sum(sum(v) for v in right.values())
        print(f"   trained on every draw, judged on the suite: {total}/{len(suite)} scans right; "
              + ", ".join(f"{c} {sum(v)}/{len(v)}" for c, v in sorted(right.items())))


if __name__ == "__main__":
    main()
