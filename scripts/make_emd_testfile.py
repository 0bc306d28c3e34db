"""Writes tests/data/py4dstem_datacube.emd: a tiny EMD 1.0 file in the layout py4DSTEM >= 0.13 writes.

py4DSTEM itself pins numpy < 2 and is not installed here, so the file is written with `emdfile`
(the library py4DSTEM uses for all its HDF5 I/O) through a `DataCube` subclass of `emdfile.Array`,
which gives the group `python_class='DataCube'` exactly as py4DSTEM's DataCube does. The calibration
is stored the way py4DSTEM's Calibration does: root metadata group `calibration` with
R_pixel_size, R_pixel_units, Q_pixel_size, Q_pixel_units.

emdfile writes the `data` dataset contiguous and uncompressed; to exercise the chunked + gzip path
(what large py4DSTEM/h5py files use) `h5py.Group.create_dataset` is wrapped while saving so that
`data` is written with chunks (1, 1, 16, 16) and gzip level 4.

Usage: python scripts/make_emd_testfile.py [out.emd]
"""
import sys

import emdfile
import h5py
import numpy as np


class DataCube(emdfile.Array):
    pass


def make_data():
    rng = np.random.default_rng(20240611)
    rows, cols, h, w = 4, 3, 16, 16
    y, x = np.mgrid[0:h, 0:w]
    data = np.empty((rows, cols, h, w), dtype=np.uint16)
    for r in range(rows):
        for c in range(cols):
            # A disc whose centre moves with the scan position, plus Poisson noise.
            cy, cx = 7.5 + 0.5 * r, 7.5 - 0.4 * c
            disc = ((y - cy) ** 2 + (x - cx) ** 2 < 16).astype(np.float64)
            data[r, c] = rng.poisson(50 + 900 * disc) + 100 * r + 10 * c
    return data


def main(out):
    data = make_data()
    root = emdfile.Root(name="polarmap_test")
    cube = DataCube(
        data=data,
        name="datacube",
        units="counts",
        dims=[[0, 2.5], [0, 2.5], [0, 0.125], [0, 0.125]],
        dim_units=["A", "A", "A^-1", "A^-1"],
        dim_names=["Rx", "Ry", "Qx", "Qy"],
    )
    root.tree(cube)
    cal = emdfile.Metadata(name="calibration")
    cal["R_pixel_size"] = 2.5
    cal["R_pixel_units"] = "A"
    cal["Q_pixel_size"] = 0.125
    cal["Q_pixel_units"] = "A^-1"
    root.metadata = cal

    original = h5py.Group.create_dataset

    def chunked(self, name, *args, **kwargs):
        if name == "data":
            kwargs.update(chunks=(1, 1, 16, 16), compression="gzip", compression_opts=4)
        return original(self, name, *args, **kwargs)

    h5py.Group.create_dataset = chunked
    try:
        emdfile.save(out, root, mode="o")
    finally:
        h5py.Group.create_dataset = original


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/data/py4dstem_datacube.emd")
