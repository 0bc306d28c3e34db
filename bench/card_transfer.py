#!/usr/bin/env python3
"""Records a model's transfer-suite results in its card: where it is right and where wrong.

    python3 bench/card_transfer.py CARD.json OUT/transfer.json MODEL_NAME --command CMD

MODEL_NAME is the model's name in transfer.json (e.g. "Conv (Cls)"). Writes
metrics.transfer = {command, scans, conditions: {condition: {majority_right, scans,
accuracy_mean, accuracy_min, changed}}, right: [...], wrong: [...], unpolarised: {...}}, where
`right` lists the conditions with every majority right and `wrong` those with at most half.
"""
import argparse
import json

ap = argparse.ArgumentParser()
ap.add_argument("card")
ap.add_argument("transfer")
ap.add_argument("model")
ap.add_argument("--command", required=True)
args = ap.parse_args()

with open(args.transfer) as f:
    run = json.load(f)
conditions = next(c for c in run["conditions"] if c["model"] == args.model)["conditions"]
scans = next(m for m in run["models"] if m["model"] == args.model)["scans"]
table, right, wrong, unpolarised = {}, [], [], {}
for c in conditions:
    if not c["labelled"]:
        for s in scans:
            if s.get("condition") == c["condition"]:
                unpolarised[s["scan"]] = {
                    "majority_class": s.get("majority"),
                    "mean_confidence": s.get("mean_confidence"),
                }
        continue
    r = lambda x: None if x is None else round(x, 4)
    table[c["condition"]] = {
        "majority_right": f"{c['majority_right']}/{c['labelled']}",
        "accuracy_mean": r(c["accuracy_mean"]),
        "accuracy_min": r(c["accuracy_min"]),
        "changed": c["changed"],
    }
    if c["majority_right"] == c["labelled"]:
        right.append(c["condition"])
    elif 2 * c["majority_right"] <= c["labelled"]:
        wrong.append(c["condition"])

with open(args.card) as f:
    card = json.load(f)
card["metrics"]["transfer"] = {
    "note": "polarmap's transfer suite (docs/transfer.md): scans no model trains on; pixel "
    "accuracy over each scan's 8x8 positions, before the undetermined outcome",
    "command": args.command,
    "right": right,
    "wrong": wrong,
    "conditions": table,
    "unpolarised_claims": unpolarised,
}
with open(args.card, "w") as f:
    json.dump(card, f, indent=2, ensure_ascii=False)
    f.write("\n")
print(f"{args.card}: {len(table)} conditions, all right on {len(right)}, at most half on {len(wrong)}")
