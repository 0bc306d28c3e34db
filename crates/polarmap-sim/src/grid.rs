//! The simulation grid and its 2D FFT.
//!
//! Arrays are row-major `[row, col]`. A point at image coordinates (x, y) (x right, y up, Å) sits at
//! column x / dx and row −y / dy (rows grow downwards), periodic over the cell. The column frequency
//! is therefore k_x and the row frequency is −k_y, so an fftshifted diffraction array already follows
//! the image convention (k_x right, k_y up).

use std::sync::Arc;

use num_complex::Complex32;
use rustfft::{Fft, FftPlanner};

use polarmap_io::{Error, Result};

/// A periodic real-space grid of `rows × cols` pixels over `height × width` Å.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Grid {
    pub rows: usize,
    pub cols: usize,
    /// Extent along x (columns), Å.
    pub width: f64,
    /// Extent along y (rows), Å.
    pub height: f64,
}

/// The smallest n ≥ `min` whose only prime factors are 2, 3, 5 and 7 (fast FFT sizes).
pub fn fft_friendly(min: usize) -> usize {
    let mut n = min.max(1);
    loop {
        let mut m = n;
        for p in [2, 3, 5, 7] {
            while m.is_multiple_of(p) {
                m /= p;
            }
        }
        if m == 1 {
            return n;
        }
        n += 1;
    }
}

impl Grid {
    pub fn new(rows: usize, cols: usize, width: f64, height: f64) -> Result<Grid> {
        if rows < 2 || cols < 2 {
            return Err(Error::invalid(format!("grid {rows}×{cols} is too small")));
        }
        if !(width > 0.0 && height > 0.0 && width.is_finite() && height.is_finite()) {
            return Err(Error::invalid(format!(
                "grid extent {width}×{height} Å must be positive"
            )));
        }
        Ok(Grid {
            rows,
            cols,
            width,
            height,
        })
    }

    /// A grid over `width × height` Å with pixels no larger than `sampling` Å (FFT-friendly sizes).
    pub fn with_sampling(width: f64, height: f64, sampling: f64) -> Result<Grid> {
        if !(sampling > 0.0 && sampling.is_finite()) {
            return Err(Error::invalid(format!(
                "sampling must be positive, got {sampling} Å"
            )));
        }
        let cols = fft_friendly((width / sampling - 1e-9).ceil().max(2.0) as usize);
        let rows = fft_friendly((height / sampling - 1e-9).ceil().max(2.0) as usize);
        Grid::new(rows, cols, width, height)
    }

    pub fn len(&self) -> usize {
        self.rows * self.cols
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn dx(&self) -> f64 {
        self.width / self.cols as f64
    }

    pub fn dy(&self) -> f64 {
        self.height / self.rows as f64
    }

    /// Column spatial frequencies (k_x, Å⁻¹) in unshifted FFT order.
    pub fn freq_cols(&self) -> Vec<f64> {
        fftfreq(self.cols, self.width)
    }

    /// Row spatial frequencies (−k_y, Å⁻¹) in unshifted FFT order.
    pub fn freq_rows(&self) -> Vec<f64> {
        fftfreq(self.rows, self.height)
    }

    /// Radius of the anti-aliasing aperture: 2/3 of the smaller Nyquist frequency, Å⁻¹.
    pub fn band_limit(&self) -> f64 {
        let nyq =
            (self.cols as f64 / (2.0 * self.width)).min(self.rows as f64 / (2.0 * self.height));
        2.0 / 3.0 * nyq
    }

    /// Column-frequency indices (unshifted) that reach inside the anti-aliasing aperture, as at
    /// most two contiguous ranges.
    pub fn band_limit_cols(&self) -> Vec<std::ops::Range<usize>> {
        let kmax = self.band_limit();
        let inside: Vec<bool> = self.freq_cols().iter().map(|q| q.abs() <= kmax).collect();
        let mut out: Vec<std::ops::Range<usize>> = Vec::new();
        for (c, &ok) in inside.iter().enumerate() {
            if ok {
                match out.last_mut() {
                    Some(r) if r.end == c => r.end = c + 1,
                    _ => out.push(c..c + 1),
                }
            }
        }
        out
    }

    /// 1 inside the anti-aliasing aperture, 0 outside (unshifted FFT layout).
    pub fn band_limit_mask(&self) -> Vec<bool> {
        let (qr, qc) = (self.freq_rows(), self.freq_cols());
        let kmax2 = self.band_limit().powi(2);
        let mut out = Vec::with_capacity(self.len());
        for &qy in &qr {
            for &qx in &qc {
                out.push(qx * qx + qy * qy <= kmax2);
            }
        }
        out
    }
}

fn fftfreq(n: usize, extent: f64) -> Vec<f64> {
    (0..n)
        .map(|i| {
            let f = if i < n.div_ceil(2) {
                i as f64
            } else {
                i as f64 - n as f64
            };
            f / extent
        })
        .collect()
}

/// Forward and inverse 2D FFT plans for one grid, shared between threads. Unnormalised, like
/// rustfft: forward uses exp(−2πi k·r), inverse exp(+2πi k·r).
#[derive(Clone)]
pub struct Fft2 {
    rows: usize,
    cols: usize,
    row_fwd: Arc<dyn Fft<f32>>,
    row_inv: Arc<dyn Fft<f32>>,
    col_fwd: Arc<dyn Fft<f32>>,
    col_inv: Arc<dyn Fft<f32>>,
    scratch_len: usize,
}

/// Per-thread scratch for [`Fft2`].
#[derive(Debug, Default)]
pub struct FftScratch {
    transposed: Vec<Complex32>,
    fft: Vec<Complex32>,
}

impl Fft2 {
    pub fn new(grid: &Grid) -> Fft2 {
        let mut planner = FftPlanner::<f32>::new();
        let row_fwd = planner.plan_fft_forward(grid.cols);
        let row_inv = planner.plan_fft_inverse(grid.cols);
        let col_fwd = planner.plan_fft_forward(grid.rows);
        let col_inv = planner.plan_fft_inverse(grid.rows);
        let scratch_len = [&row_fwd, &row_inv, &col_fwd, &col_inv]
            .iter()
            .map(|f| f.get_inplace_scratch_len())
            .max()
            .unwrap_or(0);
        Fft2 {
            rows: grid.rows,
            cols: grid.cols,
            row_fwd,
            row_inv,
            col_fwd,
            col_inv,
            scratch_len,
        }
    }

    pub fn scratch(&self) -> FftScratch {
        FftScratch {
            transposed: vec![Complex32::new(0.0, 0.0); self.rows * self.cols],
            fft: vec![Complex32::new(0.0, 0.0); self.scratch_len],
        }
    }

    pub fn forward(&self, data: &mut [Complex32], s: &mut FftScratch) {
        self.run(data, s, true);
    }

    pub fn inverse(&self, data: &mut [Complex32], s: &mut FftScratch) {
        self.run(data, s, false);
    }

    /// Forward FFT of `data` (rows × cols, destroyed) into `spec` in transposed layout
    /// (`spec[kc · rows + kr]`). Only the column frequencies kc in `keep` are computed; the other
    /// rows of `spec` are left as they were.
    pub fn forward_transposed(
        &self,
        data: &mut [Complex32],
        spec: &mut [Complex32],
        keep: &[std::ops::Range<usize>],
        s: &mut FftScratch,
    ) {
        let (rows, cols) = (self.rows, self.cols);
        assert!(data.len() == rows * cols && spec.len() == rows * cols);
        if s.fft.len() < self.scratch_len {
            *s = self.scratch();
        }
        self.row_fwd.process_with_scratch(data, &mut s.fft);
        for range in keep {
            transpose_cols(data, spec, rows, cols, range.clone());
            self.col_fwd
                .process_with_scratch(&mut spec[range.start * rows..range.end * rows], &mut s.fft);
        }
    }

    /// Inverse of [`Fft2::forward_transposed`]: `spec` (transposed layout, zero outside the
    /// column frequencies in `keep`, destroyed) to `data` (rows × cols).
    pub fn inverse_transposed(
        &self,
        spec: &mut [Complex32],
        data: &mut [Complex32],
        keep: &[std::ops::Range<usize>],
        s: &mut FftScratch,
    ) {
        let (rows, cols) = (self.rows, self.cols);
        assert!(data.len() == rows * cols && spec.len() == rows * cols);
        if s.fft.len() < self.scratch_len {
            *s = self.scratch();
        }
        for range in keep {
            self.col_inv
                .process_with_scratch(&mut spec[range.start * rows..range.end * rows], &mut s.fft);
        }
        // Transpose back, zero-filling the skipped column frequencies.
        data.iter_mut().for_each(|v| *v = Complex32::new(0.0, 0.0));
        for range in keep {
            untranspose_cols(spec, data, rows, cols, range.clone());
        }
        self.row_inv.process_with_scratch(data, &mut s.fft);
    }

    fn run(&self, data: &mut [Complex32], s: &mut FftScratch, forward: bool) {
        assert_eq!(data.len(), self.rows * self.cols);
        if s.transposed.len() != data.len() || s.fft.len() < self.scratch_len {
            *s = self.scratch();
        }
        let (rf, cf) = if forward {
            (&self.row_fwd, &self.col_fwd)
        } else {
            (&self.row_inv, &self.col_inv)
        };
        rf.process_with_scratch(data, &mut s.fft);
        transpose(data, &mut s.transposed, self.rows, self.cols);
        cf.process_with_scratch(&mut s.transposed, &mut s.fft);
        transpose(&s.transposed, data, self.cols, self.rows);
    }
}

/// `src` is `rows × cols`; writes its transpose (`cols × rows`) into `dst`.
fn transpose(src: &[Complex32], dst: &mut [Complex32], rows: usize, cols: usize) {
    transpose_cols(src, dst, rows, cols, 0..cols);
}

/// `src` is `rows × cols`; writes columns `cs` of it as rows of `dst` (`cols × rows`).
fn transpose_cols(
    src: &[Complex32],
    dst: &mut [Complex32],
    rows: usize,
    cols: usize,
    cs: std::ops::Range<usize>,
) {
    const B: usize = 32;
    for r0 in (0..rows).step_by(B) {
        for c0 in cs.clone().step_by(B) {
            for r in r0..(r0 + B).min(rows) {
                for c in c0..(c0 + B).min(cs.end) {
                    dst[c * rows + r] = src[r * cols + c];
                }
            }
        }
    }
}

/// `src` is `cols × rows` (transposed); writes its rows `cs` back as columns of `dst`
/// (`rows × cols`).
fn untranspose_cols(
    src: &[Complex32],
    dst: &mut [Complex32],
    rows: usize,
    cols: usize,
    cs: std::ops::Range<usize>,
) {
    const B: usize = 32;
    for c0 in cs.clone().step_by(B) {
        for r0 in (0..rows).step_by(B) {
            for c in c0..(c0 + B).min(cs.end) {
                for r in r0..(r0 + B).min(rows) {
                    dst[r * cols + c] = src[c * rows + r];
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fft_friendly_sizes() {
        assert_eq!(fft_friendly(79), 80);
        assert_eq!(fft_friendly(11), 12);
        assert_eq!(fft_friendly(128), 128);
    }

    #[test]
    fn fft2_matches_direct_dft() {
        let grid = Grid::new(6, 5, 1.0, 1.0).unwrap();
        let data: Vec<Complex32> = (0..30)
            .map(|i| Complex32::new((i as f32 * 0.37).sin(), (i as f32 * 0.11).cos()))
            .collect();
        let mut f = data.clone();
        let fft = Fft2::new(&grid);
        let mut s = fft.scratch();
        fft.forward(&mut f, &mut s);
        for kr in 0..6 {
            for kc in 0..5 {
                let mut acc = num_complex::Complex64::new(0.0, 0.0);
                for r in 0..6 {
                    for c in 0..5 {
                        let ph = -2.0
                            * std::f64::consts::PI
                            * (kr as f64 * r as f64 / 6.0 + kc as f64 * c as f64 / 5.0);
                        let v = data[r * 5 + c];
                        acc += num_complex::Complex64::new(v.re as f64, v.im as f64)
                            * num_complex::Complex64::from_polar(1.0, ph);
                    }
                }
                let got = f[kr * 5 + kc];
                assert!((got.re as f64 - acc.re).abs() < 1e-4);
                assert!((got.im as f64 - acc.im).abs() < 1e-4);
            }
        }
        fft.inverse(&mut f, &mut s);
        for (a, b) in f.iter().zip(&data) {
            assert!((a / 30.0 - b).norm() < 1e-5);
        }
        // Transposed layout, all columns kept, in two ranges.
        let keep = [0..2, 2..5];
        let mut d = data.clone();
        let mut spec = vec![Complex32::new(0.0, 0.0); 30];
        fft.forward_transposed(&mut d, &mut spec, &keep, &mut s);
        let mut g = data.clone();
        fft.forward(&mut g, &mut s);
        for kr in 0..6 {
            for kc in 0..5 {
                assert!((spec[kc * 6 + kr] - g[kr * 5 + kc]).norm() < 1e-4);
            }
        }
        fft.inverse_transposed(&mut spec, &mut d, &keep, &mut s);
        for (a, b) in d.iter().zip(&data) {
            assert!((a / 30.0 - b).norm() < 1e-5);
        }
    }
}
