//! The per-pattern streaming pass: one read of every frame, in parallel, computing total
//! intensity, the intensity-weighted centre of mass, the virtual BF and ADF intensities and any
//! further virtual detectors (annuli, sectors, drawn masks).

use super::detector::{ColRange, DetectorGeometry, MaskRanges, RowRanges, VirtualDetector};
use crate::error::Error;
use crate::error::Result;
use crate::progress::Progress;
use crate::scan::{Accumulator, FrameVisitor, Pixel, Scan};
use ndarray::Array2;

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
    /// One image per extra virtual detector, in the order they were given.
    pub virtual_images: Vec<Array2<f32>>,
}

#[derive(Debug, Clone, Default)]
struct FrameStats {
    sum: f32,
    com_row: f32,
    com_col: f32,
    bf: f32,
    adf: f32,
    extra: Vec<f32>,
}

/// Runs the pass over every frame of `scan` with the BF/ADF pair only.
pub fn pattern_pass(
    scan: &Scan,
    geometry: &DetectorGeometry,
    progress: &Progress,
) -> Result<PatternMaps> {
    pattern_pass_with(scan, geometry, &[], progress)
}

/// Runs the pass over every frame of `scan`, summing `detectors` (centred on the geometry's
/// centre) too. Errors (a frame that cannot be read, NaN/Inf in float data, a detector that does
/// not fit the patterns) name the file and the scan position or the detector.
pub fn pattern_pass_with(
    scan: &Scan,
    geometry: &DetectorGeometry,
    detectors: &[VirtualDetector],
    progress: &Progress,
) -> Result<PatternMaps> {
    let [rows, cols, det_rows, det_cols] = scan.shape();
    for (i, d) in detectors.iter().enumerate() {
        d.validate([det_rows, det_cols])
            .map_err(|why| Error::invalid(format!("virtual detector {}: {why}", i + 1)))?;
    }
    let ranges = geometry.rasterise([det_rows, det_cols]);
    let center = [geometry.center_row, geometry.center_col];
    let extra: Vec<MaskRanges> = detectors
        .iter()
        .map(|d| d.rasterise(center, [det_rows, det_cols]))
        .collect();
    let kernel = Kernel {
        width: det_cols,
        ranges: &ranges,
        extra: &extra,
        center: [geometry.center_row as f32, geometry.center_col as f32],
    };
    let stats = scan.map_frames("reading patterns", progress, |index, frame| {
        let stats = frame.visit(kernel);
        if stats.sum.is_finite() {
            Ok(stats)
        } else {
            Err(scan.non_finite_error(index))
        }
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
        virtual_images: (0..detectors.len())
            .map(|k| {
                Array2::from_shape_vec((rows, cols), stats.iter().map(|s| s.extra[k]).collect())
                    .expect("one value per frame")
            })
            .collect(),
    })
}

#[derive(Clone, Copy)]
struct Kernel<'a> {
    width: usize,
    ranges: &'a RowRanges,
    extra: &'a [MaskRanges],
    center: [f32; 2],
}

impl FrameVisitor for Kernel<'_> {
    type Output = FrameStats;

    fn visit<T: Pixel>(self, pixels: &[T]) -> FrameStats {
        frame_stats(self, pixels)
    }
}

/// One frame's statistics. Compiled for several instruction sets (AVX2 where the CPU has it),
/// chosen at run time: the loops are plain, the compiler vectorises them.
#[multiversion::multiversion(targets("x86_64+avx2+fma", "x86_64+sse4.1", "aarch64+neon"))]
fn frame_stats<T: Pixel>(kernel: Kernel<'_>, pixels: &[T]) -> FrameStats {
    let width = kernel.width;
    // Column sums give the column moment at the end: Σ c·I = Σ_c c · colsum[c].
    let mut column_sums = vec![T::Acc::default(); width];
    let (mut total, mut row_moment, mut bf, mut adf) = (0f64, 0f64, 0f64, 0f64);
    let mut extra = vec![0f64; kernel.extra.len()];
    for (r, row) in pixels.chunks_exact(width).enumerate() {
        let sum = accumulate_row(row, &mut column_sums).to_f64();
        total += sum;
        row_moment += r as f64 * sum;
        bf += range_sum(row, kernel.ranges.bf[r]).to_f64();
        let [a, b] = kernel.ranges.adf[r];
        adf += range_sum(row, a).to_f64() + range_sum(row, b).to_f64();
        for (acc, detector) in extra.iter_mut().zip(kernel.extra) {
            for &range in &detector[r] {
                *acc += range_sum(row, range).to_f64();
            }
        }
    }
    let col_moment: f64 = column_sums
        .iter()
        .enumerate()
        .map(|(c, s)| c as f64 * s.to_f64())
        .sum();
    // A pattern without intensity has its CoM at the detector centre: zero shift, no NaN.
    let [com_row, com_col] = if total != 0.0 {
        [(row_moment / total) as f32, (col_moment / total) as f32]
    } else {
        kernel.center
    };
    FrameStats {
        sum: total as f32,
        com_row,
        com_col,
        bf: bf as f32,
        adf: adf as f32,
        extra: extra.into_iter().map(|v| v as f32).collect(),
    }
}

const LANES: usize = 16;

/// Adds a row into the column sums and returns the row's sum (in independent lanes, so that
/// floating-point sums vectorise too).
#[inline(always)]
fn accumulate_row<T: Pixel>(row: &[T], column_sums: &mut [T::Acc]) -> T::Acc {
    let mut lanes = [T::Acc::default(); LANES];
    let body = row.len() / LANES * LANES;
    for (px, cs) in row[..body]
        .chunks_exact(LANES)
        .zip(column_sums[..body].chunks_exact_mut(LANES))
    {
        for j in 0..LANES {
            let v = px[j].to_acc();
            lanes[j] += v;
            cs[j] += v;
        }
    }
    let mut sum = lanes.iter().fold(T::Acc::default(), |a, &b| a + b);
    for (&p, cs) in row[body..].iter().zip(&mut column_sums[body..]) {
        let v = p.to_acc();
        sum += v;
        *cs += v;
    }
    sum
}

#[inline(always)]
fn range_sum<T: Pixel>(row: &[T], (start, end): ColRange) -> T::Acc {
    let part = &row[start..end];
    let mut lanes = [T::Acc::default(); LANES];
    let chunks = part.chunks_exact(LANES);
    let tail = chunks
        .remainder()
        .iter()
        .fold(T::Acc::default(), |a, &v| a + v.to_acc());
    for px in chunks {
        for j in 0..LANES {
            lanes[j] += px[j].to_acc();
        }
    }
    lanes.iter().fold(tail, |a, &b| a + b)
}
