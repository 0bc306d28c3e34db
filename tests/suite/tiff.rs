//! TIFF readers against files written by tifffile (`scripts/make_tiff_testdata.py`; the values
//! pinned here are the formulas that script prints).

use polarmap_core::scan::tiff::{
    write_frame_tiff, write_pages_tiff, write_tiff_folder, TiffFolder,
};
use polarmap_core::scan::{open, open_with, DType, FrameBuffer, FrameRef, OpenOptions, Scan};
use proptest::prelude::*;
use rayon::prelude::*;
use std::path::{Path, PathBuf};

fn data(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/tiff")
        .join(relative)
}

/// Every frame as f64, read in parallel (as the analysis does).
fn all_frames(scan: &Scan) -> Vec<Vec<f64>> {
    (0..scan.n_frames())
        .into_par_iter()
        .map_init(FrameBuffer::new, |buf, i| {
            let frame = scan.frame(i, buf).unwrap();
            assert_eq!(frame.dtype(), scan.dtype());
            to_f64(frame)
        })
        .collect()
}

fn to_f64(frame: FrameRef) -> Vec<f64> {
    frame.to_f64_vec()
}

/// Checks every pixel of every frame against `expected(frame, row, col)`.
fn check_values(scan: &Scan, expected: impl Fn(usize, usize, usize) -> f64) {
    let [_, cols] = scan.frame_shape();
    for (k, frame) in all_frames(scan).iter().enumerate() {
        for (i, &v) in frame.iter().enumerate() {
            let want = expected(k, i / cols, i % cols);
            assert_eq!(v, want, "frame {k} row {} col {}", i / cols, i % cols);
        }
    }
}

fn err_text(result: polarmap_core::Result<Scan>) -> String {
    match result {
        Ok(scan) => panic!("expected an error, opened {scan:?}"),
        Err(e) => e.to_string(),
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

// ---- folder -----------------------------------------------------------------------------------

#[test]
fn folder_values_in_natural_order_with_square_inference() {
    let scan = open(data("folder")).unwrap();
    assert_eq!(scan.format(), "tiff-folder");
    assert_eq!(scan.shape(), [3, 3, 16, 16]);
    assert_eq!(scan.dtype(), DType::U16);
    // Frames 3 and 7 are LZW, 5 deflate, 6 PackBits; the others uncompressed.
    check_values(&scan, |k, r, c| (k * 1000 + r * 16 + c) as f64);
    assert_eq!(scan.frame_f32(2, 1).unwrap()[17], 7017.0);
}

#[test]
fn folder_lists_only_tiffs_in_natural_order() {
    let folder = TiffFolder::open(&data("folder")).unwrap();
    let names: Vec<String> = folder
        .files()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let want: Vec<String> = (0..9).map(|k| format!("img_{}.tif", 5 * k)).collect();
    assert_eq!(names, want);
    folder.verify().unwrap();
}

#[test]
fn folder_explicit_scan_shape_and_mismatch() {
    for shape in [[1, 9], [9, 1]] {
        let options = OpenOptions {
            scan_shape: Some(shape),
            ..Default::default()
        };
        let scan = open_with(data("folder"), &options).unwrap();
        assert_eq!(scan.scan_shape(), shape);
        check_values(&scan, |k, r, c| (k * 1000 + r * 16 + c) as f64);
    }
    let options = OpenOptions {
        scan_shape: Some([2, 4]),
        ..Default::default()
    };
    let err = err_text(open_with(data("folder"), &options));
    assert!(err.contains("folder") && err.contains("2x4"), "{err}");
    assert!(err.contains("9 frames"), "{err}");
}

#[test]
fn folder_sidecar_found_with_and_without_trailing_slash() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("scan");
    copy_dir(&data("folder"), &dir);
    std::fs::write(
        tmp.path().join("scan.meta.json"),
        r#"{"scan_shape": [9, 1], "energy_kv": 300}"#,
    )
    .unwrap();
    let with_slash = format!("{}/", dir.display());
    for path in [dir.clone(), PathBuf::from(with_slash)] {
        let scan = open(&path).unwrap();
        assert_eq!(scan.scan_shape(), [9, 1], "{}", path.display());
        assert_eq!(scan.calibration.energy_kv, Some(300.0));
    }
    // The caller's shape wins over the sidecar's.
    let options = OpenOptions {
        scan_shape: Some([3, 3]),
        ..Default::default()
    };
    assert_eq!(open_with(&dir, &options).unwrap().scan_shape(), [3, 3]);
}

#[test]
fn folder_with_non_square_count_is_one_row() {
    let tmp = tempfile::tempdir().unwrap();
    for k in [0, 5, 10] {
        let name = format!("img_{k}.tif");
        std::fs::copy(data("folder").join(&name), tmp.path().join(&name)).unwrap();
    }
    let scan = open(tmp.path()).unwrap();
    assert_eq!(scan.shape(), [1, 3, 16, 16]);
    check_values(&scan, |k, r, c| (k * 1000 + r * 16 + c) as f64);
}

#[test]
fn folder_of_400_files_written_by_polarmap() {
    let tmp = tempfile::tempdir().unwrap();
    let frames: Vec<u16> = (0..400 * 12).map(|i| (i % 65536) as u16).collect();
    let written = write_tiff_folder(tmp.path(), "frame_", &frames, [3, 4]).unwrap();
    assert_eq!(written.len(), 400);
    assert!(written[7].ends_with("frame_00007.tif"));
    std::fs::write(tmp.path().join("ignored.txt"), "x").unwrap();
    let scan = open(tmp.path()).unwrap();
    assert_eq!(scan.shape(), [20, 20, 3, 4]);
    check_values(&scan, |k, r, c| (k * 12 + r * 4 + c) as f64);
}

#[test]
fn case_insensitive_extensions_and_hidden_files() {
    let tmp = tempfile::tempdir().unwrap();
    let src = data("folder");
    std::fs::copy(src.join("img_0.tif"), tmp.path().join("a_1.TIF")).unwrap();
    std::fs::copy(src.join("img_5.tif"), tmp.path().join("a_2.Tiff")).unwrap();
    // A macOS resource fork: hidden, with a .tif name, not a TIFF.
    std::fs::write(tmp.path().join("._a_1.TIF"), "resource fork").unwrap();
    std::fs::create_dir(tmp.path().join("sub.tif")).unwrap();
    let scan = open(tmp.path()).unwrap();
    assert_eq!(scan.shape(), [1, 2, 16, 16]);
    check_values(&scan, |k, r, c| (k * 1000 + r * 16 + c) as f64);
}

// ---- multi-page -------------------------------------------------------------------------------

#[test]
fn multipage_f32() {
    let scan = open(data("pages_f32.tif")).unwrap();
    assert_eq!(scan.format(), "tiff");
    assert_eq!(scan.shape(), [1, 6, 8, 12]);
    assert_eq!(scan.dtype(), DType::F32);
    check_values(&scan, |p, r, c| (p * 100 + r * 12 + c) as f64 + 0.5);
}

#[test]
fn multipage_u8_compressed_with_square_inference() {
    for name in ["pages_u8_lzw.tif", "pages_u8_deflate.tif"] {
        let scan = open(data(name)).unwrap();
        assert_eq!(scan.shape(), [2, 2, 16, 16], "{name}");
        assert_eq!(scan.dtype(), DType::U8);
        check_values(&scan, |p, r, c| ((p * 50 + r * 3 + c) % 256) as f64);
    }
}

#[test]
fn multipage_big_endian_i16_and_f64() {
    let scan = open(data("pages_be_i16.tif")).unwrap();
    assert_eq!(scan.shape(), [1, 3, 5, 7]);
    assert_eq!(scan.dtype(), DType::I16);
    check_values(&scan, |p, r, c| {
        (p as f64 - 1.0) * 1000.0 - (r * 7) as f64 - c as f64
    });
    let scan = open(data("pages_f64_be.tif")).unwrap();
    assert_eq!(scan.shape(), [1, 2, 3, 3]);
    assert_eq!(scan.dtype(), DType::F64);
    check_values(&scan, |p, r, c| (p + 1) as f64 * (r * 3 + c) as f64 / 8.0);
}

#[test]
fn multipage_4d_shape_from_tifffile_description() {
    let scan = open(data("pages_4d_u16.tif")).unwrap();
    assert_eq!(scan.shape(), [2, 3, 8, 8]);
    check_values(&scan, |f, r, c| (f * 100 + r * 8 + c) as f64);
    assert_eq!(scan.frame_f32(1, 2).unwrap()[63], 563.0);
    // The caller's shape wins; a shape that does not fit is an error naming the file.
    let options = OpenOptions {
        scan_shape: Some([6, 1]),
        ..Default::default()
    };
    assert_eq!(
        open_with(data("pages_4d_u16.tif"), &options)
            .unwrap()
            .scan_shape(),
        [6, 1]
    );
    let options = OpenOptions {
        scan_shape: Some([4, 4]),
        ..Default::default()
    };
    let err = err_text(open_with(data("pages_4d_u16.tif"), &options));
    assert!(
        err.contains("pages_4d_u16.tif") && err.contains("6 frames"),
        "{err}"
    );
}

#[test]
fn multipage_bigtiff_tiled_u32_i32() {
    let scan = open(data("pages_bigtiff_u16.tif")).unwrap();
    assert_eq!(scan.shape(), [2, 2, 8, 8]);
    check_values(&scan, |p, r, c| (p * 1000 + r * 8 + c) as f64);

    let scan = open(data("pages_tiled_u16.tif")).unwrap();
    assert_eq!(scan.shape(), [1, 2, 32, 32]);
    check_values(&scan, |p, r, c| (p * 2000 + r * 32 + c) as f64);

    let scan = open(data("single_u32.tif")).unwrap();
    assert_eq!(scan.shape(), [1, 1, 4, 5]);
    assert_eq!(scan.dtype(), DType::U32);
    check_values(&scan, |_, r, c| {
        (3_000_000_000u64 + (r * 5 + c) as u64) as f64
    });

    let scan = open(data("pages_i32.tif")).unwrap();
    assert_eq!(scan.shape(), [1, 2, 3, 4]);
    assert_eq!(scan.dtype(), DType::I32);
    check_values(&scan, |p, r, c| -((p * 100000 + r * 4 + c) as f64));
}

#[test]
fn tiff_detected_by_magic_without_extension() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("stack.dat");
    std::fs::copy(data("pages_u8_lzw.tif"), &path).unwrap();
    let scan = open(&path).unwrap();
    assert_eq!(scan.shape(), [2, 2, 16, 16]);
}

#[test]
fn written_frames_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let u16s: Vec<u16> = (0..6 * 5).map(|i| i as u16 * 997).collect();
    let path = tmp.path().join("one.tif");
    write_frame_tiff(&path, &u16s, [6, 5]).unwrap();
    let scan = open(&path).unwrap();
    assert_eq!((scan.shape(), scan.dtype()), ([1, 1, 6, 5], DType::U16));
    check_values(&scan, |_, r, c| ((r * 5 + c) * 997) as f64);

    let f32s: Vec<f32> = (0..4 * 3 * 7).map(|i| i as f32 * -0.25).collect();
    let path = tmp.path().join("pages.tif");
    write_pages_tiff(&path, f32s.chunks(21), [3, 7]).unwrap();
    let scan = open(&path).unwrap();
    assert_eq!((scan.shape(), scan.dtype()), ([2, 2, 3, 7], DType::F32));
    check_values(&scan, |p, r, c| (p * 21 + r * 7 + c) as f64 * -0.25);

    let i16s: Vec<i16> = vec![-3, 4, -5, 6];
    write_frame_tiff(&path, &i16s, [2, 2]).unwrap();
    assert_eq!(
        open(&path).unwrap().frame_f32(0, 0).unwrap(),
        [-3.0, 4.0, -5.0, 6.0]
    );
    assert!(write_frame_tiff(&path, &i16s, [3, 2]).is_err());
}

// ---- bad input --------------------------------------------------------------------------------

#[test]
fn mixed_sizes_error_names_the_file_when_read_and_in_verify() {
    let scan = open(data("mixed")).unwrap();
    assert_eq!(scan.shape(), [2, 2, 16, 16]);
    let mut buf = FrameBuffer::new();
    for i in 0..3 {
        scan.frame(i, &mut buf).unwrap();
    }
    let err = scan.frame(3, &mut buf).unwrap_err().to_string();
    assert!(err.contains("a_4.tif") && err.contains("16x17"), "{err}");
    let err = TiffFolder::open(&data("mixed"))
        .unwrap()
        .verify()
        .unwrap_err()
        .to_string();
    assert!(err.contains("a_4.tif") && err.contains("a_1.tif"), "{err}");

    let scan = open(data("mixed_dtype")).unwrap();
    let err = scan.frame(2, &mut buf).unwrap_err().to_string();
    assert!(err.contains("b_3.tif") && err.contains("float32"), "{err}");
}

#[test]
fn empty_folder_and_folder_without_tiffs() {
    let tmp = tempfile::tempdir().unwrap();
    let err = err_text(open(tmp.path()));
    assert!(err.contains("no .tif"), "{err}");
    std::fs::write(tmp.path().join("notes.txt"), "x").unwrap();
    let err = err_text(open(tmp.path()));
    assert!(err.contains("no .tif"), "{err}");
}

#[test]
fn non_tiff_with_tif_name() {
    let err = err_text(open(data("bad/not_a_tiff.tif")));
    assert!(
        err.contains("not_a_tiff.tif") && err.contains("not a TIFF"),
        "{err}"
    );
    // In a folder: first file bad fails at open; a later one fails when read and in verify.
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&data("folder"), tmp.path());
    std::fs::copy(data("bad/not_a_tiff.tif"), tmp.path().join("img_99.tif")).unwrap();
    let scan = open(tmp.path()).unwrap();
    assert_eq!(scan.shape(), [1, 10, 16, 16]);
    let err = scan
        .frame(9, &mut FrameBuffer::new())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("img_99.tif") && err.contains("not a TIFF"),
        "{err}"
    );
    let err = TiffFolder::open(tmp.path())
        .unwrap()
        .verify()
        .unwrap_err()
        .to_string();
    assert!(err.contains("img_99.tif"), "{err}");
    std::fs::copy(data("bad/not_a_tiff.tif"), tmp.path().join("aaa.tif")).unwrap();
    let err = err_text(open(tmp.path()));
    assert!(err.contains("aaa.tif"), "{err}");
}

#[test]
fn truncated_tiff() {
    let err = err_text(open(data("bad/truncated.tif")));
    assert!(err.contains("truncated.tif"), "{err}");
    // Cut inside the pixel data of a memory-mapped multi-page file.
    let tmp = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(data("pages_f32.tif")).unwrap();
    let path = tmp.path().join("cut.tif");
    std::fs::write(&path, &bytes[..bytes.len() - 100]).unwrap();
    let err = match open(&path) {
        Err(e) => e.to_string(),
        Ok(scan) => (0..scan.n_frames())
            .find_map(|i| scan.frame(i, &mut FrameBuffer::new()).err())
            .expect("some frame must fail")
            .to_string(),
    };
    assert!(
        err.contains("cut.tif") && err.contains("truncated"),
        "{err}"
    );
    // Cut inside a compressed page.
    let bytes = std::fs::read(data("folder/img_15.tif")).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let err = match open(&path) {
        Err(e) => e.to_string(),
        Ok(scan) => scan
            .frame(0, &mut FrameBuffer::new())
            .unwrap_err()
            .to_string(),
    };
    assert!(err.contains("cut.tif"), "{err}");
}

#[test]
fn multipage_with_pages_of_different_sizes() {
    let err = err_text(open(data("bad/mixed_pages.tif")));
    assert!(
        err.contains("mixed_pages.tif") && err.contains("page 2"),
        "{err}"
    );
    assert!(err.contains("8x8") && err.contains("16x16"), "{err}");
}

#[test]
fn rgb_tiff_is_rejected() {
    let err = err_text(open(data("bad/rgb.tif")));
    assert!(
        err.contains("rgb.tif") && err.contains("greyscale"),
        "{err}"
    );
}

// ---- fuzz -------------------------------------------------------------------------------------

/// Opens `bytes` as a TIFF (multi-page, and as the only file of a folder) and reads every frame;
/// only checks that nothing panics.
fn open_and_read_everything(bytes: &[u8]) {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("fuzz.tif");
    std::fs::write(&path, bytes).unwrap();
    for target in [path.as_path(), tmp.path()] {
        if let Ok(scan) = open(target) {
            let mut buf = FrameBuffer::new();
            for i in 0..scan.n_frames() {
                if let Ok(frame) = scan.frame(i, &mut buf) {
                    assert_eq!(frame.len(), scan.frame_len());
                }
            }
        }
    }
}

const FUZZ_SEEDS: &[&str] = &[
    "pages_f32.tif",
    "pages_u8_lzw.tif",
    "pages_u8_deflate.tif",
    "pages_be_i16.tif",
    "pages_bigtiff_u16.tif",
    "pages_tiled_u16.tif",
    "folder/img_15.tif",
    "folder/img_30.tif",
];

proptest! {
    // PROPTEST_CASES=20000 for a longer run.
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(400)
    ))]

    #[test]
    fn corrupt_tiffs_never_panic(
        seed in 0..FUZZ_SEEDS.len(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        cut in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        let mut bytes = std::fs::read(data(FUZZ_SEEDS[seed])).unwrap();
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        if let Some(cut) = cut {
            bytes.truncate(cut.index(bytes.len()));
        }
        open_and_read_everything(&bytes);
    }

    /// Edits concentrated in the header and first directory, where they matter most.
    #[test]
    fn corrupt_tiff_headers_never_panic(
        seed in 0..FUZZ_SEEDS.len(),
        edits in proptest::collection::vec((0usize..300, any::<u8>()), 1..6),
    ) {
        let mut bytes = std::fs::read(data(FUZZ_SEEDS[seed])).unwrap();
        for (at, value) in edits {
            if at < bytes.len() {
                bytes[at] = value;
            }
        }
        open_and_read_everything(&bytes);
    }
}

/// Timing on a big folder, e.g. 16384 files of 256x256 (not committed) whose frame i holds i in
/// its first pixel:
/// `TIFF_TIMING_DIR=/path cargo test --test tiff open_speed -- --ignored --nocapture`.
#[test]
#[ignore]
fn open_speed_of_big_folder() {
    let dir = std::env::var("TIFF_TIMING_DIR").expect("set TIFF_TIMING_DIR");
    let start = std::time::Instant::now();
    let scan = open(&dir).unwrap();
    let opened = start.elapsed();
    println!("open: {:?} -> {:?}", opened, scan.shape());
    let start = std::time::Instant::now();
    TiffFolder::open(Path::new(&dir)).unwrap().verify().unwrap();
    println!("open + verify (all headers): {:?}", start.elapsed());
    let start = std::time::Instant::now();
    let sum: f64 = (0..scan.n_frames())
        .into_par_iter()
        .map_init(FrameBuffer::new, |buf, i| {
            scan.frame(i, buf).unwrap().to_f32_vec()[0] as f64
        })
        .sum();
    let n = scan.n_frames() as f64;
    assert_eq!(sum, n * (n - 1.0) / 2.0, "frame i must hold i in pixel 0");
    println!("read every frame: {:?} (checksum {sum})", start.elapsed());
}

/// Timing on a big multi-page file: `TIFF_TIMING_FILE=/path cargo test --test tiff
/// open_speed_of_big_stack -- --ignored --nocapture`.
#[test]
#[ignore]
fn open_speed_of_big_stack() {
    let path = std::env::var("TIFF_TIMING_FILE").expect("set TIFF_TIMING_FILE");
    let start = std::time::Instant::now();
    let scan = open(&path).unwrap();
    println!("open: {:?} -> {:?}", start.elapsed(), scan.shape());
    let start = std::time::Instant::now();
    let sum: f64 = (0..scan.n_frames())
        .into_par_iter()
        .map_init(FrameBuffer::new, |buf, i| {
            scan.frame(i, buf).unwrap().to_f32_vec()[0] as f64
        })
        .sum();
    println!("read every frame: {:?} (checksum {sum})", start.elapsed());
}
