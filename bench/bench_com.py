#!/usr/bin/env python3
"""CoM benchmark: polarmap against LiberTEM's CoMUDF and the machine's memory-read floor, on the
same 128x128x256x256 u16 scan as .npy and as .mib, warm in the page cache.

    python3 -m venv bench/.venv && bench/.venv/bin/pip install libertem numpy
    cargo build --release
    bench/.venv/bin/python bench/bench_com.py [--data DIR] [--scan 128] [--det 256] [--repeat 3]

Prints a Markdown table with times, ratios and polarmap's anonymous resident memory (RssAnon:
memory beyond the page cache and the memory map).
"""
import argparse
import json
import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def polarmap_binary():
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    return os.path.join(target, "release", "polarmap")


def run_measured(cmd):
    """Runs cmd, returns (seconds, stdout, peak RssAnon in MiB) sampled every 5 ms."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0]

    def watch():
        path = f"/proc/{proc.pid}/status"
        while proc.poll() is None:
            try:
                with open(path) as f:
                    for line in f:
                        if line.startswith("RssAnon:"):
                            peak[0] = max(peak[0], int(line.split()[1]))
            except OSError:
                break
            time.sleep(0.005)

    t = threading.Thread(target=watch)
    t.start()
    out, err = proc.communicate()
    seconds = time.perf_counter() - start
    t.join()
    if proc.returncode != 0:
        sys.exit(f"{cmd} failed: {err}")
    return seconds, out, peak[0] / 1024


def best(fn, repeat):
    results = [fn() for _ in range(repeat)]
    return min(results, key=lambda r: r[0])


def cat_floor(path, repeat):
    def once():
        start = time.perf_counter()
        subprocess.run(f"cat '{path}' > /dev/null", shell=True, check=True)
        return (time.perf_counter() - start,)
    return best(once, repeat)[0]


def libertem_com(path, kind, nav, cy, cx, repeat, threads=False):
    from libertem.api import Context
    from libertem.executor.inline import InlineJobExecutor
    from libertem.udf.com import CoMUDF

    # The inline executor runs in this process; the threaded one spreads partitions over the cores.
    ctx = Context.make_with("threads") if threads else Context(executor=InlineJobExecutor())
    if kind == "mib":
        ds = ctx.load(kind, path=path, nav_shape=nav)
    elif kind == "mrc":
        det = int(round(2 * cy + 1))
        ds = ctx.load(kind, path=path, nav_shape=nav, sig_shape=(det, det))
    elif kind == "dm4":
        ds = ctx.load("dm", path=path)
    else:
        ds = ctx.load("npy", path=path)
    udf = CoMUDF.with_params(cy=cy, cx=cx)

    def once():
        start = time.perf_counter()
        res = ctx.run_udf(dataset=ds, udf=udf)
        return time.perf_counter() - start, res

    once()  # warm-up: numba compiles LiberTEM's kernels on the first run
    seconds, res = best(once, repeat)
    field = res["raw_shifts"].data  # (rows, cols, 2): (y, x) shift from (cy, cx), detector px
    return seconds, field


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/var/tmp/pm-bench")
    ap.add_argument("--scan", type=int, default=128)
    ap.add_argument("--det", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=3)
    # mrc: the same scan written by mrcfile; dm4: by crates/polarmap-io/examples/write_dm4.rs
    # (docs/formats.md says how); both must already exist in --data.
    ap.add_argument("--kinds", default="npy,mib", help="comma-separated: npy, mib, mrc, dm4")
    a = ap.parse_args()
    stem = os.path.join(a.data, f"scan{a.scan}_det{a.det}")
    kinds = a.kinds.split(",")
    if any(k in ("npy", "mib") and not os.path.exists(f"{stem}.{k}") for k in kinds):
        subprocess.run([sys.executable, os.path.join(HERE, "make_data.py"), a.data,
                        "--scan", str(a.scan), "--det", str(a.det)], check=True)
    exe = polarmap_binary()
    files = {kind: f"{stem}.{kind}" for kind in kinds}
    rows = []
    import numpy as np

    for kind, path in files.items():
        size_gib = os.path.getsize(path) / 2**30
        for _ in range(2):  # warm the page cache
            subprocess.run(f"cat '{path}' > /dev/null", shell=True, check=True)
        floor = cat_floor(path, a.repeat)
        info_s, _, info_mem = best(lambda: run_measured([exe, "info", path, "--json"]), a.repeat)
        stats_s, _, _ = best(lambda: run_measured([exe, "info", path, "--json", "--stats"]), a.repeat)
        out = f"/tmp/polarmap_bench_com_{kind}.npy"
        com_s, stdout, com_mem = best(
            lambda: run_measured([exe, "com", path, "--json", "--descan", "none",
                                  "--scan-shape", f"{a.scan}x{a.scan}",
                                  "--out", out, "--overwrite"]), a.repeat)
        summary = json.loads(stdout)
        pass_s = summary["pass_seconds"]
        nav = (a.scan, a.scan)
        c = (a.det - 1) / 2
        lt_s, lt_field = libertem_com(path, kind, nav, c, c, a.repeat)
        lt_threads_s, _ = libertem_com(path, kind, nav, c, c, a.repeat, threads=True)
        # Agreement: LiberTEM's (y, x) shift from the array centre vs ours (x, y-up) from it.
        ours = np.load(out)
        diff = max(np.abs(ours[..., 0] - lt_field[..., 1]).max(),
                   np.abs(-ours[..., 1] - lt_field[..., 0]).max())
        rows.append(dict(kind=kind, size=size_gib, floor=floor, info=info_s, stats=stats_s,
                         com=com_s, pass_s=pass_s, mem=com_mem, libertem=lt_s,
                         libertem_threads=lt_threads_s, diff=diff))

    print(f"| file | size | cat floor | info | info --stats | com pass | com total | "
          f"com total / floor | LiberTEM CoMUDF inline | LiberTEM threads | pass vs floor | "
          f"LiberTEM inline / com total | LiberTEM threads / com total | RssAnon | "
          f"max |Δ| vs LiberTEM |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['kind']} | {r['size']:.2f} GiB | {r['floor']:.3f} s | {r['info']:.3f} s | "
              f"{r['stats']:.3f} s | {r['pass_s']:.3f} s | {r['com']:.3f} s | "
              f"{r['com'] / r['floor']:.2f}x | {r['libertem']:.3f} s | "
              f"{r['libertem_threads']:.3f} s | {r['floor'] / r['pass_s'] * 100:.0f} % | "
              f"{r['libertem'] / r['com']:.1f}x | {r['libertem_threads'] / r['com']:.1f}x | "
              f"{r['mem']:.0f} MiB | {r['diff']:.2e} px |")


if __name__ == "__main__":
    main()
