#!/usr/bin/env python3
"""Dectris bitshuffle-LZ4 benchmark: `polarmap info` (opening) and `polarmap com` (a full pass)
against LiberTEM's CoMUDF, warm in the page cache, on acquisitions written by
scripts/make_dectris_fixtures.py:

    python scripts/make_dectris_fixtures.py --big /var/tmp/dectris-big/big --frames 135424
    python scripts/make_dectris_fixtures.py --big /var/tmp/dectris-one/one --frames 135424 \\
        --per-file 135424
    CARGO_TARGET_DIR=... cargo build --release
    /var/tmp/venv-lt/bin/python bench/bench_dectris.py [--repeat 3]

LiberTEM's HDF5 dataset reads one dataset path, not a master's series of links, so the
comparison is on the one-data-file acquisition (`one_data_000001.h5`, the same 2 GiB of chunks),
which polarmap reads through its generic HDF5 reader; polarmap's time on the master with its 14
linked data files is printed beside it. Needs hdf5plugin in LiberTEM's environment.
"""
import argparse
import json
import os
import subprocess

import hdf5plugin  # noqa: F401  (bitshuffle for h5py inside LiberTEM)
import numpy as np

from bench_com import best, cat_floor, polarmap_binary, run_measured


def libertem_com(path, nav, cy, cx, repeat, threads):
    from libertem.api import Context
    from libertem.executor.inline import InlineJobExecutor
    from libertem.udf.com import CoMUDF

    ctx = Context.make_with("threads") if threads else Context(executor=InlineJobExecutor())
    ds = ctx.load("hdf5", path=path, ds_path="entry/data/data", nav_shape=nav)
    udf = CoMUDF.with_params(cy=cy, cx=cx)

    def once():
        import time

        start = time.perf_counter()
        res = ctx.run_udf(dataset=ds, udf=udf)
        return time.perf_counter() - start, res

    once()  # warm-up (numba)
    seconds, res = best(once, repeat)
    return seconds, res["raw_shifts"].data


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--master", default="/var/tmp/dectris-big/big_master.h5")
    ap.add_argument("--one", default="/var/tmp/dectris-one/one_data_000001.h5")
    ap.add_argument("--scan", type=int, default=368)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    exe = polarmap_binary()
    folder = os.path.dirname(a.master)
    size = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder)) / 2**30
    one_size = os.path.getsize(a.one) / 2**30
    for _ in range(2):  # warm the page cache
        subprocess.run(f"cat '{folder}'/* '{a.one}' > /dev/null", shell=True, check=True)
    floor = cat_floor(a.one, a.repeat)
    shape = f"{a.scan}x{a.scan}"
    rows = {}
    for name, path, extra in [("master + 14 data files", a.master, []),
                              ("one data file", a.one, ["--scan-shape", shape])]:
        info_s, _, _ = best(lambda: run_measured([exe, "info", path, "--json", *extra]), a.repeat)
        out = f"/tmp/polarmap_bench_dectris_{len(rows)}.npy"
        com_s, stdout, mem = best(lambda: run_measured(
            [exe, "com", path, "--json", "--descan", "none", "--out", out, "--overwrite", *extra]),
            a.repeat)
        rows[name] = dict(info=info_s, com=com_s, pass_s=json.loads(stdout)["pass_seconds"],
                          mem=mem, out=out)
    c = (192 - 1) / 2
    nav = (a.scan, a.scan)
    lt_s, lt_field = libertem_com(a.one, nav, c, c, a.repeat, threads=False)
    lt_threads_s, _ = libertem_com(a.one, nav, c, c, a.repeat, threads=True)
    ours = np.load(rows["one data file"]["out"])
    diff = max(np.abs(ours[..., 0] - lt_field[..., 1]).max(),
               np.abs(-ours[..., 1] - lt_field[..., 0]).max())
    print(f"acquisition {size:.2f} GiB (master + data files), one-file copy {one_size:.2f} GiB, "
          f"cat floor of the one file {floor:.2f} s")
    print("| input | `info` (open) | `com` pass | `com` total | RssAnon MiB |")
    print("|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['info']:.3f} s | {r['pass_s']:.2f} s | {r['com']:.2f} s | {r['mem']:.0f} |")
    one = rows["one data file"]["com"]
    print(f"LiberTEM CoMUDF on the one file: inline {lt_s:.2f} s, threads {lt_threads_s:.2f} s; "
          f"LiberTEM inline / polarmap com total = {lt_s / one:.2f}, threads / com total = "
          f"{lt_threads_s / one:.2f}; max |Δ| of the CoM vs LiberTEM {diff:.2e} px")


if __name__ == "__main__":
    main()
