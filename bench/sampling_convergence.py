#!/usr/bin/env python3
"""Convergence in real-space sampling: which simulator is closer to the converged answer?

At 20 nm polarmap and abTEM disagree on the CoM at the paper's 0.05 Å sampling
(docs/simulation.md). Both build the slice potential with approximations that vanish as the
sampling gets finer (abTEM's bilinear placement of off-grid atoms; polarmap's band limit of the
potential before the exponential). This script takes the same job at several samplings, each
run by `cargo run --release --example sim_compare` (polarmap.npy) and by
`bench/abtem_compare.py` (abtem.npy), and compares every pattern set with the finest
polarmap run (the reference), and polarmap with abTEM at each sampling, on the same detector
pixels (128 px over ±40 mrad), with the metrics of abtem_compare.py (NCC; CoM Δ relative to the
second set's CoM). `polarmap-fullv.npy`, where present, is polarmap with the potential built on
the whole grid (the experiment of docs/simulation.md).

    python3 bench/sampling_convergence.py JOB_DIR_COARSE ... JOB_DIR_FINEST
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from abtem_compare import compare, load_job  # noqa: E402


def as_patterns(p):
    """(positions, N, N) float64 from a 4D scan; None stays None."""
    if p is None:
        return None
    n = p.shape[-1]
    return p.reshape(-1, n, n).astype(np.float64)


def patterns(job_dir, name):
    path = os.path.join(job_dir, name)
    return as_patterns(np.load(path)) if os.path.exists(path) else None


def row(label, job, a, ref):
    r, *_ = compare(job, a, ref)
    return (
        f"| {label} | {r['ncc_mean']:.5f} / {r['ncc_min']:.4f} | "
        f"{100 * r['com_rel_mean']:.1f} % / {100 * r['com_rel_max']:.0f} % | "
        f"{100 * r['com_rel_rms']:.1f} % |"
    )


# Pattern sets a job directory may hold besides polarmap.npy (which load_job reads): polarmap
# with the potential built on the whole grid (an experiment; docs/simulation.md), abTEM.
OTHER_SETS = [
    ("polarmap full v", "polarmap-fullv.npy"),
    ("abTEM", "abtem.npy"),
]


def main():
    dirs = sys.argv[1:]
    if len(dirs) < 2:
        sys.exit(__doc__)
    loaded = [load_job(d) for d in dirs]
    jobs = [job for job, _, _ in loaded]
    for job in jobs[1:]:
        assert job["detector"] == jobs[0]["detector"], "detectors differ"
        assert job["positions_xy_a"] == jobs[0]["positions_xy_a"], "probe positions differ"
    runs = {"polarmap": [as_patterns(pm) for _, _, pm in loaded]}
    runs.update({name: [patterns(d, f) for d in dirs] for name, f in OTHER_SETS})
    ref_name = "polarmap"
    ref = runs[ref_name][-1]
    finest = jobs[-1]["grid"]
    print(f"Reference: the finest {ref_name} run, {finest['dx']:.5f} Å ({finest['cols']}² pixels).\n")
    print("| sampling (Å, grid) | pair | NCC mean / min | CoM Δ mean / max | CoM rms |")
    print("|---|---|---|---|---|")
    for i, job in enumerate(jobs):
        tag = f"{job['grid']['dx']:.4f} ({job['grid']['cols']}²)"
        for name, series in runs.items():
            p = series[i]
            if p is None or p is ref:
                continue
            print(f"| {tag} {row(f'{name} vs reference', job, p, ref)}")
        if runs["abTEM"][i] is not None:
            print(f"| {tag} {row('polarmap vs abTEM (same sampling)', job, runs['polarmap'][i], runs['abTEM'][i])}")


if __name__ == "__main__":
    main()
