#!/usr/bin/env python3
"""Does the position-averaged pattern's centre of symmetry follow the specimen tilt? For each
scan, the half-pixel point about which the mean pattern is most nearly symmetric (searched
over +-SEARCH px, far beyond the 3 px of polarmap's signal test), as an angle, beside the tilt
its sidecar records (docs/transfer.md, "Where the misses are"). Needs numpy.

    for t in "0 0" "5 0" "0 5" "3.5 3.5" "-4 2"; do
        polarmap simulate --class LU --cells 4x4x50 --scan 8x8 --detector 96 --max-mrad 22.5 \
            --tilt $t --seed 3 --out "DIR/tilt_${t// /_}.npy"
    done
    python3 bench/tilt_centre.py DIR/tilt_*.npy
"""
import json
import sys

import numpy as np

SEARCH = 16


def symmetry_centre(s):
    """(relative asymmetry, row offset, col offset) of the most symmetric half-pixel point,
    offsets from the detector centre, over a disc of radius 20 px around each candidate."""
    n = s.shape[0]
    c0 = (n - 1) / 2
    yy, xx = np.mgrid[0:n, 0:n]
    best = None
    for i in range(-2 * SEARCH, 2 * SEARCH + 1):
        for j in range(-2 * SEARCH, 2 * SEARCH + 1):
            cr, cc = c0 + i / 2, c0 + j / 2
            ri = np.rint(2 * cr - yy).astype(int)
            ci = np.rint(2 * cc - xx).astype(int)
            m = (ri >= 0) & (ri < n) & (ci >= 0) & (ci < n) & ((yy - cr) ** 2 + (xx - cc) ** 2 <= 400)
            if m.sum() < 200:
                continue
            a, b = s[yy[m], xx[m]], s[ri[m], ci[m]]
            e = ((a - b) ** 2).sum() / ((a + b) ** 2).sum()
            if best is None or e < best[0]:
                best = (e, cr - c0, cc - c0)
    return best


print("| scan | tilt (x, y), mrad | centre of symmetry (x, y), mrad | relative asymmetry |")
print("|---|---|---|---|")
for path in sys.argv[1:]:
    meta = json.load(open(path[:-4] + ".meta.json"))
    sim = meta["simulation"]
    mrad_per_px = 2 * sim["detector_max_mrad"] / sim["detector_pixels"]
    data = np.load(path).astype(np.float64)
    mean = data.reshape(-1, *data.shape[-2:]).mean(axis=0)
    e, dr, dc = symmetry_centre(mean)
    tx, ty = sim.get("tilt_mrad") or (0.0, 0.0)
    # Image frame: x right (columns), y up (minus rows).
    print(f"| {path.split('/')[-1]} | {tx:.2f}, {ty:.2f} | {dc * mrad_per_px:.2f}, "
          f"{-dr * mrad_per_px:.2f} | {e:.1e} |")
