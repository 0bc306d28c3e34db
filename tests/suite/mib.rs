//! Merlin `.mib` reader: every real test file against values from independent readers
//! (RosettaSciIO, LiberTEM for RAW; produced by `scripts/crosscheck_mib.py`), bad input, and a
//! fuzz test that mutates real files.

use crate::common;

use polarmap_core::scan::mib::{write_mib_u16, write_scan_as_mib_u16};
use polarmap_core::scan::{open, open_with, DType, FrameBuffer, OpenOptions};
use proptest::prelude::*;
use std::path::{Path, PathBuf};

const ZIPS: [&str; 3] = [
    "merlin/Merlin_Single_Quad.zip",
    "merlin/Merlin_navigation4x2_ROI.zip",
    "merlin/Merlin_navigation4x2_signalNx256_ROI.zip",
];

/// Values of one file, in polarmap's convention: `[scan_row, scan_col, det_row, det_col]`,
/// frames in file row order. `reference` names the reader the pixel values come from
/// (RosettaSciIO's frames flipped back upside down; LiberTEM for RAW files, which RosettaSciIO
/// does not read). `argmax` is `[frame, row, col]` of the first maximum; `wsum` is
/// sum(value * (flat index % 65521 + 1)) over the frames stacked `[N, h, w]`.
struct Expected {
    name: &'static str,
    shape: [usize; 4],
    dtype: DType,
    #[allow(dead_code)]
    reference: &'static str,
    sum: u64,
    first: u64,
    max: u64,
    argmax: [usize; 3],
    at_39_52: Option<u64>,
    wsum: u64,
}

const EXPECTED: &[Expected] = &[
    Expected {
        name: "001_4x2_6bit.mib",
        shape: [1, 8, 256, 256],
        dtype: DType::U8,
        reference: "rsciio",
        sum: 3623664,
        first: 2,
        max: 63,
        argmax: [0, 73, 19],
        at_39_52: Some(6),
        wsum: 117906131191,
    },
    Expected {
        name: "002_4x2_6bit_roi128.mib",
        shape: [1, 8, 128, 256],
        dtype: DType::U8,
        reference: "rsciio",
        sum: 3263829,
        first: 22,
        max: 63,
        argmax: [0, 17, 1],
        at_39_52: Some(35),
        wsum: 106995798036,
    },
    Expected {
        name: "002_merlin_test_roi_sig256x128_nav4x2_hot_pixel_52x_39y.mib",
        shape: [2, 4, 128, 256],
        dtype: DType::U16,
        reference: "rsciio",
        sum: 79,
        first: 0,
        max: 10,
        argmax: [5, 39, 52],
        at_39_52: Some(8),
        wsum: 2152388,
    },
    Expected {
        name: "003_merlin_test_roi_sig256x64_nav4x2_hot_pixel_52x_39y.mib",
        shape: [2, 4, 64, 256],
        dtype: DType::U16,
        reference: "rsciio",
        sum: 77,
        first: 0,
        max: 15,
        argmax: [0, 39, 52],
        at_39_52: Some(15),
        wsum: 2279229,
    },
    Expected {
        name: "Quad_1_Frame_CounterDepth_12_Rows_256.mib",
        shape: [1, 1, 512, 512],
        dtype: DType::U16,
        reference: "rsciio",
        sum: 845907,
        first: 10,
        max: 4093,
        argmax: [0, 12, 286],
        at_39_52: Some(0),
        wsum: 23290165288,
    },
    Expected {
        name: "Quad_1_Frame_CounterDepth_1_Rows_256.mib",
        shape: [1, 1, 512, 512],
        dtype: DType::U8,
        reference: "rsciio",
        sum: 10331,
        first: 1,
        max: 1,
        argmax: [0, 0, 0],
        at_39_52: Some(0),
        wsum: 347043342,
    },
    Expected {
        name: "Quad_1_Frame_CounterDepth_1_Rows_256RAW.mib",
        shape: [1, 1, 512, 512],
        dtype: DType::U8,
        reference: "libertem",
        sum: 10348,
        first: 1,
        max: 1,
        argmax: [0, 0, 0],
        at_39_52: Some(0),
        wsum: 347334438,
    },
    Expected {
        name: "Quad_1_Frame_CounterDepth_24_Rows_256.mib",
        shape: [1, 1, 512, 512],
        dtype: DType::U32,
        reference: "rsciio",
        sum: 778764,
        first: 10,
        max: 4095,
        argmax: [0, 188, 347],
        at_39_52: Some(0),
        wsum: 21233752022,
    },
    Expected {
        name: "Quad_1_Frame_CounterDepth_6_Rows_256.mib",
        shape: [1, 1, 512, 512],
        dtype: DType::U8,
        reference: "rsciio",
        sum: 115263,
        first: 10,
        max: 63,
        argmax: [0, 2, 287],
        at_39_52: Some(0),
        wsum: 3781658324,
    },
    Expected {
        name: "Quad_9_Frame_CounterDepth_12_Rows_256.mib",
        shape: [1, 9, 512, 512],
        dtype: DType::U16,
        reference: "rsciio",
        sum: 7229086,
        first: 10,
        max: 4095,
        argmax: [5, 100, 266],
        at_39_52: Some(0),
        wsum: 198257255615,
    },
    Expected {
        name: "Quad_9_Frame_CounterDepth_1_Rows_256.mib",
        shape: [1, 9, 512, 512],
        dtype: DType::U8,
        reference: "rsciio",
        sum: 92639,
        first: 1,
        max: 1,
        argmax: [0, 0, 0],
        at_39_52: Some(0),
        wsum: 2976842619,
    },
    Expected {
        name: "Quad_9_Frame_CounterDepth_1_Rows_256RAW.mib",
        shape: [1, 9, 512, 512],
        dtype: DType::U8,
        reference: "libertem",
        sum: 92621,
        first: 1,
        max: 1,
        argmax: [0, 0, 0],
        at_39_52: Some(0),
        wsum: 2975717485,
    },
    Expected {
        name: "Quad_9_Frame_CounterDepth_24_Rows_256.mib",
        shape: [1, 9, 512, 512],
        dtype: DType::U32,
        reference: "rsciio",
        sum: 7285037,
        first: 10,
        max: 4095,
        argmax: [3, 100, 266],
        at_39_52: Some(0),
        wsum: 200965062247,
    },
    Expected {
        name: "Quad_9_Frame_CounterDepth_6_Rows_256.mib",
        shape: [1, 9, 512, 512],
        dtype: DType::U8,
        reference: "rsciio",
        sum: 1032369,
        first: 10,
        max: 63,
        argmax: [0, 1, 134],
        at_39_52: Some(0),
        wsum: 32498306918,
    },
    Expected {
        name: "Single_1_Frame_CounterDepth_12_Rows_256.mib",
        shape: [1, 1, 256, 256],
        dtype: DType::U16,
        reference: "rsciio",
        sum: 28911,
        first: 10,
        max: 2239,
        argmax: [0, 108, 200],
        at_39_52: Some(0),
        wsum: 767705056,
    },
    Expected {
        name: "Single_1_Frame_CounterDepth_1_Rows_256.mib",
        shape: [1, 1, 256, 256],
        dtype: DType::U8,
        reference: "rsciio",
        sum: 2398,
        first: 1,
        max: 1,
        argmax: [0, 0, 0],
        at_39_52: Some(0),
        wsum: 59518050,
    },
    Expected {
        name: "Single_1_Frame_CounterDepth_1_Rows_256RAW.mib",
        shape: [1, 1, 256, 256],
        dtype: DType::U8,
        reference: "libertem",
        sum: 2394,
        first: 1,
        max: 1,
        argmax: [0, 0, 0],
        at_39_52: Some(0),
        wsum: 59288455,
    },
    Expected {
        name: "Single_1_Frame_CounterDepth_24_Rows_256.mib",
        shape: [1, 1, 256, 256],
        dtype: DType::U32,
        reference: "rsciio",
        sum: 29416,
        first: 10,
        max: 2255,
        argmax: [0, 108, 200],
        at_39_52: Some(0),
        wsum: 789660337,
    },
    Expected {
        name: "Single_1_Frame_CounterDepth_6_Rows_256.mib",
        shape: [1, 1, 256, 256],
        dtype: DType::U8,
        reference: "rsciio",
        sum: 24336,
        first: 10,
        max: 63,
        argmax: [0, 1, 134],
        at_39_52: Some(0),
        wsum: 604935461,
    },
    Expected {
        name: "Single_9_Frame_CounterDepth_12_Rows_256.mib",
        shape: [1, 9, 256, 256],
        dtype: DType::U16,
        reference: "rsciio",
        sum: 260753,
        first: 10,
        max: 2216,
        argmax: [7, 210, 213],
        at_39_52: Some(0),
        wsum: 7107609490,
    },
    Expected {
        name: "Single_9_Frame_CounterDepth_1_Rows_256.mib",
        shape: [1, 9, 256, 256],
        dtype: DType::U8,
        reference: "rsciio",
        sum: 21614,
        first: 1,
        max: 1,
        argmax: [0, 0, 0],
        at_39_52: Some(0),
        wsum: 538785307,
    },
    Expected {
        name: "Single_9_Frame_CounterDepth_1_Rows_256RAW.mib",
        shape: [1, 9, 256, 256],
        dtype: DType::U8,
        reference: "libertem",
        sum: 21605,
        first: 1,
        max: 1,
        argmax: [0, 0, 0],
        at_39_52: Some(0),
        wsum: 538154695,
    },
    Expected {
        name: "Single_9_Frame_CounterDepth_24_Rows_256.mib",
        shape: [1, 9, 256, 256],
        dtype: DType::U32,
        reference: "rsciio",
        sum: 258156,
        first: 10,
        max: 2074,
        argmax: [0, 210, 213],
        at_39_52: Some(0),
        wsum: 7001180370,
    },
    Expected {
        name: "Single_9_Frame_CounterDepth_6_Rows_256.mib",
        shape: [1, 9, 256, 256],
        dtype: DType::U8,
        reference: "rsciio",
        sum: 217684,
        first: 10,
        max: 63,
        argmax: [0, 1, 134],
        at_39_52: Some(0),
        wsum: 5412308360,
    },
];

/// All three zips extracted into one folder (kept alive by the returned guards).
fn all_files() -> (Vec<tempfile::TempDir>, Vec<PathBuf>) {
    let dirs: Vec<_> = ZIPS.iter().map(|z| common::unzip_testdata(z)).collect();
    let roots = dirs.iter().map(|d| d.path().to_path_buf()).collect();
    (dirs, roots)
}

fn find(roots: &[PathBuf], name: &str) -> PathBuf {
    roots
        .iter()
        .map(|r| r.join(name))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("{name} is not in the test zips"))
}

/// Every frame of a scan as f64, stacked `[N, h*w]`.
fn frames(path: &Path) -> Vec<Vec<f64>> {
    let scan = open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut buf = FrameBuffer::new();
    (0..scan.n_frames())
        .map(|i| {
            let f = scan.frame(i, &mut buf).unwrap();
            assert_eq!(f.dtype(), scan.dtype());
            f.to_f32_vec().into_iter().map(f64::from).collect()
        })
        .collect()
}

#[test]
fn every_file_matches_the_independent_readers() {
    let (_guards, roots) = all_files();
    // Every .mib in the zips is pinned.
    let mut names: Vec<String> = roots
        .iter()
        .flat_map(|r| std::fs::read_dir(r).unwrap())
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".mib"))
        .collect();
    names.sort();
    let mut pinned: Vec<&str> = EXPECTED.iter().map(|e| e.name).collect();
    pinned.sort();
    assert_eq!(names, pinned);

    for e in EXPECTED {
        let path = find(&roots, e.name);
        let scan = open(&path).unwrap_or_else(|err| panic!("{}: {err}", e.name));
        assert_eq!(scan.format(), "mib");
        assert_eq!(scan.shape(), e.shape, "{}", e.name);
        assert_eq!(scan.dtype(), e.dtype, "{}", e.name);
        let frames = frames(&path);
        let frame_len = e.shape[2] * e.shape[3];
        let (mut sum, mut wsum, mut max, mut argmax) = (0u64, 0u128, 0u64, [0usize; 3]);
        for (f, frame) in frames.iter().enumerate() {
            assert_eq!(frame.len(), frame_len);
            for (i, &v) in frame.iter().enumerate() {
                let v = v as u64;
                sum += v;
                let flat = (f * frame_len + i) as u128;
                wsum += v as u128 * (flat % 65521 + 1);
                if v > max {
                    max = v;
                    argmax = [f, i / e.shape[3], i % e.shape[3]];
                }
            }
        }
        assert_eq!(sum, e.sum, "{} sum", e.name);
        assert_eq!(frames[0][0] as u64, e.first, "{} first pixel", e.name);
        assert_eq!(max, e.max, "{} max", e.name);
        assert_eq!(argmax, e.argmax, "{} argmax", e.name);
        if let Some(v) = e.at_39_52 {
            assert_eq!(
                frames[0][39 * e.shape[3] + 52] as u64,
                v,
                "{} [39, 52]",
                e.name
            );
        }
        assert_eq!(wsum, e.wsum as u128, "{} weighted sum", e.name);
    }
}

/// The RAW and non-RAW files of the same name were recorded a second apart: not identical,
/// but the decoded RAW image (quad interleave and rotations included) must look the same.
#[test]
fn raw_frames_decode_to_the_non_raw_image() {
    let dir = common::unzip_testdata(ZIPS[0]);
    for stem in [
        "Single_1_Frame_CounterDepth_1_Rows_256",
        "Single_9_Frame_CounterDepth_1_Rows_256",
        "Quad_1_Frame_CounterDepth_1_Rows_256",
        "Quad_9_Frame_CounterDepth_1_Rows_256",
    ] {
        let raw_path = dir.path().join(format!("{stem}RAW.mib"));
        let plain_path = dir.path().join(format!("{stem}.mib"));
        let raw_scan = open(&raw_path).unwrap();
        let plain_scan = open(&plain_path).unwrap();
        assert_eq!(raw_scan.shape(), plain_scan.shape());
        assert_eq!(raw_scan.dtype(), DType::U8);
        let total = |frames: Vec<Vec<f64>>| {
            let mut acc = vec![0.0; frames[0].len()];
            for f in frames {
                acc.iter_mut().zip(f).for_each(|(a, v)| *a += v);
            }
            acc
        };
        let a = total(frames(&raw_path));
        let b = total(frames(&plain_path));
        let (sa, sb): (f64, f64) = (a.iter().sum(), b.iter().sum());
        assert!((sa - sb).abs() / sb < 0.01, "{stem}: sums {sa} vs {sb}");
        let corr = correlation(&a, &b);
        assert!(corr > 0.98, "{stem}: correlation {corr}");
        // Upside down it would not match: the orientation is pinned, not only the counts.
        let [_, _, h, w] = raw_scan.shape();
        let flipped: Vec<f64> = (0..h)
            .rev()
            .flat_map(|r| a[r * w..(r + 1) * w].to_vec())
            .collect();
        assert!(correlation(&flipped, &b) < 0.7, "{stem}");
    }
}

fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    sab / (saa * sbb).sqrt()
}

/// RosettaSciIO's test: in every frame the single maximum is the hot pixel at x=52, y=39
/// (RosettaSciIO finds it 40 rows from the bottom because it flips frames).
#[test]
fn hot_pixel_is_at_row_39_col_52_in_every_frame() {
    let dir = common::unzip_testdata(ZIPS[2]);
    for name in [
        "002_merlin_test_roi_sig256x128_nav4x2_hot_pixel_52x_39y.mib",
        "003_merlin_test_roi_sig256x64_nav4x2_hot_pixel_52x_39y.mib",
    ] {
        let path = dir.path().join(name);
        for frame in frames(&path) {
            let max = frame.iter().cloned().fold(f64::MIN, f64::max);
            let at: Vec<usize> = (0..frame.len()).filter(|&i| frame[i] == max).collect();
            assert_eq!(at, vec![39 * 256 + 52], "{name}");
        }
    }
}

#[test]
fn hdr_path_opens_the_mib() {
    let dir = common::unzip_testdata(ZIPS[2]);
    let hdr = dir
        .path()
        .join("003_merlin_test_roi_sig256x64_nav4x2_hot_pixel_52x_39y.hdr");
    let scan = open(&hdr).unwrap();
    assert_eq!(scan.format(), "mib");
    assert_eq!(scan.shape(), [2, 4, 64, 256]);

    // A .hdr without its .mib names the missing file.
    let lone = dir.path().join("lone.hdr");
    std::fs::copy(&hdr, &lone).unwrap();
    let err = open(&lone).unwrap_err().to_string();
    assert!(
        err.contains("lone.hdr") && err.contains("lone.mib"),
        "{err}"
    );
}

#[test]
fn scan_shape_can_be_overridden() {
    let dir = common::unzip_testdata(ZIPS[1]);
    let path = dir.path().join("001_4x2_6bit.mib");
    // One frame per trigger: the .hdr does not give the line length.
    assert_eq!(open(&path).unwrap().shape(), [1, 8, 256, 256]);
    let options = OpenOptions {
        scan_shape: Some([2, 4]),
        ..Default::default()
    };
    assert_eq!(
        open_with(&path, &options).unwrap().shape(),
        [2, 4, 256, 256]
    );
    let options = OpenOptions {
        scan_shape: Some([3, 3]),
        ..Default::default()
    };
    let err = open_with(&path, &options).unwrap_err().to_string();
    assert!(
        err.contains("001_4x2_6bit.mib") && err.contains("3x3") && err.contains('8'),
        "{err}"
    );
}

/// Copies one test file (and its .hdr) into a fresh folder, applying `edit` to the .mib bytes.
fn edited_copy(
    zip: &str,
    name: &str,
    edit: impl FnOnce(&mut Vec<u8>),
) -> (tempfile::TempDir, PathBuf) {
    let src = common::unzip_testdata(zip);
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(src.path().join(name)).unwrap();
    edit(&mut bytes);
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    let hdr = Path::new(name).with_extension("hdr");
    std::fs::copy(src.path().join(&hdr), dir.path().join(&hdr)).unwrap();
    (dir, path)
}

fn open_err(path: &Path) -> String {
    match open(path) {
        Ok(scan) => panic!("{} opened as {:?}", path.display(), scan.shape()),
        Err(e) => e.to_string(),
    }
}

const ROI64: &str = "003_merlin_test_roi_sig256x64_nav4x2_hot_pixel_52x_39y.mib";

#[test]
fn truncated_file_is_an_error_naming_it() {
    let (_d, path) = edited_copy(ZIPS[2], ROI64, |b| b.truncate(b.len() - 1000));
    let err = open_err(&path);
    assert!(err.contains(ROI64) && err.contains("truncated"), "{err}");
}

#[test]
fn hdr_disagreeing_with_the_file_is_an_error_unless_the_shape_is_given() {
    // One whole frame missing: the .hdr's 2x4 scan does not fit the 7 frames.
    let (_d, path) = edited_copy(ZIPS[2], ROI64, |b| b.truncate(b.len() / 8 * 7));
    let err = open_err(&path);
    assert!(
        err.contains(".hdr") && err.contains("2x4") && err.contains('7'),
        "{err}"
    );
    let options = OpenOptions {
        scan_shape: Some([1, 7]),
        ..Default::default()
    };
    assert_eq!(open_with(&path, &options).unwrap().shape(), [1, 7, 64, 256]);
}

fn replace_once(bytes: &mut [u8], from: &[u8], to: &[u8]) {
    assert_eq!(from.len(), to.len());
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .expect("pattern in header");
    bytes[at..at + to.len()].copy_from_slice(to);
}

#[test]
fn garbage_header_fields_are_errors() {
    for (from, to, expect) in [
        (&b",0256,0064,"[..], &b",02x6,0064,"[..], "width"),
        (b",0256,0064,", b",0000,0064,", "frame size"),
        (b",00384,", b",0038a,", "header size"),
        (b",00384,", b",99999,", "99999-byte header"),
        (b",U16,", b",F32,", "unknown pixel type 'F32'"),
        (b",U16,", b",U01,", "'U01' is not supported"),
        (b"   1x1,", b"   1?1,", "layout"),
    ] {
        let (_d, path) = edited_copy(ZIPS[2], ROI64, |b| replace_once(&mut b[..384], from, to));
        let err = open_err(&path);
        assert!(
            err.contains(ROI64) && err.contains(expect),
            "{expect}: {err}"
        );
    }
    // Not a Merlin file at all, but named .mib.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("not.mib");
    std::fs::write(&path, b"hello, world, this is no detector").unwrap();
    let err = open_err(&path);
    assert!(err.contains("not.mib") && err.contains("MQ1"), "{err}");
}

#[test]
fn raw_header_without_supported_depth_is_an_error() {
    let name = "Single_1_Frame_CounterDepth_1_Rows_256RAW.mib";
    let (_d, path) = edited_copy(ZIPS[0], name, |b| {
        replace_once(&mut b[..384], b"ns,1,", b"ns,7,")
    });
    let err = open_err(&path);
    assert!(
        err.contains(name) && err.contains("counter depth 7"),
        "{err}"
    );
}

/// Frames 6x 8x8: a first header claiming 16x12 frames fits the file size (4 frames of 768
/// bytes) but the second "frame" does not start with a header.
#[test]
fn header_that_lies_about_the_frame_size_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lies.mib");
    let frames: Vec<Vec<u16>> = (0..6).map(|f| vec![f + 1; 64]).collect();
    write_mib_u16(&path, [8, 8], None, &frames).unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    replace_once(&mut bytes[..384], b",0008,0008,", b",0016,0012,");
    std::fs::write(&path, bytes).unwrap();
    let err = open_err(&path);
    assert!(err.contains("lies.mib") && err.contains("frame 1"), "{err}");
}

/// A frame in the middle whose header is damaged is an error when it is read.
#[test]
fn damaged_frame_header_is_an_error_when_read() {
    let stride = 384 + 256 * 64 * 2;
    let (_d, path) = edited_copy(ZIPS[2], ROI64, |b| b[3 * stride] = b'X');
    let scan = open(&path).unwrap();
    let mut buf = FrameBuffer::new();
    assert!(scan.frame(2, &mut buf).is_ok());
    let err = scan.frame(3, &mut buf).unwrap_err().to_string();
    assert!(err.contains(ROI64) && err.contains("frame 3"), "{err}");
}

#[test]
fn write_mib_u16_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("synthetic.mib");
    let frames: Vec<Vec<u16>> = (0..6u16)
        .map(|f| (0..35u16).map(|i| f * 10_000 + i * 7).collect())
        .collect();
    assert_eq!(
        write_mib_u16(&path, [5, 7], Some([2, 3]), frames.iter()).unwrap(),
        6
    );
    let scan = open(&path).unwrap();
    assert_eq!(scan.shape(), [2, 3, 5, 7]);
    assert_eq!(scan.dtype(), DType::U16);
    for (i, want) in frames.iter().enumerate() {
        let got = scan.frame_f32(i / 3, i % 3).unwrap();
        let want: Vec<f32> = want.iter().map(|&v| v as f32).collect();
        assert_eq!(got, want);
    }
    // Without a scan shape no .hdr is written: [1, N].
    let flat = dir.path().join("flat.mib");
    write_mib_u16(&flat, [5, 7], None, frames.iter()).unwrap();
    assert!(!flat.with_extension("hdr").exists());
    assert_eq!(open(&flat).unwrap().shape(), [1, 6, 5, 7]);
    // A frame of the wrong size is refused.
    let err = write_mib_u16(&flat, [5, 7], None, [vec![0u16; 3]]).unwrap_err();
    assert!(err.to_string().contains("3 pixels"), "{err}");
}

#[test]
fn npy_scan_converts_to_mib() {
    let dir = tempfile::tempdir().unwrap();
    let npy = dir.path().join("scan.npy");
    let shape = [3usize, 2, 4, 5];
    let values: Vec<u16> = (0..shape.iter().product::<usize>() as u32)
        .map(|i| (i * 97 % 65536) as u16)
        .collect();
    let mut bytes = polarmap_core::scan::npy::header_bytes(DType::U16, &shape);
    bytes.extend(values.iter().flat_map(|v| v.to_le_bytes()));
    std::fs::write(&npy, bytes).unwrap();
    let source = open(&npy).unwrap();
    let mib = dir.path().join("scan.mib");
    assert_eq!(write_scan_as_mib_u16(&source, &mib).unwrap(), 6);
    let scan = open(&mib).unwrap();
    assert_eq!(scan.shape(), [3, 2, 4, 5]);
    for r in 0..3 {
        for c in 0..2 {
            assert_eq!(
                scan.frame_f32(r, c).unwrap(),
                source.frame_f32(r, c).unwrap()
            );
        }
    }
}

fn fuzz_base(index: usize) -> (&'static str, &'static str) {
    [
        (ZIPS[0], "Single_9_Frame_CounterDepth_1_Rows_256RAW.mib"),
        (ZIPS[0], "Quad_1_Frame_CounterDepth_1_Rows_256RAW.mib"),
        (ZIPS[0], "Quad_1_Frame_CounterDepth_6_Rows_256.mib"),
        (ZIPS[2], ROI64),
    ][index]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Mutating bytes of the first header (with bytes a header is made of, to reach deep into
    /// the parser), of the .hdr, and truncating: open and read every frame without panicking.
    #[test]
    fn mutated_real_files_never_panic(
        base in 0usize..4,
        edits in prop::collection::vec(
            (0usize..800, prop::sample::select(b"0123456789,xXNGRU \0\x7f\xff".to_vec())),
            0..6,
        ),
        hdr_edits in prop::collection::vec((0usize..900, any::<u8>()), 0..4),
        cut in prop::option::of(0usize..1_000_000),
    ) {
        let (zip, name) = fuzz_base(base);
        let src = common::unzip_testdata(zip);
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = std::fs::read(src.path().join(name)).unwrap();
        for &(at, b) in &edits {
            if at < bytes.len() {
                bytes[at] = b;
            }
        }
        if let Some(cut) = cut {
            let len = bytes.len();
            bytes.truncate(cut % (len + 1));
        }
        let path = dir.path().join("fuzz.mib");
        std::fs::write(&path, &bytes).unwrap();
        let mut hdr = std::fs::read(src.path().join(Path::new(name).with_extension("hdr"))).unwrap();
        for &(at, b) in &hdr_edits {
            if at < hdr.len() {
                hdr[at] = b;
            }
        }
        std::fs::write(dir.path().join("fuzz.hdr"), &hdr).unwrap();
        if let Ok(scan) = open(&path) {
            let mut buf = FrameBuffer::new();
            for i in 0..scan.n_frames() {
                if let Ok(frame) = scan.frame(i, &mut buf) {
                    prop_assert_eq!(frame.len(), scan.frame_len());
                }
            }
        }
    }
}

/// RAW 6/12/24-bit files are not among the test files. `scripts/crosscheck_mib.py --make-raw DIR`
/// packs the real non-RAW files with LiberTEM's encoders (and checks LiberTEM decodes them back);
/// this checks that polarmap decodes every `<stem>_synthRAW.mib` in `$MIB_SYNTH_RAW_DIR` to
/// exactly the frames of `<stem>.mib`.
#[test]
#[ignore = "needs MIB_SYNTH_RAW_DIR from scripts/crosscheck_mib.py --make-raw"]
fn synthetic_raw_decodes_to_the_original() {
    let dir = PathBuf::from(std::env::var("MIB_SYNTH_RAW_DIR").expect("MIB_SYNTH_RAW_DIR"));
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let raw = entry.unwrap().path();
        let name = raw.file_name().unwrap().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix("_synthRAW.mib") else {
            continue;
        };
        let plain = dir.join(format!("{stem}.mib"));
        let (a, b) = (open(&raw).unwrap(), open(&plain).unwrap());
        assert_eq!(a.shape(), b.shape(), "{name}");
        assert_eq!(a.dtype(), b.dtype(), "{name}");
        assert_eq!(frames(&raw), frames(&plain), "{name}");
        checked += 1;
    }
    assert!(checked > 0, "no *_synthRAW.mib in {}", dir.display());
    eprintln!("{checked} synthetic RAW files decode to their originals");
}

/// A real 4x2 acquisition cut into `acq1.mib` (3 frames), `acq2.mib` (3), `acq3.mib` (2) with
/// `acq.hdr`, as the Merlin software splits one with "images per file": opened from the `.hdr`
/// or any part, it is the original scan frame for frame.
#[test]
fn multi_file_acquisition_reads_as_the_whole() {
    let dir = common::unzip_testdata(ZIPS[1]);
    let whole = dir.path().join("001_4x2_6bit.mib");
    let original = open(&whole).unwrap();
    let bytes = std::fs::read(&whole).unwrap();
    let stride = bytes.len() / 8;
    for (part, frames) in [(1, 0..3), (2, 3..6), (3, 6..8)] {
        let name = dir.path().join(format!("acq{part}.mib"));
        std::fs::write(&name, &bytes[frames.start * stride..frames.end * stride]).unwrap();
    }
    std::fs::copy(whole.with_extension("hdr"), dir.path().join("acq.hdr")).unwrap();
    for open_as in ["acq.hdr", "acq2.mib"] {
        let joined = open(dir.path().join(open_as)).unwrap();
        assert_eq!(joined.shape(), original.shape(), "{open_as}");
        assert_eq!(joined.n_frames(), 8);
        let cols = original.scan_shape()[1];
        for i in 0..8 {
            let (r, c) = (i / cols, i % cols);
            assert_eq!(
                joined.frame_f32(r, c).unwrap(),
                original.frame_f32(r, c).unwrap(),
                "{open_as}: frame {i}"
            );
        }
    }
}
