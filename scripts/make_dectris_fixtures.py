"""Writes Dectris-layout HDF5 acquisitions (a NeXus master file whose entry/data/data_NNNNNN are
external links to data files holding entry/data/data, one chunk per frame) with h5py and
hdf5plugin's own filters, laid out like the ARINA sample in ../shared/testdata/arina (whose counts
are all zero) but with non-zero counts: a bright disk that moves across the scan over Poisson
background, so that values and the centre of mass are checkable.

Fixtures (tests/data/dectris/, small):
- arina_bslz4_master.h5 + arina_bslz4_data_00000{1,2}.h5: uint32, bitshuffle + LZ4 (filter 32008,
  as the detector writes), 3x4 scan of 24x24 frames (square: rsciio.arina 0.15 allocates (n, width, height) and cannot read non-square frames) split 8 + 4 over two data files; the master
  carries pixel size 100 um, detector distance 0.1 m and photon_energy 300 keV (as the ARINA's
  does); arina_bslz4.h5 is the companion "STEM Metadata" file (NumPixelsX = 4 columns,
  NumPixelsY = 3 rows, Pixel Size 0.25 nm) the ARINA software writes beside it.
- eiger_lz4_master.h5 + eiger_lz4_data_000001.h5: uint16, plain LZ4 (filter 32004), 6 frames,
  detector distance 0.2 m, no companion (scan shape not in the file).
- eiger_deflate_master.h5 + eiger_deflate_data_000001.h5: uint16, deflate, 6 frames.
- eiger_bs_raw_master.h5 + data: uint16, bitshuffle without compression (cd_values[4] = 0).
- eiger_masked_master.h5 + data: uint16, bitshuffle + LZ4, 6 frames of 16x16 whose master has a
  pixel_mask with 6 flagged pixels (gap, dead, cold, hot, noisy bits; the hot one counting 60000
  in every frame) that the detector did not apply (pixel_mask_applied = 0), and a flatfield of
  factors 0.8-1.25 it did not apply either (flatfield_correction_applied = 0).
- arina_mask_applied_master.h5 + data: uint32, bitshuffle + LZ4, 4 frames of 24x24, a mask of 5
  pixels the detector applied (pixel_mask_applied = 1: those pixels hold 2**32 - 1, as Dectris
  writes them) and a non-unit flatfield it applied (flatfield_correction_applied = 1).

Big file for the speed measurement (not committed):
    python scripts/make_dectris_fixtures.py --big /var/tmp/dectris-big/big --frames 65536
writes big_master.h5 + big_data_NNNNNN.h5 (uint32 192x192 bitshuffle-LZ4, 10000 frames per data
file, --per-file to change) and big.h5 (STEM Metadata, a square scan). docs/formats.md used
--frames 135424 (a 368x368 scan, 2.0 GiB), and --per-file 135424 for one data file that LiberTEM's
HDF5 dataset (one dataset path) reads whole.

Usage: python scripts/make_dectris_fixtures.py  (from the repository root)
"""
import argparse
import os

import h5py
import hdf5plugin
import numpy as np


def frames(n, shape, dtype, seed, background=0.5, disk=60.0):
    """n frames with a disk (radius shape/5) whose centre moves with the frame index."""
    rng = np.random.default_rng(seed)
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    out = np.empty((n, h, w), dtype=dtype)
    for i in range(n):
        cy = h / 2 + 2.0 * np.sin(i * 0.7)
        cx = w / 2 + 2.0 * np.cos(i * 0.4)
        inside = (yy - cy) ** 2 + (xx - cx) ** 2 < (min(h, w) / 5) ** 2
        lam = np.where(inside, disk, background)
        out[i] = rng.poisson(lam).astype(dtype)
    return out


def write_master(path, data_names, counts, frame_shape, dtype, distance_m, energy_ev, description,
                 mask=None, mask_applied=1, flatfield=None, flatfield_applied=0):
    with h5py.File(path, "w") as f:
        e = f.create_group("entry")
        e.attrs["NX_class"] = np.bytes_("NXentry")
        e.create_dataset("definition", data=np.bytes_("NXmx"))
        d = e.create_group("data")
        d.attrs["NX_class"] = np.bytes_("NXdata")
        for name in data_names:
            d[name[1]] = h5py.ExternalLink(name[0], "/entry/data/data")
        det = e.create_group("instrument/detector")
        det.attrs["NX_class"] = np.bytes_("NXdetector")

        def scalar(group, key, value, units=None):
            ds = group.create_dataset(key, data=value)
            if units:
                ds.attrs["units"] = np.bytes_(units)

        scalar(det, "description", np.bytes_(description))
        scalar(det, "x_pixel_size", 100e-6, "m")
        scalar(det, "y_pixel_size", 100e-6, "m")
        scalar(det, "detector_distance", distance_m, "m")
        scalar(det, "beam_center_x", frame_shape[1] / 2, "pixel")
        scalar(det, "beam_center_y", frame_shape[0] / 2, "pixel")
        scalar(det, "bit_depth_image", np.uint16(np.dtype(dtype).itemsize * 8))
        scalar(det, "count_time", 1e-4, "s")
        scalar(det, "pixel_mask_applied", np.int8(mask_applied))
        scalar(det, "flatfield_correction_applied", np.int8(flatfield_applied))
        s = det.create_group("detectorSpecific")
        scalar(s, "photon_energy", energy_ev, "eV")
        scalar(s, "nimages", np.uint64(1))
        scalar(s, "ntrigger", np.uint64(sum(counts)))
        scalar(s, "x_pixels_in_detector", np.uint64(frame_shape[1]))
        scalar(s, "y_pixels_in_detector", np.uint64(frame_shape[0]))
        scalar(s, "compression", np.bytes_("bslz4"))
        s.create_dataset("pixel_mask", data=np.zeros(frame_shape, np.uint32) if mask is None else mask)
        s.create_dataset("flatfield", data=np.ones(frame_shape, np.float32) if flatfield is None else flatfield)


def write_data(path, cube, first_image, filters):
    with h5py.File(path, "w") as f:
        ds = f.create_dataset(
            "entry/data/data",
            shape=cube.shape,
            dtype=cube.dtype,
            chunks=(1,) + cube.shape[1:],
            **filters,
        )
        for i in range(cube.shape[0]):
            ds[i] = cube[i]
        ds.attrs["image_nr_low"] = np.uint64(first_image)
        ds.attrs["image_nr_high"] = np.uint64(first_image + cube.shape[0] - 1)


def acquisition(folder, base, cube, per_file, filters, distance_m, energy_ev, description, **corrections):
    names = []
    counts = []
    for k, start in enumerate(range(0, cube.shape[0], per_file)):
        part = cube[start : start + per_file]
        fname = f"{base}_data_{k + 1:06d}.h5"
        write_data(os.path.join(folder, fname), part, start + 1, filters)
        names.append((fname, f"data_{k + 1:06d}"))
        counts.append(part.shape[0])
    write_master(
        os.path.join(folder, f"{base}_master.h5"),
        names,
        counts,
        cube.shape[1:],
        cube.dtype,
        distance_m,
        energy_ev,
        description,
        **corrections,
    )


def stem_metadata(path, rows, cols, pixel_nm):
    with h5py.File(path, "w") as f:
        g = f.create_group("STEM Metadata")
        g.attrs["NumPixelsX"] = np.int64(cols)
        g.attrs["NumPixelsY"] = np.int64(rows)
        g.attrs["Pixel Size"] = np.array([pixel_nm])
        g.attrs["High Tension"] = np.array([300000.0])
        g.attrs["Camera Length"] = np.array([0.1])


BSLZ4 = hdf5plugin.Bitshuffle(nelems=0, cname="lz4")


def small():
    folder = os.path.join("tests", "data", "dectris")
    os.makedirs(folder, exist_ok=True)
    cube = frames(12, (24, 24), np.uint32, seed=1)
    acquisition(folder, "arina_bslz4", cube, 8, BSLZ4, 0.1, 300000.0, "Dectris ARINA Si")
    stem_metadata(os.path.join(folder, "arina_bslz4.h5"), 3, 4, 0.25)
    cube16 = frames(6, (16, 16), np.uint16, seed=2, disk=900.0)
    acquisition(folder, "eiger_lz4", cube16, 6, hdf5plugin.LZ4(), 0.2, 200000.0, "Dectris EIGER2 Si 1M")
    acquisition(folder, "eiger_deflate", cube16, 6, dict(compression="gzip", compression_opts=4),
                0.2, 200000.0, "Dectris EIGER2 Si 1M")
    acquisition(folder, "eiger_bs_raw", cube16, 6, hdf5plugin.Bitshuffle(nelems=0, cname="none"),
                0.2, 200000.0, "Dectris EIGER2 Si 1M")
    masked(folder)


def masked(folder):
    """The two acquisitions with flagged pixels (see the module docstring)."""
    # Dectris pixel_mask bits: 0 gap, 1 dead, 2 under-responding (cold), 3 over-responding (hot),
    # 4 noisy; several may be set at once.
    cube = frames(6, (16, 16), np.uint16, seed=4, disk=900.0)
    mask = np.zeros((16, 16), np.uint32)
    flagged = {(0, 15): 1, (7, 8): 2, (8, 7): 4, (3, 3): 8, (12, 5): 16, (15, 0): 1 | 2}
    for (r, c), bits in flagged.items():
        mask[r, c] = bits
    cube[:, 3, 3] = 60000  # the hot pixel, inside no disk: it alone would pull the CoM to it
    cube[:, 7, 8] = 0  # dead
    rng = np.random.default_rng(5)
    flatfield = rng.uniform(0.8, 1.25, (16, 16)).astype(np.float32)
    acquisition(folder, "eiger_masked", cube, 6, BSLZ4, 0.2, 200000.0, "Dectris EIGER2 Si 1M",
                mask=mask, mask_applied=0, flatfield=flatfield, flatfield_applied=0)
    cube32 = frames(4, (24, 24), np.uint32, seed=6)
    mask32 = np.zeros((24, 24), np.uint32)
    for r, c in [(0, 0), (5, 17), (12, 12), (20, 3), (23, 23)]:
        mask32[r, c] = 2
        cube32[:, r, c] = np.iinfo(np.uint32).max
    flatfield32 = rng.uniform(0.9, 1.1, (24, 24)).astype(np.float32)
    acquisition(folder, "arina_mask_applied", cube32, 4, BSLZ4, 0.1, 300000.0, "Dectris ARINA Si",
                mask=mask32, mask_applied=1, flatfield=flatfield32, flatfield_applied=1)


def big(base, n, per_file=10000):
    """n 192x192 uint32 frames, cycled from a pool of 64 (compression is per chunk, so cycling does
    not change the compressed size)."""
    folder, stem = os.path.split(base)
    os.makedirs(folder, exist_ok=True)
    pool = frames(64, (192, 192), np.uint32, seed=3, background=1.0, disk=40.0)
    names = []
    counts = []
    for k, start in enumerate(range(0, n, per_file)):
        m = min(per_file, n - start)
        fname = f"{stem}_data_{k + 1:06d}.h5"
        with h5py.File(os.path.join(folder, fname), "w") as f:
            ds = f.create_dataset("entry/data/data", shape=(m, 192, 192), dtype=np.uint32,
                                  chunks=(1, 192, 192), **BSLZ4)
            for i in range(m):
                ds[i] = pool[(start + i) % len(pool)]
            ds.attrs["image_nr_low"] = np.uint64(start + 1)
            ds.attrs["image_nr_high"] = np.uint64(start + m)
        names.append((fname, f"data_{k + 1:06d}"))
        counts.append(m)
    write_master(os.path.join(folder, f"{stem}_master.h5"), names, counts, (192, 192), np.uint32,
                 0.1, 300000.0, "Dectris ARINA Si")
    side = int(round(n ** 0.5))
    stem_metadata(os.path.join(folder, f"{stem}.h5"), side, n // side, 0.25)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--big", help="base path of a big acquisition to write instead of the fixtures")
    p.add_argument("--frames", type=int, default=65536)
    p.add_argument("--per-file", type=int, default=10000, help="frames per data file (--big)")
    p.add_argument("--masked-only", action="store_true", help="write only the masked fixtures")
    a = p.parse_args()
    if a.masked_only:
        masked(os.path.join("tests", "data", "dectris"))
    elif a.big:
        big(a.big, a.frames, a.per_file)
    else:
        small()
