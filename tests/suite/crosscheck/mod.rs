//! Compares a scan opened by polarmap with the values an independent reader (h5py, RosettaSciIO)
//! found, as written by `scripts/crosscheck_hdf5_blo.py` to `tests/data/crosscheck_hdf5_blo.json`
//! (and `scripts/crosscheck_dm_mrc_tvips.py` to `tests/data/crosscheck_dm_mrc_tvips.json`,
//! `scripts/crosscheck_dectris_velox.py` to `tests/data/crosscheck_dectris_velox.json`).
#![allow(dead_code)]

use polarmap_core::scan::{FrameBuffer, FrameRef, FrameVisitor, Pixel, Scan};
use serde_json::Value;
use std::path::Path;

pub fn expected(key: &str) -> Value {
    expected_in("crosscheck_hdf5_blo.json", key)
}

/// The entry `key` of `tests/data/{json}`.
pub fn expected_in(json: &str, key: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(json);
    let text = std::fs::read_to_string(&path).expect("read crosscheck JSON");
    let all: Value = serde_json::from_str(&text).expect("parse crosscheck JSON");
    all.get(key)
        .unwrap_or_else(|| panic!("no entry {key} in {}", path.display()))
        .clone()
}

/// A frame's pixels as f64, exactly (f64 data must not pass through f32).
pub fn to_f64(frame: FrameRef<'_>) -> Vec<f64> {
    struct V;
    impl FrameVisitor for V {
        type Output = Vec<f64>;
        fn visit<T: Pixel>(self, p: &[T]) -> Vec<f64> {
            p.iter().map(|v| v.to_f64()).collect()
        }
    }
    frame.visit(V)
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()).max(1e-30)
}

fn as_usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect()
}

/// Every frame read, all statistics compared with the independent reader's.
pub fn assert_matches(scan: &Scan, key: &str) {
    assert_matches_in("crosscheck_hdf5_blo.json", scan, key)
}

/// [`assert_matches`] against the entry `key` of `tests/data/{json}`.
pub fn assert_matches_in(json: &str, scan: &Scan, key: &str) {
    let e = expected_in(json, key);
    let shape = as_usizes(&e["shape"]);
    assert_eq!(scan.shape().to_vec(), shape, "{key}: shape");
    let dtype = e["dtype"]
        .as_str()
        .unwrap()
        .trim_start_matches(['<', '>', '|']);
    let dtype = match dtype {
        "u2" => "uint16",
        other => other,
    };
    assert_eq!(scan.dtype().name(), dtype, "{key}: dtype");

    let [rows, cols, h, w] = scan.shape();
    let mut scratch = FrameBuffer::new();
    let (mut sum, mut max, mut argmax) = (0.0f64, f64::NEG_INFINITY, [0usize; 4]);
    let mut cube = Vec::with_capacity(rows * cols * h * w);
    let mut frame_sums = Vec::new();
    for i in 0..scan.n_frames() {
        let f = to_f64(scan.frame(i, &mut scratch).unwrap());
        assert_eq!(f.len(), h * w);
        let mut fs = 0.0f64;
        for (p, &v) in f.iter().enumerate() {
            fs += v;
            if v > max {
                max = v;
                argmax = [i / cols, i % cols, p / w, p % w];
            }
        }
        sum += fs;
        frame_sums.push(fs);
        cube.extend_from_slice(&f);
    }
    assert!(
        close(sum, e["sum"].as_f64().unwrap(), 1e-9),
        "{key}: sum {sum} vs {}",
        e["sum"]
    );
    assert!(
        close(max, e["max"].as_f64().unwrap(), 1e-15),
        "{key}: max {max} vs {}",
        e["max"]
    );
    assert_eq!(argmax.to_vec(), as_usizes(&e["argmax"]), "{key}: argmax");
    for (i, expected) in e["frame_sums"].as_array().unwrap().iter().enumerate() {
        assert!(
            close(frame_sums[i], expected.as_f64().unwrap(), 1e-9),
            "{key}: sum of frame {i}: {} vs {expected}",
            frame_sums[i]
        );
    }
    for probe in e["pixels"].as_array().unwrap() {
        let [r, c, y, x] = as_usizes(&probe[0])[..] else {
            panic!("bad probe")
        };
        let want = probe[1].as_f64().unwrap();
        let got = cube[((r * cols + c) * h + y) * w + x];
        // Pixels are exact up to serde_json's float parsing (last-bit rounding).
        assert!(
            close(got, want, 1e-15),
            "{key}: pixel [{r},{c},{y},{x}] = {got}, expected {want}"
        );
        assert_eq!(scan.frame_f32(r, c).unwrap()[y * w + x], got as f32);
    }
}
