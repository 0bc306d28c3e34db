#!/usr/bin/env python3
"""Writes the TIFF test files in tests/data/tiff/ with tifffile, a writer independent of polarmap.

Run from the repository root:
    python scripts/make_tiff_testdata.py
LZW and PackBits need the `imagecodecs` package beside tifffile and numpy.

Every pixel value follows a formula printed below and pinned in tests/tiff.rs:
  folder/img_{5k}.tif   frame k (k = 0..8), uint16 16x16:  k*1000 + row*16 + col
                        k = 3, 7 LZW, k = 5 deflate, k = 6 PackBits, others uncompressed;
                        names img_0, img_5, ..., img_40: natural order differs from byte order.
  pages_f32.tif         6 pages float32 8x12 (rows x cols):  p*100 + row*12 + col + 0.5
  pages_u8_lzw.tif      4 pages uint8 16x16, LZW:  (p*50 + row*3 + col) % 256
  pages_u8_deflate.tif  same values, deflate with horizontal predictor
  pages_be_i16.tif      3 pages int16 big-endian 5x7:  (p - 1)*1000 - row*7 - col
  pages_4d_u16.tif      uint16 array (2, 3, 8, 8) (tifffile's JSON shape):  f*100 + row*8 + col
                        with f = scan_row*3 + scan_col
  pages_bigtiff_u16.tif BigTIFF, 4 pages uint16 8x8:  p*1000 + row*8 + col
  pages_tiled_u16.tif   2 pages uint16 32x32 in 16x16 tiles:  p*2000 + row*32 + col
  single_u32.tif        1 page uint32 4x5:  3_000_000_000 + row*5 + col
  pages_i32.tif         2 pages int32 3x4:  -(p*100000 + row*4 + col)
  pages_f64_be.tif      2 pages float64 big-endian 3x3:  (p + 1) * (row*3 + col) / 8
  bad/rgb.tif           RGB uint8 4x4 (not greyscale)
  bad/mixed_pages.tif   2 pages uint16 16x16, then 1 page 8x8
  bad/not_a_tiff.tif    text with a .tif name
  bad/truncated.tif     the first 200 bytes of pages_f32.tif
  mixed/                a folder: a_1..a_3 uint16 16x16 and a_4 uint16 16x17
  mixed_dtype/          a folder: b_1, b_2 uint16 16x16 and b_3 float32 16x16
"""

import os
import shutil

import numpy as np
import tifffile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "tiff")


def imwrite(path, array, **kwargs):
    """tifffile.imwrite as greyscale pages: without `photometric`, tifffile takes a (3|4, h, w)
    stack for one planar RGB(A) image."""
    tifffile.imwrite(path, array, photometric="minisblack", **kwargs)


def grid(rows, cols):
    r, c = np.mgrid[0:rows, 0:cols]
    return r, c


def main():
    if os.path.isdir(ROOT):
        shutil.rmtree(ROOT)
    os.makedirs(os.path.join(ROOT, "folder"))
    os.makedirs(os.path.join(ROOT, "bad"))
    os.makedirs(os.path.join(ROOT, "mixed"))
    os.makedirs(os.path.join(ROOT, "mixed_dtype"))

    r, c = grid(16, 16)
    compression = {3: "lzw", 7: "lzw", 5: "zlib", 6: "packbits"}
    for k in range(9):
        frame = (k * 1000 + r * 16 + c).astype(np.uint16)
        imwrite(
            os.path.join(ROOT, "folder", f"img_{5 * k}.tif"),
            frame,
            compression=compression.get(k),
        )
    with open(os.path.join(ROOT, "folder", "notes.txt"), "w") as f:
        f.write("not a frame: the folder reader must ignore this file\n")
    with open(os.path.join(ROOT, "folder", "acquisition.meta.json"), "w") as f:
        f.write('{"energy_kv": 300}\n')
    print("folder: 9 files img_0..img_40 (step 5), uint16 16x16, value k*1000 + row*16 + col")

    r, c = grid(8, 12)
    pages = np.stack([p * 100 + r * 12 + c + 0.5 for p in range(6)]).astype(np.float32)
    imwrite(os.path.join(ROOT, "pages_f32.tif"), pages)
    print("pages_f32:", pages.shape, pages.dtype, "page 5 row 7 col 11 =", pages[5, 7, 11])

    r, c = grid(16, 16)
    pages = np.stack([(p * 50 + r * 3 + c) % 256 for p in range(4)]).astype(np.uint8)
    imwrite(os.path.join(ROOT, "pages_u8_lzw.tif"), pages, compression="lzw")
    imwrite(
        os.path.join(ROOT, "pages_u8_deflate.tif"),
        pages,
        compression="zlib",
        predictor=True,
    )
    print("pages_u8_lzw / deflate:", pages.shape, "page 3 row 15 col 15 =", pages[3, 15, 15])

    r, c = grid(5, 7)
    pages = np.stack([(p - 1) * 1000 - r * 7 - c for p in range(3)]).astype(np.int16)
    imwrite(os.path.join(ROOT, "pages_be_i16.tif"), pages, byteorder=">")
    print("pages_be_i16:", pages.shape, "page 0 row 4 col 6 =", pages[0, 4, 6])

    r, c = grid(8, 8)
    cube = np.zeros((2, 3, 8, 8), np.uint16)
    for i in range(2):
        for j in range(3):
            cube[i, j] = (i * 3 + j) * 100 + r * 8 + c
    imwrite(os.path.join(ROOT, "pages_4d_u16.tif"), cube)
    print("pages_4d_u16:", cube.shape, "[1,2,7,7] =", cube[1, 2, 7, 7])

    pages = np.stack([p * 1000 + r * 8 + c for p in range(4)]).astype(np.uint16)
    imwrite(os.path.join(ROOT, "pages_bigtiff_u16.tif"), pages, bigtiff=True)
    print("pages_bigtiff_u16:", pages.shape)

    r, c = grid(32, 32)
    pages = np.stack([p * 2000 + r * 32 + c for p in range(2)]).astype(np.uint16)
    imwrite(os.path.join(ROOT, "pages_tiled_u16.tif"), pages, tile=(16, 16))
    print("pages_tiled_u16:", pages.shape, "page 1 row 31 col 31 =", pages[1, 31, 31])

    r, c = grid(4, 5)
    one = (3_000_000_000 + r * 5 + c).astype(np.uint32)
    imwrite(os.path.join(ROOT, "single_u32.tif"), one)
    print("single_u32:", one.shape, "row 3 col 4 =", one[3, 4])

    r, c = grid(3, 4)
    pages = np.stack([-(p * 100000 + r * 4 + c) for p in range(2)]).astype(np.int32)
    imwrite(os.path.join(ROOT, "pages_i32.tif"), pages)
    print("pages_i32:", pages.shape, "page 1 row 2 col 3 =", pages[1, 2, 3])

    r, c = grid(3, 3)
    pages = np.stack([(p + 1) * (r * 3 + c) / 8 for p in range(2)]).astype(np.float64)
    imwrite(os.path.join(ROOT, "pages_f64_be.tif"), pages, byteorder=">")
    print("pages_f64_be:", pages.shape, "page 1 row 2 col 2 =", pages[1, 2, 2])

    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[..., 0] = 255
    tifffile.imwrite(os.path.join(ROOT, "bad", "rgb.tif"), rgb, photometric="rgb")
    path = os.path.join(ROOT, "bad", "mixed_pages.tif")
    imwrite(path, np.zeros((2, 16, 16), np.uint16))
    imwrite(path, np.zeros((8, 8), np.uint16), append=True)
    with open(os.path.join(ROOT, "bad", "not_a_tiff.tif"), "w") as f:
        f.write("this is a text file with a .tif name\n")
    with open(os.path.join(ROOT, "pages_f32.tif"), "rb") as f:
        head = f.read(200)
    with open(os.path.join(ROOT, "bad", "truncated.tif"), "wb") as f:
        f.write(head)

    r, c = grid(16, 16)
    for k in range(1, 4):
        imwrite(
            os.path.join(ROOT, "mixed", f"a_{k}.tif"), (k + r + c).astype(np.uint16)
        )
    r17, c17 = grid(16, 17)
    imwrite(os.path.join(ROOT, "mixed", "a_4.tif"), (r17 + c17).astype(np.uint16))
    for k in range(1, 3):
        imwrite(
            os.path.join(ROOT, "mixed_dtype", f"b_{k}.tif"), (k + r + c).astype(np.uint16)
        )
    imwrite(
        os.path.join(ROOT, "mixed_dtype", "b_3.tif"), (r + c).astype(np.float32)
    )

    total = 0
    for dirpath, _, files in os.walk(ROOT):
        total += sum(os.path.getsize(os.path.join(dirpath, f)) for f in files)
    print(f"total {total} bytes")


if __name__ == "__main__":
    main()
