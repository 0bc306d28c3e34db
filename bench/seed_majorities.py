"""Counts, per configuration and test set, the seeds whose own majority class was right, from a
`polarmap bench` output folder (runs/CONFIG/MODEL/seed-SEED/test-SET.json).

Usage: python3 bench/seed_majorities.py BENCH_OUT
"""
import glob
import json
import os
import sys
from collections import defaultdict

out = sys.argv[1]
right = defaultdict(lambda: [0, 0])
for path in glob.glob(os.path.join(out, "runs", "*", "*", "seed-*", "test-*.json")):
    config, model = path.split(os.sep)[-4:-2]
    r = json.load(open(path))
    cell = right[(config, model, r["test_set"])]
    cell[0] += r["majority"] == r["truth"]
    cell[1] += 1
print("| config | model | test set | seeds with the right majority |")
print("|---|---|---|---|")
for (config, model, test), (ok, n) in sorted(right.items()):
    print(f"| {config} | {model} | {test} | {ok}/{n} |")
