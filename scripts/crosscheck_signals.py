#!/usr/bin/env python3
"""Cross-checks polarmap's virtual detectors against py4DSTEM on the same scan.

    python3 -m venv /var/tmp/venv-p4 && /var/tmp/venv-p4/bin/pip install py4DSTEM
    /var/tmp/venv-p4/bin/python scripts/crosscheck_signals.py SCAN.npy [POLARMAP_BINARY]

Runs `polarmap com SCAN --json` for its BF disk centre, then `--virtual` annuli and the ADF
image; py4DSTEM 0.14 computes `get_virtual_image(mode="annulus")` on the same 4D array with the
same centre and radii. Prints the largest relative difference per detector. Pixels exactly on a
detector's edge can differ by definition (polarmap: inner <= d <= outer), so radii are chosen
off the pixel grid.

Then iCoM against py4DSTEM's DPC phase reconstruction (`py4DSTEM.process.phase.DPC`), twice:
(a) from polarmap's own CoM field (`polarmap com --out`, descan and rotation applied), so that
only the integration differs; (b) from the 4D array, py4DSTEM computing its own CoM and plane
descan (rotation forced to 0, no transpose, as polarmap's default). py4DSTEM's phase is in its
own units, so each comparison fits phase = a * icom + b by least squares and prints the
correlation coefficient, the scale a, and the largest and rms residual relative to the range;
(a) also with both images low-passed to half the Nyquist frequency: py4DSTEM fits centred finite
differences (response sin(k) for k radians per pixel) where polarmap divides by the exact
derivative (k), so py4DSTEM's phase is larger by k / sin(k): at most 1.57 below half Nyquist,
unbounded towards Nyquist.

Last, iDPC: polarmap's `--idpc-out` (four quadrants of the BF disk summed in the CoM pass, the
descan plane removed from the signal, then integrated) against py4DSTEM's DPC solver fed with difference signals that py4DSTEM itself sums
from the 4D array through half-disk masks ((right − left) and (up − down) over the disk's sum,
pixels on the axes left out),
so that the detectors, the sums and the integration are all the peer's.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import py4DSTEM

scan_path = sys.argv[1]
binary = sys.argv[2] if len(sys.argv) > 2 else "target/debug/polarmap"
data = np.load(scan_path, mmap_mode="r")
rows, cols, det_rows, det_cols = data.shape

summary = json.loads(
    subprocess.run([binary, "com", scan_path, "--json"], check=True, capture_output=True, text=True).stdout
)
g = summary["geometry"]
center = (g["center_row"], g["center_col"])
annuli = [(0.0, g["bf_radius"]), (g["bf_radius"] * 1.2 + 0.37, det_rows / 2.0 - 0.41), (3.3, 9.7)]

with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, "virtual.npy")
    args = [binary, "com", scan_path, "--virtual-out", out]
    for inner, outer in annuli:
        args += ["--virtual", f"annulus:{inner}:{outer}"]
    subprocess.run(args, check=True, capture_output=True)
    ours = np.load(out)

cube = py4DSTEM.DataCube(data=np.asarray(data, dtype=np.float64))
worst = 0.0
for k, (inner, outer) in enumerate(annuli):
    theirs = cube.get_virtual_image(
        mode="annulus", geometry=(center, (inner, outer)), verbose=False, name=f"a{k}"
    ).data
    rel = np.max(np.abs(ours[k] - theirs)) / max(np.max(np.abs(theirs)), 1e-30)
    worst = max(worst, rel)
    print(f"annulus {inner:.2f}-{outer:.2f} px about {center[0]:.2f},{center[1]:.2f}: "
          f"max relative difference {rel:.2e}")


def compare(name, ours, theirs):
    """Pearson r, least-squares scale a of theirs = a * ours + b, and the largest and rms
    residual relative to the range of a * ours."""
    x, y = ours.ravel().astype(np.float64), theirs.ravel().astype(np.float64)
    r = float(np.corrcoef(x, y)[0, 1])
    a, b = np.polyfit(x, y, 1)
    resid = y - (a * x + b)
    span = abs(a) * (x.max() - x.min())
    rel = float(np.max(np.abs(resid)) / span)
    rms = float(np.sqrt(np.mean(resid**2)) / span)
    print(f"{name}: r = {r:.4f}, scale {a:.4g}, max residual {rel:.3f}, rms {rms:.4f} of the range")
    return {"r": r, "scale": float(a), "max_residual_of_range": rel, "rms_residual_of_range": rms}


def low_pass(image, fraction):
    """`image` less its mean with spatial frequencies above `fraction` of Nyquist removed."""
    spectrum = np.fft.fft2(image - image.mean())
    kr, kc = np.meshgrid(np.fft.fftfreq(image.shape[0]), np.fft.fftfreq(image.shape[1]), indexing="ij")
    return np.real(np.fft.ifft2(spectrum * (np.hypot(kr, kc) < 0.5 * fraction)))


def dpc_phase(datacube=None, **preprocess):
    from py4DSTEM.process.phase import DPC

    dpc = DPC(datacube=datacube, verbose=False, device="cpu")
    dpc.preprocess(force_com_rotation=0.0, force_com_transpose=False, plot_center_of_mass=False,
                   plot_rotation=False, **preprocess)
    dpc.reconstruct(max_iter=256, progress_bar=False, gaussian_filter=False,
                    butterworth_filter=False)
    return np.asarray(dpc.object_phase)


with tempfile.TemporaryDirectory() as tmp:
    com_out, icom_out = os.path.join(tmp, "com.npy"), os.path.join(tmp, "icom.npy")
    subprocess.run([binary, "com", scan_path, "--out", com_out, "--icom-out", icom_out],
                   check=True, capture_output=True)
    field, icom = np.load(com_out), np.load(icom_out)

# polarmap's (x right, y up) shifts as py4DSTEM's gradient (along rows, along columns).
grad_rows, grad_cols = -field[..., 1], field[..., 0]
phase = dpc_phase(force_com_measured=(grad_rows, grad_cols))
results = {
    "icom_vs_dpc_same_com": compare("iCoM vs py4DSTEM DPC on polarmap's CoM field", icom, phase),
    "icom_vs_dpc_same_com_below_half_nyquist": compare(
        "  the same below half the Nyquist frequency", low_pass(icom, 0.5), low_pass(phase, 0.5)),
    "icom_vs_dpc_from_datacube": compare(
        "iCoM vs py4DSTEM DPC from the 4D array", icom, dpc_phase(datacube=cube)),
}
with tempfile.TemporaryDirectory() as tmp:
    idpc_out = os.path.join(tmp, "idpc.npy")
    subprocess.run([binary, "com", scan_path, "--idpc-out", idpc_out], check=True, capture_output=True)
    idpc = np.load(idpc_out)
rr, cc = np.meshgrid(np.arange(det_rows), np.arange(det_cols), indexing="ij")
dx, dy = cc - center[1], -(rr - center[0])  # x right, y up
disk = np.hypot(dx, dy) <= g["bf_radius"]


def masked(mask, name):
    return cube.get_virtual_image(mode="mask", geometry=mask, verbose=False, name=name).data


# Normalised by the disk's sum, as polarmap's (and the usual) DPC signal is.
total = masked(disk, "disk")
dpc_x = (masked(disk & (dx > 0), "right") - masked(disk & (dx < 0), "left")) / total
dpc_y = (masked(disk & (dy > 0), "up") - masked(disk & (dy < 0), "down")) / total


def without_quadric(image):
    """`image` less its least-squares quadratic surface: the integral of a plane in the
    gradient, which py4DSTEM fits and removes from the measured signal and polarmap's iDPC
    (unlike its iCoM, whose CoM field has the descan plane removed) does not."""
    r, c = np.meshgrid(np.arange(image.shape[0]), np.arange(image.shape[1]), indexing="ij")
    basis = np.stack([np.ones_like(r), r, c, r * r, c * c, r * c], -1).reshape(-1, 6).astype(float)
    coef, *_ = np.linalg.lstsq(basis, image.ravel(), rcond=None)
    return image - (basis @ coef).reshape(image.shape)


peer_idpc = dpc_phase(force_com_measured=(-dpc_y, dpc_x))
results["idpc_vs_dpc_from_py4dstem_half_disks"] = compare(
    "iDPC vs py4DSTEM DPC from its own half-disk signals", idpc, peer_idpc)
results["idpc_vs_dpc_below_half_nyquist"] = compare(
    "  the same below half the Nyquist frequency", low_pass(idpc, 0.5), low_pass(peer_idpc, 0.5))
results["idpc_vs_dpc_without_quadric"] = compare(
    "  the same, a quadratic surface removed from both", without_quadric(idpc),
    without_quadric(peer_idpc))
print(json.dumps({"scan": os.path.basename(scan_path), "worst_relative_difference": worst,
                  **results}))

