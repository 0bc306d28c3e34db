//! Test helper: a scan against the values an independent reader found
//! (`scripts/crosscheck_*.py` → `tests/data/crosscheck_*.json`, summarised by
//! `scripts/crosscheck_common.py`). The integration tests have their own copy in
//! `tests/suite/crosscheck` (a separate crate cannot reach this `cfg(test)` module).

use super::{FrameBuffer, Scan};
use serde_json::Value;
use std::path::Path;

/// The entry `key` of `tests/data/{json}`.
pub(crate) fn expected(json: &str, key: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data")
        .join(json);
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str::<Value>(&text).unwrap()[key].clone()
}

/// Shape, dtype, the first frame sums, the total and the probed pixels, exactly.
pub(crate) fn assert_matches(scan: &Scan, json: &str, key: &str) {
    let e = expected(json, key);
    let shape: Vec<usize> = e["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    assert_eq!(scan.shape().to_vec(), shape, "{key}");
    assert_eq!(scan.dtype().name(), e["dtype"].as_str().unwrap(), "{key}");
    let [_, cols, _, w] = scan.shape();
    let mut scratch = FrameBuffer::new();
    let mut sum = 0.0;
    let mut frames = Vec::new();
    for i in 0..scan.n_frames() {
        let f = scan.frame(i, &mut scratch).unwrap().to_f64_vec();
        let s: f64 = f.iter().sum();
        if i < 4 {
            assert_eq!(s, e["frame_sums"][i].as_f64().unwrap(), "{key} frame {i}");
        }
        sum += s;
        frames.push(f);
    }
    assert_eq!(sum, e["sum"].as_f64().unwrap(), "{key}");
    for p in e["pixels"].as_array().unwrap() {
        let idx: Vec<usize> = p[0]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        let got = frames[idx[0] * cols + idx[1]][idx[2] * w + idx[3]];
        assert_eq!(got, p[1].as_f64().unwrap(), "{key} pixel {idx:?}");
    }
}
