//! The per-pattern pass against an independent direct computation, and physics invariants.

use polarmap_core::analysis::{
    detect_bf_disk, mean_pattern, pattern_pass, pixel_stats, sample_indices, ComField, Descan,
    DetectorGeometry, ScanRotation,
};
use polarmap_core::scan::{npy, DType};
use polarmap_core::Progress;
use std::path::Path;

const DET: usize = 48;

/// A soft-edged disk of radius 9 at (row, col) on a background of 0.25.
fn pattern(center_row: f64, center_col: f64) -> Vec<f64> {
    (0..DET * DET)
        .map(|i| {
            let (r, c) = ((i / DET) as f64, (i % DET) as f64);
            let d = (r - center_row).hypot(c - center_col);
            0.25 + 100.0 * (9.0 - d + 0.5).clamp(0.0, 1.0)
        })
        .collect()
}

/// Disk centre at scan position (r, c): a known shift field plus a linear descan.
fn center_at(r: usize, c: usize) -> (f64, f64) {
    let (r, c) = (r as f64, c as f64);
    (
        23.5 + 1.5 * (c * 0.7).sin() + 0.05 * r,
        23.5 + 1.2 * (r * 0.9).cos() - 0.03 * c,
    )
}

fn write_scan(path: &Path, rows: usize, cols: usize, dtype: DType, big_endian: bool) {
    let mut bytes = npy::header_bytes(dtype, &[rows, cols, DET, DET]);
    if big_endian {
        // Same header with the byte-order character flipped.
        let pos = bytes
            .windows(2)
            .position(|w| w == b"<u" || w == b"<f")
            .unwrap();
        bytes[pos] = b'>';
    }
    for r in 0..rows {
        for c in 0..cols {
            let (cr, cc) = center_at(r, c);
            for v in pattern(cr, cc) {
                match (dtype, big_endian) {
                    (DType::U16, false) => bytes.extend((v.round() as u16).to_le_bytes()),
                    (DType::U16, true) => bytes.extend((v.round() as u16).to_be_bytes()),
                    (DType::U8, _) => bytes.push(v.round() as u8),
                    (DType::F32, false) => bytes.extend((v as f32).to_le_bytes()),
                    (DType::F64, false) => bytes.extend(v.to_le_bytes()),
                    (DType::F64, true) => bytes.extend(v.to_be_bytes()),
                    other => panic!("not used: {other:?}"),
                }
            }
        }
    }
    std::fs::write(path, bytes).unwrap();
}

/// CoM, BF and ADF of one pattern by a direct loop in f64: the independent reference.
fn reference(pixels: &[f64], g: &DetectorGeometry) -> (f64, f64, f64, f64, f64) {
    let (mut s, mut sr, mut sc, mut bf, mut adf) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (i, &v) in pixels.iter().enumerate() {
        let (r, c) = (i / DET, i % DET);
        s += v;
        sr += r as f64 * v;
        sc += c as f64 * v;
        let (in_bf, in_adf) = g.contains(r, c);
        bf += if in_bf { v } else { 0.0 };
        adf += if in_adf { v } else { 0.0 };
    }
    (s, sr / s, sc / s, bf, adf)
}

fn geometry() -> DetectorGeometry {
    DetectorGeometry {
        center_row: 23.5,
        center_col: 23.5,
        bf_radius: 10.0,
        adf_inner: 12.0,
        adf_outer: 22.0,
    }
}

#[test]
fn pass_matches_direct_computation_for_every_dtype() {
    let dir = tempfile::tempdir().unwrap();
    let (rows, cols) = (5, 7);
    for (dtype, big) in [
        (DType::U16, false),
        (DType::U16, true),
        (DType::U8, false),
        (DType::F32, false),
        (DType::F64, true),
    ] {
        let path = dir.path().join(format!("s_{dtype}_{big}.npy"));
        write_scan(&path, rows, cols, dtype, big);
        let scan = polarmap_core::open(&path).unwrap();
        assert_eq!(scan.shape(), [rows, cols, DET, DET]);
        assert_eq!(scan.dtype(), dtype);
        let g = geometry();
        let maps = pattern_pass(&scan, &g, &Progress::new()).unwrap();
        for r in 0..rows {
            for c in 0..cols {
                let pixels: Vec<f64> = scan
                    .frame_f32(r, c)
                    .unwrap()
                    .iter()
                    .map(|&v| v as f64)
                    .collect();
                let (s, cr, cc, bf, adf) = reference(&pixels, &g);
                let close =
                    |a: f32, b: f64, tol: f64| (a as f64 - b).abs() <= tol * b.abs().max(1.0);
                assert!(close(maps.sum[(r, c)], s, 1e-5), "{dtype} sum");
                assert!(close(maps.com_row[(r, c)], cr, 1e-5), "{dtype} com_row");
                assert!(close(maps.com_col[(r, c)], cc, 1e-5), "{dtype} com_col");
                assert!(close(maps.bf[(r, c)], bf, 1e-5), "{dtype} bf");
                assert!(close(maps.adf[(r, c)], adf, 1e-5), "{dtype} adf");
            }
        }
    }
}

#[test]
fn com_follows_the_disk_and_plane_descan_removes_the_linear_part() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shift.npy");
    let (rows, cols) = (12, 12);
    write_scan(&path, rows, cols, DType::F64, false);
    let scan = polarmap_core::open(&path).unwrap();
    let maps = pattern_pass(&scan, &geometry(), &Progress::new()).unwrap();
    // The disk dominates the intensity, so the CoM follows the disk centre closely
    // (the flat background pulls it slightly toward the frame centre).
    for r in 0..rows {
        for c in 0..cols {
            let (cr, cc) = center_at(r, c);
            assert!((maps.com_row[(r, c)] as f64 - cr).abs() < 0.15);
            assert!((maps.com_col[(r, c)] as f64 - cc).abs() < 0.15);
        }
    }
    let plane = Descan::fit_plane(&maps);
    let Descan::Plane { row, col } = plane else {
        unreachable!()
    };
    assert!((row.slope_row - 0.05).abs() < 0.01, "{row:?}");
    assert!((col.slope_col + 0.03).abs() < 0.01, "{col:?}");
    // Image frame: x = column shift, y = −row shift.
    let field = ComField::from_maps(&maps, &plane, ScanRotation::default());
    let (dr, dc) = (
        maps.com_row[(3, 4)] as f64 - plane.at(3, 4)[0],
        maps.com_col[(3, 4)] as f64 - plane.at(3, 4)[1],
    );
    assert!((field.x[(3, 4)] as f64 - dc).abs() < 1e-5);
    assert!((field.y[(3, 4)] as f64 + dr).abs() < 1e-5);
}

#[test]
fn mean_pattern_and_disk_detection_on_a_scan() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("disk.npy");
    write_scan(&path, 6, 6, DType::F32, false);
    let scan = polarmap_core::open(&path).unwrap();
    let mean = mean_pattern(&scan, &sample_indices(36, None), &Progress::new()).unwrap();
    let direct = (0..36).map(|i| scan.frame_f32(i / 6, i % 6).unwrap()).fold(
        vec![0f64; DET * DET],
        |mut acc, f| {
            acc.iter_mut()
                .zip(f)
                .for_each(|(a, v)| *a += v as f64 / 36.0);
            acc
        },
    );
    for (a, b) in mean.iter().zip(&direct) {
        assert!((a - b).abs() < 1e-9);
    }
    let disk = detect_bf_disk(&mean).unwrap();
    let (mr, mc) = (0..36).fold((0.0, 0.0), |(a, b), i| {
        let (r, c) = center_at(i / 6, i % 6);
        (a + r / 36.0, b + c / 36.0)
    });
    assert!((disk.center_row - mr).abs() < 0.3, "{disk:?} vs {mr}");
    assert!((disk.center_col - mc).abs() < 0.3, "{disk:?} vs {mc}");
    assert!((disk.radius_px - 9.0).abs() < 1.0, "{disk:?}");
}

#[test]
fn zero_pattern_has_a_defined_com_and_nan_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zeros_nan.npy");
    let mut bytes = npy::header_bytes(DType::F32, &[1, 2, 4, 4]);
    bytes.extend(std::iter::repeat_n(0u8, 16 * 4)); // all-zero pattern
    for i in 0..16 {
        let v = if i == 5 { f32::NAN } else { 1.0 };
        bytes.extend(v.to_le_bytes());
    }
    std::fs::write(&path, &bytes).unwrap();
    let scan = polarmap_core::open(&path).unwrap();
    let g = DetectorGeometry {
        center_row: 1.5,
        center_col: 1.5,
        bf_radius: 1.0,
        adf_inner: 1.0,
        adf_outer: 2.0,
    };
    let err = pattern_pass(&scan, &g, &Progress::new())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("zeros_nan.npy") && err.contains("(0, 1)") && err.contains("NaN"),
        "{err}"
    );
    let err = pixel_stats(&scan, &Progress::new())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("zeros_nan.npy") && err.contains("NaN"),
        "{err}"
    );

    // Only the zero pattern: CoM at the detector centre, no NaN.
    let path = dir.path().join("zeros.npy");
    let mut bytes = npy::header_bytes(DType::U16, &[1, 1, 4, 4]);
    bytes.extend(std::iter::repeat_n(0u8, 16 * 2));
    std::fs::write(&path, &bytes).unwrap();
    let maps = pattern_pass(&polarmap_core::open(&path).unwrap(), &g, &Progress::new()).unwrap();
    assert_eq!((maps.com_row[(0, 0)], maps.com_col[(0, 0)]), (1.5, 1.5));
    assert_eq!(maps.sum[(0, 0)], 0.0);
}

#[test]
fn cancelled_pass_stops_with_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.npy");
    write_scan(&path, 4, 4, DType::U16, false);
    let scan = polarmap_core::open(&path).unwrap();
    let progress = Progress::new();
    progress.cancel();
    let err = pattern_pass(&scan, &geometry(), &progress).unwrap_err();
    assert!(matches!(err, polarmap_core::Error::Cancelled));
}

#[test]
fn stats_match_direct_sums() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("st.npy");
    write_scan(&path, 3, 3, DType::U16, false);
    let scan = polarmap_core::open(&path).unwrap();
    let stats = pixel_stats(&scan, &Progress::new()).unwrap();
    let all: Vec<f64> = (0..9)
        .flat_map(|i| scan.frame_f32(i / 3, i % 3).unwrap())
        .map(|v| v as f64)
        .collect();
    assert_eq!(stats.sum, all.iter().sum::<f64>());
    assert_eq!(stats.max, all.iter().cloned().fold(f64::MIN, f64::max));
    assert_eq!(stats.min, all.iter().cloned().fold(f64::MAX, f64::min));
    assert_eq!(stats.count, all.len() as u64);
}

/// The demo scan (a simulated KNN mosaic, 8 scan pixels per unit cell, the A-site column at
/// scan pixel (0, 0)): extra virtual detectors against the fixed ones, and the iCoM image
/// against where the atoms are.
#[test]
fn virtual_detectors_and_icom_on_the_demo_scan() {
    use polarmap_core::analysis::{icom, idpc, pattern_pass_with, VirtualDetector};
    use polarmap_core::session::{DescanChoice, RotationChoice, Session};
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo.npy");
    let session = Session::open(&demo, &Default::default(), &Progress::new()).unwrap();
    let g = session.default_detectors();
    let [rows, cols] = session.scan().frame_shape();
    // The BF disk drawn as a mask, the ADF annulus, and the annulus in four quadrants.
    let bf_mask = VirtualDetector::Mask {
        rows,
        cols,
        pixels: (0..rows * cols)
            .map(|i| g.contains(i / cols, i % cols).0)
            .collect(),
    };
    let ring = VirtualDetector::Annulus {
        inner: g.adf_inner,
        outer: g.adf_outer,
        sector: None,
    };
    let mut detectors = vec![bf_mask, ring];
    detectors.extend(VirtualDetector::quadrants(0.0, g.bf_radius));
    let maps = pattern_pass_with(session.scan(), &g, &detectors, &Progress::new()).unwrap();
    let v = &maps.virtual_images;
    assert_eq!(v.len(), 6);
    let close = |a: f32, b: f32| (a - b).abs() <= 1e-4 * b.abs().max(1.0);
    for ((r, c), &bf) in maps.bf.indexed_iter() {
        assert!(close(v[0][(r, c)], bf), "BF mask at ({r}, {c})");
        assert!(
            close(v[1][(r, c)], maps.adf[(r, c)]),
            "ADF annulus at ({r}, {c})"
        );
        let quadrants: f32 = (2..6).map(|k| v[k][(r, c)]).sum();
        // The quadrants of a segmented detector over the BF disk tile that disk.
        assert!(
            close(quadrants, bf),
            "quadrants at ({r}, {c}): {quadrants} against {bf}"
        );
    }
    // A detector that does not fit the patterns is refused, naming it.
    let wrong = VirtualDetector::Mask {
        rows: 3,
        cols: 3,
        pixels: vec![true; 9],
    };
    let err = pattern_pass_with(session.scan(), &g, &[wrong], &Progress::new()).unwrap_err();
    assert!(err.to_string().contains("virtual detector 1"), "{err}");

    // iCoM: the projected potential is highest on the atom columns (A sites at multiples of 8
    // scan pixels, B–O columns at cell centres) and lowest between them (quarter-cell points).
    let progress = Progress::new();
    let com = session
        .com(
            &maps,
            DescanChoice::Plane,
            RotationChoice::Calibration,
            &progress,
        )
        .unwrap();
    let phase = icom(&com.field);
    let (a_site, b_site, between) = (
        lattice_mean(&phase, [0, 0]),
        lattice_mean(&phase, [4, 4]),
        lattice_mean(&phase, [2, 2]),
    );
    assert!(
        a_site > between && b_site > between,
        "A {a_site}, B–O {b_site}, between {between}"
    );
    // Segmented DPC over the BF disk deflects the way the CoM does (same sign and direction,
    // not the same numbers: it is a difference of intensities, not a first moment), and its
    // integral shows the same columns.
    let q = [&v[2], &v[3], &v[4], &v[5]];
    let dpc = polarmap_core::analysis::dpc_field(q).rotated(com.rotation);
    let as_f64 = |a: &ndarray::Array2<f32>| a.mapv(f64::from);
    let (cx, cy) = (
        correlation(&as_f64(&dpc.x), &as_f64(&com.field.x)),
        correlation(&as_f64(&dpc.y), &as_f64(&com.field.y)),
    );
    assert!(cx > 0.5 && cy > 0.5, "DPC against CoM: x {cx}, y {cy}");
    let dpc_phase = idpc(q, &com.descan, com.rotation);
    let (a, b, mid) = (
        lattice_mean(&dpc_phase, [0, 0]),
        lattice_mean(&dpc_phase, [4, 4]),
        lattice_mean(&dpc_phase, [2, 2]),
    );
    assert!(a > mid && b > mid, "iDPC: A {a}, B–O {b}, between {mid}");
}

/// Mean of `image` over the demo's lattice (every 8 scan pixels) shifted by `offset`.
fn lattice_mean(image: &ndarray::Array2<f64>, offset: [usize; 2]) -> f64 {
    let (rows, cols) = image.dim();
    let values: Vec<f64> = (offset[0]..rows)
        .step_by(8)
        .flat_map(|r| (offset[1]..cols).step_by(8).map(move |c| image[(r, c)]))
        .collect();
    values.iter().sum::<f64>() / values.len() as f64
}

fn correlation(a: &ndarray::Array2<f64>, b: &ndarray::Array2<f64>) -> f64 {
    let (ma, mb) = (a.mean().unwrap(), b.mean().unwrap());
    let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b.iter()) {
        ab += (x - ma) * (y - mb);
        aa += (x - ma) * (x - ma);
        bb += (y - mb) * (y - mb);
    }
    ab / (aa * bb).sqrt()
}
