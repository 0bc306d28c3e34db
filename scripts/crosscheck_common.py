"""The summary every crosscheck script writes for a scan read by an independent reader, and the
Rust tests compare (tests/suite/crosscheck): shape, dtype, sum, max, argmax, four pixels and the
first four frame sums, index order [scan_row, scan_col, det_row, det_col]."""
import numpy as np


def summary(data, reader, calibration=None):
    data = np.asarray(data)
    r, c, h, w = data.shape
    # The fourth probe clamps to the frame, so that tiny frames (4x5) have one too.
    probes = [(0, 0, 0, 0), (r - 1, c - 1, h // 2, w // 3), (r // 2, c - 1, h - 1, w // 2),
              (min(1, r - 1), 0, min(3, h - 1), min(5, w - 1))]
    am = np.unravel_index(int(np.argmax(data)), data.shape)
    out = {
        "reader": reader,
        "shape": list(data.shape),
        "dtype": str(data.dtype),
        "sum": float(data.astype(np.float64).sum()),
        "max": float(data.max()),
        "argmax": [int(i) for i in am],
        "pixels": [[list(p), float(data[p])] for p in probes],
        "frame_sums": [float(s) for s in data.astype(np.float64).sum(axis=(2, 3)).ravel()[:4]],
    }
    if calibration:
        out["calibration"] = calibration
    return out
