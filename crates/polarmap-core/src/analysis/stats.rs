//! Whole-scan pixel statistics (one pass over every frame).

use crate::error::Result;
use crate::progress::Progress;
use crate::scan::{Accumulator, FrameVisitor, Pixel, Scan};
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
    let all: Vec<usize> = (0..n).collect();
    let (sum, min, max) = scan.fold_frames(
        &all,
        "pixel statistics",
        progress,
        || (0f64, f64::INFINITY, f64::NEG_INFINITY),
        |acc, index, frame| {
            let (s, lo, hi) = frame.visit(Extremes);
            if !s.is_finite() {
                return Err(scan.non_finite_error(index));
            }
            *acc = (acc.0 + s, acc.1.min(lo), acc.2.max(hi));
            Ok(())
        },
        |a, b| (a.0 + b.0, a.1.min(b.1), a.2.max(b.2)),
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
        sum_min_max(pixels)
    }
}

const LANES: usize = 16;

/// Sum, minimum and maximum in independent lanes (vectorised; AVX2 where available). NaN makes
/// the sum non-finite, which the caller reports.
#[multiversion::multiversion(targets("x86_64+avx2+fma", "x86_64+sse4.1", "aarch64+neon"))]
fn sum_min_max<T: Pixel>(pixels: &[T]) -> (f64, f64, f64) {
    let Some(&first) = pixels.first() else {
        return (0.0, f64::INFINITY, f64::NEG_INFINITY);
    };
    let (mut lo, mut hi) = ([first; LANES], [first; LANES]);
    let mut sum = 0f64;
    for block in pixels.chunks(1024) {
        // Exact per-block sums in the accumulator type, then f64 across blocks.
        let mut acc = [T::Acc::default(); LANES];
        let chunks = block.chunks_exact(LANES);
        for &v in chunks.remainder() {
            acc[0] += v.to_acc();
            lo[0] = if v < lo[0] { v } else { lo[0] };
            hi[0] = if v > hi[0] { v } else { hi[0] };
        }
        for px in chunks {
            for j in 0..LANES {
                let v = px[j];
                acc[j] += v.to_acc();
                lo[j] = if v < lo[j] { v } else { lo[j] };
                hi[j] = if v > hi[j] { v } else { hi[j] };
            }
        }
        sum += acc.iter().map(|a| a.to_f64()).sum::<f64>();
    }
    let fold = |lanes: [T; LANES], pick: fn(f64, f64) -> f64, start: f64| {
        lanes.iter().map(|v| v.to_f64()).fold(start, pick)
    };
    (
        sum,
        fold(lo, f64::min, f64::INFINITY),
        fold(hi, f64::max, f64::NEG_INFINITY),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sum_min_max_over_lanes_and_tail() {
        let v: Vec<u16> = (0..1037).map(|i| (i * 37 % 1000) as u16).collect();
        let (s, lo, hi) = sum_min_max(&v);
        assert_eq!(s, v.iter().map(|&x| x as f64).sum::<f64>());
        assert_eq!((lo, hi), (0.0, 999.0));
        let f = [2.5f32, -1.0, 7.0];
        assert_eq!(sum_min_max(&f), (8.5, -1.0, 7.0));
        let (s, _, _) = sum_min_max(&[1.0f64, f64::NAN]);
        assert!(s.is_nan());
    }
}
