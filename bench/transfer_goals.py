#!/usr/bin/env python3
"""Issue 19's goals for a default model, read from a transfer-suite run.

    python3 bench/transfer_goals.py SUITE_DIR OUT/transfer.csv [--markdown]

SUITE_DIR is the folder `polarmap bench --suite transfer --data-dir` read (abTEM's scans in
SUITE_DIR/abtem); OUT/transfer.csv is what that run wrote. Each scan's thickness and dose come
from its sidecar ("simulation"), so randomised scans count where their drawn thickness falls.

Goals (per model): the majority right on every 20 nm scan and on >= 90 % of the 40-60 nm scans;
median pixel accuracy >= 95 % on noise-free 20 nm scans, >= 90 % on 20 nm scans with a dose of
at least 1e4 e- per pattern, >= 50 % on the 40-60 nm scans. Unpolarised scans (no class) are
left out. "20 nm" is 18-22 nm (the suite's 50-51 cells), "40-60 nm" 39-61 nm.
"""
import csv
import json
import statistics
import sys
from pathlib import Path


def sidecar(suite: Path, scan: str) -> dict:
    for folder in (suite, suite / "abtem"):
        path = folder / f"{scan}.meta.json"
        if path.exists():
            return json.loads(path.read_text())
    raise SystemExit(f"{scan}: no sidecar in {suite} or {suite / 'abtem'}")


def describe(meta: dict) -> tuple[float, float | None]:
    """(thickness in nm, dose per pattern or None for noise-free)."""
    sim = meta["simulation"]
    dose = (sim.get("acquisition") or {}).get("dose_per_pattern")
    return sim["thickness_a"] / 10.0, dose


def goals(rows: list[dict], suite: Path) -> list[tuple[str, str, bool]]:
    at20, at20_clean, at20_dosed, thick = [], [], [], []
    for row in rows:
        if row["truth"] in ("", "none", "-"):
            continue
        nm, dose = describe(sidecar(suite, row["scan"]))
        right, acc = row["majority_right"] == "true", float(row["accuracy"])
        if 18.0 <= nm <= 22.0:
            at20.append((right, acc, row["scan"]))
            if dose is None:
                at20_clean.append(acc)
            elif dose >= 1e4:
                at20_dosed.append(acc)
        elif 39.0 <= nm <= 61.0:
            thick.append((right, acc, row["scan"]))

    def share(xs):
        return sum(r for r, _, _ in xs), len(xs)

    def median(xs):
        return statistics.median(xs) if xs else float("nan")

    r20, n20 = share(at20)
    rt, nt = share(thick)
    wrong20 = [s for r, _, s in at20 if not r]
    out = [
        (
            "majority right on every 20 nm scan",
            f"{r20}/{n20}" + (f" (wrong: {', '.join(wrong20[:6])}{'…' if len(wrong20) > 6 else ''})" if wrong20 else ""),
            n20 > 0 and r20 == n20,
        ),
        ("majority right on >= 90 % of 40-60 nm scans", f"{rt}/{nt} ({100 * rt / max(nt, 1):.0f} %)", nt > 0 and rt >= 0.9 * nt),
        (
            "median pixel accuracy >= 95 %, noise-free 20 nm",
            f"{100 * median(at20_clean):.1f} % over {len(at20_clean)} scans",
            median(at20_clean) >= 0.95,
        ),
        (
            "median pixel accuracy >= 90 %, dose >= 1e4 at 20 nm",
            f"{100 * median(at20_dosed):.1f} % over {len(at20_dosed)} scans",
            median(at20_dosed) >= 0.90,
        ),
        (
            "median pixel accuracy >= 50 %, 40-60 nm",
            f"{100 * median([a for _, a, _ in thick]):.1f} % over {len(thick)} scans",
            median([a for _, a, _ in thick]) >= 0.50,
        ),
    ]
    return out


def main() -> None:
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    suite, table = Path(sys.argv[1]), Path(sys.argv[2])
    with table.open() as f:
        rows = list(csv.DictReader(f))
    models = sorted({r["model"] for r in rows})
    print("| model | goal | measured | met |")
    print("|---|---|---|---|")
    for model in models:
        for goal, measured, met in goals([r for r in rows if r["model"] == model], suite):
            print(f"| {model} | {goal} | {measured} | {'yes' if met else '**no**'} |")


if __name__ == "__main__":
    main()
