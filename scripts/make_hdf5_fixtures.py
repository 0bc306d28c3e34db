"""Writes the small HDF5 fixtures under tests/data/ (besides py4dstem_datacube.emd, see
make_emd_testfile.py), each with h5py:

- py4dstem012_datacube.h5: the py4DSTEM 0.12 layout `4DSTEM_experiment/data/datacubes/<name>/data`
  (group attr emd_group_type=1, dims dim1..dim4 with name/units attrs), contiguous, big-endian
  uint16, shape (2, 5, 8, 8): exercises the memory-mapped path with byte swapping.
- stack3d_userblock.h5: a 512-byte user block, a plain 3D float64 dataset (6, 8, 8) under
  /entry/frames and a 2D image beside it: exercises the user-block signature search and 3D stacks.
- no_datacube.h5: only 1D and 2D datasets: the reader must say that there is no datacube.

Usage: python scripts/make_hdf5_fixtures.py  (from the repository root)
"""
import h5py
import numpy as np

rng = np.random.default_rng(7)

with h5py.File("tests/data/py4dstem012_datacube.h5", "w") as f:
    top = f.create_group("4DSTEM_experiment")
    top.attrs["emd_group_type"] = np.int32(2)
    top.attrs["version_major"] = np.int32(0)
    top.attrs["version_minor"] = np.int32(12)
    g = top.create_group("data/datacubes/scan")
    g.attrs["emd_group_type"] = np.int32(1)
    g.attrs["metadata"] = np.int32(-1)
    data = (rng.integers(0, 4000, size=(2, 5, 8, 8))).astype(">u2")
    # dims first, data last: the raw data then ends the file (the truncation test cuts into it).
    for i, (n, step, u) in enumerate(
        [("R_x", 0.4, "[n_m]"), ("R_y", 0.4, "[n_m]"), ("Q_x", 0.5, "[mrad]"), ("Q_y", 0.5, "[mrad]")]
    ):
        size = data.shape[i]
        d = g.create_dataset(f"dim{i + 1}", data=np.arange(size) * step)
        d.attrs["name"] = np.bytes_(n)
        d.attrs["units"] = np.bytes_(u)
    g.create_dataset("data", data=data)

with h5py.File("tests/data/stack3d_userblock.h5", "w", userblock_size=512) as f:
    e = f.create_group("entry")
    e.create_dataset("frames", data=rng.normal(100.0, 10.0, size=(6, 8, 8)))
    e.create_dataset("image", data=np.arange(64, dtype=np.float32).reshape(8, 8))

with h5py.File("tests/data/no_datacube.h5", "w") as f:
    f.create_dataset("spectrum", data=np.arange(100, dtype=np.uint16))
    f.create_group("images").create_dataset("haadf", data=np.ones((16, 16), dtype=np.float32))
