#!/usr/bin/env python3
"""Redo a polarmap simulation job (written by `cargo run --example sim_compare`) in abTEM and
compare: per-pattern normalised cross-correlation, CoM vectors, and time per probe position.

    /var/tmp/abtem-venv/bin/python bench/abtem_compare.py JOB_DIR [--time] [--no-compare]
        [--configs lazy-threads,lazy-single,built-threads,built-single] [--prism]

--prism also times abTEM's own PRISM (SMatrix, interpolation 1, which is exact) on the same
positions: the S-matrix multislice, then the reduction per position, and checks its patterns
against abTEM's plain multislice (NCC, CoM), so that both abTEM paths are timed at equal
accuracy.

JOB_DIR holds job.json, atoms.csv and polarmap.npy. abTEM gets exactly the same atoms, cell,
grid (gpts), slice thickness, Kirkland parametrization, infinite projection, 200 kV / 24 mrad
soft aperture, no thermal vibrations, and the same probe positions (CustomScan).

Axis mapping (checked numerically: all 8 flips/rotations of the mapping are tried and the best
must be the identity mapping below):
  * positions: polarmap (x right, y up, depth z from the entrance) -> abTEM (x, y, z) unchanged
    (both right-handed, beam along +z entering at z = 0); y is wrapped into [0, height).
  * abTEM arrays are indexed [x, y] (axis -2 = x/k_x, axis -1 = y/k_y, fftshifted, zero
    frequency at index m//2). polarmap detector arrays are [row, col] with col = k_x to the
    right and row 0 = largest k_y (k_y up). So pattern_polarmap[r, c] = D[c, N-1-r] where D is
    abTEM's pattern on polarmap's detector pixels, i.e. polarmap = D.T[::-1, :].
Both tools' patterns go through the same detector resampling: abTEM's full fftshifted pattern
is resampled here with polarmap's operator (integral of the piecewise-linear interpolant over
each detector pixel; pixel p centred on (p + 1/2 - N/2) * mrad_per_px), so the comparison is on
identical detector pixels.
"""

import argparse
import json
import os
import sys
import time

import numpy as np


def hat_integral(t):
    t = np.asarray(t, dtype=float)
    return np.where(
        t <= -1,
        0.0,
        np.where(
            t <= 0, 0.5 * (1 + t) ** 2, np.where(t <= 1, 1 - 0.5 * (1 - t) ** 2, 1.0)
        ),
    )


def axis_weights(m, dq, n, delta):
    """(n, m) matrix: detector pixel p <- fftshifted index i (q = (i - m//2) dq), polarmap's
    `AxisWeights`."""
    q = (np.arange(m) - m // 2) * dq
    a = (np.arange(n) - n / 2) * delta
    b = a + delta
    return hat_integral((b[:, None] - q[None, :]) / dq) - hat_integral(
        (a[:, None] - q[None, :]) / dq
    )


def wavelength_a(kev):
    m0c2 = 510.99895  # keV
    hc = 12.398419843320026  # keV Å
    return hc / np.sqrt(kev * (2 * m0c2 + kev))


def load_job(d):
    with open(os.path.join(d, "job.json")) as f:
        job = json.load(f)
    atoms = np.loadtxt(os.path.join(d, "atoms.csv"), delimiter=",", skiprows=1, ndmin=2)
    pm = None
    p = os.path.join(d, "polarmap.npy")
    if os.path.exists(p):
        pm = np.load(p)
    return job, atoms, pm


def build_abtem(job, atoms_arr, projection="infinite"):
    import abtem
    from ase import Atoms

    ex, ey, ez = job["extent_a"]
    atoms = Atoms(
        numbers=atoms_arr[:, 0].astype(int),
        positions=atoms_arr[:, 1:4],
        cell=[ex, ey, ez],
        pbc=True,
    )
    g = job["grid"]
    potential = abtem.Potential(
        atoms,
        gpts=(g["cols"], g["rows"]),  # abTEM (nx, ny): x = polarmap columns
        slice_thickness=job["slice_thickness_a"],
        parametrization="kirkland",
        projection=projection,
    )
    probe = abtem.Probe(
        energy=job["energy_kev"] * 1e3,
        semiangle_cutoff=job["convergence_mrad"],
        soft=bool(job.get("soft_aperture", True)),
    )
    pos = np.array(job["positions_xy_a"], dtype=float)
    pos[:, 0] %= ex
    pos[:, 1] %= ey
    scan = abtem.CustomScan(pos)
    return abtem, atoms, potential, probe, scan


def detector_operator(job):
    g = job["grid"]
    ex, ey, _ = job["extent_a"]
    lam = wavelength_a(job["energy_kev"])
    n = job["detector"]["pixels"]
    delta = job["detector"]["mrad_per_px"] * 1e-3 / lam
    wx = axis_weights(g["cols"], 1.0 / ex, n, delta)
    wy = axis_weights(g["rows"], 1.0 / ey, n, delta)
    return wx, wy


def to_polarmap_frame(full, wx, wy):
    """abTEM full patterns (..., nx, ny), fftshifted -> polarmap detector (..., N, N) [row, col]."""
    d = wx @ full @ wy.T  # D[..., kx pixel, ky pixel]
    return np.swapaxes(d, -1, -2)[..., ::-1, :]


def ncc(a, b):
    a = a.reshape(a.shape[0], -1).astype(float)
    b = b.reshape(b.shape[0], -1).astype(float)
    a = a - a.mean(1, keepdims=True)
    b = b - b.mean(1, keepdims=True)
    return (a * b).sum(1) / np.sqrt((a * a).sum(1) * (b * b).sum(1))


def com(p, mrad_per_px):
    """CoM (k_x, k_y) in mrad in the image frame (x right, y up), p [..., row, col]."""
    n = p.shape[-1]
    k = (np.arange(n) + 0.5 - n / 2) * mrad_per_px
    s = p.sum((-1, -2))
    cx = (p * k[None, :]).sum((-1, -2)) / s
    cy = (p * -k[:, None]).sum((-1, -2)) / s
    return np.stack([cx, cy], -1)


def compare(job, pm, ab):
    """pm, ab: (positions, N, N) in the polarmap frame."""
    res = {}
    c = ncc(pm, ab)
    res["ncc_mean"] = float(c.mean())
    res["ncc_min"] = float(c.min())
    res["total_pm_mean"] = float(pm.sum((1, 2)).mean())
    res["total_ab_mean"] = float(ab.sum((1, 2)).mean())
    d = job["detector"]["mrad_per_px"]
    cp, ca = com(pm, d), com(ab, d)
    mag_a = np.linalg.norm(ca, axis=1)
    keep = mag_a > 0.1 * mag_a.max()
    rel = np.linalg.norm(cp - ca, axis=1) / np.maximum(mag_a, 1e-30)
    res["com_rel_mean"] = float(rel[keep].mean())
    res["com_rel_max"] = float(rel[keep].max())
    res["com_positions_used"] = int(keep.sum())
    res["com_rel_rms"] = float(
        np.sqrt(((cp - ca) ** 2).sum() / (ca**2).sum())
    )  # all positions
    res["com_mag_ratio"] = float(np.linalg.norm(cp, axis=1).mean() / mag_a.mean())
    zp = cp[:, 0] + 1j * cp[:, 1]
    za = ca[:, 0] + 1j * ca[:, 1]
    fit = (np.conj(za) * zp).sum() / (np.abs(za) ** 2).sum()
    res["com_fit_scale"] = float(abs(fit))
    res["com_fit_angle_deg"] = float(np.degrees(np.angle(fit)))
    ang = np.degrees(np.angle(zp[keep] / za[keep]))
    res["com_angle_mean_abs_deg"] = float(np.abs(ang).mean())
    res["com_max_mrad_ab"] = float(mag_a.max())
    res["com_scanmean_pm"] = cp.mean(0).tolist()
    res["com_scanmean_ab"] = ca.mean(0).tolist()
    return res, c, cp, ca


def dihedral(p):
    """The 8 rotations/flips of (..., N, N) arrays, with names."""
    out = []
    for k in range(4):
        r = np.rot90(p, k, axes=(-2, -1))
        out.append((f"rot{90 * k}", r))
        out.append((f"rot{90 * k}+flipcols", r[..., :, ::-1]))
    return out


def run_abtem(abtem, potential, probe, scan, detector, scheduler):
    meas = probe.scan(potential, scan=scan, detectors=detector)
    if scheduler is None:
        return meas.compute(progress_bar=False)
    return meas.compute(scheduler=scheduler, progress_bar=False)


def build_s_matrix(abtem, job, built_potential):
    """abTEM's S-matrix at interpolation 1 (exact), full grid, computed now."""
    return abtem.SMatrix(
        semiangle_cutoff=job["convergence_mrad"],
        energy=job["energy_kev"] * 1e3,
        potential=built_potential,
        interpolation=1,
        downsample=False,
    ).build(lazy=False)


def reduce_s_matrix(abtem, job, s_matrix, scan, detector):
    """The job's probe at every position of `scan`, detected (computed now)."""
    ctf = abtem.CTF(semiangle_cutoff=job["convergence_mrad"], energy=job["energy_kev"] * 1e3)
    # SMatrixArray.scan passes an argument its own reduce() rejects (abTEM 1.0.11).
    dp = s_matrix.reduce(scan=scan, detectors=detector, ctf=ctf)
    return dp.compute(progress_bar=False) if hasattr(dp, "compute") else dp


def time_prism(abtem, job, potential, scan, detector, repeat):
    """abTEM's PRISM at interpolation 1 (exact): (timing dict, patterns [positions, nx, ny])."""
    built = potential.build().compute(progress_bar=False)
    best = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        s_matrix = build_s_matrix(abtem, job, built)
        t1 = time.perf_counter()
        dp = reduce_s_matrix(abtem, job, s_matrix, scan, detector)
        t2 = time.perf_counter()
        if best is None or t2 - t0 < best[0] + best[1]:
            best = (t1 - t0, t2 - t1, dp)
    t_s, t_scan, dp = best
    npos = len(job["positions_xy_a"])
    per = t_scan / npos
    timing = {
        "s_matrix_s": t_s,
        "beams": int(s_matrix.array.shape[-3]),
        "total_s": t_s + t_scan,
        "per_position_s": per,
        "scan_128x128_s": t_s + 128 * 128 * per,
    }
    print(
        f"  prism f=1: S-matrix {t_s:.3f} s, {per:.5f} s/position", file=sys.stderr
    )
    return timing, np.asarray(dp.array)


def time_prism_grid(abtem, job, potential, detector, n):
    """abTEM's PRISM (interpolation 1) over an n×n grid of positions covering the job's scan
    area (its rows×cols steps), timed whole: S-matrix, reduction and detection of every pattern."""
    sc = job["scan"]
    ex, ey, _ = job["extent_a"]
    width, height = sc["cols"] * sc["step"][0], sc["rows"] * sc["step"][1]
    xs = sc["origin"][0] + np.arange(n) * width / n
    ys = sc["origin"][1] + np.arange(n) * height / n
    pos = np.stack(np.meshgrid(xs % ex, ys % ey, indexing="xy"), -1).reshape(-1, 2)
    built = potential.build().compute(progress_bar=False)
    t0 = time.perf_counter()
    s_matrix = build_s_matrix(abtem, job, built)
    dp = reduce_s_matrix(abtem, job, s_matrix, abtem.CustomScan(pos), detector)
    total = time.perf_counter() - t0
    shape = np.asarray(dp.array).shape
    print(f"  prism f=1, {n}x{n} positions: {total:.1f} s, patterns {shape}", file=sys.stderr)
    return {
        "total_s": total,
        "per_position_s": total / (n * n),
        "scan_128x128_s": total * 128 * 128 / (n * n),
        "patterns_shape": list(shape),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("job")
    ap.add_argument("--time", action="store_true", help="time abTEM configurations")
    ap.add_argument("--no-compare", action="store_true")
    ap.add_argument(
        "--configs",
        default="lazy-threads,lazy-single,built-threads,built-single",
    )
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument(
        "--prism", action="store_true", help="also time abTEM's PRISM at interpolation 1"
    )
    ap.add_argument(
        "--prism-grid",
        type=int,
        default=0,
        help="with --prism: also time abTEM's PRISM on a whole N×N scan over the job's scan "
        "area, patterns kept in memory (no extrapolation)",
    )
    ap.add_argument(
        "--projection",
        default="infinite",
        help="abTEM projection: infinite (default, as polarmap) or finite",
    )
    ap.add_argument("--tag", default="", help="suffix for the output files")
    ap.add_argument(
        "--fftw-threads", type=int, default=None, help="abTEM config fftw.threads"
    )
    ap.add_argument(
        "--exact-deltas",
        action="store_true",
        help="diagnostic: replace abTEM's sin(k)/k pixel correction of the infinite "
        "projection by 1 (exact for atoms on grid points)",
    )
    ap.add_argument(
        "--hard-antialias",
        action="store_true",
        help="diagnostic: antialias taper 0 (a hard 2/3 aperture, as polarmap)",
    )
    args = ap.parse_args()

    job, atoms_arr, pm = load_job(args.job)
    if args.fftw_threads is not None:
        import abtem

        abtem.config.set({"fftw.threads": args.fftw_threads})
    if args.exact_deltas or args.hard_antialias:
        import abtem
        import abtem.integrals

        if args.exact_deltas:
            from abtem.core.backend import get_array_module

            def flat(gpts, sampling, device="cpu"):
                xp = get_array_module(device)
                return xp.full(gpts, sampling[0] * sampling[1], dtype=np.float32)

            abtem.integrals.sinc = flat
        if args.hard_antialias:
            abtem.config.set({"antialias.taper": 0.0})
    abtem, atoms, potential, probe, scan = build_abtem(job, atoms_arr, args.projection)
    g = job["grid"]
    print(
        f"abTEM {abtem.__version__}, job {args.job}: grid {g['rows']}x{g['cols']}, "
        f"{potential.num_slices} slices of {job['slice_thickness_a']} Å "
        f"(polarmap {job['slices']}), {len(job['positions_xy_a'])} positions",
        file=sys.stderr,
    )
    assert potential.num_slices == job["slices"], "slice count differs"
    detector = abtem.PixelatedDetector(max_angle="full")
    report = {
        "abtem_version": abtem.__version__,
        "job": args.job,
        "projection": args.projection,
        "fftw_threads": args.fftw_threads,
        "exact_deltas": args.exact_deltas,
        "hard_antialias": args.hard_antialias,
    }

    if not args.no_compare:
        dp = run_abtem(abtem, potential, probe, scan, detector, None)
        full = np.asarray(dp.array)
        assert full.shape[-2:] == (g["cols"], g["rows"]), full.shape
        assert dp.fftshift, "expected fftshifted patterns"
        wx, wy = detector_operator(job)
        ab = to_polarmap_frame(full, wx, wy)
        n = pm.shape[-1]
        pmf = pm.reshape(-1, n, n)
        res, c, cp, ca = compare(job, pmf, ab)
        # Orientation check: the identity mapping must be the best of the 8.
        variants = {
            name: float(ncc(pmf, v).mean()) for name, v in dihedral(ab)
        }
        res["orientation_ncc"] = variants
        res["orientation_best"] = max(variants, key=variants.get)
        report["compare"] = res
        np.save(os.path.join(args.job, f"abtem{args.tag}.npy"), ab.reshape(pm.shape).astype(np.float32))
        np.save(os.path.join(args.job, f"com_pm{args.tag}.npy"), cp)
        np.save(os.path.join(args.job, f"com_ab{args.tag}.npy"), ca)
        np.save(os.path.join(args.job, f"ncc{args.tag}.npy"), c)

    if args.time:
        timing = {}
        npos = len(job["positions_xy_a"])
        # Warm-up (numba JIT, FFT plans) on one position.
        warm = abtem.CustomScan(np.array(job["positions_xy_a"][:1]) % job["extent_a"][:2])
        run_abtem(abtem, potential, probe, warm, detector, "single-threaded")
        for cfg in args.configs.split(","):
            kind, sched = cfg.split("-")
            scheduler = {"threads": None, "single": "single-threaded"}[sched]
            best = None
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                pot = potential
                t_pot = 0.0
                if kind == "built":
                    pot = potential.build().compute(
                        **({} if scheduler is None else {"scheduler": scheduler}),
                        progress_bar=False,
                    )
                    t_pot = time.perf_counter() - t0
                run_abtem(abtem, pot, probe, scan, detector, scheduler)
                t = time.perf_counter() - t0
                if best is None or t < best[0]:
                    best = (t, t_pot)
            t, t_pot = best
            per = (t - t_pot) / npos
            timing[cfg] = {
                "total_s": t,
                "potential_s": t_pot,
                "per_position_s": per,
                "scan_128x128_s": t_pot + 128 * 128 * per,
            }
            print(f"  {cfg}: {t:.3f} s total, {per:.4f} s/position", file=sys.stderr)
        if args.prism:
            prism_timing, prism_full = time_prism(
                abtem, job, potential, scan, detector, args.repeat
            )
            # abTEM PRISM against abTEM multislice on the same positions (equal accuracy?).
            plain = np.asarray(
                run_abtem(abtem, potential, probe, scan, detector, None).array
            )
            wx, wy = detector_operator(job)
            a = to_polarmap_frame(prism_full, wx, wy).reshape(npos, -1)
            b = to_polarmap_frame(plain, wx, wy).reshape(npos, -1)
            c = ncc(a, b)
            prism_timing["ncc_vs_multislice_mean"] = float(c.mean())
            prism_timing["ncc_vs_multislice_min"] = float(c.min())
            timing["prism-f1"] = prism_timing
            if args.prism_grid:
                timing[f"prism-f1-{args.prism_grid}x{args.prism_grid}"] = time_prism_grid(
                    abtem, job, potential, detector, args.prism_grid
                )
        report["timing"] = timing
        report["polarmap_timing"] = job.get("timing")

    with open(os.path.join(args.job, f"compare{args.tag}.json"), "w") as f:
        json.dump(report, f, indent=1)
    print_table(job, report)


def print_table(job, report):
    print(
        f"\n### {report['job']} (abTEM {report['abtem_version']}, "
        f"{report['projection']} projection)\n"
    )
    if "compare" in report:
        r = report["compare"]
        print("| quantity | value |\n|---|---|")
        print(f"| NCC mean / min | {r['ncc_mean']:.5f} / {r['ncc_min']:.5f} |")
        print(
            f"| CoM |Δ|/|CoM_abTEM| mean / max ({r['com_positions_used']} positions with "
            f"|CoM| > 10 % of max) | {100 * r['com_rel_mean']:.2f} % / {100 * r['com_rel_max']:.2f} % |"
        )
        print(f"| CoM rms difference / rms abTEM (all positions) | {100 * r['com_rel_rms']:.2f} % |")
        print(
            f"| mean |CoM| polarmap / abTEM | {r['com_mag_ratio']:.4f} "
            f"(largest abTEM |CoM| {r['com_max_mrad_ab']:.3f} mrad) |"
        )
        print(
            f"| least-squares CoM_pm = c·CoM_ab: |c|, arg c | {r['com_fit_scale']:.4f}, "
            f"{r['com_fit_angle_deg']:.2f}° |"
        )
        print(f"| mean |angle(CoM_pm, CoM_ab)| | {r['com_angle_mean_abs_deg']:.2f}° |")
        print(
            f"| counts on detector polarmap / abTEM (mean) | {r['total_pm_mean']:.5f} / "
            f"{r['total_ab_mean']:.5f} |"
        )
        print(f"| best orientation of the 8 | {r['orientation_best']} |")
    if "timing" in report:
        pt = report["polarmap_timing"]
        print("\n| tool / configuration | total (s) | potentials (s) | per position (s) | 128×128 scan (s) |")
        print("|---|---|---|---|---|")
        pm_per = pt["scan_s"] / pt["positions"]
        pm_full = pt["prepare_s"] + 128 * 128 * pm_per
        print(
            f"| polarmap ({pt['threads']} threads) | {pt['prepare_s'] + pt['scan_s']:.3f} | "
            f"{pt['prepare_s']:.3f} | {pm_per:.4f} | {pm_full:.0f} |"
        )
        best = None
        for cfg, t in report["timing"].items():
            setup = t.get("potential_s", t.get("s_matrix_s"))
            setup = "in total" if setup is None else f"{setup:.3f}"
            print(
                f"| abTEM {cfg} | {t['total_s']:.3f} | {setup} | "
                f"{t['per_position_s']:.4f} | {t['scan_128x128_s']:.0f} |"
            )
            if "ncc_vs_multislice_min" in t:
                print(
                    f"|   (PRISM vs abTEM multislice: NCC mean {t['ncc_vs_multislice_mean']:.6f}, "
                    f"min {t['ncc_vs_multislice_min']:.6f}; the setup column is the S-matrix) | | | | |"
                )
            if best is None or t["scan_128x128_s"] < best[1]["scan_128x128_s"]:
                best = (cfg, t)
        print(
            f"\nabTEM best ({best[0]}) / polarmap: per position "
            f"{best[1]['per_position_s'] / pm_per:.2f}×, 128×128 scan "
            f"{best[1]['scan_128x128_s'] / pm_full:.2f}×"
        )


if __name__ == "__main__":
    main()
