//! Model input from diffraction patterns: the paper's descan-corrected crop and min-max
//! normalisation, our calibrated variant (resampled so the BF disk has a fixed radius), the
//! training-only magnitude filter and augmentations. Plain functions over row-major f32 frames.

use crate::error::{Error, Result};
use rand::Rng;
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};

/// The paper's crop size in pixels.
pub const PAPER_CROP: usize = 64;

/// Top-left corner of a `size`×`size` crop centred on `center` (row, col), clamped so the crop
/// lies inside a frame of `shape`.
pub fn crop_origin(shape: [usize; 2], center: [f64; 2], size: usize) -> Result<[usize; 2]> {
    if shape[0] < size || shape[1] < size {
        return Err(Error::invalid(format!(
            "a {size}x{size} crop does not fit in {}x{} patterns",
            shape[0], shape[1]
        )));
    }
    let half = (size as f64 - 1.0) / 2.0;
    let origin = |c: f64, len: usize| {
        let start = (c - half).round();
        start.clamp(0.0, (len - size) as f64) as usize
    };
    Ok([origin(center[0], shape[0]), origin(center[1], shape[1])])
}

/// The `size`×`size` crop of `frame` (shape `shape`) at `origin`.
pub fn crop(frame: &[f32], shape: [usize; 2], origin: [usize; 2], size: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(size * size);
    for r in origin[0]..origin[0] + size {
        let start = r * shape[1] + origin[1];
        out.extend_from_slice(&frame[start..start + size]);
    }
    out
}

/// Scales values to [0, 1] in place; a constant image becomes all zeros.
pub fn min_max_normalise(image: &mut [f32]) {
    let (lo, hi) = image
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let range = hi - lo;
    if range > 0.0 && range.is_finite() {
        image.iter_mut().for_each(|v| *v = (*v - lo) / range);
    } else {
        image.iter_mut().for_each(|v| *v = 0.0);
    }
}

/// The paper's model input: a `size`×`size` crop centred on the scan's global CoM (the array
/// centre corrected by the descan offset), min-max normalised.
pub fn paper_input(
    frame: &[f32],
    shape: [usize; 2],
    global_com: [f64; 2],
    size: usize,
) -> Result<Vec<f32>> {
    let origin = crop_origin(shape, global_com, size)?;
    let mut out = crop(frame, shape, origin, size);
    min_max_normalise(&mut out);
    Ok(out)
}

/// A `size`×`size` image centred on `center` (row, col) whose pixels are `scale` input pixels
/// wide, min-max normalised: the pattern seen at another camera length. With the BF disk centre
/// and `scale` = disk radius / fixed radius it makes a model independent of camera length and
/// descan. Pixels outside the detector read as 0.
pub fn resampled_input(
    frame: &[f32],
    shape: [usize; 2],
    center: [f64; 2],
    scale: f64,
    size: usize,
) -> Vec<f32> {
    // Bilinear interpolation averaged over sub-samples is separable: one list of (input index,
    // weight) per output row and per output column, made once per frame.
    let rows = axis_taps(center[0], scale, size, shape[0]);
    let cols = axis_taps(center[1], scale, size, shape[1]);
    let mut out = Vec::with_capacity(size * size);
    for row_taps in &rows {
        for col_taps in &cols {
            let mut acc = 0.0;
            for &(r, wr) in row_taps {
                let line = &frame[r * shape[1]..][..shape[1]];
                let along: f64 = col_taps.iter().map(|&(c, wc)| wc * line[c] as f64).sum();
                acc += wr * along;
            }
            out.push(acc as f32);
        }
    }
    min_max_normalise(&mut out);
    out
}

/// For each of `size` output pixels centred on `center` with a pitch of `scale` input pixels:
/// the input pixels (within `0..n`; outside reads as 0) and weights of the bilinear
/// interpolant averaged over ⌈scale⌉ sub-samples, so that downsampling averages the output
/// pixel's footprint, against aliasing.
fn axis_taps(center: f64, scale: f64, size: usize, n: usize) -> Vec<Vec<(usize, f64)>> {
    let mid = (size as f64 - 1.0) / 2.0;
    let sub = scale.ceil().max(1.0) as usize;
    (0..size)
        .map(|i| {
            let mut taps: Vec<(usize, f64)> = Vec::with_capacity(2 * sub);
            for a in 0..sub {
                let d = (a as f64 + 0.5) / sub as f64 - 0.5;
                let x = center + (i as f64 + d - mid) * scale;
                let x0 = x.floor();
                let f = x - x0;
                for (k, w) in [(x0, 1.0 - f), (x0 + 1.0, f)] {
                    if k < 0.0 || k >= n as f64 {
                        continue;
                    }
                    let (k, w) = (k as usize, w / sub as f64);
                    match taps.iter_mut().find(|(t, _)| *t == k) {
                        Some((_, acc)) => *acc += w,
                        None => taps.push((k, w)),
                    }
                }
            }
            taps
        })
        .collect()
}

/// The paper's training filter: CoM shift magnitudes normalised to [0, 1] over the scan; keep the
/// patterns above the mean. Returns one flag per pattern.
pub fn magnitude_filter(magnitudes: &[f32]) -> Vec<bool> {
    let mut normalised = magnitudes.to_vec();
    min_max_normalise(&mut normalised);
    let mean = normalised.iter().map(|&v| v as f64).sum::<f64>() / normalised.len().max(1) as f64;
    normalised.iter().map(|&v| v as f64 > mean).collect()
}

pub use polarmap_io::filter::gaussian_blur;

/// The paper's training augmentations with their probabilities.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Augmentation {
    pub blur_p: f64,
    pub blur_sigma: [f64; 2],
    pub brightness_contrast_p: f64,
    /// Brightness shift and contrast factor limits, both ± this fraction.
    pub brightness_contrast: f64,
    pub noise_p: f64,
    /// Standard deviation range of the additive noise, on [0, 1]-normalised images.
    pub noise_std: [f64; 2],
}

impl Default for Augmentation {
    /// Gaussian blur σ∈[2,5] p=0.5; brightness/contrast ±15 % p=0.3; Gaussian noise p=0.2
    /// (PAPER-NOTES.md). The paper gives no noise level; σ∈[0.01, 0.03] of the normalised range is
    /// ours (the default of common augmentation libraries on 8-bit images).
    fn default() -> Self {
        Augmentation {
            blur_p: 0.5,
            blur_sigma: [2.0, 5.0],
            brightness_contrast_p: 0.3,
            brightness_contrast: 0.15,
            noise_p: 0.2,
            noise_std: [0.01, 0.03],
        }
    }
}

impl Augmentation {
    /// The paper's augmentations for inputs binned `binning`× from its crop. Its blur σ and noise
    /// level are for crop pixels; blurring or adding noise before a b×b block average equals
    /// blurring with σ/b or adding noise of std/b after it, so both shrink with the binning.
    /// Brightness and contrast are linear and do not change.
    pub fn for_input_binning(binning: usize) -> Self {
        let paper = Self::default();
        let b = binning.max(1) as f64;
        Augmentation {
            blur_sigma: paper.blur_sigma.map(|s| s / b),
            noise_std: paper.noise_std.map(|s| s / b),
            ..paper
        }
    }

    /// Applies each augmentation with its probability to a normalised image, in place.
    pub fn apply(&self, image: &mut Vec<f32>, shape: [usize; 2], rng: &mut impl Rng) {
        if rng.random_bool(self.blur_p) {
            let sigma = rng.random_range(self.blur_sigma[0]..=self.blur_sigma[1]);
            *image = gaussian_blur(image, shape, sigma);
        }
        if rng.random_bool(self.brightness_contrast_p) {
            let l = self.brightness_contrast;
            let contrast = 1.0 + rng.random_range(-l..=l) as f32;
            let brightness = rng.random_range(-l..=l) as f32;
            image
                .iter_mut()
                .for_each(|v| *v = (*v * contrast + brightness).clamp(0.0, 1.0));
        }
        if rng.random_bool(self.noise_p) {
            let std = rng.random_range(self.noise_std[0]..=self.noise_std[1]);
            let normal = Normal::new(0.0, std).expect("finite positive std");
            image
                .iter_mut()
                .for_each(|v| *v = (*v + normal.sample(rng) as f32).clamp(0.0, 1.0));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::BfDisk;
    use rand::SeedableRng;

    #[test]
    fn crop_is_centred_and_clamped() {
        // Centre between pixels 127 and 128 of a 256 frame: crop 96..160.
        assert_eq!(
            crop_origin([256, 256], [127.5, 127.5], 64).unwrap(),
            [96, 96]
        );
        assert_eq!(
            crop_origin([256, 256], [130.0, 120.0], 64).unwrap(),
            [99, 89]
        );
        assert_eq!(crop_origin([256, 256], [3.0, 250.0], 64).unwrap(), [0, 192]);
        assert!(crop_origin([48, 48], [24.0, 24.0], 64).is_err());
    }

    #[test]
    fn crop_takes_the_right_pixels() {
        let shape = [6, 5];
        let frame: Vec<f32> = (0..30).map(|v| v as f32).collect();
        assert_eq!(crop(&frame, shape, [2, 1], 2), vec![11.0, 12.0, 16.0, 17.0]);
    }

    #[test]
    fn normalise_maps_to_unit_range_and_handles_constant() {
        let mut a = vec![2.0, 4.0, 3.0];
        min_max_normalise(&mut a);
        assert_eq!(a, vec![0.0, 1.0, 0.5]);
        let mut flat = vec![7.0; 4];
        min_max_normalise(&mut flat);
        assert_eq!(flat, vec![0.0; 4]);
    }

    #[test]
    fn resampled_input_centres_and_scales_the_disk() {
        // A disk of radius 24 at (70.3, 52.8) in a 128² frame → radius 12 at the centre of 48².
        let shape = [128, 128];
        let frame: Vec<f32> = (0..128 * 128)
            .map(|i| {
                let (r, c) = ((i / 128) as f64, (i % 128) as f64);
                if (r - 70.3).hypot(c - 52.8) <= 24.0 {
                    1.0
                } else {
                    0.0
                }
            })
            .collect();
        let disk = BfDisk {
            center_row: 70.3,
            center_col: 52.8,
            radius_px: 24.0,
        };
        let center = [disk.center_row, disk.center_col];
        let out = resampled_input(&frame, shape, center, disk.radius_px / 12.0, 48);
        let mass: f64 = out.iter().map(|&v| v as f64).sum();
        let (mut mr, mut mc) = (0.0, 0.0);
        for (i, &v) in out.iter().enumerate() {
            mr += (i / 48) as f64 * v as f64;
            mc += (i % 48) as f64 * v as f64;
        }
        assert!((mr / mass - 23.5).abs() < 0.2 && (mc / mass - 23.5).abs() < 0.2);
        let radius = (mass / std::f64::consts::PI).sqrt();
        assert!((radius - 12.0).abs() < 0.3, "radius {radius}");
    }

    /// The definition, point by point: the mean over sub-samples of bilinear interpolation
    /// (0 outside the frame), before normalisation.
    fn resampled_by_definition(
        frame: &[f32],
        shape: [usize; 2],
        center: [f64; 2],
        scale: f64,
        size: usize,
    ) -> Vec<f32> {
        let at = |r: f64, c: f64| -> f64 {
            if r < 0.0 || c < 0.0 || r >= shape[0] as f64 || c >= shape[1] as f64 {
                0.0
            } else {
                frame[r as usize * shape[1] + c as usize] as f64
            }
        };
        let bilinear = |r: f64, c: f64| {
            let (r0, c0) = (r.floor(), c.floor());
            let (fr, fc) = (r - r0, c - c0);
            at(r0, c0) * (1.0 - fr) * (1.0 - fc)
                + at(r0, c0 + 1.0) * (1.0 - fr) * fc
                + at(r0 + 1.0, c0) * fr * (1.0 - fc)
                + at(r0 + 1.0, c0 + 1.0) * fr * fc
        };
        let mid = (size as f64 - 1.0) / 2.0;
        let sub = scale.ceil().max(1.0) as usize;
        let mut out = Vec::new();
        for i in 0..size {
            for j in 0..size {
                let mut acc = 0.0;
                for a in 0..sub {
                    for b in 0..sub {
                        let di = (a as f64 + 0.5) / sub as f64 - 0.5;
                        let dj = (b as f64 + 0.5) / sub as f64 - 0.5;
                        acc += bilinear(
                            center[0] + (i as f64 + di - mid) * scale,
                            center[1] + (j as f64 + dj - mid) * scale,
                        );
                    }
                }
                out.push((acc / (sub * sub) as f64) as f32);
            }
        }
        min_max_normalise(&mut out);
        out
    }

    #[test]
    fn resampled_input_equals_its_point_by_point_definition() {
        let shape = [40, 52];
        let frame: Vec<f32> = (0..40 * 52)
            .map(|i| ((i * 7919) % 1013) as f32 / 1013.0)
            .collect();
        // Down- and upsampling, off-centre, windows that run past the frame's edges.
        for (center, scale, size) in [
            ([19.5, 25.5], 2.0, 16),
            ([10.3, 40.7], 1.37, 24),
            ([30.2, 3.9], 0.6, 20),
            ([-2.0, 60.0], 3.5, 12),
        ] {
            let fast = resampled_input(&frame, shape, center, scale, size);
            let reference = resampled_by_definition(&frame, shape, center, scale, size);
            for (k, (a, b)) in fast.iter().zip(&reference).enumerate() {
                assert!(
                    (a - b).abs() < 1e-5,
                    "{center:?} {scale} pixel {k}: {a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn magnitude_filter_keeps_above_mean() {
        assert_eq!(
            magnitude_filter(&[0.0, 1.0, 2.0, 10.0]),
            vec![false, false, false, true]
        );
    }

    #[test]
    fn blur_preserves_mass_and_smooths() {
        let shape = [21, 21];
        let mut img = vec![0f32; 441];
        img[10 * 21 + 10] = 1.0;
        let out = gaussian_blur(&img, shape, 2.0);
        let sum: f32 = out.iter().sum();
        assert!((sum - 1.0).abs() < 1e-4);
        assert!(out[10 * 21 + 10] < 0.05 && out[10 * 21 + 12] > 0.02);
    }

    /// 2×2 block average, independent of `resampled_input`.
    fn bin2(image: &[f32], n: usize) -> Vec<f32> {
        let m = n / 2;
        let mut out = vec![0.0; m * m];
        for r in 0..n {
            for c in 0..n {
                out[(r / 2) * m + c / 2] += image[r * n + c] / 4.0;
            }
        }
        out
    }

    #[test]
    fn binned_augmentation_blurs_as_the_paper_did_before_binning() {
        // A BF-disk-like pattern on the paper's 64-px crop.
        let n = 64;
        let disk: Vec<f32> = (0..n * n)
            .map(|i| {
                let (r, c) = ((i / n) as f64 - 31.5, (i % n) as f64 - 31.5);
                f32::from(r.hypot(c) < 12.0)
            })
            .collect();
        let sigma = 4.0;
        let paper = bin2(&gaussian_blur(&disk, [n, n], sigma), n);
        let scaled = Augmentation::for_input_binning(2);
        assert_eq!(scaled.blur_sigma, [1.0, 2.5]);
        let max_diff = |other: Vec<f32>| {
            paper
                .iter()
                .zip(&other)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max)
        };
        let binned = bin2(&disk, n);
        let ours = max_diff(gaussian_blur(&binned, [n / 2, n / 2], sigma / 2.0));
        let unscaled = max_diff(gaussian_blur(&binned, [n / 2, n / 2], sigma));
        assert!(ours < 0.01, "σ/2 after binning differs by {ours}");
        assert!(unscaled > 0.2, "σ after binning differs by only {unscaled}");
        assert_eq!(Augmentation::for_input_binning(1), Augmentation::default());
    }

    #[test]
    fn augmentation_is_seeded_and_stays_in_range() {
        let shape = [16, 16];
        let base: Vec<f32> = (0..256).map(|i| (i % 17) as f32 / 16.0).collect();
        let run = |seed| {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let mut img = base.clone();
            for _ in 0..20 {
                Augmentation::default().apply(&mut img, shape, &mut rng);
            }
            img
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
        assert!(run(5).iter().all(|v| (0.0..=1.0).contains(v)));
    }
}
