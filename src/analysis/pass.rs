//! The per-pattern streaming pass: one read of every frame, in parallel, computing total
//! intensity, the intensity-weighted centre of mass, and the virtual BF and ADF intensities.

use super::detector::{ColRange, DetectorGeometry, RowRanges};
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::scan::{FrameBuffer, FrameVisitor, Pixel, Scan};
use ndarray::Array2;
use rayon::prelude::*;

/// Per-pattern results, each a map over the scan `[scan_row, scan_col]`.
#[derive(Debug, Clone)]
pub struct PatternMaps {
    pub sum: Array2<f32>,
    /// Centre of mass on the detector, in pixel coordinates (row, col).
    pub com_row: Array2<f32>,
    pub com_col: Array2<f32>,
    pub bf: Array2<f32>,
    pub adf: Array2<f32>,
    /// The detectors used for `bf` and `adf`; the CoM of an empty pattern is set to its centre.
    pub geometry: DetectorGeometry,
}

#[derive(Debug, Clone, Copy, Default)]
struct FrameStats {
    sum: f32,
    com_row: f32,
    com_col: f32,
    bf: f32,
    adf: f32,
}

/// Frames handed to one rayon task: large enough to amortise scheduling, small enough to balance.
const FRAMES_PER_TASK: usize = 32;

/// Runs the pass over every frame of `scan`. Errors (a frame that cannot be read, NaN/Inf in
/// float data) name the file and the scan position.
pub fn pattern_pass(
    scan: &Scan,
    geometry: &DetectorGeometry,
    progress: &Progress,
) -> Result<PatternMaps> {
    let [rows, cols, det_rows, det_cols] = scan.shape();
    let ranges = geometry.rasterise([det_rows, det_cols]);
    let col_index: Vec<f32> = (0..det_cols).map(|c| c as f32).collect();
    let kernel = Kernel {
        width: det_cols,
        ranges: &ranges,
        col_index: &col_index,
        center: [geometry.center_row as f32, geometry.center_col as f32],
    };
    let n = scan.n_frames();
    progress.start("reading patterns", n as u64);
    scan.advise_sequential();
    let mut stats = vec![FrameStats::default(); n];
    stats
        .par_chunks_mut(FRAMES_PER_TASK)
        .enumerate()
        .try_for_each_init(FrameBuffer::new, |scratch, (task, out)| {
            progress.check()?;
            for (k, slot) in out.iter_mut().enumerate() {
                let index = task * FRAMES_PER_TASK + k;
                let frame = scan.frame(index, scratch)?;
                *slot = frame.visit(kernel);
                if !slot.sum.is_finite() {
                    return Err(non_finite(scan, index));
                }
            }
            progress.advance(out.len() as u64);
            Ok(())
        })?;
    let map = |f: fn(&FrameStats) -> f32| {
        Array2::from_shape_vec((rows, cols), stats.iter().map(f).collect())
            .expect("one value per frame")
    };
    Ok(PatternMaps {
        sum: map(|s| s.sum),
        com_row: map(|s| s.com_row),
        com_col: map(|s| s.com_col),
        bf: map(|s| s.bf),
        adf: map(|s| s.adf),
        geometry: *geometry,
    })
}

fn non_finite(scan: &Scan, index: usize) -> Error {
    let cols = scan.scan_shape()[1];
    Error::format(
        scan.path(),
        format!(
            "pattern at scan position ({}, {}) contains NaN or infinite values",
            index / cols,
            index % cols
        ),
    )
}

#[derive(Clone, Copy)]
struct Kernel<'a> {
    width: usize,
    ranges: &'a RowRanges,
    col_index: &'a [f32],
    center: [f32; 2],
}

impl FrameVisitor for Kernel<'_> {
    type Output = FrameStats;

    fn visit<T: Pixel>(self, pixels: &[T]) -> FrameStats {
        let (mut total, mut weighted_row, mut weighted_col) = (0f64, 0f64, 0f64);
        let (mut bf, mut adf) = (0f64, 0f64);
        for (r, row) in pixels.chunks_exact(self.width).enumerate() {
            let (sum, col_moment) = row_sums(row, self.col_index);
            total += sum as f64;
            weighted_row += r as f64 * sum as f64;
            weighted_col += col_moment as f64;
            bf += range_sum(row, self.ranges.bf[r]) as f64;
            let [a, b] = self.ranges.adf[r];
            adf += (range_sum(row, a) + range_sum(row, b)) as f64;
        }
        // A pattern without intensity has its CoM at the detector centre: zero shift, no NaN.
        let [com_row, com_col] = if total != 0.0 {
            [(weighted_row / total) as f32, (weighted_col / total) as f32]
        } else {
            self.center
        };
        FrameStats {
            sum: total as f32,
            com_row,
            com_col,
            bf: bf as f32,
            adf: adf as f32,
        }
    }
}

const LANES: usize = 16;

/// Sum of a row and its first moment along columns, in independent lanes so that the compiler
/// vectorises the loop.
#[inline]
fn row_sums<T: Pixel>(row: &[T], col_index: &[f32]) -> (f32, f32) {
    let mut sum = [0f32; LANES];
    let mut moment = [0f32; LANES];
    let chunks = row.chunks_exact(LANES);
    let tail = chunks.remainder();
    for (px, idx) in chunks.zip(col_index.chunks_exact(LANES)) {
        for j in 0..LANES {
            let v = px[j].to_f32();
            sum[j] += v;
            moment[j] += v * idx[j];
        }
    }
    let offset = row.len() - tail.len();
    let (mut s, mut m) = (sum.iter().sum::<f32>(), moment.iter().sum::<f32>());
    for (k, &v) in tail.iter().enumerate() {
        s += v.to_f32();
        m += v.to_f32() * col_index[offset + k];
    }
    (s, m)
}

#[inline]
fn range_sum<T: Pixel>(row: &[T], (start, end): ColRange) -> f32 {
    let part = &row[start..end];
    let mut lanes = [0f32; LANES];
    let chunks = part.chunks_exact(LANES);
    let tail: f32 = chunks.remainder().iter().map(|v| v.to_f32()).sum();
    for px in chunks {
        for j in 0..LANES {
            lanes[j] += px[j].to_f32();
        }
    }
    lanes.iter().sum::<f32>() + tail
}
