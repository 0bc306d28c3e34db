"""One Markdown row of bench/heldout.sh from `polarmap predict --json` on standard input."""
import json
import sys

s = json.load(sys.stdin)
model, scan = sys.argv[1], sys.argv[2]
truth = s.get("labelled_majority_class")
mark = "" if not truth else (" ✓" if truth == s["majority_class"] else f" ✗ ({truth})")
acc = s.get("accuracy_vs_labels")
acc = "-" if acc is None else f"{100 * acc:.1f} %"
print(f"| {model} | {scan} | {s['majority_class']}{mark} | {acc} | {s['mean_confidence']:.2f} |")
