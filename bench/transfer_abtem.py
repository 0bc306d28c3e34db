#!/usr/bin/env python3
"""The transfer suite's independent part: one labelled KNN scan per class simulated by abTEM
1.0.11 (not by polarmap), written as polarmap reads it into SUITE_DIR/abtem/:
NAME.npy (float32, [scan_row, scan_col, det_row, det_col]) and NAME.meta.json (calibration,
labels, and the `transfer` object `polarmap bench --suite transfer` groups by).

    /var/tmp/abtem-venv/bin/python bench/transfer_abtem.py SUITE_DIR [--side 16] [--cells 6]
        [--thickness-cells 51] [--classes RM,RU,...] [--fftw-threads 2]

Independent of polarmap on purpose: the crystal is built here with ASE from DESIGN.md's class
convention (class k: Nb displaced towards k·45° in the image plane, x right, y up; the four axis
classes along a <110>pc with a component along the beam, the four diagonal classes in the
plane; 0.15 Å), with its own random K/Na arrangement (numpy, seeds 251-258); abTEM uses its own
default potential parametrisation (Lobato-van Dyck, not polarmap's Kirkland), its own grid,
slicing and probe, in a laterally large periodic box (6×6 pseudo-cubic cells = 23.7 Å by
default, against polarmap's 4×4 reference and the paper's 2×2). The pattern is abTEM's own
diffraction intensity on its own reciprocal grid (1/box), cropped to an odd square around the
zero beam so that the optical axis is the centre pixel, and written at that native angle per
pixel: the models resample it to their own (polarmap's detector model is not used).

Axis mapping (established numerically by bench/abtem_compare.py, which tries all 8
rotations/flips): atom and probe coordinates are the same numbers in both tools (x right, y up,
depth from the entrance), and abTEM's pattern D[k_x, k_y] (fftshifted) is polarmap's
[row, col] array as D.T[::-1, :].
"""

import argparse
import json
import os
import sys
import time

import numpy as np

CLASSES = ["RM", "RU", "MU", "LU", "LM", "LD", "MD", "RD"]
A = 3.95  # KNN pseudo-cubic lattice constant, Å
NB_SHIFT = 0.15  # Å
FIRST_SEED = 251


def wavelength_a(kev):
    m0c2 = 510.99895  # keV
    hc = 12.398419843320026  # keV Å
    return hc / np.sqrt(kev * (2 * m0c2 + kev))


def nb_displacement(k):
    """DESIGN.md: class k points at k·45° in the image plane; axis classes (even k) along a
    <110>pc with a +beam component, diagonal classes (odd k) in the plane."""
    t = np.radians(45.0 * k)
    if k % 2 == 0:
        d = np.array([np.cos(t), np.sin(t), 1.0]) / np.sqrt(2.0)
    else:
        d = np.array([np.cos(t), np.sin(t), 0.0])
        d /= np.linalg.norm(d)
    return NB_SHIFT * d


def knn_atoms(k, cells, nz, seed):
    """ABO3 perovskite, beam along z: A (K or Na at random, 50/50) at the cell corner, Nb at the
    body centre plus the class displacement, O at the three face centres."""
    from ase import Atoms

    rng = np.random.default_rng(seed)
    d = nb_displacement(k)
    numbers, positions = [], []
    for i in range(cells):
        for j in range(cells):
            for l in range(nz):
                o = np.array([i, j, l], dtype=float) * A
                numbers.append(19 if rng.random() < 0.5 else 11)
                positions.append(o)
                numbers.append(41)
                positions.append(o + A * np.array([0.5, 0.5, 0.5]) + d)
                for f in ([0.5, 0.5, 0.0], [0.5, 0.0, 0.5], [0.0, 0.5, 0.5]):
                    numbers.append(8)
                    positions.append(o + A * np.array(f))
    return Atoms(
        numbers=numbers,
        positions=np.array(positions),
        cell=[cells * A, cells * A, nz * A],
        pbc=True,
    )


def scan_positions(side):
    """side×side positions over 2×2 cells from the A column: row i, col j at
    (j·2a/side, −i·2a/side), as polarmap's ScanSpec::over_cells; (x, y) per position,
    row-major."""
    step = 2 * A / side
    pos = [(j * step, -i * step) for i in range(side) for j in range(side)]
    return np.array(pos), step


def simulate(abtem, k, args):
    seed = FIRST_SEED + k
    atoms = knn_atoms(k, args.cells, args.thickness_cells, seed)
    box = args.cells * A
    potential = abtem.Potential(
        atoms,
        sampling=args.sampling,
        slice_thickness=A / 2,
        parametrization="lobato",
    )
    probe = abtem.Probe(energy=args.kv * 1e3, semiangle_cutoff=args.convergence)
    pos, step = scan_positions(args.side)
    pos_wrapped = pos.copy()
    pos_wrapped[:, 0] %= box
    pos_wrapped[:, 1] %= box
    detector = abtem.PixelatedDetector(max_angle="full")
    t0 = time.perf_counter()
    meas = probe.scan(potential, scan=abtem.CustomScan(pos_wrapped), detectors=detector)
    full = np.asarray(meas.compute(progress_bar=False).array, dtype=np.float64)
    seconds = time.perf_counter() - t0
    # full: (positions, nx, ny) fftshifted, zero beam at index n // 2, 1/box per pixel.
    nx, ny = full.shape[-2:]
    mrad_per_px = wavelength_a(args.kv) / box * 1e3
    h = int(np.floor(args.max_mrad / mrad_per_px))
    cx, cy = nx // 2, ny // 2
    crop = full[:, cx - h : cx + h + 1, cy - h : cy + h + 1]
    patterns = np.swapaxes(crop, -1, -2)[..., ::-1, :]  # polarmap [row, col]
    n = 2 * h + 1
    data = patterns.reshape(args.side, args.side, n, n).astype(np.float32)
    return data, mrad_per_px, step, seconds, seed, potential


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("suite_dir")
    ap.add_argument("--side", type=int, default=16, help="probe positions per side")
    ap.add_argument("--cells", type=int, default=6, help="lateral box, n×n cells")
    ap.add_argument("--thickness-cells", type=int, default=51, help="51 cells = 20.1 nm")
    ap.add_argument("--sampling", type=float, default=0.05, help="Å")
    ap.add_argument("--kv", type=float, default=200.0)
    ap.add_argument("--convergence", type=float, default=24.0, help="mrad")
    ap.add_argument("--max-mrad", type=float, default=25.0, help="crop half-width")
    ap.add_argument("--classes", default=",".join(CLASSES))
    ap.add_argument("--fftw-threads", type=int, default=2)
    ap.add_argument("--overwrite", action="store_true")
    args = ap.parse_args()

    import abtem

    abtem.config.set({"fftw.threads": args.fftw_threads})
    out = os.path.join(args.suite_dir, "abtem")
    os.makedirs(out, exist_ok=True)
    manifest_path = os.path.join(out, "manifest.json")
    manifest = {"simulator": f"abtem {abtem.__version__}", "scans": []}
    if os.path.exists(manifest_path):
        with open(manifest_path) as f:
            manifest = json.load(f)
    thickness_nm = args.thickness_cells * A / 10
    condition = f"abtem-{args.cells}x{args.cells}-{thickness_nm:.0f}nm"
    for name in args.classes.split(","):
        k = CLASSES.index(name)
        stem = f"{condition}-{name}-s{FIRST_SEED + k}"
        path = os.path.join(out, stem + ".npy")
        meta = os.path.join(out, stem + ".meta.json")
        if os.path.exists(path) and os.path.exists(meta) and not args.overwrite:
            print(f"{stem}: cached", file=sys.stderr)
            continue
        data, mrad_per_px, step, seconds, seed, potential = simulate(abtem, k, args)
        np.save(path, data)
        sidecar = {
            "energy_kv": args.kv,
            "convergence_mrad": args.convergence,
            "mrad_per_px": mrad_per_px,
            "scan_step_a": step,
            "scan_shape": [args.side, args.side],
            "labels": name,
            "transfer": {
                "condition": condition,
                "changed": f"independent simulator: abTEM {abtem.__version__}, Lobato "
                f"potentials, {args.cells}×{args.cells}-cell box, native "
                f"{mrad_per_px:.3f} mrad/px",
                "class": name,
                "seed": seed,
                "simulator": f"abtem {abtem.__version__}",
                "nuisances": [],
            },
            "simulation": {
                "simulator": f"abtem {abtem.__version__} (bench/transfer_abtem.py)",
                "class": name,
                "displacement_a": nb_displacement(k).tolist(),
                "lattice_a": A,
                "supercell": [args.cells, args.cells, args.thickness_cells],
                "thickness_a": args.thickness_cells * A,
                "a_site": "K/Na 50/50 at random (numpy default_rng)",
                "seed": seed,
                "parametrization": "lobato",
                "sampling_a": args.sampling,
                "gpts": list(potential.gpts),
                "slice_thickness_a": A / 2,
                "detector_pixels": int(data.shape[-1]),
                "seconds": seconds,
            },
        }
        with open(meta, "w") as f:
            json.dump(sidecar, f, indent=2)
        manifest["scans"] = [s for s in manifest["scans"] if s["name"] != stem]
        manifest["scans"].append(
            {"name": stem, "file": f"abtem/{stem}.npy", "class": name, "seed": seed,
             "seconds": seconds}
        )
        with open(manifest_path, "w") as f:
            json.dump(manifest, f, indent=2)
        print(
            f"{stem}: {seconds:.1f} s, patterns {data.shape}, {mrad_per_px:.4f} mrad/px",
            file=sys.stderr,
        )


if __name__ == "__main__":
    main()
