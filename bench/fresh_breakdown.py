#!/usr/bin/env python3
"""Where a model's misses on fresh draws fall: `bench/fresh_draws.py`'s table split by the
simulation box and thickness, and by each nuisance (the lowest and the highest third of its
drawn values) (docs/transfer.md, "Where the misses are").

    python3 bench/fresh_draws.py POLARMAP MODEL.pmm FRESH > TABLE.md
    python3 bench/fresh_breakdown.py FRESH TABLE.md

Counts every pixel (fresh_draws.py's "majority, every pixel" and "pixel accuracy" columns).
"""
import json
import math
import statistics
import sys
from collections import defaultdict

folder, table = sys.argv[1:3]

rows = []
for line in open(table):
    cells = [c.strip() for c in line.split("|")]
    if len(cells) < 8 or cells[1] in ("scan", "") or cells[1].startswith("---"):
        continue
    name, truth, majority, accuracy = cells[1], cells[3], cells[4], float(cells[5].split()[0])
    sim = json.load(open(f"{folder}/{name}.meta.json"))["simulation"]
    acq = sim["acquisition"]
    nuisances = {
        "thickness, nm": sim["thickness_a"] / 10.0,
        "box, cells": sim["supercell"][0],
        "tilt, mrad": math.hypot(*sim["tilt_mrad"]),
        "defocus (absolute), A": abs(sim["defocus_a"]),
        "convergence, mrad": sim["convergence_mrad"],
        "sampling, A": sim["sampling_a"],
        "dose, e-": acq.get("dose_per_pattern") or math.inf,
        "blur, px": acq.get("blur_px") or 0.0,
        "descan, px": max(abs(v) for v in (acq.get("descan_px") or [0.0, 0.0])),
        "phonon configurations": sim.get("frozen_phonons") or 0,
        "detector half-width, mrad": sim["detector_max_mrad"],
    }
    rows.append((nuisances, accuracy, majority == truth))


def summary(group):
    if not group:
        return "-"
    right = sum(r[2] for r in group)
    return f"{right}/{len(group)}, {statistics.mean(r[1] for r in group):.0f} %"


print("| box | < 35 nm: majorities, mean pixel accuracy | >= 35 nm |")
print("|---|---|---|")
boxes = defaultdict(list)
for r in rows:
    n = r[0]["box, cells"]
    box = "2x2" if n == 2 else "3x3" if n == 3 else "4x4 to 8x8"
    boxes[(box, r[0]["thickness, nm"] >= 35.0)].append(r)
for box in ("2x2", "3x3", "4x4 to 8x8"):
    print(f"| {box} | {summary(boxes[(box, False)])} | {summary(boxes[(box, True)])} |")

third = len(rows) // 3
print(f"\n| nuisance | lowest third ({third} draws): range; majorities, mean pixel accuracy "
      "| highest third |")
print("|---|---|---|")
for key in rows[0][0]:
    ordered = sorted(rows, key=lambda r: r[0][key])
    low, high = ordered[:third], ordered[-third:]
    span = lambda g: f"{g[0][0][key]:.3g}-{g[-1][0][key]:.3g}"
    print(f"| {key} | {span(low)}; {summary(low)} | {span(high)}; {summary(high)} |")
