#!/usr/bin/env python3
"""Reads the Gatan DM3/DM4, Direct Electron MRC and TVIPS test files with independent readers
(RosettaSciIO, mrcfile, LiberTEM) and writes, as JSON, the values tests/suite/dm_mrc_tvips.rs
pins: shape, dtype, sum, max, argmax, a few pixels and frame sums (index order
[scan_row, scan_col, det_row, det_col]); plus each entry's calibration where the reader gives one.

Where two independent readers read the same file the script checks that they agree exactly and
stops otherwise.

  * gatan/test-N.dm3|dm4 (DigitalMicrograph's own 2x2x2 stacks): RosettaSciIO, as a (1, 2, 2, 2)
    scan.
  * tests/data/dm/de_movie_4d.dm4: the DE movie below written as a GMS-style 4D DM4 by
    polarmap's writer (crates/polarmap-io/examples/write_dm4.rs); read by RosettaSciIO and
    LiberTEM (ncempy), both compared with mrcfile's read of the source movie.
  * mrc/20241021_00405_movie.mrc: RosettaSciIO (scan from _info.txt) == mrcfile reshaped.
  * mrc/ROI_Random_Scan_movie.mrc: mrcfile, frames placed on the grid by the CSV's x,y.
  * mrc/Custom_movie.mrc with a 5x6 scan given, mrc/HAADFscan.mrc: mrcfile.
  * tvips/*: RosettaSciIO (LiberTEM 0.16 fails on these files, see below).

Usage (from the repository root; needs ../shared/testdata):
  /var/tmp/venv-rsciio2/bin/python scripts/crosscheck_dm_mrc_tvips.py   # RosettaSciIO, mrcfile
  then the LiberTEM part runs in /var/tmp/venv-lt (called as a subprocess, see LT_PYTHON).
"""
import json
import os
import subprocess
import sys

import mrcfile
import numpy as np
from rsciio.digitalmicrograph import file_reader as read_dm
from rsciio.mrc import file_reader as read_mrc
from rsciio.tvips import file_reader as read_tvips

from crosscheck_common import summary  # scripts/ is on sys.path when run as a script

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(ROOT, "..", "shared", "testdata")
LT_PYTHON = os.environ.get("LT_PYTHON", "/var/tmp/venv-lt/bin/python")
OUT = os.path.join(ROOT, "tests", "data", "crosscheck_dm_mrc_tvips.json")

LT_SCRIPT = r"""
import sys, numpy as np
from libertem.api import Context
from libertem.udf import UDF
class Frames(UDF):
    def get_result_buffers(self):
        return {"f": self.buffer(kind="nav", extra_shape=tuple(self.meta.dataset_shape.sig),
                                 dtype=self.meta.input_dtype)}
    def process_frame(self, frame):
        self.results.f[:] = frame
ctx = Context.make_with("inline")
kind, path, out = sys.argv[1], sys.argv[2], sys.argv[3]
kw = {"nav_shape": tuple(int(v) for v in sys.argv[4].split("x"))} if len(sys.argv) > 4 else {}
ds = ctx.load(kind, path=path, **kw)
np.save(out, ctx.run_udf(dataset=ds, udf=Frames())["f"].data)
"""


def libertem(kind, path, nav_shape=None):
    out = "/tmp/crosscheck_lt.npy"
    args = [LT_PYTHON, "-c", LT_SCRIPT, kind, path, out]
    if nav_shape:
        args.append("x".join(str(v) for v in nav_shape))
    subprocess.run(args, check=True, capture_output=True)
    return np.load(out)


def same(a, b, what):
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or not np.array_equal(a, b):
        sys.exit(f"{what}: readers disagree ({a.shape} vs {b.shape})")


def axes(d):
    return [[float(a["scale"]), a.get("units") or ""] for a in d["axes"]]


out = {}
# DigitalMicrograph's own files: every pixel type polarmap reads (1..8; 14 is binary).
for n in (1, 2, 6, 7, 10, 11, 12, 14):
    for ext in ("dm3", "dm4"):
        d = read_dm(os.path.join(SHARED, "gatan", f"test-{n}.{ext}"))[0]
        data = np.asarray(d["data"])
        if data.dtype == bool:
            data = data.astype(np.uint8)
        out[f"gatan/test-{n}.{ext}"] = summary(data[None], "rsciio.digitalmicrograph")

# The DE movie and its GMS-style 4D DM4 copy.
movie = os.path.join(SHARED, "mrc", "20241021_00405_movie.mrc")
with mrcfile.open(movie) as m:
    de = np.array(m.data).reshape(4, 8, 4, 8)  # scan 4x8 (Scan - Size Y x X in _info.txt)
rs = read_mrc(movie)[0]
same(rs["data"], de, "DE movie: rsciio vs mrcfile")
out["mrc/20241021_00405_movie.mrc"] = summary(de, "rsciio.mrc == mrcfile")
dm4 = os.path.join(ROOT, "tests", "data", "dm", "de_movie_4d.dm4")
rd = read_dm(dm4)[0]
same(rd["data"], de, "DM4 4D: rsciio vs the source movie")
same(libertem("dm", dm4), de, "DM4 4D: LiberTEM vs the source movie")
out["dm/de_movie_4d.dm4"] = summary(
    rd["data"], "rsciio.digitalmicrograph == libertem dm == mrcfile(source)",
    {"axes": axes(rd),
     "voltage_v": rd["original_metadata"]["ImageList"]["TagGroup0"]["ImageTags"]
     ["Microscope Info"]["Voltage"]})

# Random-order scan covering its 29x12 grid once: frames placed by the CSV's x,y.
with mrcfile.open(os.path.join(SHARED, "mrc", "ROI_Random_Scan_movie.mrc")) as m:
    frames = np.array(m.data)
xy = np.loadtxt(os.path.join(SHARED, "mrc", "ROI_Random_Scan_scan_coordinates.csv"),
                delimiter=",", dtype=int)
grid = np.zeros((xy[:, 1].max() + 1, xy[:, 0].max() + 1) + frames.shape[1:], frames.dtype)
grid[xy[:, 1], xy[:, 0]] = frames
out["mrc/ROI_Random_Scan_movie.mrc"] = summary(grid, "mrcfile + CSV (x, y) placement")
with mrcfile.open(os.path.join(SHARED, "mrc", "Custom_movie.mrc")) as m:
    out["mrc/Custom_movie.mrc:5x6"] = summary(np.array(m.data).reshape(5, 6, 16, 16), "mrcfile")
with mrcfile.open(os.path.join(SHARED, "mrc", "HAADFscan.mrc"), permissive=True) as m:
    out["mrc/HAADFscan.mrc"] = summary(np.array(m.data)[None, None], "mrcfile")

# TVIPS.
# LiberTEM 0.16 cannot read these files: its shape detection reads each 60-byte frame header
# as its larger version-2 record and fails (IndexError in tvips.detect_shape), even with
# nav_shape given; and its file pattern NAME_*.tvips would join test_tvips_2345_000 with the
# split series. RosettaSciIO alone here.
for name, shape in (("test_tvips_2233_000.tvips", (1, 4)), ("test_tvips_2345_000.tvips", (1, 6)),
                    ("test_tvips_2345_split_000.tvips", (2, 3))):
    path = os.path.join(SHARED, "tvips", name)
    d = read_tvips(path, scan_shape=shape)[0] if shape[0] > 1 else read_tvips(path)[0]
    data = np.asarray(d["data"]).reshape(shape + d["data"].shape[-2:])
    reader = "rsciio.tvips"
    out[f"tvips/{name}:{shape[0]}x{shape[1]}"] = summary(data, reader, {"axes": axes(d)})

with open(OUT, "w") as f:
    json.dump(out, f, indent=1)
print(f"wrote {len(out)} entries to {OUT}")
