#!/usr/bin/env python3
"""What the specimen tilt is worth (docs/transfer.md, "What a known tilt is worth" and "Finding
the tilt with the model"): each scan through `polarmap predict` three ways — with the crop not
moved (`--tilt-mrad 0,0`); with the tilt its sidecar records stated (`--tilt-mrad X,Y`, which
moves the model's crop onto the crystal's pattern); and with the tilt searched for
(`--find-tilt`: the tilt at which the model reads the scan most confidently) —
every pixel counted (`--ignore-signal --min-probability 0 --max-ood 1e9`) and as reported (the
determined pixels' direction). Then totals, by the draws' tilt and for 40-60 nm.

    python3 bench/tilt.py POLARMAP MODEL.pmm SCAN.npy... > TABLE.md

e.g. fresh `dr-train` draws, or the transfer suite's randomised and tilt-5mrad scans. A scan
without labels (an unpolarised one) counts as right when no direction is reported.
"""
import json
import math
import subprocess
import sys

binary, model, scans = sys.argv[1], sys.argv[2], sys.argv[3:]
EVERY = ["--ignore-signal", "--min-probability", "0", "--max-ood", "1e9"]
WAYS = ("crop not moved", "tilt stated", "tilt found")


def predict(scan, *extra):
    out = subprocess.run([binary, "predict", scan, "--model", model, "--device", "cpu", "--json",
                          *extra], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


print("| scan | nm | tilt (x, y), mrad | found | truth | crop not moved: every pixel, reported "
      "| tilt stated | tilt found |")
print("|---|---|---|---|---|---|---|---|")
rows = []
for scan in scans:
    sim = json.load(open(scan[:-4] + ".meta.json"))["simulation"]
    tilt = sim.get("tilt_mrad") or [0.0, 0.0]
    ways = [["--tilt-mrad", "0,0"], ["--tilt-mrad", f"{tilt[0]},{tilt[1]}"], ["--find-tilt"]]
    runs = [(predict(scan, *EVERY, *w), predict(scan, *w)) for w in ways]
    truth = runs[0][0]["labelled_majority_class"]
    found = runs[2][1]["tilt_search"]["tilt_mrad"]
    row = {"nm": sim["thickness_a"] / 10.0, "tilt": tilt, "found": found, "truth": truth,
           "ways": [(e["majority_class"], e["accuracy_vs_labels"], r["majority_class"])
                    for e, r in runs]}
    rows.append(row)
    cell = lambda w: (f"{w[0] or '-'} {'-' if w[1] is None else f'{100 * w[1]:.0f} %'}, "
                      f"{w[2] or 'undetermined'}")
    print(f"| {scan.split('/')[-1][:-4]} | {row['nm']:.0f} | {tilt[0]:.1f}, {tilt[1]:.1f} | "
          f"{found[0]:.1f}, {found[1]:.1f} | {truth} | "
          + " | ".join(cell(w) for w in row["ways"]) + " |", flush=True)


def totals(sel, label):
    if not sel:
        return
    n = len(sel)
    print(f"\n{label} ({n} scans):")
    for k, way in enumerate(WAYS):
        right = sum(r["ways"][k][2] == r["truth"] for r in sel)
        wrong = sum(r["ways"][k][2] not in (None, r["truth"]) for r in sel)
        every = sum(r["ways"][k][0] == r["truth"] for r in sel)
        labelled = [r["ways"][k][1] for r in sel if r["ways"][k][1] is not None]
        acc = 100 * sum(labelled) / max(len(labelled), 1)
        print(f"- {way}: majority reported right {right}/{n}, wrong {wrong}; every pixel "
              f"{every}/{n}; mean pixel accuracy {acc:.1f} %")
    errors = sorted(math.dist(r["found"], r["tilt"]) for r in sel)
    print(f"- found tilt minus recorded: median {errors[n // 2]:.1f} mrad, "
          f"largest {errors[-1]:.1f} mrad")


size = lambda r: math.hypot(*r["tilt"])
totals(rows, "all")
totals([r for r in rows if size(r) < 2.5], "tilt < 2.5 mrad")
totals([r for r in rows if 2.5 <= size(r) < 5.0], "tilt 2.5-5 mrad")
totals([r for r in rows if size(r) >= 5.0], "tilt >= 5 mrad")
totals([r for r in rows if 40.0 <= r["nm"] <= 60.5], "40-60 nm")
totals([r for r in rows if r["truth"] is None], "unlabelled (unpolarised)")
