#!/usr/bin/env python3
"""What a model claims on unpolarised scans outside the transfer suite: each scan's outcome as
`polarmap predict --json` reports it, the majority direction, the count majority and how far the
determined pixels agree (docs/transfer.md, "A majority must be a direction").

    polarmap simulate --preset dr-unpolarised --draws-per-class 6 --preset-positions 5x5 --out-dir UNPOL
    python3 bench/unpolarised_claims.py POLARMAP MODEL.pmm UNPOL [PREDICT-OPTION...]

(e.g. `--find-tilt`). A direction named on an unpolarised specimen is a false claim.
"""
import glob
import json
import subprocess
import sys

binary, model, folder = sys.argv[1:4]
extra = sys.argv[4:]

named = 0
scans = sorted(glob.glob(f"{folder}/*.npy"))
print("| scan | outcome | direction | count majority | determined pixels | resultant | Rayleigh p |")
print("|---|---|---|---|---|---|---|")
for scan in scans:
    out = subprocess.run([binary, "predict", scan, "--model", model, "--device", "cpu", "--json",
                          *extra], check=True, capture_output=True, text=True).stdout
    s = json.loads(out)
    coherence = s.get("direction_coherence") or {}
    named += s["majority_class"] is not None
    resultant = coherence.get("resultant")
    p_value = coherence.get("p_value")
    print(f"| {scan.split('/')[-1][:-4]} | {s['outcome']} | {s['majority_class']} | "
          f"{s.get('majority_by_count')} | {s['determined_pixels']} | "
          f"{'-' if resultant is None else f'{resultant:.2f}'} | "
          f"{'-' if p_value is None else f'{p_value:.2g}'} |", flush=True)
print(f"\na direction named on {named} of {len(scans)} unpolarised scans")
