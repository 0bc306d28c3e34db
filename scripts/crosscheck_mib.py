#!/usr/bin/env python3
"""Cross-check polarmap's Merlin .mib reader against independent readers.

Opens every .mib in the shared Merlin test zips with RosettaSciIO
(`rsciio.quantumdetector.file_reader`) and, where it can, LiberTEM
(`libertem.io.dataset.mib`), and prints one JSON object per file with the
values `tests/mib.rs` pins.

Conventions (polarmap's): data are `[scan_row, scan_col, det_row, det_col]`
in the detector's file order. RosettaSciIO flips every frame upside down
(`np.flip(data, axis=-2)`), so its frames are flipped back here before the
pixel values are taken; LiberTEM keeps file order. The "file order" is the
one in which the hot pixel of the `..._hot_pixel_52x_39y` files is at
row 39, column 52.

Values printed (from the reader named in "values_from", in file order):
  shape_rsciio / shape_libertem: each reader's own array shape
  dtype, sum, first (frame 0, [0, 0]), max, argmax ([frame, row, col] of the
  first maximum), at_39_52 (frame 0, row 39, col 52), wsum: sum over the
  frames stacked as [N, h, w] of value * (flat_index % 65521 + 1), which
  catches any permutation of pixels or frames.

Usage: scripts/crosscheck_mib.py [testdata_dir]   (default ../shared/testdata)

RAW (R64) files of 6, 12 and 24 bit are not among the test files (only 1 bit is). With
`--make-raw DIR` the script instead writes synthetic RAW files into DIR: every non-RAW 6/12-bit
single and quad file and the 24-bit single files, packed with LiberTEM's own encoders
(`encode_r6`, `encode_r12`; quads arranged as LiberTEM's quad decoder expects: raw rows of chips
4|3|2|1, chips 3 and 4 rotated by 180 degrees; 24 bit as two 12-bit images, most significant
first), named `<stem>_synthRAW.mib` beside a copy of the original. It checks that LiberTEM
decodes each back to the original. Then
  MIB_SYNTH_RAW_DIR=DIR cargo test --test mib synthetic_raw -- --ignored
checks that polarmap decodes them to the originals too.
"""
import json
import sys
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np

ZIPS = [
    "merlin/Merlin_Single_Quad.zip",
    "merlin/Merlin_navigation4x2_ROI.zip",
    "merlin/Merlin_navigation4x2_signalNx256_ROI.zip",
]


def summary(frames):
    """frames: array [N, h, w] in file order."""
    n, h, w = frames.shape
    flat = frames.reshape(-1).astype(np.uint64)
    weights = (np.arange(flat.size, dtype=np.uint64) % np.uint64(65521)) + np.uint64(1)
    am = int(np.argmax(frames))
    f, rem = divmod(am, h * w)
    r, c = divmod(rem, w)
    return {
        "dtype": str(frames.dtype.newbyteorder("=").name),
        "frames": n,
        "frame_shape": [h, w],
        "sum": int(flat.sum()),
        "first": int(frames[0, 0, 0]),
        "max": int(frames.max()),
        "argmax": [f, r, c],
        "at_39_52": int(frames[0, 39, 52]) if h > 39 and w > 52 else None,
        "wsum": int((flat * weights).sum()),
    }


def read_rsciio(mib):
    from rsciio.quantumdetector import file_reader

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = file_reader(str(mib))[0]["data"]
    d = np.asarray(d)
    shape = list(d.shape)
    d = np.flip(d, axis=-2)  # undo rsciio's up-down flip: back to file order
    h, w = d.shape[-2:]
    return shape, np.ascontiguousarray(d.reshape(-1, h, w))


def read_libertem(mib):
    import libertem.api as lt
    from libertem.io.dataset.base import BufferedBackend
    from libertem.io.dataset.mib import nav_shape_from_hdr, read_hdr_file
    from libertem.udf.base import UDF

    class AllFrames(UDF):
        def get_result_buffers(self):
            return {
                "d": self.buffer(
                    kind="nav",
                    extra_shape=tuple(self.meta.dataset_shape.sig),
                    dtype=self.meta.input_dtype,
                )
            }

        def process_frame(self, frame):
            self.results.d[:] = frame

    hdr = mib.with_suffix(".hdr")
    nav = nav_shape_from_hdr(read_hdr_file(str(hdr)))
    with lt.Context.make_with("inline") as ctx:
        # The default mmap backend fails on 1-bit RAW files (AssertionError in
        # get_offsets_sizes); the buffered backend reads them.
        ds = ctx.load(
            "mib", path=str(mib), nav_shape=nav, disable_glob=True, io_backend=BufferedBackend()
        )
        d = ctx.run_udf(dataset=ds, udf=AllFrames())["d"].data
    h, w = d.shape[-2:]
    return list(d.shape), np.ascontiguousarray(d.reshape(-1, h, w))


def make_synthetic_raw(out_dir):
    import shutil

    from libertem.io.dataset.mib import encode_r6, encode_r12

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(__file__).resolve().parent.parent / "../shared/testdata"
        with zipfile.ZipFile(root / ZIPS[0]) as zf:
            zf.extractall(tmp)
        for mib in sorted(Path(tmp).glob("*.mib")):
            name = mib.name
            if "RAW" in name or "CounterDepth_1_" in name:
                continue
            quad = name.startswith("Quad")
            depth = int(name.split("CounterDepth_")[1].split("_")[0])
            if quad and depth == 24:
                continue  # no reference decoder for 24-bit quad RAW
            raw = mib.read_bytes()
            hs = int(raw[11:16])
            h, w = (512, 512) if quad else (256, 256)
            data_dtype = {6: ">u1", 12: ">u2", 24: ">u4"}[depth]
            stride = hs + h * w * np.dtype(data_dtype).itemsize
            n = len(raw) // stride
            frames_out = []
            for i in range(n):
                head = raw[i * stride:i * stride + hs]
                img = np.frombuffer(raw, dtype=data_dtype, count=h * w, offset=i * stride + hs)
                img = img.reshape(h, w).astype(np.int64)
                if depth == 24:
                    parts = [(img >> 12) & 0xFFF, img & 0xFFF]
                    enc, bpp = encode_r12, 16
                else:
                    parts = [img]
                    enc, bpp = (encode_r6, 8) if depth == 6 else (encode_r12, 16)
                packed = b""
                for part in parts:
                    part = part.astype(np.uint8 if bpp == 8 else np.uint16)
                    if quad:
                        seg = 256 * bpp // 8
                        dest = np.zeros((256, 4 * seg), dtype=np.uint8)
                        enc(inp=part[:256, :256], out=dest[:, 3 * seg:])
                        enc(inp=part[:256, 256:], out=dest[:, 2 * seg:3 * seg])
                        enc(inp=np.ascontiguousarray(part[256:, :256][::-1, ::-1]), out=dest[:, seg:2 * seg])
                        enc(inp=np.ascontiguousarray(part[256:, 256:][::-1, ::-1]), out=dest[:, :seg])
                    else:
                        dest = np.zeros((h, w * bpp // 8), dtype=np.uint8)
                        enc(inp=part, out=dest)
                    packed += dest.tobytes()
                head = head.replace(b",U08,", b",R64,").replace(b",U16,", b",R64,").replace(b",U32,", b",R64,")
                if quad:
                    head = head.replace(b",0512,0512,", b",1024,0256,")
                elif depth == 24:
                    head = head.replace(b",0256,0256,", b",0512,0256,")
                frames_out.append(head + packed)
            stem = mib.stem + "_synthRAW"
            target = out_dir / (stem + ".mib")
            target.write_bytes(b"".join(frames_out))
            shutil.copy(mib, out_dir / name)
            # LiberTEM must decode it back to the original (it reads 24 bit only for single chips).
            _, decoded = read_libertem_nohdr(target, n)
            _, original = read_libertem_nohdr(out_dir / name, n)
            # Per frame: LiberTEM 0.16 decodes only the first frame of a multi-frame 24-bit
            # RAW file right (its frame offset counts half the 24-bit frame size).
            report[stem + ".mib"] = {
                "libertem_decodes_to_original": bool(np.array_equal(decoded, original)),
                "per_frame": [bool(np.array_equal(decoded[i], original[i])) for i in range(n)],
            }
    print(json.dumps(report, indent=1))


def read_libertem_nohdr(mib, n):
    import libertem.api as lt
    from libertem.io.dataset.base import BufferedBackend
    from libertem.udf.base import UDF

    class AllFrames(UDF):
        def get_result_buffers(self):
            return {
                "d": self.buffer(
                    kind="nav",
                    extra_shape=tuple(self.meta.dataset_shape.sig),
                    dtype=self.meta.input_dtype,
                )
            }

        def process_frame(self, frame):
            self.results.d[:] = frame

    with lt.Context.make_with("inline") as ctx:
        ds = ctx.load(
            "mib", path=str(mib), nav_shape=(n,), disable_glob=True, io_backend=BufferedBackend()
        )
        d = ctx.run_udf(dataset=ds, udf=AllFrames())["d"].data
    return list(d.shape), np.asarray(d).reshape(n, -1).astype(np.int64)


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--make-raw":
        make_synthetic_raw(sys.argv[2])
        return
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "../shared/testdata"
    out = {}
    decoded = {}
    with tempfile.TemporaryDirectory() as tmp:
        for z in ZIPS:
            with zipfile.ZipFile(root / z) as zf:
                zf.extractall(tmp)
        for mib in sorted(Path(tmp).glob("*.mib")):
            rec = {}
            frames = None
            try:
                rec["shape_rsciio"], frames = read_rsciio(mib)
                rec["values_from"] = "rsciio"
            except Exception as e:  # RAW files: rsciio raises NotImplementedError
                rec["rsciio_error"] = f"{type(e).__name__}: {e}"
            try:
                rec["shape_libertem"], lt_frames = read_libertem(mib)
                if frames is None:
                    frames = lt_frames
                    rec["values_from"] = "libertem"
                else:
                    rec["libertem_equal"] = bool(
                        lt_frames.shape == frames.shape and np.array_equal(lt_frames, frames)
                    )
            except Exception as e:
                rec["libertem_error"] = f"{type(e).__name__}: {e}"
            if frames is not None:
                rec.update(summary(frames))
                if rec["values_from"] == "libertem":
                    rec["dtype"] += " (LiberTEM's result dtype; polarmap decodes RAW to the non-RAW dtype)"
            out[mib.name] = rec
            decoded[mib.name] = frames
        # RAW and non-RAW files of the same name are separate acquisitions taken about
        # a second apart: not identical, but the same detector response. Compare them.
        for name, raw in decoded.items():
            plain = decoded.get(name.replace("RAW.mib", ".mib"))
            if "RAW" not in name or raw is None or plain is None or raw.shape != plain.shape:
                continue
            a = raw.astype(np.float64).sum(axis=0).ravel()
            b = plain.astype(np.float64).sum(axis=0).ravel()
            flipped = np.flip(raw, axis=-2).astype(np.float64).sum(axis=0).ravel()
            out[name]["vs_non_raw"] = {
                "sum_raw": int(a.sum()),
                "sum_non_raw": int(b.sum()),
                "corr_of_summed_frames": float(np.corrcoef(a, b)[0, 1]),
                "corr_if_raw_flipped_updown": float(np.corrcoef(flipped, b)[0, 1]),
            }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
