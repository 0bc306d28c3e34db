//! The mean diffraction pattern, over every frame or an evenly spaced sample of them.

use crate::error::Result;
use crate::progress::Progress;
use crate::scan::{FrameVisitor, Pixel, Scan};
use ndarray::Array2;

/// Indices of at most `max` frames spread evenly over `n` (all of them when `max >= n`).
pub fn sample_indices(n: usize, max: Option<usize>) -> Vec<usize> {
    match max {
        Some(m) if m < n => (0..m).map(|k| k * n / m.max(1)).collect(),
        _ => (0..n).collect(),
    }
}

/// Mean pattern over `indices` (frames flat over the scan).
pub fn mean_pattern(scan: &Scan, indices: &[usize], progress: &Progress) -> Result<Array2<f64>> {
    let [rows, cols] = scan.frame_shape();
    let len = rows * cols;
    let sum = scan.fold_frames(
        indices,
        "mean pattern",
        progress,
        || vec![0f64; len],
        |acc, _, frame| {
            frame.visit(Accumulate(acc));
            Ok(())
        },
        |mut a, b| {
            a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
            a
        },
    )?;
    let n = indices.len().max(1) as f64;
    Ok(
        Array2::from_shape_vec((rows, cols), sum.into_iter().map(|v| v / n).collect())
            .expect("frame-sized buffer"),
    )
}

struct Accumulate<'a>(&'a mut [f64]);

impl FrameVisitor for Accumulate<'_> {
    type Output = ();
    fn visit<T: Pixel>(self, pixels: &[T]) {
        for (a, &v) in self.0.iter_mut().zip(pixels) {
            *a += v.to_f64();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_is_even_and_bounded() {
        assert_eq!(sample_indices(10, Some(5)), vec![0, 2, 4, 6, 8]);
        assert_eq!(sample_indices(3, Some(5)), vec![0, 1, 2]);
        assert_eq!(sample_indices(4, None), vec![0, 1, 2, 3]);
    }
}
