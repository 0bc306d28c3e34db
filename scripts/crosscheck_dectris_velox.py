"""Reads the Dectris and Velox test files with independent readers (RosettaSciIO's arina and emd
readers, h5py + hdf5plugin) and writes, as JSON to tests/data/crosscheck_dectris_velox.json, the
values the Rust tests pin (the same summary as scripts/crosscheck_hdf5_blo.py: shape, dtype, sum,
max, argmax, a few pixels, the first frame sums; index order [scan_row, scan_col, det_row,
det_col]).

Scan shapes: the ARINA fixtures carry theirs in the companion STEM Metadata file (rsciio is given
the same); files without one are summarised as polarmap opens them, 1 x N.

Usage: python scripts/crosscheck_dectris_velox.py  (from the repository root; needs
../shared/testdata; a venv with rosettasciio h5py hdf5plugin)
"""
import json
import os

import h5py
import hdf5plugin  # noqa: F401  (registers the bitshuffle and LZ4 filters with h5py)
import numpy as np
from rsciio.arina import file_reader as read_arina
from rsciio.emd import file_reader as read_emd

from crosscheck_common import summary  # scripts/ is on sys.path when run as a script

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(ROOT, "..", "shared", "testdata")
DECTRIS = os.path.join(ROOT, "tests", "data", "dectris")


def h5py_frames(master):
    """All frames of a Dectris master through h5py's external links, in link-name order."""
    with h5py.File(master, "r") as f:
        g = f["entry/data"]
        return np.concatenate([g[k][()] for k in sorted(g.keys()) if k.startswith("data_")])


out = {}

# ARINA layout, bitshuffle-LZ4, 3x4 scan from the companion file.
master = os.path.join(DECTRIS, "arina_bslz4_master.h5")
rs = read_arina(master, navigation_shape=(3, 4), dtype=np.uint32)[0]
mine = h5py_frames(master).reshape(3, 4, 24, 24)
assert np.array_equal(np.asarray(rs["data"]), mine), "rsciio and h5py disagree"
out["arina_bslz4_master.h5"] = summary(rs["data"], "rsciio.arina (== h5py + hdf5plugin)")
out["arina_bslz4_master.h5:axes"] = [
    {"name": a["name"], "size": a["size"], "scale": float(a["scale"]), "units": a["units"]} for a in rs["axes"]
]

# EIGER layouts: plain LZ4, deflate, bitshuffle without compression; no scan shape in the files.
for base in ("eiger_lz4", "eiger_deflate", "eiger_bs_raw"):
    master = os.path.join(DECTRIS, f"{base}_master.h5")
    rs = np.asarray(read_arina(master, navigation_shape=(1, 6), dtype=np.uint16)[0]["data"])
    assert np.array_equal(rs, h5py_frames(master).reshape(rs.shape)), base
    out[f"{base}_master.h5"] = summary(rs, "rsciio.arina (== h5py + hdf5plugin), 1 x N")



def corrections(master):
    """h5py's frames with the master's mask and flatfield applied by polarmap's rule
    (docs/formats.md): a flatfield the detector did not apply multiplies the frames (float32), and
    every pixel with a non-zero mask value reads 0, whether or not the detector applied the mask."""
    raw = h5py_frames(master)
    with h5py.File(master, "r") as f:
        det = f["entry/instrument/detector"]
        mask = det["detectorSpecific/pixel_mask"][()]
        flat = det["detectorSpecific/flatfield"][()].astype(np.float32)
        mask_applied = int(det["pixel_mask_applied"][()])
        flat_applied = int(det["flatfield_correction_applied"][()])
    if not flat_applied and not np.all(flat == 1):
        data = raw.astype(np.float32) * flat
    else:
        data = raw.copy()
    data[:, mask != 0] = 0
    flagged = np.argwhere(mask != 0)
    info = {
        "masked_pixels": int((mask != 0).sum()),
        "mask_applied_by_detector": bool(mask_applied),
        "flatfield_applied_by_detector": bool(flat_applied),
        "flatfield_applied_here": bool(not flat_applied and not np.all(flat == 1)),
        "flagged": [[int(r), int(c), int(mask[r, c])] for r, c in flagged],
        "raw_at_flagged": [[int(v) for v in raw[:, r, c]] for r, c in flagged],
    }
    return data, info


# Masks and flatfields (h5py reads them; rsciio.arina 0.15 ignores both).
for base, n in (("eiger_masked", 6), ("arina_mask_applied", 4)):
    master = os.path.join(DECTRIS, f"{base}_master.h5")
    data, info = corrections(master)
    out[f"{base}_master.h5"] = dict(
        summary(data.reshape((1, n) + data.shape[1:]), "h5py + hdf5plugin, mask and flatfield applied, 1 x N"),
        corrections=info,
    )

# The real ARINA acquisition (all counts zero): shape and dtype, 4x4 from its STEM Metadata.
master = os.path.join(SHARED, "arina", "test_00_master.h5")
rs = read_arina(master, navigation_shape=(4, 4), dtype=np.uint32)[0]
out["test_00_master.h5"] = summary(rs["data"], "rsciio.arina")
out["test_00_master.h5"]["corrections"] = corrections(master)[1]

# Velox: the TEM image stack, frame i = Data[:, :, i] (rsciio returns (frame, y, x)).
path = os.path.join(SHARED, "velox", "fei_example_tem_stack.emd")
rs = read_emd(path, load_SI_image_stack=True)
stack = [d for d in rs if np.asarray(d["data"]).ndim == 3][0]
data = np.asarray(stack["data"])
with h5py.File(path, "r") as f:
    key = list(f["Data/Image"].keys())[0]
    raw = f[f"Data/Image/{key}/Data"][()]
assert np.array_equal(np.moveaxis(raw, 2, 0), data), "rsciio and h5py disagree on the Velox stack"
out["fei_example_tem_stack.emd"] = dict(
    summary(data[np.newaxis], "rsciio.emd (== h5py), frames as [1, N, h, w]"),
    dataset=f"/Data/Image/{key}/Data",
)

# Velox diffraction stack (tests/data/velox, Velox's layout written by h5py): rsciio's frames.
path = os.path.join(ROOT, "tests", "data", "velox", "velox_diffraction_stack.emd")
rs = read_emd(path, load_SI_image_stack=True)[0]
data = np.asarray(rs["data"])
with h5py.File(path, "r") as f:
    raw = f["Data/Image/0123456789abcdef0123456789abcdef/Data"][()]
assert np.array_equal(np.moveaxis(raw, 2, 0), data)
out["velox_diffraction_stack.emd"] = summary(data[np.newaxis], "rsciio.emd (== h5py), frames as [1, N, h, w]")
out["velox_diffraction_stack.emd:axes"] = [
    {"name": a["name"], "size": a["size"], "scale": float(a["scale"]), "units": a["units"]} for a in rs["axes"]
]

print(json.dumps(out, indent=1))
with open(os.path.join(ROOT, "tests", "data", "crosscheck_dectris_velox.json"), "w") as f:
    json.dump(out, f, indent=1)
