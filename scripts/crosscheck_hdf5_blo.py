"""Reads the HDF5/EMD and blockfile test files with independent readers (RosettaSciIO, h5py) and
prints, as JSON, the values tests/hdf5.rs and tests/blockfile.rs pin: shape, dtype, sum, and a few
pixels (index order [scan_row, scan_col, det_row, det_col]).

Usage: python scripts/crosscheck_hdf5_blo.py  (from the repository root; needs ../shared/testdata)
"""
import json
import os

import h5py
import numpy as np
from rsciio.blockfile import file_reader as read_blo
from rsciio.emd import file_reader as read_emd

from crosscheck_common import summary  # scripts/ is on sys.path when run as a script

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(ROOT, "..", "shared", "testdata", "other")


out = {}
emd = read_emd(os.path.join(SHARED, "Si100_4D.emd"))[0]
stack = np.asarray(emd["data"])  # (depth, R_x, R_y, Q_x, Q_y): rsciio stacks both datacubes
with h5py.File(os.path.join(SHARED, "Si100_4D.emd"), "r") as f:
    for k in (0, 1):
        path = f"4DSTEM_simulation/data/datacubes/CBED_array_depth000{k}/datacube"
        assert np.array_equal(f[path][()], stack[k]), "h5py and rsciio disagree"
        out[f"Si100_4D.emd:/{path}"] = summary(stack[k], "rsciio.emd (== h5py)")
out["Si100_4D.emd:axes"] = [
    {"name": a["name"], "size": a["size"], "scale": float(a["scale"]), "units": a["units"]}
    for a in emd["axes"]
]

with h5py.File(os.path.join(ROOT, "tests", "data", "py4dstem_datacube.emd"), "r") as f:
    d = f["polarmap_test/datacube/data"]
    out["py4dstem_datacube.emd:/polarmap_test/datacube/data"] = dict(
        summary(d[()], "h5py"), chunks=list(d.chunks), compression=d.compression
    )

with h5py.File(os.path.join(ROOT, "tests", "data", "py4dstem012_datacube.h5"), "r") as f:
    d = f["4DSTEM_experiment/data/datacubes/scan/data"]
    out["py4dstem012_datacube.h5:/4DSTEM_experiment/data/datacubes/scan/data"] = summary(d[()], "h5py")

with h5py.File(os.path.join(ROOT, "tests", "data", "stack3d_userblock.h5"), "r") as f:
    d = f["entry/frames"][()]
    out["stack3d_userblock.h5:/entry/frames"] = summary(d[np.newaxis], "h5py (3D as [1, N, h, w])")

blo = read_blo(os.path.join(SHARED, "test1.blo"))[0]
out["test1.blo"] = summary(blo["data"], "rsciio.blockfile")
out["test1.blo:axes"] = [
    {"name": a["name"], "size": a["size"], "scale": float(a["scale"]), "units": a["units"]}
    for a in blo["axes"]
]
print(json.dumps(out, indent=1))
with open(os.path.join(ROOT, "tests", "data", "crosscheck_hdf5_blo.json"), "w") as f:
    json.dump(out, f, indent=1)
