#!/usr/bin/env python3
"""Creates the benchmark scan: a 4D-STEM-like u16 dataset written as .npy and as a Merlin .mib
(+ .hdr) holding the same frames.

Each pattern is a bright-field disk whose position follows a smooth shift field over the scan
(a known CoM field) plus a linear descan, with Poisson counting noise. Written chunk by chunk, so
memory stays small whatever the size.

    python bench/make_data.py OUT_DIR [--scan 128] [--det 256]
"""
import argparse
import os

import numpy as np


def disk_template(det, radius, level):
    yy, xx = np.mgrid[0:det, 0:det].astype(np.float32)
    c = (det - 1) / 2
    d = np.hypot(yy - c, xx - c)
    return (level * np.clip(radius - d + 0.5, 0, 1) + 0.5).astype(np.float32)


def frames(scan, det, seed=1):
    rng = np.random.default_rng(seed)
    template = disk_template(det, det * 0.16, 40.0)
    for r in range(scan):
        row = np.empty((scan, det, det), dtype=np.uint16)
        for c in range(scan):
            # Integer shifts keep generation fast; the field has a period of 16 positions.
            dy = int(round(2 * np.sin(2 * np.pi * c / 16) + 2 * (r / scan - 0.5)))
            dx = int(round(2 * np.cos(2 * np.pi * r / 16) + 2 * (c / scan - 0.5)))
            row[c] = rng.poisson(np.roll(template, (dy, dx), axis=(0, 1))).astype(np.uint16)
        yield r, row


MIB_HEADER = 384


def mib_header(seq, det):
    fields = [
        "MQ1", f"{seq:06d}", f"{MIB_HEADER:05d}", "01", f"{det:04d}", f"{det:04d}", "U16",
        "   1x1", "01", "2024-01-01 00:00:00.000000", "0.001000", "0", "0", "0",
        "1.000000E+1", "5.110000E+2", "0.000000E+0", "0.000000E+0", "0.000000E+0",
        "0.000000E+0", "0.000000E+0", "0.000000E+0", "3RX", "175", "511", "000", "000",
        "000", "000", "000", "000", "000", "12", "1", "0", "0",
    ]
    text = ",".join(fields).encode("ascii")
    return text + b"\x00" * (MIB_HEADER - len(text))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--scan", type=int, default=128)
    ap.add_argument("--det", type=int, default=256)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    stem = os.path.join(a.out, f"scan{a.scan}_det{a.det}")
    npy = np.lib.format.open_memmap(
        stem + ".npy", mode="w+", dtype=np.uint16, shape=(a.scan, a.scan, a.det, a.det)
    )
    with open(stem + ".mib", "wb") as mib:
        for r, row in frames(a.scan, a.det):
            npy[r] = row
            for c in range(a.scan):
                mib.write(mib_header(r * a.scan + c + 1, a.det))
                mib.write(row[c].astype(">u2").tobytes())
    npy.flush()
    with open(stem + ".hdr", "w") as hdr:
        hdr.write(
            "HDR,\t\nTime and Date Stamp (day, mnth, yr, hr, min, s):\t01/01/2024 00:00:00\n"
            f"Chip ID:\tW529_F5,-,-,-\nChip Type (Medipix 3.0, Medipix 3.1, Medipix 3RX):\tMedipix 3RX\n"
            "Assembly Size (NX1, 2X2):\t   1x1\nChip Mode  (SPM, CSM, CM, CSCM):\tSPM\n"
            "Counter Depth (number):\t12\nGain:\tSLGM\nActive Counters:\tAlternating\n"
            f"Frames in Acquisition (Number):\t{a.scan * a.scan}\nFrames per Trigger (Number):\t{a.scan}\n"
            "Trigger Start (Positive, Negative, Internal):\tRising Edge\nEnd\t\n"
        )
    print(stem + ".npy", stem + ".mib")


if __name__ == "__main__":
    main()
