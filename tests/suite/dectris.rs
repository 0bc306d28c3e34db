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
