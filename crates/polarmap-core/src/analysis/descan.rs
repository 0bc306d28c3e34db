//! The descan (systematic shift of the pattern on the detector): as the paper computes it — the
//! mean over patterns of the centroid of each pattern's brightest 5 % — and as a plane fitted to
//! the CoM over the scan, for large scans where the shift varies linearly with probe position.

use super::disk::percentile;
use super::mean::sample_indices;
use crate::error::Result;
use crate::progress::Progress;
use crate::scan::Scan;
use ndarray::Array2;
use serde::{Deserialize, Serialize};

/// The paper's global CoM: per pattern, the centroid of the pixels above its 95th percentile,
/// averaged over patterns (over at most `max_patterns` evenly spaced ones, all when None).
/// Returns `[row, col]` in detector pixels; patterns with no pixel above the percentile (flat
/// patterns) are skipped.
pub fn paper_global_com(
    scan: &Scan,
    max_patterns: Option<usize>,
    progress: &Progress,
) -> Result<[f64; 2]> {
    let indices = sample_indices(scan.n_frames(), max_patterns);
    let [_, cols] = scan.frame_shape();
    let (sum_r, sum_c, n) = scan.fold_frames(
        &indices,
        "global CoM (95th percentile)",
        progress,
        || (0f64, 0f64, 0usize),
        |acc, _, frame| {
            if let Some([r, c]) = bright_centroid(&frame.to_f32_vec(), cols, 0.95) {
                *acc = (acc.0 + r, acc.1 + c, acc.2 + 1);
            }
            Ok(())
        },
        |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2),
    )?;
    if n == 0 {
        let [rows, cols] = scan.frame_shape();
        return Ok([(rows as f64 - 1.0) / 2.0, (cols as f64 - 1.0) / 2.0]);
    }
    Ok([sum_r / n as f64, sum_c / n as f64])
}

/// Centroid (unweighted) of the pixels strictly above the `q`-quantile of the frame.
pub fn bright_centroid(frame: &[f32], cols: usize, q: f64) -> Option<[f64; 2]> {
    let threshold = percentile(frame.iter().map(|&v| v as f64).collect(), q) as f32;
    let (mut sr, mut sc, mut n) = (0f64, 0f64, 0usize);
    for (i, &v) in frame.iter().enumerate() {
        if v > threshold {
            sr += (i / cols) as f64;
            sc += (i % cols) as f64;
            n += 1;
        }
    }
    (n > 0).then(|| [sr / n as f64, sc / n as f64])
}

/// `value(r, c) = offset + slope_row * (r - r0) + slope_col * (c - c0)` over the scan, with
/// `(r0, c0)` the scan centre.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Plane {
    pub offset: f64,
    pub slope_row: f64,
    pub slope_col: f64,
    pub center: [f64; 2],
}

impl Plane {
    pub fn constant(value: f64) -> Plane {
        Plane {
            offset: value,
            slope_row: 0.0,
            slope_col: 0.0,
            center: [0.0, 0.0],
        }
    }

    pub fn at(&self, row: usize, col: usize) -> f64 {
        self.offset
            + self.slope_row * (row as f64 - self.center[0])
            + self.slope_col * (col as f64 - self.center[1])
    }

    /// Least-squares plane through a map; on a grid the three normal equations decouple.
    pub fn fit(map: &Array2<f32>) -> Plane {
        let (rows, cols) = map.dim();
        let center = [(rows as f64 - 1.0) / 2.0, (cols as f64 - 1.0) / 2.0];
        let (mut s, mut sr, mut sc, mut rr, mut cc) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for ((r, c), &v) in map.indexed_iter() {
            let (dr, dc) = (r as f64 - center[0], c as f64 - center[1]);
            s += v as f64;
            sr += dr * v as f64;
            sc += dc * v as f64;
            rr += dr * dr;
            cc += dc * dc;
        }
        let n = (rows * cols).max(1) as f64;
        Plane {
            offset: s / n,
            slope_row: if rr > 0.0 { sr / rr } else { 0.0 },
            slope_col: if cc > 0.0 { sc / cc } else { 0.0 },
            center,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plane_fit_recovers_a_linear_descan() {
        let map = Array2::from_shape_fn((7, 9), |(r, c)| {
            (3.0 + 0.25 * r as f64 - 0.5 * c as f64) as f32
        });
        let p = Plane::fit(&map);
        assert!((p.slope_row - 0.25).abs() < 1e-6);
        assert!((p.slope_col + 0.5).abs() < 1e-6);
        for ((r, c), &v) in map.indexed_iter() {
            assert!((p.at(r, c) - v as f64).abs() < 1e-5);
        }
    }

    #[test]
    fn bright_centroid_finds_the_spot() {
        let cols = 20;
        let mut frame = vec![1.0f32; 20 * cols];
        for r in 4..8 {
            for c in 10..14 {
                frame[r * cols + c] = 50.0;
            }
        }
        let [r, c] = bright_centroid(&frame, cols, 0.95).unwrap();
        assert!((r - 5.5).abs() < 1e-9 && (c - 11.5).abs() < 1e-9);
        assert_eq!(bright_centroid(&[2.0; 16], 4, 0.95), None);
    }
}
