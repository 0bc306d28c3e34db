//! Whole-scan pixel statistics (one pass over every frame).

use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::scan::{FrameBuffer, FrameVisitor, Pixel, Scan};
use rayon::prelude::*;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PixelStats {
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    pub count: u64,
}

/// Sum, min, max and mean of every pixel of every frame. NaN or infinite values are an error
/// naming the file and the scan position.
pub fn pixel_stats(scan: &Scan, progress: &Progress) -> Result<PixelStats> {
    let n = scan.n_frames();
    progress.start("pixel statistics", n as u64);
    scan.advise_sequential();
    let cols = scan.scan_shape()[1];
    let (sum, min, max) = (0..n)
        .into_par_iter()
        .with_min_len(16)
        .try_fold(
            || (FrameBuffer::new(), 0f64, f64::INFINITY, f64::NEG_INFINITY),
            |(mut scratch, sum, min, max), index| {
                if index % 64 == 0 {
                    progress.check()?;
                }
                let (s, lo, hi) = scan.frame(index, &mut scratch)?.visit(Extremes);
                if !s.is_finite() {
                    return Err(Error::format(
                        scan.path(),
                        format!(
                            "pattern at scan position ({}, {}) contains NaN or infinite values",
                            index / cols,
                            index % cols
                        ),
                    ));
                }
                progress.advance(1);
                Ok((scratch, sum + s, min.min(lo), max.max(hi)))
            },
        )
        .map(|r| r.map(|(_, s, lo, hi)| (s, lo, hi)))
        .try_reduce(
            || (0.0, f64::INFINITY, f64::NEG_INFINITY),
            |a, b| Ok((a.0 + b.0, a.1.min(b.1), a.2.max(b.2))),
        )?;
    let count = (n * scan.frame_len()) as u64;
    Ok(PixelStats {
        sum,
        min,
        max,
        mean: sum / count as f64,
        count,
    })
}

struct Extremes;

impl FrameVisitor for Extremes {
    type Output = (f64, f64, f64);
    fn visit<T: Pixel>(self, pixels: &[T]) -> (f64, f64, f64) {
        let (mut sum, mut lo, mut hi) = (0f64, f64::INFINITY, f64::NEG_INFINITY);
        for &v in pixels {
            let v = v.to_f64();
            sum += v;
            lo = lo.min(v);
            hi = hi.max(v);
        }
        (sum, lo, hi)
    }
}
