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
    let err = polarmap_core::open(data("fortran.npy")).unwrap_err().to_string();
    assert!(
        err.contains("fortran.npy") && err.contains("Fortran"),
        "{err}"
    );
}
