//! Gatan DM3/DM4, Direct Electron MRC and TVIPS readers against independent readers
//! (RosettaSciIO, mrcfile, LiberTEM): `scripts/crosscheck_dm_mrc_tvips.py` wrote the values.

use crate::{common, crosscheck};
use polarmap_core::scan::{open_with, OpenOptions};
use serde_json::Value;
use std::path::PathBuf;

const JSON: &str = "crosscheck_dm_mrc_tvips.json";

/// The file a JSON key names (`dir/name[:RxC]`) and the scan shape it was read with.
fn file_of(key: &str) -> (PathBuf, Option<[usize; 2]>) {
    let (name, shape) = match key.split_once(':') {
        Some((n, s)) => {
            let (r, c) = s.split_once('x').unwrap();
            (n, Some([r.parse().unwrap(), c.parse().unwrap()]))
        }
        None => (key, None),
    };
    let path = if name.starts_with("dm/") {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(name)
    } else {
        common::testdata(name)
    };
    (path, shape)
}

#[test]
fn every_file_matches_the_independent_readers() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(JSON);
    let all: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let keys: Vec<&String> = all.as_object().unwrap().keys().collect();
    assert!(keys.len() >= 24, "{keys:?}");
    for key in keys {
        let (path, scan_shape) = file_of(key);
        let options = OpenOptions {
            scan_shape,
            ..Default::default()
        };
        let scan = open_with(&path, &options).unwrap_or_else(|e| panic!("{key}: {e}"));
        crosscheck::assert_matches_in(JSON, &scan, key);
    }
}

/// The DM4 axis tags RosettaSciIO reads (scan 0.25 nm, detector 0.1 1/nm, 300 kV) become
/// polarmap's calibration: 2.5 Å steps and 0.1/nm × λ(300 kV) in mrad per pixel.
#[test]
fn dm4_calibration_follows_the_axis_tags() {
    let e = crosscheck::expected_in(JSON, "dm/de_movie_4d.dm4");
    let axes = e["calibration"]["axes"].as_array().unwrap();
    let (scan_nm, det_per_nm) = (axes[0][0].as_f64().unwrap(), axes[2][0].as_f64().unwrap());
    assert_eq!(
        (axes[0][1].as_str(), axes[2][1].as_str()),
        (Some("nm"), Some("1/nm"))
    );
    let kv = e["calibration"]["voltage_v"].as_f64().unwrap() / 1e3;
    let (path, _) = file_of("dm/de_movie_4d.dm4");
    let cal = polarmap_core::open(&path).unwrap().calibration;
    assert_eq!(cal.energy_kv, Some(kv));
    assert!((cal.scan_step_a.unwrap() - scan_nm * 10.0).abs() < 1e-9);
    let lambda_a = polarmap_core::scan::hdf5::electron_wavelength_a(kv);
    let want = det_per_nm / 10.0 * lambda_a * 1e3;
    assert!((cal.mrad_per_px.unwrap() - want).abs() < 1e-12 * want.max(1.0));
}

/// `polarmap info` opens the new formats by content and extension.
#[test]
fn cli_info_names_the_formats() {
    for (file, format) in [
        ("gatan/test-10.dm4", "dm4"),
        ("mrc/20241021_00405_movie.mrc", "mrc"),
        ("tvips/test_tvips_2345_split_001.tvips", "tvips"),
    ] {
        let path = common::testdata(file);
        let (ok, out, err) = common::polarmap(&["info", path.to_str().unwrap()]);
        assert!(ok && out.contains(format), "{file}: {out} {err}");
    }
}
