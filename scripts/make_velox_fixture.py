"""Writes tests/data/velox/velox_diffraction_stack.emd: a Velox EMD file laid out as Velox writes
one (everything but the image copied from ../shared/testdata/velox/fei_example_tem_stack.emd, a
file Velox wrote), whose one image is a stack of 6 camera frames in diffraction: Data (16, 16, 6)
uint16 (rows, cols, frames), one chunk per frame; Metadata the source's JSON with PixelUnitX
'1/m' and PixelSize 2e8 1/m (0.02 1/Angstrom per pixel). Frames show a disk that moves with the
frame index, so a transposed or mis-ordered read changes the values.

Usage: python scripts/make_velox_fixture.py  (from the repository root)
"""
import json
import os

import h5py
import numpy as np

SRC = os.path.join("..", "shared", "testdata", "velox", "fei_example_tem_stack.emd")
OUT = os.path.join("tests", "data", "velox", "velox_diffraction_stack.emd")
UUID = "0123456789abcdef0123456789abcdef"

rng = np.random.default_rng(11)
h = w = 16
n = 6
yy, xx = np.mgrid[0:h, 0:w]
data = np.empty((h, w, n), np.uint16)
for i in range(n):
    cy, cx = 7.5 + 1.5 * np.sin(i), 7.5 + 2.0 * np.cos(0.5 * i)
    lam = np.where((yy - cy) ** 2 + (xx - cx) ** 2 < 16, 500.0, 3.0)
    data[:, :, i] = rng.poisson(lam)

os.makedirs(os.path.dirname(OUT), exist_ok=True)
with h5py.File(SRC, "r") as src, h5py.File(OUT, "w") as dst:
    for key in src:
        if key != "Data":
            src.copy(key, dst)
    old = src["Data/Image"][list(src["Data/Image"].keys())[0]]
    meta = json.loads(old["Metadata"][:, 0].tobytes().rstrip(b"\0").decode())
    meta["BinaryResult"]["PixelUnitX"] = "1/m"
    meta["BinaryResult"]["PixelUnitY"] = "1/m"
    meta["BinaryResult"]["PixelSize"] = {"width": "200000000", "height": "200000000"}
    text = json.dumps(meta).encode()
    column = np.zeros((60000, n), np.uint8)
    for i in range(n):
        column[: len(text), i] = np.frombuffer(text, np.uint8)
    g = dst.create_group(f"Data/Image/{UUID}")
    g.create_dataset("Data", data=data, chunks=(h, w, 1), maxshape=(h, w, None))
    # gzip keeps the fixture small (Velox stores this column uncompressed).
    g.create_dataset("Metadata", data=column, chunks=(60000, 1), maxshape=(60000, None), compression="gzip")
    g.create_dataset("FrameLookupTable", data=np.arange(n, dtype=np.uint32), chunks=(1,), maxshape=(None,))
print(OUT, os.path.getsize(OUT))
