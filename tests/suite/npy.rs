//! `.npy` files written by NumPy itself (scripts/make_npy_testdata.py): every dtype and byte
//! order opens with the right shape, dtype and every pixel value.

use polarmap_core::DType;
use std::path::PathBuf;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/npy")
        .join(name)
}

/// value(frame, row, col) as the script writes it.
fn expected(frame: usize, row: usize, col: usize) -> f64 {
    (frame * 100 + row * 7 + col) as f64
}

#[test]
fn numpy_files_open_with_every_value() {
    let cases = [
        ("u1_2d.npy", [1, 1, 3, 4], DType::U8),
        ("u2le_4d.npy", [2, 3, 3, 4], DType::U16),
        ("u2be_4d.npy", [2, 3, 3, 4], DType::U16),
        ("u4le_3d.npy", [1, 5, 3, 4], DType::U32),
        ("i2be_3d.npy", [1, 5, 3, 4], DType::I16),
        ("i4le_4d.npy", [1, 6, 3, 4], DType::I32),
        ("f4be_4d.npy", [3, 2, 3, 4], DType::F32),
        ("f8le_3d.npy", [1, 4, 3, 4], DType::F64),
        ("v2_f4le_4d.npy", [2, 2, 3, 4], DType::F32),
    ];
    for (name, shape, dtype) in cases {
        let scan = polarmap_core::open(data(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(scan.shape(), shape, "{name}");
        assert_eq!(scan.dtype(), dtype, "{name}");
        let [rows, cols, h, w] = shape;
        for r in 0..rows {
            for c in 0..cols {
                let frame = scan.frame_f32(r, c).unwrap();
                for (i, &v) in frame.iter().enumerate() {
                    let want = expected(r * cols + c, i / w, i % w);
                    assert_eq!(v as f64, want, "{name} frame ({r},{c}) pixel {i}");
                }
                assert_eq!(frame.len(), h * w);
            }
        }
    }
}

#[test]
fn fortran_order_is_refused_clearly() {
    let err = polarmap_core::open(data("fortran.npy"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("fortran.npy") && err.contains("Fortran"),
        "{err}"
    );
}

/// Headers whose sizes overflow or cannot be addressed are errors naming the file, found from
/// the header alone (the file is a few hundred bytes: nothing is allocated for the shape).
#[test]
fn overflowing_shapes_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let huge = usize::MAX / 2;
    for (name, shape) in [
        ("scan_overflow.npy", vec![huge, 4, 2, 2]),
        ("frame_overflow.npy", vec![2, huge, 4]),
        ("bytes_overflow.npy", vec![1, 1 << 31, 1 << 31]),
        ("too_big.npy", vec![1 << 20, 1 << 20, 16, 16]),
    ] {
        let path = dir.path().join(name);
        let mut bytes = polarmap_core::scan::npy::header_bytes(DType::F32, &shape);
        bytes.extend_from_slice(&[0; 64]);
        std::fs::write(&path, &bytes).unwrap();
        let err = polarmap_core::open(&path).unwrap_err().to_string();
        assert!(err.starts_with(path.to_str().unwrap()), "{name}: {err}");
        assert!(
            err.contains("overflow") || err.contains("truncated"),
            "{name}: {err}"
        );
    }
}

/// Fuzz smoke (runs in `cargo test`; `scripts/fuzz.sh` runs the libFuzzer target `npy`): real
/// NumPy files with bytes of their header changed and cut anywhere open and read as Ok or Err.
/// Nothing catches panics here, so one fails the test.
mod fuzz {
    use super::*;
    use polarmap_core::scan::FrameBuffer;
    use proptest::prelude::*;

    const SEEDS: &[&str] = &[
        "u1_2d.npy",
        "u2be_4d.npy",
        "f8le_3d.npy",
        "i2be_3d.npy",
        "v2_f4le_4d.npy",
        "fortran.npy",
    ];

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

        #[test]
        fn mutated_npy_files(
            seed in 0..SEEDS.len(),
            // Header bytes, mostly the characters a shape and a dtype are written with.
            edits in proptest::collection::vec(
                (0usize..128, prop_oneof![
                    proptest::sample::select(b"0123456789(), '<>|uifL:{}".to_vec()),
                    any::<u8>(),
                ]),
                1..6,
            ),
            cut in proptest::option::of(0usize..600),
        ) {
            let mut bytes = std::fs::read(data(SEEDS[seed])).unwrap();
            for &(at, byte) in &edits {
                if at < bytes.len() {
                    bytes[at] = byte;
                }
            }
            if let Some(cut) = cut {
                bytes.truncate(cut.min(bytes.len()));
            }
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("fuzz.npy");
            std::fs::write(&path, &bytes).unwrap();
            match polarmap_core::open(&path) {
                Ok(scan) => {
                    let mut buf = FrameBuffer::new();
                    let n = scan.n_frames();
                    for i in (0..n.min(16)).chain([n - 1]) {
                        let frame = scan.frame(i, &mut buf).unwrap();
                        prop_assert_eq!(frame.len(), scan.frame_len());
                    }
                }
                Err(e) => prop_assert!(e.to_string().contains("fuzz.npy"), "{}", e),
            }
        }
    }
}

/// A 2×3 scan of 4×4 u16 frames (value = frame index) as a 4-D `.npy`.
fn write_4d(path: &std::path::Path) {
    let mut bytes = polarmap_core::scan::npy::header_bytes(DType::U16, &[2, 3, 4, 4]);
    for frame in 0..6u16 {
        for _ in 0..16 {
            bytes.extend(frame.to_le_bytes());
        }
    }
    std::fs::write(path, bytes).unwrap();
}

/// A sidecar whose scan_shape disagrees with a 4-D array's own is outvoted by the array, and
/// the scan says so in a warning naming both shapes; an agreeing sidecar gives no warning.
#[test]
fn a_4d_array_outvotes_a_disagreeing_sidecar_scan_shape_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scan.npy");
    write_4d(&path);
    let sidecar = dir.path().join("scan.meta.json");
    std::fs::write(&sidecar, r#"{"scan_shape": [3, 2], "energy_kv": 300}"#).unwrap();
    let scan = polarmap_core::open(&path).unwrap();
    assert_eq!(scan.shape(), [2, 3, 4, 4]);
    // Frame (1, 0) is the fourth frame in C order of a 2×3 scan (it would be the third of 3×2).
    assert_eq!(scan.frame_f32(1, 0).unwrap()[0], 3.0);
    // The rest of the sidecar still applies.
    assert_eq!(scan.calibration.energy_kv, Some(300.0));
    let warnings = scan.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("scan.npy")
            && warnings[0].contains("[3, 2]")
            && warnings[0].contains("[2, 3]"),
        "{}",
        warnings[0]
    );

    std::fs::write(&sidecar, r#"{"scan_shape": [2, 3]}"#).unwrap();
    let scan = polarmap_core::open(&path).unwrap();
    assert_eq!(scan.shape(), [2, 3, 4, 4]);
    assert!(scan.warnings().is_empty(), "{:?}", scan.warnings());
}

/// An empty file is reported as empty, naming it (not as an unknown format).
#[test]
fn an_empty_file_is_reported_as_empty() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nothing.npy");
    std::fs::write(&path, b"").unwrap();
    let message = polarmap_core::open(&path).unwrap_err().to_string();
    assert!(
        message.contains("nothing.npy") && message.contains("empty (0 bytes)"),
        "{message}"
    );
    assert!(!message.contains("unknown format"), "{message}");
}
