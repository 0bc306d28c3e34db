//! Detector: the diffraction intensity cropped to a maximum angle and resampled to N×N pixels.
//!
//! Detector pixel p (row or column) is centred on the angle (p + ½ − N/2)·δ with δ = 2·max/N
//! mrad per pixel, so the optical axis lies at (N/2 − ½, N/2 − ½), between pixels for even N, and
//! a 90° rotation of the array is a 90° rotation of the pattern. Rows follow the image convention
//! (row 0 at the top = largest k_y). Resampling integrates the piecewise-linear interpolant of the
//! FFT intensities over each detector pixel: counts are conserved inside the crop, downsampling
//! bins and upsampling interpolates.

use super::grid::Grid;
use polarmap_io::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DetectorSpec {
    /// Pixels per side.
    pub pixels: usize,
    /// Half-width of the detector, mrad (centre to edge).
    pub max_mrad: f64,
}

impl Default for DetectorSpec {
    fn default() -> Self {
        DetectorSpec {
            pixels: 256,
            max_mrad: 60.0,
        }
    }
}

impl DetectorSpec {
    pub fn mrad_per_px(&self) -> f64 {
        2.0 * self.max_mrad / self.pixels as f64
    }

    pub fn validate(&self) -> Result<()> {
        if self.pixels == 0 || self.pixels > 8192 {
            return Err(Error::invalid(format!(
                "detector size {} px must be within 1–8192",
                self.pixels
            )));
        }
        if !(self.max_mrad.is_finite() && self.max_mrad > 0.0) {
            return Err(Error::invalid(format!(
                "detector half-width must be positive, got {} mrad",
                self.max_mrad
            )));
        }
        Ok(())
    }
}

/// Sparse weights of one axis: for each detector pixel, (first FFT index in shifted order,
/// weights).
#[derive(Debug, Clone)]
struct AxisWeights {
    rows: Vec<(usize, Vec<f32>)>,
}

/// ∫_{-∞}^{t} max(0, 1 − |s|) ds.
fn hat_integral(t: f64) -> f64 {
    if t <= -1.0 {
        0.0
    } else if t <= 0.0 {
        0.5 * (1.0 + t) * (1.0 + t)
    } else if t <= 1.0 {
        1.0 - 0.5 * (1.0 - t) * (1.0 - t)
    } else {
        1.0
    }
}

impl AxisWeights {
    /// `m` FFT pixels of `dq` Å⁻¹ (shifted index i ↔ q = (i − m/2)·dq); `n` detector pixels of
    /// `delta` Å⁻¹ centred on 0.
    fn new(m: usize, dq: f64, n: usize, delta: f64) -> AxisWeights {
        let half = (m / 2) as f64;
        let rows = (0..n)
            .map(|p| {
                let a = (p as f64 - n as f64 / 2.0) * delta;
                let b = a + delta;
                // FFT pixels whose hat [q−dq, q+dq] overlaps [a, b].
                let lo = ((a / dq + half - 1.0).floor().max(0.0)) as usize;
                let hi = ((b / dq + half + 1.0).ceil().min(m as f64 - 1.0)).max(0.0) as usize;
                if lo > hi {
                    return (0, Vec::new());
                }
                let w = (lo..=hi)
                    .map(|i| {
                        let q = (i as f64 - half) * dq;
                        (hat_integral((b - q) / dq) - hat_integral((a - q) / dq)) as f32
                    })
                    .collect();
                (lo, w)
            })
            .collect();
        AxisWeights { rows }
    }
}

/// Maps full-grid intensities (unshifted FFT layout) onto the detector.
#[derive(Debug, Clone)]
pub struct Detector {
    pub spec: DetectorSpec,
    grid: Grid,
    rows: AxisWeights,
    /// Per detector column: the unshifted grid columns it reads and their weights.
    col_taps: Vec<(Vec<usize>, Vec<f32>)>,
    /// The shifted grid rows any detector row reads (a contiguous run): only these are
    /// resampled along columns, a fraction of the grid when the detector is narrower than it.
    read_rows: std::ops::Range<usize>,
}

/// Shifted index i ↔ unshifted (i + m − m/2) mod m.
fn unshift(i: usize, m: usize) -> usize {
    (i + m - m / 2) % m
}

impl Detector {
    pub fn new(spec: DetectorSpec, grid: Grid, wavelength_a: f64) -> Result<Detector> {
        spec.validate()?;
        let delta = spec.mrad_per_px() * 1e-3 / wavelength_a;
        let rows = AxisWeights::new(grid.rows, 1.0 / grid.height, spec.pixels, delta);
        let cols = AxisWeights::new(grid.cols, 1.0 / grid.width, spec.pixels, delta);
        let col_taps = cols
            .rows
            .into_iter()
            .map(|(lo, w)| {
                (
                    (lo..lo + w.len()).map(|i| unshift(i, grid.cols)).collect(),
                    w,
                )
            })
            .collect();
        let read = rows.rows.iter().filter(|(_, w)| !w.is_empty());
        let first = read.clone().map(|(lo, _)| *lo).min().unwrap_or(0);
        let end = read.map(|(lo, w)| lo + w.len()).max().unwrap_or(0);
        Ok(Detector {
            spec,
            grid,
            rows,
            col_taps,
            read_rows: first..end.max(first),
        })
    }

    /// `full`: grid intensities, unshifted layout; `out`: N×N detector pixels, row-major.
    /// `tmp` is scratch (resized as needed).
    pub fn resample(&self, full: &[f32], out: &mut [f32], tmp: &mut Vec<f32>) {
        let (m_r, m_c) = (self.grid.rows, self.grid.cols);
        let n = self.spec.pixels;
        let first = self.read_rows.start;
        // Columns first, over the rows read: tmp[row_shifted − first, p_c]. Every entry is
        // written before it is read, so the scratch needs no clearing.
        tmp.resize(self.read_rows.len() * n, 0.0);
        for (i, dst) in self.read_rows.clone().zip(tmp.chunks_exact_mut(n)) {
            let src = &full[unshift(i, m_r) * m_c..][..m_c];
            for (d, (cols, w)) in dst.iter_mut().zip(&self.col_taps) {
                let mut acc = 0.0;
                for (&c, w) in cols.iter().zip(w) {
                    acc += w * src[c];
                }
                *d = acc;
            }
        }
        for (p, (lo, w)) in self.rows.rows.iter().enumerate() {
            let dst = &mut out[p * n..(p + 1) * n];
            dst.iter_mut().for_each(|v| *v = 0.0);
            for (k, w) in w.iter().enumerate() {
                let src = &tmp[(lo + k - first) * n..][..n];
                for (d, s) in dst.iter_mut().zip(src) {
                    *d += w * s;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resampling_conserves_counts_and_places_the_axis() {
        let grid = Grid::new(64, 64, 20.0, 20.0).unwrap();
        let lambda = 0.025;
        // One bright pixel at k = 0 plus one at +k_x (column frequency 3), −k_y row frequency 0.
        let mut full = vec![0f32; 64 * 64];
        full[0] = 1.0;
        full[3] = 0.5;
        for (pixels, max) in [(16usize, 20.0), (64, 10.0), (7, 15.0)] {
            let det = Detector::new(
                DetectorSpec {
                    pixels,
                    max_mrad: max,
                },
                grid,
                lambda,
            )
            .unwrap();
            let mut out = vec![0f32; pixels * pixels];
            det.resample(&full, &mut out, &mut Vec::new());
            let total: f32 = out.iter().sum();
            assert!((total - 1.5).abs() < 1e-5, "{pixels}: {total}");
            // Centroid of the axis spot: the central pixel(s).
            let c = (pixels as f64 - 1.0) / 2.0;
            let (mut sr, mut sc, mut s) = (0.0, 0.0, 0.0);
            for r in 0..pixels {
                for col in 0..pixels {
                    let v = out[r * pixels + col] as f64;
                    sr += v * r as f64;
                    sc += v * col as f64;
                    s += v;
                }
            }
            let q3 = 3.0 / 20.0 * lambda * 1e3 / det.spec.mrad_per_px();
            assert!((sr / s - c).abs() < 1e-4);
            // Binning moves a point by at most about a tenth of a detector pixel.
            assert!((sc / s - (c + 0.5 * q3 / 1.5)).abs() < 0.15, "{}", sc / s);
        }
    }
}
