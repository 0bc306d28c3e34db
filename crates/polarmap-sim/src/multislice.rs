//! Plain multislice: transmission functions per slice, Fresnel propagation with the 2/3
//! anti-aliasing aperture, and the exit-wave diffraction intensity.

use std::collections::HashMap;
use std::sync::Arc;

use num_complex::Complex32;
use rayon::prelude::*;

use super::crystal::Crystal;
use super::grid::{Fft2, FftScratch, Grid};
use super::potential::PotentialBuilder;
use super::probe::{interaction_constant, ProbeParams};
use polarmap_io::{Progress, Result};

/// Projected content of a slice: (Z, x bits, y bits), sorted.
type SliceKey = Vec<(u8, u64, u64)>;

/// The specimen on a grid: one transmission function per slice (identical slices share one).
pub struct Specimen {
    pub grid: Grid,
    /// Transmission per slice, real space, row-major.
    pub slices: Vec<Arc<Vec<Complex32>>>,
    pub slice_thickness: f64,
    /// How many distinct transmission functions were computed.
    pub distinct: usize,
    /// Specimen tilt (θx, θy) in mrad, image frame: the columns lean so that the specimen at
    /// depth z sits laterally shifted by z·(tan θx, tan θy) (x right, y up). Applied in the
    /// propagator ([`Multislice::new`]); (0, 0) for a zone-axis specimen.
    pub tilt_mrad: [f64; 2],
}

impl Specimen {
    /// Slices `crystal` at `slice_thickness` Å and builds exp(iσ v) for each slice at `energy_kev`.
    pub fn build(
        crystal: &Crystal,
        grid: Grid,
        slice_thickness: f64,
        energy_kev: f64,
        progress: &Progress,
    ) -> Result<Specimen> {
        let atom_slices = crystal.slices(slice_thickness)?;
        let sigma = interaction_constant(energy_kev);
        // Identical projected slices share one transmission function.
        let mut index: HashMap<SliceKey, usize> = HashMap::new();
        let mut distinct: Vec<usize> = Vec::new();
        let mut which = Vec::with_capacity(atom_slices.len());
        for (s, atoms) in atom_slices.iter().enumerate() {
            let mut key: SliceKey = atoms
                .iter()
                .map(|a| (a.z, a.pos[0].to_bits(), a.pos[1].to_bits()))
                .collect();
            key.sort_unstable();
            let next = distinct.len();
            let id = *index.entry(key).or_insert(next);
            if id == next {
                distinct.push(s);
            }
            which.push(id);
        }
        progress.start("potentials", distinct.len() as u64);
        let built: Vec<Arc<Vec<Complex32>>> = distinct
            .par_iter()
            .map_init(
                || {
                    let b = PotentialBuilder::new(grid);
                    let s = Fft2::new(&grid).scratch();
                    (b, s)
                },
                |(builder, scratch), &s| {
                    progress.check()?;
                    let t = builder.transmission(&atom_slices[s], sigma, scratch)?;
                    progress.advance(1);
                    Ok(Arc::new(t))
                },
            )
            .collect::<Result<_>>()?;
        let slices = which.iter().map(|&i| built[i].clone()).collect();
        Ok(Specimen {
            grid,
            slices,
            slice_thickness,
            distinct: built.len(),
            tilt_mrad: [0.0, 0.0],
        })
    }

    /// The same specimen tilted by (θx, θy) mrad (see [`Specimen::tilt_mrad`]).
    pub fn with_tilt(mut self, tilt_mrad: [f64; 2]) -> Specimen {
        self.tilt_mrad = tilt_mrad;
        self
    }

    pub fn thickness(&self) -> f64 {
        self.slices.len() as f64 * self.slice_thickness
    }
}

/// A multislice engine for one specimen and one probe: FFT plans, propagator and probe are built
/// once; [`Multislice::run`] is called per probe position with a per-thread [`Workspace`].
pub struct Multislice {
    pub grid: Grid,
    pub probe: ProbeParams,
    specimen: Arc<Specimen>,
    fft: Fft2,
    /// Fresnel propagator for one slice times the band-limit aperture, divided by N (so that an
    /// inverse FFT afterwards restores the normalisation); for a tilted specimen times the phase
    /// ramp that shifts the wave against the specimen by one slice's lean. Unshifted, transposed
    /// layout (`[kc · rows + kr]`).
    propagator: Vec<Complex32>,
    /// Band-limit aperture divided by N (last slice: intensity only), transposed layout.
    aperture: Vec<f32>,
    /// Column frequencies that reach inside the band limit.
    keep: Vec<std::ops::Range<usize>>,
    probe_k: Vec<Complex32>,
}

/// Per-thread buffers.
pub struct Workspace {
    psi: Vec<Complex32>,
    spec: Vec<Complex32>,
    phase_cols: Vec<Complex32>,
    fft: FftScratch,
}

impl Multislice {
    pub fn new(specimen: Arc<Specimen>, probe: ProbeParams) -> Result<Multislice> {
        let grid = specimen.grid;
        let probe_k = probe.fourier(&grid)?;
        let lambda = probe.wavelength_a();
        let mask = grid.band_limit_mask();
        let (qr, qc) = (grid.freq_rows(), grid.freq_cols());
        let n = grid.len() as f64;
        let dz = specimen.slice_thickness;
        let pi = std::f64::consts::PI;
        // Small specimen tilt (Kirkland 2010, eq. 6.99): P(k) = exp(−iπλΔz k² + 2πiΔz k·tan θ).
        // The ramp moves the wave by −Δz·tan θ per slice, i.e. each slice sits Δz·tan θ further
        // along the lean than the one above it. Rows carry −k_y, hence the sign of the y term.
        let [tx, ty] = specimen.tilt_mrad.map(|t| (t * 1e-3).tan());
        if !(tx.is_finite() && ty.is_finite()) {
            return Err(polarmap_io::Error::invalid(format!(
                "specimen tilt must be finite, got {:?} mrad",
                specimen.tilt_mrad
            )));
        }
        let mut propagator = vec![Complex32::new(0.0, 0.0); grid.len()];
        let mut aperture = vec![0f32; grid.len()];
        for (r, &qy) in qr.iter().enumerate() {
            for (c, &qx) in qc.iter().enumerate() {
                // Both arrays are read in the transposed layout of `forward_transposed`.
                let t = c * grid.rows + r;
                if mask[r * grid.cols + c] {
                    let k2 = qx * qx + qy * qy;
                    let ramp = 2.0 * pi * dz * (qx * tx - qy * ty);
                    let phase = -pi * lambda * dz * k2 + ramp;
                    propagator[t] = Complex32::from_polar((1.0 / n) as f32, phase as f32);
                    aperture[t] = (1.0 / n) as f32;
                }
            }
        }
        Ok(Multislice {
            fft: Fft2::new(&grid),
            grid,
            probe,
            specimen,
            propagator,
            aperture,
            keep: grid.band_limit_cols(),
            probe_k,
        })
    }

    pub fn specimen(&self) -> &Specimen {
        &self.specimen
    }

    pub fn workspace(&self) -> Workspace {
        Workspace {
            psi: vec![Complex32::new(0.0, 0.0); self.grid.len()],
            spec: vec![Complex32::new(0.0, 0.0); self.grid.len()],
            phase_cols: vec![Complex32::new(0.0, 0.0); self.grid.cols],
            fft: self.fft.scratch(),
        }
    }

    /// The incident probe at image position (x, y) Å (y up), real space, Σ|ψ|² = 1.
    pub fn probe_at(&self, x: f64, y: f64, ws: &mut Workspace) -> Vec<Complex32> {
        self.fill_probe(x, y, ws);
        ws.psi.clone()
    }

    fn fill_probe(&self, x: f64, y: f64, ws: &mut Workspace) {
        let g = self.grid;
        let (qr, qc) = (g.freq_rows(), g.freq_cols());
        let two_pi = 2.0 * std::f64::consts::PI;
        // Shift to column coordinate u = x, row coordinate v = −y.
        let (u, v) = (x, -y);
        for (c, &q) in qc.iter().enumerate() {
            ws.phase_cols[c] =
                Complex32::from_polar(1.0, (-two_pi * q * u).rem_euclid(two_pi) as f32);
        }
        for (r, &q) in qr.iter().enumerate() {
            let pr = Complex32::from_polar(1.0, (-two_pi * q * v).rem_euclid(two_pi) as f32);
            let src = &self.probe_k[r * g.cols..(r + 1) * g.cols];
            let dst = &mut ws.psi[r * g.cols..(r + 1) * g.cols];
            for ((d, s), p) in dst.iter_mut().zip(src).zip(&ws.phase_cols) {
                *d = s * p * pr;
            }
        }
        self.fft.inverse(&mut ws.psi, &mut ws.fft);
    }

    /// Runs an arbitrary incident wave `psi` (real space, row-major) through all slices, in
    /// place, including the last propagation and the band limit: on return `psi` is the exit
    /// wave at the exit surface. PRISM builds its S-matrix with this.
    pub fn exit_wave(&self, psi: &mut [Complex32], ws: &mut Workspace) {
        let rows = self.grid.rows;
        for t in self.specimen.slices.iter() {
            for (p, t) in psi.iter_mut().zip(t.iter()) {
                *p *= t;
            }
            self.fft
                .forward_transposed(psi, &mut ws.spec, &self.keep, &mut ws.fft);
            for range in &self.keep {
                let span = range.start * rows..range.end * rows;
                for (p, k) in ws.spec[span.clone()].iter_mut().zip(&self.propagator[span]) {
                    *p *= k;
                }
            }
            self.fft
                .inverse_transposed(&mut ws.spec, psi, &self.keep, &mut ws.fft);
        }
    }

    /// Runs the probe at (x, y) Å through all slices; returns the diffraction intensity
    /// |Ψ(k)|² in the unshifted FFT layout, normalised so that its sum is the transmitted
    /// fraction of the incident probe (1 minus the anti-aliasing loss).
    pub fn run(&self, x: f64, y: f64, ws: &mut Workspace, out: &mut [f32]) {
        self.fill_probe(x, y, ws);
        let last = self.specimen.slices.len().saturating_sub(1);
        let rows = self.grid.rows;
        for (s, t) in self.specimen.slices.iter().enumerate() {
            for (p, t) in ws.psi.iter_mut().zip(t.iter()) {
                *p *= t;
            }
            self.fft
                .forward_transposed(&mut ws.psi, &mut ws.spec, &self.keep, &mut ws.fft);
            if s == last {
                // The last propagation is a pure phase: only the aperture matters for |Ψ|².
                out.iter_mut().for_each(|v| *v = 0.0);
                let cols = self.grid.cols;
                for range in &self.keep {
                    for kc in range.clone() {
                        let spec = &ws.spec[kc * rows..(kc + 1) * rows];
                        let ap = &self.aperture[kc * rows..(kc + 1) * rows];
                        for (kr, (p, a)) in spec.iter().zip(ap).enumerate() {
                            out[kr * cols + kc] = p.norm_sqr() * a;
                        }
                    }
                }
                return;
            }
            for range in &self.keep {
                let span = range.start * rows..range.end * rows;
                for (p, k) in ws.spec[span.clone()].iter_mut().zip(&self.propagator[span]) {
                    *p *= k;
                }
            }
            self.fft
                .inverse_transposed(&mut ws.spec, &mut ws.psi, &self.keep, &mut ws.fft);
        }
        // No slices: the probe itself.
        self.fft.forward(&mut ws.psi, &mut ws.fft);
        let n = self.grid.len() as f32;
        for (o, p) in out.iter_mut().zip(&ws.psi) {
            *o = p.norm_sqr() / n;
        }
    }
}
