//! PRISM: the S-matrix fast path with interpolation (C. Ophus, "A fast image simulation
//! algorithm for scanning transmission electron microscopy", Adv. Struct. Chem. Imaging 3:13,
//! 2017).
//!
//! Multislice is linear in the incident wave, and a probe at r0 is a sum of plane waves,
//! ψ0(r) = Σ_k P(k) exp(−2πi k·r0) exp(2πi k·r), with P the probe in Fourier space (aperture ×
//! exp(−iχ)). So the exit wave is Σ_k P(k) exp(−2πi k·r0) S_k(r) with S_k the exit wave of the
//! plane wave k: one multislice per plane wave inside the aperture (the S-matrix) instead of one
//! per probe position.
//!
//! With interpolation factor f only the plane waves on every f-th point of the cell's k-lattice
//! are propagated (k = (i·f/width, j·f/height)); their sum is a probe repeated every cell/f, so
//! each probe position's exit wave is cropped to a window of (rows/f)×(cols/f) pixels centred on
//! the probe, and its diffraction intensity is sampled at f/width — f times coarser, which the
//! detector resampling then interpolates. f = 1 is exact (equal to plain multislice up to
//! rounding); the grid's sides must be multiples of f ([`Engine::grid`] picks such a grid).
//!
//! At f = 1 no crop is needed, so the S-matrix is kept in Fourier space at only the pixels the
//! detector reads (within the band limit), and a pattern is |Σ_b c_b Ŝ_b(k)|² without any FFT.
//!
//! Memory, per frozen-phonon configuration (complex f32, 8 bytes): f = 1: n_beams × n_det with
//! n_det the FFT pixels under the detector, ≈ (2·max_mrad·10⁻³/λ · width + 3) × (… · height + 3)
//! capped by the band-limit disc; f > 1: n_beams × rows × cols. n_beams ≈ π (α/λ)² · width ·
//! height / f² (α the convergence semi-angle) plus the soft aperture edge. 2×2 KNN cells at
//! 0.05 Å (160×160), 200 kV, 24 mrad, ±60 mrad detector: 197 beams × ≈1 650 pixels = 2.6 MB at
//! f = 1; 49 × 25 600 = 10 MB at f = 2; 13 beams, 2.7 MB at f = 4.

use num_complex::Complex32;
use rayon::prelude::*;

use super::detector::{Detector, DetectorSpec};
use super::grid::{fft_friendly, Fft2, FftScratch, Grid};
use super::multislice::Multislice;
use polarmap_io::{Error, Progress, Result};

/// Which algorithm computes the exit waves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Engine {
    /// Plain multislice, one run per probe position (the reference).
    #[default]
    Multislice,
    /// PRISM S-matrix with interpolation factor `interpolation` (1 = exact, 2, 4, …).
    Prism { interpolation: usize },
}

impl Engine {
    pub fn validate(&self) -> Result<()> {
        match *self {
            Engine::Prism { interpolation: 0 } => Err(Error::invalid(
                "the PRISM interpolation factor must be at least 1",
            )),
            _ => Ok(()),
        }
    }

    /// Interpolation factor (1 for plain multislice).
    pub fn interpolation(&self) -> usize {
        match *self {
            Engine::Multislice => 1,
            Engine::Prism { interpolation } => interpolation.max(1),
        }
    }

    /// The simulation grid over `width × height` Å with pixels no larger than `sampling` Å:
    /// as [`Grid::with_sampling`] for plain multislice; for PRISM with factor f, f times the
    /// smallest FFT-friendly window size, so that the window is FFT-friendly too (the same grid
    /// whenever that is already a multiple of f).
    pub fn grid(&self, width: f64, height: f64, sampling: f64) -> Result<Grid> {
        self.validate()?;
        let f = self.interpolation();
        if f == 1 {
            return Grid::with_sampling(width, height, sampling);
        }
        if !(sampling > 0.0 && sampling.is_finite()) {
            return Err(Error::invalid(format!(
                "sampling must be positive, got {sampling} Å"
            )));
        }
        let side = |extent: f64| {
            f * fft_friendly((extent / (sampling * f as f64) - 1e-9).ceil().max(1.0) as usize)
        };
        Grid::new(side(height), side(width), width, height)
    }
}

/// One plane wave of the S-matrix.
#[derive(Debug, Clone, Copy)]
struct Beam {
    /// Column frequency k_x, Å⁻¹.
    qc: f64,
    /// Row frequency −k_y, Å⁻¹.
    qr: f64,
    /// Probe coefficient P(k), scaled so that the probe has Σ|ψ|² = 1 over the window.
    weight: Complex32,
}

/// The S-matrix of one specimen and probe, and the detector on the window's k-lattice.
pub struct Prism {
    pub grid: Grid,
    /// The crop around each probe position: (rows/f)×(cols/f) pixels over (height/f)×(width/f).
    pub window: Grid,
    pub interpolation: usize,
    beams: Vec<Beam>,
    /// f = 1: the full-grid pixels (unshifted Fourier layout) that the detector reads, within
    /// the band limit; the S-matrix is stored in Fourier space at those pixels only, and a
    /// pattern needs no FFT. Empty for f > 1.
    pixels: Vec<usize>,
    /// Beam-major: beam b at `[b · len ..][.. len]`, `len` = `pixels.len()` for f = 1 (Fourier
    /// coefficients), `grid.len()` for f > 1 (real-space exit waves).
    smatrix: Vec<Complex32>,
    fft: Fft2,
    band_limit: Vec<bool>,
    detector: Detector,
}

/// Per-thread buffers of [`Prism::run`].
pub struct PrismWorkspace {
    coef: Vec<Complex32>,
    wave: Vec<Complex32>,
    fft: FftScratch,
}

impl Prism {
    /// Computes the S-matrix: one multislice (`ms`'s specimen, propagator and band limit) per
    /// plane wave inside the probe aperture on the k-lattice sub-sampled by `interpolation`,
    /// in parallel over the beams (rayon). Cancellable through `progress` (stage "s-matrix").
    pub fn new(
        ms: &Multislice,
        interpolation: usize,
        detector: DetectorSpec,
        progress: &Progress,
    ) -> Result<Prism> {
        let f = interpolation;
        let grid = ms.grid;
        if f == 0 || !grid.rows.is_multiple_of(f) || !grid.cols.is_multiple_of(f) {
            return Err(Error::invalid(format!(
                "PRISM interpolation {f} must be ≥ 1 and divide the grid {}×{}",
                grid.rows, grid.cols
            )));
        }
        let window = Grid::new(
            grid.rows / f,
            grid.cols / f,
            grid.width / f as f64,
            grid.height / f as f64,
        )?;
        let probe_k = ms.probe.fourier(&grid)?;
        let signed = |i: usize, n: usize| {
            if i < n.div_ceil(2) {
                i as i64
            } else {
                i as i64 - n as i64
            }
        };
        let mut beams = Vec::new();
        let mut power = 0.0f64;
        for r in 0..grid.rows {
            let ir = signed(r, grid.rows);
            if ir.rem_euclid(f as i64) != 0 {
                continue;
            }
            for c in 0..grid.cols {
                let ic = signed(c, grid.cols);
                let p = probe_k[r * grid.cols + c];
                if ic.rem_euclid(f as i64) != 0 || p.norm_sqr() == 0.0 {
                    continue;
                }
                power += p.norm_sqr() as f64;
                beams.push(Beam {
                    qc: ic as f64 / grid.width,
                    qr: ir as f64 / grid.height,
                    weight: p,
                });
            }
        }
        if beams.is_empty() {
            return Err(Error::invalid(
                "no plane wave inside the probe aperture; lower the PRISM interpolation factor",
            ));
        }
        // Σ_window |Σ_b c_b e^{2πi k_b·r}|² = N_window Σ_b |c_b|² = 1.
        let scale = (1.0 / (power * window.len() as f64).sqrt()) as f32;
        for b in &mut beams {
            b.weight *= scale;
        }

        let lambda = ms.probe.wavelength_a();
        let pixels = if f == 1 {
            detector_pixels(&grid, detector, lambda)
        } else {
            Vec::new()
        };
        let n = grid.len();
        let len = if f == 1 { pixels.len() } else { n };
        let mut smatrix = vec![Complex32::new(0.0, 0.0); beams.len() * len];
        let full_fft = Fft2::new(&grid);
        progress.start("s-matrix", beams.len() as u64);
        let two_pi = 2.0 * std::f64::consts::PI;
        smatrix
            .par_chunks_mut(len)
            .zip(beams.par_iter())
            .try_for_each_init(
                || {
                    let buf = if f == 1 {
                        vec![Complex32::new(0.0, 0.0); n]
                    } else {
                        Vec::new()
                    };
                    let row_phase = vec![Complex32::new(0.0, 0.0); grid.cols];
                    (ms.workspace(), row_phase, buf, full_fft.scratch())
                },
                |(ws, row_phase, buf, scratch), (out, beam)| {
                    progress.check()?;
                    let psi: &mut [Complex32] = if f == 1 { buf } else { &mut *out };
                    // Plane wave exp(2πi (k_x x + q_r y_row)), unit amplitude per pixel.
                    let (dx, dy) = (grid.dx(), grid.dy());
                    for (c, p) in row_phase.iter_mut().enumerate() {
                        *p = Complex32::from_polar(
                            1.0,
                            (two_pi * beam.qc * c as f64 * dx).rem_euclid(two_pi) as f32,
                        );
                    }
                    for (r, dst) in psi.chunks_mut(grid.cols).enumerate() {
                        let pr = Complex32::from_polar(
                            1.0,
                            (two_pi * beam.qr * r as f64 * dy).rem_euclid(two_pi) as f32,
                        );
                        for (d, p) in dst.iter_mut().zip(row_phase.iter()) {
                            *d = p * pr;
                        }
                    }
                    ms.exit_wave(psi, ws);
                    if f == 1 {
                        full_fft.forward(buf, scratch);
                        for (o, &i) in out.iter_mut().zip(&pixels) {
                            *o = buf[i];
                        }
                    }
                    progress.advance(1);
                    Ok::<(), Error>(())
                },
            )?;
        Ok(Prism {
            pixels,
            grid,
            window,
            interpolation: f,
            beams,
            smatrix,
            fft: Fft2::new(&window),
            band_limit: window.band_limit_mask(),
            detector: Detector::new(detector, window, lambda)?,
        })
    }

    /// Number of plane waves in the S-matrix.
    pub fn beams(&self) -> usize {
        self.beams.len()
    }

    /// Size of the S-matrix, bytes.
    pub fn smatrix_bytes(&self) -> usize {
        self.smatrix.len() * std::mem::size_of::<Complex32>()
    }

    /// The detector on the window's k-lattice.
    pub fn detector(&self) -> &Detector {
        &self.detector
    }

    pub fn workspace(&self) -> PrismWorkspace {
        PrismWorkspace {
            coef: vec![Complex32::new(0.0, 0.0); self.beams.len()],
            wave: vec![Complex32::new(0.0, 0.0); self.window.len().max(self.pixels.len())],
            fft: self.fft.scratch(),
        }
    }

    /// The diffraction intensity for the probe at image position (x, y) Å (y up): the
    /// S-matrix summed with the probe's shifted coefficients, cropped to the window around
    /// the probe, |FFT|² within the band limit. `out` (window size, unshifted layout) sums to
    /// the fraction of the probe in the window (≈ 1 minus the anti-aliasing loss).
    pub fn run(&self, x: f64, y: f64, ws: &mut PrismWorkspace, out: &mut [f32]) {
        let (g, w) = (self.grid, self.window);
        let two_pi = 2.0 * std::f64::consts::PI;
        // Column coordinate u = x, row coordinate v = −y.
        let (u, v) = (x, -y);
        for (c, b) in ws.coef.iter_mut().zip(&self.beams) {
            let phase = (-two_pi * (b.qc * u + b.qr * v)).rem_euclid(two_pi);
            *c = b.weight * Complex32::from_polar(1.0, phase as f32);
        }
        if self.interpolation == 1 {
            // Fourier space, only where the detector reads.
            let len = self.pixels.len();
            let wave = &mut ws.wave[..len];
            wave.iter_mut().for_each(|v| *v = Complex32::new(0.0, 0.0));
            for (b, coef) in ws.coef.iter().enumerate() {
                for (d, s) in wave.iter_mut().zip(&self.smatrix[b * len..(b + 1) * len]) {
                    *d += coef * s;
                }
            }
            out.iter_mut().for_each(|v| *v = 0.0);
            let norm = 1.0 / g.len() as f32;
            for (&i, p) in self.pixels.iter().zip(wave.iter()) {
                out[i] = p.norm_sqr() * norm;
            }
            return;
        }
        // Window origin (pixel), centred on the probe.
        let c0 = ((u / g.dx()).round() as i64 - (w.cols / 2) as i64).rem_euclid(g.cols as i64);
        let r0 = ((v / g.dy()).round() as i64 - (w.rows / 2) as i64).rem_euclid(g.rows as i64);
        let (c0, r0) = (c0 as usize, r0 as usize);
        // Columns of the window as at most two contiguous runs of the grid.
        let first = (g.cols - c0).min(w.cols);
        ws.wave
            .iter_mut()
            .for_each(|v| *v = Complex32::new(0.0, 0.0));
        for (b, coef) in ws.coef.iter().enumerate() {
            let s = &self.smatrix[b * g.len()..(b + 1) * g.len()];
            for (i, dst) in ws.wave.chunks_mut(w.cols).enumerate() {
                let row = (r0 + i) % g.rows;
                let src = &s[row * g.cols..(row + 1) * g.cols];
                let (d1, d2) = dst.split_at_mut(first);
                for (d, s) in d1.iter_mut().zip(&src[c0..c0 + first]) {
                    *d += coef * s;
                }
                for (d, s) in d2.iter_mut().zip(&src[..w.cols - first]) {
                    *d += coef * s;
                }
            }
        }
        self.fft.forward(&mut ws.wave, &mut ws.fft);
        let norm = 1.0 / w.len() as f32;
        for ((o, p), &inside) in out.iter_mut().zip(&ws.wave).zip(&self.band_limit) {
            *o = if inside { p.norm_sqr() * norm } else { 0.0 };
        }
    }
}

/// Full-grid pixels (unshifted index) within the band limit that the detector's resampling can
/// read: signed frequency index |i| ≤ ⌈max / Δq⌉ + 1 on each axis (the resampling's
/// piecewise-linear hats reach one FFT pixel beyond the detector's edge).
fn detector_pixels(grid: &Grid, detector: DetectorSpec, lambda: f64) -> Vec<usize> {
    let kmax = detector.max_mrad * 1e-3 / lambda;
    let reach = |extent: f64| (kmax * extent).ceil() as i64 + 1;
    let (reach_r, reach_c) = (reach(grid.height), reach(grid.width));
    let signed = |i: usize, n: usize| {
        if i < n.div_ceil(2) {
            i as i64
        } else {
            i as i64 - n as i64
        }
    };
    let mask = grid.band_limit_mask();
    (0..grid.len())
        .filter(|&i| {
            let (r, c) = (i / grid.cols, i % grid.cols);
            mask[i]
                && signed(r, grid.rows).abs() <= reach_r
                && signed(c, grid.cols).abs() <= reach_c
        })
        .collect()
}
