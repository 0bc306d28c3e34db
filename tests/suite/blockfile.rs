//! NanoMegas blockfile reader against RosettaSciIO (`scripts/crosscheck_hdf5_blo.py`).

use crate::common;
use crate::crosscheck;

use polarmap_core::scan::{blockfile, open, FrameBuffer};
use polarmap_core::{DType, Error};
use std::path::{Path, PathBuf};

fn blo() -> PathBuf {
    common::testdata("other/test1.blo")
}

#[test]
fn test1_matches_rsciio() {
    let scan = open(blo()).unwrap();
    assert_eq!(scan.format(), "blockfile");
    // NY = 3 scan rows, NX = 2 scan columns, 144x144 uint8 (rsciio: (3, 2, 144, 144)).
    assert_eq!(scan.shape(), [3, 2, 144, 144]);
    assert_eq!(scan.dtype(), DType::U8);
    crosscheck::assert_matches(&scan, "test1.blo");
    // Pinned from rsciio: frame (0, 0) pixel (0, 0), the maximum, an interior pixel.
    assert_eq!(scan.frame_f32(0, 0).unwrap()[0], 17.0);
    assert_eq!(scan.frame_f32(0, 0).unwrap()[69 * 144 + 72], 255.0);
    assert_eq!(scan.frame_f32(2, 1).unwrap()[72 * 144 + 48], 63.0);
}

#[test]
fn test1_calibration() {
    let c = open(blo()).unwrap().calibration;
    assert_eq!(c.scan_step_a, Some(128.0)); // SX = 12.8 nm
    assert_eq!(c.energy_kv, Some(200.0)); // 200000 V
    assert_eq!(c.mrad_per_px, None);
}

#[test]
fn frames_are_zero_copy_views() {
    let scan = open(blo()).unwrap();
    let mut scratch = FrameBuffer::new();
    let a = scan.frame(0, &mut scratch).unwrap();
    let ptr = match a {
        polarmap_core::scan::FrameRef::U8(p) => p.as_ptr(),
        other => panic!("{other:?}"),
    };
    let mut scratch2 = FrameBuffer::new();
    let b = scan.frame(1, &mut scratch2).unwrap();
    let ptr2 = match b {
        polarmap_core::scan::FrameRef::U8(p) => p.as_ptr(),
        other => panic!("{other:?}"),
    };
    // Consecutive records are 6 + 144² bytes apart in the map.
    assert_eq!(ptr2 as usize - ptr as usize, 6 + 144 * 144);
}

fn copy_with(name: &str, edit: impl FnOnce(&mut Vec<u8>)) -> (tempfile::TempDir, PathBuf) {
    let mut bytes = std::fs::read(blo()).unwrap();
    edit(&mut bytes);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, &bytes).unwrap();
    (dir, path)
}

fn format_error(path: &Path) -> String {
    let err = open(path).unwrap_err();
    assert!(matches!(err, Error::Format { .. }), "{err:?}");
    let msg = err.to_string();
    let name = path.file_name().unwrap().to_str().unwrap();
    assert!(msg.contains(name), "error does not name the file: {msg}");
    msg
}

#[test]
fn truncated_file() {
    let (_d, path) = copy_with("cut.blo", |b| b.clear());
    assert!(format_error(&path).contains("empty"));
    for cut in [5usize, 100, 239, 240, 4112, 128_563] {
        let (_d, path) = copy_with("cut.blo", |b| b.truncate(cut));
        let msg = format_error(&path);
        assert!(
            msg.contains("truncated") || msg.contains("IMGBLO") || msg.contains("unknown format"),
            "{cut}: {msg}"
        );
    }
}

#[test]
fn header_lying_about_size() {
    // NY = 4 rows instead of 3: the file is one row short.
    let (_d, path) = copy_with("rows.blo", |b| {
        b[26..28].copy_from_slice(&4u16.to_le_bytes())
    });
    assert!(format_error(&path).contains("truncated"));
    // Pattern size 143: the file is long enough but the records do not line up.
    let (_d, path) = copy_with("side.blo", |b| {
        b[20..22].copy_from_slice(&143u16.to_le_bytes())
    });
    assert!(format_error(&path).contains("AA 55"));
    // Data offset moved 2 bytes back.
    let (_d, path) = copy_with("offset.blo", |b| {
        b[12..16].copy_from_slice(&4110u32.to_le_bytes())
    });
    assert!(format_error(&path).contains("record marker"));
    // Huge scan.
    let (_d, path) = copy_with("huge.blo", |b| {
        b[24..28].copy_from_slice(&[0xff, 0xff, 0xff, 0xff]);
        b[20..22].copy_from_slice(&[0xff, 0xff]);
    });
    assert!(format_error(&path).contains("truncated"));
}

#[test]
fn bad_magic_and_empty_scan() {
    let (_d, path) = copy_with("magic.blo", |b| b[6] = 0x03);
    assert!(format_error(&path).contains("magic"));
    let (_d, path) = copy_with("empty.blo", |b| {
        b[24..26].copy_from_slice(&0u16.to_le_bytes())
    });
    assert!(format_error(&path).contains("empty scan"));
    let (_d, path) = copy_with("notblo.blo", |b| b[..6].copy_from_slice(b"XXXXXX"));
    assert!(format_error(&path).contains("IMGBLO"));
}

#[test]
fn header_parser_agrees_with_rsciio_fields() {
    let bytes = std::fs::read(blo()).unwrap();
    let h = blockfile::parse_header(&bytes).unwrap();
    // Values rsciio reports for this file's header.
    assert_eq!((h.scan_rows, h.scan_cols, h.pattern_size), (3, 2, 144));
    assert_eq!((h.vbf_offset, h.data_offset), (4096, 4112));
    assert_eq!((h.step_x_nm, h.step_y_nm), (12.8, 12.8));
    assert_eq!(h.beam_energy_v, 200_000);
    assert_eq!(h.scan_rotation_deg, 25.0);
    assert_eq!(h.camera_length_mm, 200.0);
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

        // Mutations in the header and the first records, and truncation anywhere: open and read
        // every frame, Ok or Err but never a panic.
        #[test]
        fn mutated_blockfile(
            edits in proptest::collection::vec((0usize..4200, any::<u8>()), 1..8),
            cut in proptest::option::of(0usize..130_000),
        ) {
            let (_d, path) = copy_with("fuzz.blo", |b| {
                for &(pos, byte) in &edits {
                    b[pos] = byte;
                }
                if let Some(cut) = cut {
                    b.truncate(cut.min(b.len()));
                }
            });
            if let Ok(scan) = open(&path) {
                let mut buf = FrameBuffer::new();
                for i in 0..scan.n_frames() {
                    let _ = scan.frame(i, &mut buf);
                }
            }
        }
    }
}
