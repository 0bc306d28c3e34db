"""Compares the walls polarmap found (`polarmap predict --domains-json`) with the walls a simulated
mosaic was made with (`polarmap simulate --mosaic`: the sidecar's mosaic.walls), and prints one
Markdown table row per made wall and one for the walls that match none.

A found wall matches a made wall when it separates domains of the made wall's two classes. For
each matched wall: its kind, its points' distance from the made wall (|col - made col| for a
vertical wall, |row - made row| for a horizontal one), the fraction within one scan pixel, and its
length against the made wall's.

Usage: python3 scripts/domain_walls_accuracy.py SCAN.meta.json DOMAINS.json [LABEL]
(standard library only)
"""
import json
import sys

KIND = {"deg180": "180°", "deg90": "90°", "other": "other"}
ANGLE = {"RM": 0, "RU": 45, "MU": 90, "LU": 135, "LM": 180, "LD": 225, "MD": 270, "RD": 315}


def made_kind(a, b):
    d = abs(ANGLE[a] - ANGLE[b]) % 360
    d = min(d, 360 - d)
    return {180: "180°", 90: "90°"}.get(d, "other")


def main(meta_path, domains_path, label):
    made = json.load(open(meta_path))["mosaic"]["walls"]
    found = json.load(open(domains_path))
    cls = {d["id"]: d["class"] for d in found["domains"]}
    used = set()
    rows = []
    for m in made:
        pair = sorted(m["classes"])
        vertical = m["orientation"] == "vertical"
        extent = m["rows"] if vertical else m["cols"]
        length = extent[1] - extent[0] + 1
        matches = [
            (i, w)
            for i, w in enumerate(found["walls"])
            if sorted([cls[w["domains"][0]], cls[w["domains"][1]]]) == pair
        ]
        if not matches:
            rows.append(f"| {label} | {m['classes'][0]}–{m['classes'][1]} {made_kind(*pair)} "
                        f"{'col' if vertical else 'row'} {m['col' if vertical else 'row']} | not found | | | | |")
            continue
        points = []
        kinds = set()
        for i, w in matches:
            used.add(i)
            kinds.add(KIND[w["kind"]])
            for p in w["points"]:
                points.append(abs(p[1] - m["col"]) if vertical else abs(p[0] - m["row"]))
        points.sort()
        within = sum(1 for e in points if e <= 1.0) / len(points)
        rows.append(
            f"| {label} | {m['classes'][0]}–{m['classes'][1]} {made_kind(*pair)} "
            f"{'col' if vertical else 'row'} {m['col' if vertical else 'row']} | "
            f"{'/'.join(sorted(kinds))} ({'right' if kinds == {made_kind(*pair)} else 'WRONG'}) | "
            f"{len(points)} / {length} | {points[len(points) // 2]:.1f} | {points[-1]:.1f} | "
            f"{100 * within:.0f} % |"
        )
    spurious = [w for i, w in enumerate(found["walls"]) if i not in used]
    kinds = {}
    for w in spurious:
        kinds[KIND[w["kind"]]] = kinds.get(KIND[w["kind"]], 0) + w["length_px"]
    rows.append(
        f"| {label} | walls matching none | {len(spurious)} walls, "
        + (", ".join(f"{k}: {v} edges" for k, v in sorted(kinds.items())) or "none")
        + " | | | | |"
    )
    print("\n".join(rows))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else sys.argv[2])
