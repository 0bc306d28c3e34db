//! `polarmap simulate` end to end: presets and flags write labelled scans that polarmap reads
//! back, with calibration, ground truth and the acquisition effects asked for.

use polarmap_core::analysis::{pattern_pass, DetectorGeometry};
use polarmap_core::scan::Labels;
use polarmap_core::{Class, DType, Progress};

use crate::common::polarmap;

#[test]
fn quick_preset_writes_a_labelled_calibrated_scan_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sim");
    let args = [
        "simulate",
        "--preset",
        "quick",
        "--out-dir",
        out.to_str().unwrap(),
    ];
    let (ok, _, err) = polarmap(&args);
    assert!(ok, "{err}");
    let scan = polarmap_core::open(out.join("quick-RD.npy")).unwrap();
    assert_eq!(scan.shape(), [16, 16, 64, 64]);
    assert_eq!(scan.dtype(), DType::F32);
    assert_eq!(scan.labels, Some(Labels::Class(Class::RD)));
    let cal = scan.calibration;
    assert_eq!(
        (cal.energy_kv, cal.convergence_mrad),
        (Some(200.0), Some(24.0))
    );
    assert_eq!(cal.mrad_per_px, Some(1.25));
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("quick-RD.meta.json")).unwrap())
            .unwrap();
    let sim = &meta["simulation"];
    assert_eq!(sim["supercell"], serde_json::json!([2, 2, 10]));
    assert!((sim["thickness_a"].as_f64().unwrap() - 39.5).abs() < 1e-6);
    // RD: +x, −y in the image frame.
    assert!(sim["displacement_a"][0].as_f64().unwrap() > 0.1);
    assert!(sim["displacement_a"][1].as_f64().unwrap() < -0.1);

    let before = std::fs::read(out.join("quick-RD.npy")).unwrap();
    let (ok, _, err) = polarmap(&args);
    assert!(!ok && err.contains("already exists"), "{err}");
    assert_eq!(std::fs::read(out.join("quick-RD.npy")).unwrap(), before);
}

/// Mean CoM (row, col) over a scan.
fn mean_com(path: &std::path::Path) -> (f64, f64, f64) {
    let scan = polarmap_core::open(path).unwrap();
    let g = DetectorGeometry {
        center_row: 15.5,
        center_col: 15.5,
        bf_radius: 10.0,
        adf_inner: 11.0,
        adf_outer: 16.0,
    };
    let maps = pattern_pass(&scan, &g, &Progress::new()).unwrap();
    let n = maps.sum.len() as f64;
    (
        maps.com_row.iter().map(|&v| v as f64).sum::<f64>() / n,
        maps.com_col.iter().map(|&v| v as f64).sum::<f64>() / n,
        maps.sum.iter().map(|&v| v as f64).sum::<f64>() / n,
    )
}

#[test]
fn dose_counts_and_descan_are_applied() {
    let dir = tempfile::tempdir().unwrap();
    let common = [
        "simulate",
        "--class",
        "MU",
        "--cells",
        "2x2x4",
        "--scan",
        "4x4",
        "--detector",
        "32",
        "--max-mrad",
        "80",
        "--sampling",
        "0.1",
    ];
    let clean = dir.path().join("clean.npy");
    let mut args = common.to_vec();
    args.extend(["--out", clean.to_str().unwrap()]);
    let (ok, _, err) = polarmap(&args);
    assert!(ok, "{err}");
    let noisy = dir.path().join("noisy.npy");
    let mut args = common.to_vec();
    args.extend([
        "--out",
        noisy.to_str().unwrap(),
        "--dose",
        "20000",
        "--counts",
        "--descan",
        "3",
        "-2",
        "--seed",
        "4",
    ]);
    let (ok, _, err) = polarmap(&args);
    assert!(ok, "{err}");
    let scan = polarmap_core::open(&noisy).unwrap();
    assert_eq!(scan.dtype(), DType::U16);
    let (r0, c0, s0) = mean_com(&clean);
    let (r1, c1, s1) = mean_com(&noisy);
    // Intensities are fractions of the probe; counts are that times the dose, less what the
    // descan pushes off the detector.
    assert!(s0 > 0.9 && s0 <= 1.0, "clean sum {s0}");
    let ratio = s1 / s0 / 20000.0;
    assert!(
        ratio > 0.97 && ratio < 1.005,
        "counts {s1} vs {s0}: {ratio}"
    );
    // The descan moves the pattern by (3, −2) px (Poisson noise moves the mean CoM by < 0.05 px).
    assert!((r1 - r0 - 3.0).abs() < 0.1, "row shift {}", r1 - r0);
    assert!((c1 - c0 + 2.0).abs() < 0.1, "col shift {}", c1 - c0);

    let (ok, _, err) = polarmap(&[
        "simulate",
        "--class",
        "MU",
        "--cells",
        "2x2x4",
        "--scan",
        "2x2",
        "--detector",
        "16",
        "--sampling",
        "0.1",
        "--counts",
        "--out",
        dir.path().join("bad.npy").to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("dose"), "{err}");
}

#[test]
fn tiff_folder_output_opens_with_its_sidecar() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("scan");
    let (ok, _, err) = polarmap(&[
        "simulate",
        "--class",
        "LD",
        "--cells",
        "2x2x2",
        "--scan",
        "3x3",
        "--detector",
        "16",
        "--sampling",
        "0.1",
        "--tiff",
        "--out",
        folder.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let scan = polarmap_core::open(&folder).unwrap();
    assert_eq!(scan.format(), "tiff-folder");
    assert_eq!(scan.shape(), [3, 3, 16, 16]);
    assert_eq!(scan.labels, Some(Labels::Class(Class::LD)));
}

#[test]
fn prism_default_matches_plain_multislice() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, prism: &str| {
        let path = dir.path().join(name);
        let (ok, _, err) = polarmap(&[
            "simulate",
            "--class",
            "RU",
            "--cells",
            "2x2x6",
            "--scan",
            "3x3",
            "--detector",
            "32",
            "--sampling",
            "0.1",
            "--prism",
            prism,
            "--out",
            path.to_str().unwrap(),
        ]);
        assert!(ok, "{err}");
        let scan = polarmap_core::open(&path).unwrap();
        (0..9)
            .flat_map(|i| scan.frame_f32(i / 3, i % 3).unwrap())
            .collect::<Vec<f32>>()
    };
    let plain = run("plain.npy", "0");
    let prism = run("prism.npy", "1");
    let peak = plain.iter().cloned().fold(0f32, f32::max);
    let diff = plain
        .iter()
        .zip(&prism)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(diff <= 1e-4 * peak, "max diff {diff} of peak {peak}");
}
