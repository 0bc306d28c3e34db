//! Dectris master + data files and Velox EMD through the public `open` and the CLI, against the
//! independent readers' values (`scripts/crosscheck_dectris_velox.py`).

use crate::common::{self, polarmap};
use crate::crosscheck::assert_matches_in;

use polarmap_core::scan::{open, open_with, OpenOptions};
use std::path::{Path, PathBuf};

const JSON: &str = "crosscheck_dectris_velox.json";

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

#[test]
fn dectris_fixtures_match_rosettasciio() {
    for base in ["arina_bslz4", "eiger_lz4", "eiger_deflate", "eiger_bs_raw"] {
        let key = format!("{base}_master.h5");
        let scan = open(data(&format!("dectris/{key}"))).unwrap();
        assert_eq!(scan.format(), "dectris");
        assert_matches_in(JSON, &scan, &key);
    }
    let scan = open(common::testdata("arina/test_00_master.h5")).unwrap();
    assert_matches_in(JSON, &scan, "test_00_master.h5");
}

/// The master's pixel mask and flatfield, as h5py reads them, against what polarmap reports and
/// applies: counts, the flags, every flagged pixel 0 in every frame, and every other pixel equal
/// to h5py's frames with polarmap's rule applied (`assert_matches_in`).
fn assert_corrections(scan: &polarmap_core::scan::Scan, key: &str) {
    let want = crate::crosscheck::expected_in(JSON, key)["corrections"].clone();
    let got = scan
        .corrections()
        .expect("the master has a mask and a flatfield");
    assert_eq!(
        got.masked_pixels as u64,
        want["masked_pixels"].as_u64().unwrap(),
        "{key}"
    );
    assert_eq!(
        got.mask_applied_by_detector,
        want["mask_applied_by_detector"].as_bool(),
        "{key}"
    );
    assert_eq!(
        got.flatfield_applied_by_detector,
        want["flatfield_applied_by_detector"].as_bool(),
        "{key}"
    );
    assert_eq!(
        got.flatfield_applied_here,
        want["flatfield_applied_here"].as_bool().unwrap()
    );
    assert!(got.notes.is_empty(), "{key}: {:?}", got.notes);
    assert!(got.flatfield_in_file, "{key}");
    let w = scan.frame_shape()[1];
    let mut scratch = polarmap_core::scan::FrameBuffer::new();
    for i in 0..scan.n_frames() {
        let f = scan.frame(i, &mut scratch).unwrap().to_f64_vec();
        for (k, p) in want["flagged"].as_array().unwrap().iter().enumerate() {
            let (r, c) = (
                p[0].as_u64().unwrap() as usize,
                p[1].as_u64().unwrap() as usize,
            );
            let raw = want["raw_at_flagged"][k][i].as_f64().unwrap();
            assert_eq!(
                f[r * w + c],
                0.0,
                "{key} frame {i} pixel ({r}, {c}), stored {raw}"
            );
        }
    }
}

#[test]
fn dectris_masks_and_flatfields_are_applied_like_h5py_reads_them() {
    // Mask and flatfield not applied by the detector: a hot pixel of 60000 counts, a dead one,
    // gap/cold/noisy flags; polarmap zeroes the six and multiplies by the flatfield (float32).
    let key = "eiger_masked_master.h5";
    let scan = open(data(&format!("dectris/{key}"))).unwrap();
    assert_matches_in(JSON, &scan, key);
    assert_corrections(&scan, key);
    let want = crate::crosscheck::expected_in(JSON, key)["corrections"].clone();
    assert_eq!(
        want["raw_at_flagged"][1][0], 60000,
        "the hot pixel is in the file"
    );
    // Applied by the detector: flagged pixels stored as 2^32 - 1 read 0; the flatfield is not
    // applied twice, so the frames stay uint32 and equal h5py's elsewhere.
    let key = "arina_mask_applied_master.h5";
    let scan = open(data(&format!("dectris/{key}"))).unwrap();
    assert_eq!(scan.dtype().name(), "uint32");
    assert_matches_in(JSON, &scan, key);
    assert_corrections(&scan, key);
    // The real ARINA master: pixel_mask all 0 (applied by the detector), flatfield all 1 (not
    // applied): nothing masked and the stored uint32 frames unchanged.
    let scan = open(common::testdata("arina/test_00_master.h5")).unwrap();
    assert_eq!(scan.dtype().name(), "uint32");
    assert_corrections(&scan, "test_00_master.h5");
}

#[test]
fn a_masked_hot_pixel_does_not_move_the_centre_of_mass() {
    // The hot pixel at (3, 3) (60000 counts against a disk of ~50 pixels x 900) would pull every
    // CoM ~3 px towards it; masked, the CoM stays on the disk centre the fixture drew,
    // (8 + 2 sin 0.7i, 8 + 2 cos 0.4i) for frame i.
    use polarmap_core::analysis::{pattern_pass, DetectorGeometry};
    let master = data("dectris/eiger_masked_master.h5");
    let scan = open(&master).unwrap();
    let geometry = DetectorGeometry {
        center_row: 8.0,
        center_col: 8.0,
        bf_radius: 4.0,
        adf_inner: 5.0,
        adf_outer: 8.0,
    };
    let maps = pattern_pass(&scan, &geometry, &polarmap_core::progress::Progress::new()).unwrap();
    for i in 0..scan.n_frames() {
        let (cy, cx) = (
            8.0 + 2.0 * (i as f32 * 0.7).sin(),
            8.0 + 2.0 * (i as f32 * 0.4).cos(),
        );
        let (r, c) = (maps.com_row[[0, i]], maps.com_col[[0, i]]);
        assert!(
            (r - cy).abs() < 0.5 && (c - cx).abs() < 0.5,
            "frame {i}: CoM ({r}, {c}), disk at ({cy}, {cx})"
        );
    }
    let (ok, stdout, stderr) = polarmap(&["info", master.to_str().unwrap(), "--json"]);
    assert!(ok, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["corrections"]["masked_pixels"], 6);
    assert_eq!(v["corrections"]["flatfield_applied_here"], true);
    assert_eq!(v["dtype"], "float32");
}

#[test]
fn velox_stacks_match_rosettasciio() {
    let scan = open(data("velox/velox_diffraction_stack.emd")).unwrap();
    assert_eq!(scan.format(), "velox");
    assert_matches_in(JSON, &scan, "velox_diffraction_stack.emd");
    let path = common::testdata("velox/fei_example_tem_stack.emd");
    let want = crate::crosscheck::expected_in(JSON, "fei_example_tem_stack.emd");
    let options = OpenOptions {
        dataset: Some(want["dataset"].as_str().unwrap().into()),
        ..Default::default()
    };
    assert_matches_in(
        JSON,
        &open_with(&path, &options).unwrap(),
        "fei_example_tem_stack.emd",
    );
}

#[test]
fn cli_info_and_com_on_a_dectris_master() {
    let master = data("dectris/arina_bslz4_master.h5");
    let (ok, stdout, stderr) = polarmap(&["info", master.to_str().unwrap(), "--json"]);
    assert!(ok, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["shape"], serde_json::json!([3, 4, 24, 24]));
    assert_eq!(v["dtype"], "uint32");
    assert_eq!(v["calibration"]["energy_kv"], 300.0);
    assert_eq!(v["calibration"]["scan_step_a"], 2.5);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("com.npy");
    let (ok, _, stderr) = polarmap(&[
        "com",
        master.to_str().unwrap(),
        "--descan",
        "none",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    assert!(out.exists());
}

#[test]
fn cli_names_what_a_velox_file_holds_when_it_is_not_a_scan() {
    let path = common::testdata("velox/fei_example_dpc_titles.emd");
    let (ok, _, stderr) = polarmap(&["info", path.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        stderr.contains("fei_example_dpc_titles.emd")
            && stderr.contains("without a 4D-STEM scan")
            && stderr.contains("DF4"),
        "{stderr}"
    );
}
