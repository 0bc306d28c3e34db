#!/usr/bin/env python3
"""Records held-out results (the Markdown rows of bench/heldout.sh) in a model card.

    python3 bench/card_held_out.py CARD.json HELDOUT.md MODEL_NAME [--note TEXT] [--command CMD]

Rows of HELDOUT.md whose model column is MODEL_NAME go to metrics.held_out.sets[scan] =
{accuracy, majority_class}; --command replaces the card's command (e.g. by the reproducible
preset command when the model was trained from copies of the preset's files).
"""
import argparse
import json

ap = argparse.ArgumentParser()
ap.add_argument("card")
ap.add_argument("heldout")
ap.add_argument("model")
ap.add_argument("--note")
ap.add_argument("--command")
args = ap.parse_args()

with open(args.card) as f:
    card = json.load(f)
sets = {}
for line in open(args.heldout):
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cells) != 5 or cells[0] != args.model:
        continue
    _, scan, majority, accuracy, _ = cells
    sets[scan] = {
        "accuracy": None if accuracy == "-" else round(float(accuracy.rstrip(" %")) / 100, 4),
        "majority_class": majority.split()[0],
    }
held_out = card["metrics"].setdefault("held_out", {})
if args.note:
    held_out["note"] = args.note
held_out["sets"] = sets
if args.command:
    card["command"] = args.command
with open(args.card, "w") as f:
    json.dump(card, f, indent=2)
    f.write("\n")
print(f"{args.card}: {len(sets)} held-out sets")
