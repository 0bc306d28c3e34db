#!/usr/bin/env python3
"""Cross-checks polarmap's virtual detectors against py4DSTEM on the same scan.

    python3 -m venv /var/tmp/venv-p4 && /var/tmp/venv-p4/bin/pip install py4DSTEM
    /var/tmp/venv-p4/bin/python scripts/crosscheck_signals.py SCAN.npy [POLARMAP_BINARY]

Runs `polarmap com SCAN --json` for its BF disk centre, then `--virtual` annuli and the ADF
image; py4DSTEM 0.14 computes `get_virtual_image(mode="annulus")` on the same 4D array with the
same centre and radii. Prints the largest relative difference per detector. Pixels exactly on a
detector's edge can differ by definition (polarmap: inner <= d <= outer), so radii are chosen
off the pixel grid.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import py4DSTEM

scan_path = sys.argv[1]
binary = sys.argv[2] if len(sys.argv) > 2 else "target/debug/polarmap"
data = np.load(scan_path, mmap_mode="r")
rows, cols, det_rows, det_cols = data.shape

summary = json.loads(
    subprocess.run([binary, "com", scan_path, "--json"], check=True, capture_output=True, text=True).stdout
)
g = summary["geometry"]
center = (g["center_row"], g["center_col"])
annuli = [(0.0, g["bf_radius"]), (g["bf_radius"] * 1.2 + 0.37, det_rows / 2.0 - 0.41), (3.3, 9.7)]

with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, "virtual.npy")
    args = [binary, "com", scan_path, "--virtual-out", out]
    for inner, outer in annuli:
        args += ["--virtual", f"annulus:{inner}:{outer}"]
    subprocess.run(args, check=True, capture_output=True)
    ours = np.load(out)

cube = py4DSTEM.DataCube(data=np.asarray(data, dtype=np.float64))
worst = 0.0
for k, (inner, outer) in enumerate(annuli):
    theirs = cube.get_virtual_image(
        mode="annulus", geometry=(center, (inner, outer)), verbose=False, name=f"a{k}"
    ).data
    rel = np.max(np.abs(ours[k] - theirs)) / max(np.max(np.abs(theirs)), 1e-30)
    worst = max(worst, rel)
    print(f"annulus {inner:.2f}-{outer:.2f} px about {center[0]:.2f},{center[1]:.2f}: "
          f"max relative difference {rel:.2e}")
print(json.dumps({"scan": os.path.basename(scan_path), "worst_relative_difference": worst}))
