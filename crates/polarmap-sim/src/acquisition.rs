//! What a real detector adds to ideal diffraction intensities: a descan shift (constant, or
//! varying linearly over the scan), a point-spread blur, and Poisson counting noise at a given
//! dose. Applied pattern by pattern, so it streams with the simulation.

use polarmap_io::error::{Error, Result};
use polarmap_io::filter::gaussian_blur;
use rand::SeedableRng;
use rand_distr::{Distribution, Poisson};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Acquisition {
    /// Electrons per pattern: intensities (fractions of the probe) become Poisson counts.
    pub dose_per_pattern: Option<f64>,
    /// Detector blur: Gaussian standard deviation in pixels.
    pub blur_px: Option<f64>,
    /// Pattern shift (row, col) in detector pixels at scan position (0, 0).
    pub descan_px: [f64; 2],
    /// Change of the shift per scan row and per scan column: `[[d_row/d_r, d_row/d_c],
    /// [d_col/d_r, d_col/d_c]]` in pixels per scan pixel.
    pub descan_gradient: [[f64; 2]; 2],
    /// Seed of the noise; each pattern draws from its own stream (seed, position), so results do
    /// not depend on thread scheduling.
    pub seed: u64,
}

impl Acquisition {
    pub fn validate(&self) -> Result<()> {
        if let Some(d) = self.dose_per_pattern {
            if !(d.is_finite() && d > 0.0) {
                return Err(Error::invalid(format!(
                    "dose must be a positive number, got {d}"
                )));
            }
        }
        if let Some(b) = self.blur_px {
            if !(b.is_finite() && b >= 0.0) {
                return Err(Error::invalid(format!("blur must be ≥ 0 pixels, got {b}")));
            }
        }
        let finite = self
            .descan_px
            .iter()
            .chain(self.descan_gradient.iter().flatten())
            .all(|v| v.is_finite());
        if !finite {
            return Err(Error::invalid("descan values must be finite"));
        }
        Ok(())
    }

    /// The descan shift (row, col) in pixels at scan position (r, c).
    pub fn shift_at(&self, r: usize, c: usize) -> [f64; 2] {
        let [[rr, rc], [cr, cc]] = self.descan_gradient;
        [
            self.descan_px[0] + rr * r as f64 + rc * c as f64,
            self.descan_px[1] + cr * r as f64 + cc * c as f64,
        ]
    }

    /// Applies shift, blur and noise to one `shape` pattern taken at scan position (r, c).
    pub fn apply(&self, pattern: &mut [f32], shape: [usize; 2], r: usize, c: usize) {
        let [dr, dc] = self.shift_at(r, c);
        if dr != 0.0 || dc != 0.0 {
            let shifted = shift_bilinear(pattern, shape, dr, dc);
            pattern.copy_from_slice(&shifted);
        }
        if let Some(sigma) = self.blur_px.filter(|&s| s > 0.0) {
            let blurred = gaussian_blur(pattern, shape, sigma);
            pattern.copy_from_slice(&blurred);
        }
        if let Some(dose) = self.dose_per_pattern {
            let stream =
                self.seed ^ ((r as u64) << 32 | c as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let mut rng = rand::rngs::StdRng::seed_from_u64(stream);
            for v in pattern.iter_mut() {
                let mean = (*v as f64 * dose).max(0.0);
                *v = if mean > 0.0 {
                    Poisson::new(mean).map_or(0.0, |p| p.sample(&mut rng) as f32)
                } else {
                    0.0
                };
            }
        }
    }
}

/// The pattern moved by (dr, dc) pixels (content at p goes to p + shift); zero enters at edges.
fn shift_bilinear(pattern: &[f32], shape: [usize; 2], dr: f64, dc: f64) -> Vec<f32> {
    let [rows, cols] = shape;
    let at = |r: i64, c: i64| -> f64 {
        if r < 0 || c < 0 || r >= rows as i64 || c >= cols as i64 {
            0.0
        } else {
            pattern[r as usize * cols + c as usize] as f64
        }
    };
    let (fr, fc) = (dr.floor(), dc.floor());
    let (wr, wc) = (dr - fr, dc - fc);
    let (ir, ic) = (fr as i64, fc as i64);
    let mut out = vec![0f32; rows * cols];
    for r in 0..rows as i64 {
        for c in 0..cols as i64 {
            // Source position of output (r, c) is (r - dr, c - dc).
            let (sr, sc) = (r - ir, c - ic);
            let v = at(sr, sc) * (1.0 - wr) * (1.0 - wc)
                + at(sr - 1, sc) * wr * (1.0 - wc)
                + at(sr, sc - 1) * (1.0 - wr) * wc
                + at(sr - 1, sc - 1) * wr * wc;
            out[(r as usize) * cols + c as usize] = v as f32;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn centroid(p: &[f32], cols: usize) -> (f64, f64) {
        let s: f64 = p.iter().map(|&v| v as f64).sum();
        let r: f64 = p
            .iter()
            .enumerate()
            .map(|(i, &v)| (i / cols) as f64 * v as f64)
            .sum();
        let c: f64 = p
            .iter()
            .enumerate()
            .map(|(i, &v)| (i % cols) as f64 * v as f64)
            .sum();
        (r / s, c / s)
    }

    #[test]
    fn descan_moves_the_centroid_by_the_shift() {
        let shape = [32, 32];
        let mut p = vec![0f32; 32 * 32];
        for r in 12..20 {
            for c in 12..20 {
                p[r * 32 + c] = 1.0;
            }
        }
        let before = centroid(&p, 32);
        let acq = Acquisition {
            descan_px: [3.0, -2.0],
            descan_gradient: [[0.0, 0.25], [0.0, 0.0]],
            ..Default::default()
        };
        acq.apply(&mut p, shape, 0, 2); // shift (3.5, -2)
        let after = centroid(&p, 32);
        assert!((after.0 - before.0 - 3.5).abs() < 1e-6, "{after:?}");
        assert!((after.1 - before.1 + 2.0).abs() < 1e-6, "{after:?}");
    }

    #[test]
    fn dose_gives_poisson_counts_with_the_right_total_and_is_reproducible() {
        let shape = [16, 16];
        let base: Vec<f32> = (0..256)
            .map(|i| if i % 3 == 0 { 1.0 / 86.0 } else { 0.0 })
            .collect();
        let acq = Acquisition {
            dose_per_pattern: Some(2e4),
            seed: 5,
            ..Default::default()
        };
        let mut a = base.clone();
        acq.apply(&mut a, shape, 1, 1);
        let mut b = base.clone();
        acq.apply(&mut b, shape, 1, 1);
        assert_eq!(a, b);
        let mut other = base.clone();
        acq.apply(&mut other, shape, 1, 2);
        assert_ne!(a, other);
        assert!(a.iter().all(|v| v.fract() == 0.0 && *v >= 0.0));
        let total: f32 = a.iter().sum();
        // Poisson total: mean 2e4, sd ~141.
        assert!((total - 2e4).abs() < 800.0, "total {total}");
    }

    #[test]
    fn invalid_settings_are_refused() {
        assert!(Acquisition {
            dose_per_pattern: Some(0.0),
            ..Default::default()
        }
        .validate()
        .is_err());
        assert!(Acquisition {
            blur_px: Some(f64::NAN),
            ..Default::default()
        }
        .validate()
        .is_err());
        assert!(Acquisition::default().validate().is_ok());
    }
}
