#!/usr/bin/env python3
"""Writes small .npy files with NumPy (an independent writer) into tests/data/npy/.

Every file holds value(frame, row, col) = frame * 100 + row * 7 + col (as the file's dtype), for
frames of 3x4 pixels; tests/npy.rs checks every pixel against that formula.

    python scripts/make_npy_testdata.py
"""
import os

import numpy as np

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "npy")


def values(shape, dtype):
    frames = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    f = np.arange(frames).reshape(-1, 1, 1)
    r = np.arange(shape[-2]).reshape(1, -1, 1)
    c = np.arange(shape[-1]).reshape(1, 1, -1)
    return (f * 100 + r * 7 + c).astype(dtype).reshape(shape)


def main():
    os.makedirs(OUT, exist_ok=True)
    cases = {
        "u1_2d.npy": ((3, 4), "|u1"),
        "u2le_4d.npy": ((2, 3, 3, 4), "<u2"),
        "u2be_4d.npy": ((2, 3, 3, 4), ">u2"),
        "u4le_3d.npy": ((5, 3, 4), "<u4"),
        "i2be_3d.npy": ((5, 3, 4), ">i2"),
        "i4le_4d.npy": ((1, 6, 3, 4), "<i4"),
        "f4be_4d.npy": ((3, 2, 3, 4), ">f4"),
        "f8le_3d.npy": ((4, 3, 4), "<f8"),
    }
    for name, (shape, dtype) in cases.items():
        np.save(os.path.join(OUT, name), values(shape, dtype))
    # Version 2.0 header and a Fortran-ordered array (refused with a clear message).
    with open(os.path.join(OUT, "v2_f4le_4d.npy"), "wb") as f:
        arr = values((2, 2, 3, 4), "<f4")
        np.lib.format.write_array(f, arr, version=(2, 0))
    np.save(os.path.join(OUT, "fortran.npy"), np.asfortranarray(values((2, 2, 3, 4), "<u2")))
    print(sorted(os.listdir(OUT)))


if __name__ == "__main__":
    main()
